"""Online per-series anomaly scoring, vectorised over every series at once.

Each series gets a model of its normal relation to its unit's duty and ambient temperature:
an exponentially forgetting least-squares fit
``x ≈ θ0 + θ1·duty + θ2·lag(duty) + θ3·(ambient-25)/10`` (memory ``model_tau_s``; ``lag`` is a
first-order lag of ``lag_tau_s``, as thermal sensors follow load by minutes), refitted every
``refit_every`` readings. A reading's residual over
the fit's running residual deviation is its z-score. Two scores come from it:

- ``level``: an EWMA of z (α = 0.3); a shift or a creep (bearing wear, a leak, a drifting
  sensor) pushes it past ``level_threshold``.
- ``noise``: an EWMA of half the squared successive difference of z (α = 0.05), ~1 when
  normal and blind to level shifts; a noisy sensor pushes it past ``noise_threshold``.

Readings whose |z| exceeds ``gate`` (and repeated readings) do not update the fit, so a
developing fault is not learned as normal. Rules for what physics makes certain run next
to the scores: a reading identical to the previous one ``stuck_readings`` times in a row
(real sensors always carry noise) is stuck; a missing reading ``dropout_readings`` times in
a row is a dropout. The first ``warmup_readings`` of a series only train the fit.

Why this and not IsolationForest or river: ``bench/analytics.py --compare`` measures all
three on the same seeded day; see "Analytics and alerts" in the README for the figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEVEL_ALPHA = 0.3
NOISE_ALPHA = 0.05
RIDGE = 1e-3
# One sample's cap in the noise score: a single jump (a fault repaired, a stuck sensor let go)
# adds at most NOISE_ALPHA x NOISE_CAP = 2.5, below the threshold; sustained noise still crosses.
NOISE_CAP = 50.0


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    model_tau_s: float = 6 * 3600.0
    lag_tau_s: float = 60.0
    warmup_readings: int = 600
    refit_every: int = 20
    gate: float = 3.0
    level_threshold: float = 5.0
    noise_threshold: float = 5.0
    confirm_readings: int = 3
    clear_readings: int = 60
    stuck_readings: int = 10
    dropout_readings: int = 3


# Flags of the state each series is in; a series can be in several.
LEVEL, NOISE, STUCK, DROPOUT = 1, 2, 4, 8
FLAG_NAMES = {LEVEL: "level", NOISE: "noise", STUCK: "stuck", DROPOUT: "dropout"}


class Detector:
    """Scores ``n`` series each step; ``state`` holds the confirmed flags per series."""

    def __init__(self, n: int, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self.n = n
        eye = np.eye(4) * RIDGE
        self.A = np.broadcast_to(eye, (n, 4, 4)).copy()
        self.b = np.zeros((n, 4))
        self.theta = np.zeros((n, 4))
        self.var = np.zeros(n)
        self.var_weight = np.zeros(n)  # EWMA weight so far: the variance estimate is unbiased
        self.count = np.zeros(n, dtype=np.int64)
        self.level = np.zeros(n)
        self.noise = np.ones(n)
        self.z = np.zeros(n)
        self.last_z = np.zeros(n)
        self.last = np.full(n, np.nan)
        self.same = np.zeros(n, dtype=np.int64)
        self.missing = np.zeros(n, dtype=np.int64)
        self.over = np.zeros((4, n), dtype=np.int64)  # consecutive readings past a threshold
        self.under = np.zeros((4, n), dtype=np.int64)
        self.state = np.zeros(n, dtype=np.int64)
        self.readings = 0
        self.duty_lag = np.zeros(n)
        self._started = False
        self._since_fit = 0

    def step(self, x: np.ndarray, duty: np.ndarray, ambient_c: np.ndarray, dt_s: float) -> None:
        """Score one reading per series (NaN: no reading)."""
        cfg = self.config
        present = ~np.isnan(x)
        self.readings += int(present.sum())
        if not self._started:
            self._started = True
            self.duty_lag = duty.copy()
        else:
            a = math.exp(-dt_s / cfg.lag_tau_s)
            self.duty_lag = a * self.duty_lag + (1 - a) * duty
        f = np.stack([np.ones(self.n), duty, self.duty_lag, (ambient_c - 25.0) / 10.0], axis=1)
        xv = np.where(present, x, 0.0)
        pred = np.einsum("ij,ij->i", f, self.theta)
        r = xv - pred
        warm = self.count >= cfg.warmup_readings
        sd = np.sqrt(self.var / np.maximum(self.var_weight, 1e-12)) + 1e-9 + 1e-4 * np.abs(pred)
        z = np.where(present & warm, r / sd, 0.0)
        self.z = z
        # train on what looks normal (everything while warming up)
        # a repeating reading (a sensor sticking) teaches nothing
        repeating = present & (x == self.last)
        learn = present & ~repeating & (~warm | (np.abs(z) < cfg.gate))
        lam = math.exp(-dt_s / cfg.model_tau_s)
        w = np.where(learn, 1.0, 0.0)
        decay = np.where(learn, lam, 1.0)
        self.A = self.A * decay[:, None, None] + w[:, None, None] * (f[:, :, None] * f[:, None, :])
        self.b = self.b * decay[:, None] + (w * xv)[:, None] * f
        # the first readings' residuals come from an unfitted model: start the variance later
        fitted = learn & (self.count >= cfg.refit_every * 2)
        self.var = np.where(fitted, lam * self.var + (1 - lam) * r * r, self.var)
        self.var_weight = np.where(fitted, lam * self.var_weight + (1 - lam), self.var_weight)
        self.count += learn
        self._since_fit += 1
        if self._since_fit >= cfg.refit_every or not warm.all():
            self._refit()
        # scores
        self.level = np.where(present, (1 - LEVEL_ALPHA) * self.level + LEVEL_ALPHA * z, self.level)
        # successive differences of z: ~2 when the noise is normal, blind to level shifts
        dz = z - self.last_z
        self.last_z = np.where(present, z, self.last_z)
        self.noise = np.where(
            present & warm,
            (1 - NOISE_ALPHA) * self.noise + NOISE_ALPHA * np.minimum(dz * dz / 2.0, NOISE_CAP),
            self.noise,
        )
        self.same = np.where(repeating, self.same + 1, np.where(present, 0, self.same))
        # a stuck series' level says nothing; it starts afresh when the sensor lets go
        self.level = np.where(self.same >= cfg.stuck_readings, 0.0, self.level)
        self.missing = np.where(present, 0, self.missing + 1)
        self.last = np.where(present, x, self.last)
        level = np.abs(self.level)
        on = (
            np.where(warm & (level > cfg.level_threshold), LEVEL, 0)
            | np.where(warm & (self.noise > cfg.noise_threshold), NOISE, 0)
            | np.where(self.same >= cfg.stuck_readings, STUCK, 0)
            | np.where(self.missing >= cfg.dropout_readings, DROPOUT, 0)
        )
        # hysteresis: a score clears only well below the threshold that raised it
        off = (
            np.where(level < cfg.level_threshold / 2, LEVEL, 0)
            | np.where(self.noise < cfg.noise_threshold / 2, NOISE, 0)
            | np.where(self.same == 0, STUCK, 0)
            | np.where(self.missing == 0, DROPOUT, 0)
        )
        self._confirm(on, off)

    def _confirm(self, on_flags: np.ndarray, off_flags: np.ndarray) -> None:
        cfg = self.config
        for row, flag in enumerate((LEVEL, NOISE, STUCK, DROPOUT)):
            on = (on_flags & flag) != 0
            off = (off_flags & flag) != 0
            self.over[row] = np.where(on, self.over[row] + 1, 0)
            self.under[row] = np.where(off, self.under[row] + 1, 0)
            # rules are certain once their count is reached; scores must persist a little
            need = cfg.confirm_readings if flag in (LEVEL, NOISE) else 1
            clear = cfg.clear_readings if flag in (LEVEL, NOISE) else 1
            self.state = np.where(self.over[row] >= need, self.state | flag, self.state)
            self.state = np.where(self.under[row] >= clear, self.state & ~flag, self.state)
        # a stuck or silent series has no meaningful scores; noise explains level swings
        quiet = (self.state & (STUCK | DROPOUT)) != 0
        self.state = np.where(quiet, self.state & ~(LEVEL | NOISE), self.state)
        noisy = (self.state & NOISE) != 0
        self.state = np.where(noisy, self.state & ~LEVEL, self.state)

    def _refit(self) -> None:
        self._since_fit = 0
        ridge = np.eye(4) * RIDGE
        self.theta = np.linalg.solve(self.A + ridge, self.b[:, :, None])[:, :, 0]

    def score(self) -> np.ndarray:
        """One anomaly score per series: the larger of |level| and noise/ noise threshold-scaled."""
        cfg = self.config
        return np.maximum(
            np.abs(self.level) / cfg.level_threshold, self.noise / cfg.noise_threshold
        )
