"""Failure probability per equipment unit over a horizon, from the detector's evidence.

Features per unit, over its sensors in a level anomaly: ``log1p`` of the largest and of the
second-largest |level score| (wear moves two sensors of a machine, a drifting sensor one), and
how long (hours, capped at 4) the unit has been anomalous.
A logistic model maps them to P(the unit fails within ``HORIZON_S``). The coefficients were
fitted by ``bench/analytics.py --fit`` on a training day (seed 7) and are scored (Brier) on the
bench's own day (another seed); refit when the detector or the plant model changes.
"""

from __future__ import annotations

import numpy as np

from energydash.analytics.detect import LEVEL, Detector

HORIZON_S = 3600.0
# intercept, log1p(largest |level|), log1p(second-largest |level|), anomaly age (h)
COEFFICIENTS = np.array([-8.392, 1.356, 0.825, 1.339])
MAX_AGE_H = 4.0


class RiskModel:
    def __init__(self, sensor_unit: np.ndarray, units: int) -> None:
        self.sensor_unit = sensor_unit
        self.units = units
        self.anomalous_since = np.full(units, np.nan)
        self.coefficients = COEFFICIENTS.copy()

    def features(self, detector: Detector, t_s: float) -> np.ndarray:
        level = np.abs(detector.level)
        flagged = (detector.state & LEVEL) != 0
        shown = np.where(flagged, level, 0.0)
        first = np.zeros(self.units)
        np.maximum.at(first, self.sensor_unit, shown)
        # the second-largest: a worn machine moves two of its sensors, a drifting sensor one
        rest = np.where(shown == first[self.sensor_unit], 0.0, shown)
        second = np.zeros(self.units)
        np.maximum.at(second, self.sensor_unit, rest)
        any_flag = first > 0
        self.anomalous_since = np.where(
            any_flag, np.where(np.isnan(self.anomalous_since), t_s, self.anomalous_since), np.nan
        )
        age_h = np.where(any_flag, (t_s - self.anomalous_since) / 3600.0, 0.0)
        return np.stack(
            [np.ones(self.units), np.log1p(first), np.log1p(second), np.minimum(age_h, MAX_AGE_H)],
            axis=1,
        )

    def probability(self, features: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(features @ self.coefficients)))
