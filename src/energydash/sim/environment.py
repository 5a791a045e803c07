"""Environmental probes: one temperature and one humidity probe at each PDU's rack inlet.

Vectorised across the fleet. Each PDU's inlet air has its own set point (22-26 °C, 35-55 %RH,
from the seed) and wanders around it with an AR(1) drift (τ = 30 min, σ 0.6 °C and 3 %RH) plus
a little sensor noise; the rack's own load warms the air a little (up to +2.5 °C at the
mains' full apparent power). The ``cooling_failure`` fault makes a PDU's inlet climb at
``rate_c_per_min`` (default 0.5 °C/min) up to 60 °C while relative humidity falls as the air
warms (about 2.5 %RH per °C above the set point). The numbers also feed analytics, so they
live here, not in the Redfish layer.
"""

from __future__ import annotations

import math

import numpy as np

DRIFT_TAU_S = 1800.0
TEMP_SIGMA_C = 0.6
HUMIDITY_SIGMA_PCT = 3.0
TEMP_NOISE_C = 0.05
HUMIDITY_NOISE_PCT = 0.2
LOAD_HEATING_C = 2.5
MAX_TEMP_C = 60.0
HUMIDITY_PER_C = 2.5
DEFAULT_HEATING_C_PER_MIN = 0.5


class Environment:
    """``temperature_c`` and ``humidity_pct`` per PDU, advanced with ``step``."""

    def __init__(self, n_pdus: int, seed: int) -> None:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0xE17]))
        self._rng = rng
        self.set_temp_c = rng.uniform(22.0, 26.0, n_pdus)
        self.set_humidity_pct = rng.uniform(35.0, 55.0, n_pdus)
        self.temp_drift = rng.standard_normal(n_pdus) * TEMP_SIGMA_C
        self.humidity_drift = rng.standard_normal(n_pdus) * HUMIDITY_SIGMA_PCT
        self.heating_c_per_min = np.zeros(n_pdus)  # set by the cooling_failure fault
        self.excess_c = np.zeros(n_pdus)  # heat a cooling failure has built up
        self.temperature_c = self.set_temp_c.copy()
        self.humidity_pct = self.set_humidity_pct.copy()

    def step(self, dt_s: float, load_fraction: np.ndarray) -> None:
        n = self.temperature_c.size
        if n == 0:
            return
        a = math.exp(-dt_s / DRIFT_TAU_S)
        draws = self._rng.standard_normal(4 * n)
        scale = math.sqrt(1 - a * a)
        self.temp_drift *= a
        self.temp_drift += scale * TEMP_SIGMA_C * draws[:n]
        self.humidity_drift *= a
        self.humidity_drift += scale * HUMIDITY_SIGMA_PCT * draws[n : 2 * n]
        failing = self.heating_c_per_min > 0
        self.excess_c[failing] += self.heating_c_per_min[failing] * dt_s / 60.0
        # a repaired cooling brings the excess back down with the drift's time constant
        self.excess_c[~failing] *= a
        heat = LOAD_HEATING_C * np.clip(load_fraction, 0.0, 1.5)
        temp = self.set_temp_c + self.temp_drift + heat + self.excess_c
        temp += TEMP_NOISE_C * draws[2 * n : 3 * n]
        np.minimum(temp, MAX_TEMP_C, out=temp)
        self.temperature_c[:] = temp
        warm = np.maximum(temp - self.set_temp_c - TEMP_SIGMA_C, 0.0)
        humidity = self.set_humidity_pct + self.humidity_drift - HUMIDITY_PER_C * warm
        humidity += HUMIDITY_NOISE_PCT * draws[3 * n :]
        np.clip(humidity, 5.0, 95.0, out=humidity)
        self.humidity_pct[:] = humidity
