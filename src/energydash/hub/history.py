"""Bounded history per topic: a ring of timestamps and one float32 ring per series.

A point is kept per ``resolution_s`` bucket of the message time (the latest value in a bucket
wins), so a 1 Hz topic with 5 s resolution and 3,600 points holds the last five hours.
Rings start small and double as rows arrive, up to ``length``: a key that never gets data costs
``INITIAL_ROWS`` rows, not ``length``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

import numpy as np

INITIAL_ROWS = 16


class SeriesRing:
    """Fixed-size ring of (time, values) rows; series appear as they are first seen."""

    def __init__(self, length: int, resolution_s: float) -> None:
        self.length = length
        self.resolution_s = resolution_s
        self.capacity = min(length, INITIAL_ROWS)  # rows allocated; grows to length
        self.times = np.full(self.capacity, np.nan)  # POSIX seconds
        self.series: dict[str, np.ndarray] = {}
        self.count = 0  # rows ever written
        self._last_bucket: float | None = None

    def _column(self, name: str) -> np.ndarray:
        column = self.series.get(name)
        if column is None:
            column = np.full(self.capacity, np.nan, dtype=np.float32)
            self.series[name] = column
        return column

    def _grow(self) -> None:
        """Double the allocation (only before the ring first wraps, when row == count)."""
        capacity = min(self.length, self.capacity * 2)
        pad = capacity - self.capacity
        self.times = np.concatenate([self.times, np.full(pad, np.nan)])
        for name, column in self.series.items():
            self.series[name] = np.concatenate([column, np.full(pad, np.nan, dtype=np.float32)])
        self.capacity = capacity

    def before_last(self, ts: datetime) -> bool:
        """True when ``ts`` falls in a bucket older than the newest row (a rewound clock)."""
        last = self._last_bucket
        return last is not None and math.floor(ts.timestamp() / self.resolution_s) < last

    def record(self, ts: datetime, values: dict[str, float | None]) -> None:
        t_s = ts.timestamp()
        bucket = math.floor(t_s / self.resolution_s)
        if self._last_bucket is not None and bucket == self._last_bucket and self.count:
            row = (self.count - 1) % self.length
        elif self._last_bucket is not None and bucket < self._last_bucket:
            return  # out of order (e.g. a replay restarted): keep the ring monotonic
        else:
            row = self.count % self.length
            if row >= self.capacity:
                self._grow()
            self.count += 1
            for column in self.series.values():
                column[row] = np.nan
        self._last_bucket = bucket
        self.times[row] = t_s
        for name, value in values.items():
            self._column(name)[row] = np.nan if value is None else value

    def window(
        self, names: Iterable[str], start_s: float | None, end_s: float | None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Rows in time order within [start_s, end_s] for the named series."""
        n = min(self.count, self.length)
        if n == 0:
            return np.zeros(0), {name: np.zeros(0) for name in names}
        first = self.count % self.length if self.count > self.length else 0
        order = (np.arange(n) + first) % self.length
        times = self.times[order]
        keep = np.ones(n, dtype=bool)
        if start_s is not None:
            keep &= times >= start_s
        if end_s is not None:
            keep &= times <= end_s
        rows = order[keep]
        out = {}
        for name in names:
            column = self.series.get(name)
            out[name] = (
                column[rows].astype(float) if column is not None else np.full(rows.size, np.nan)
            )
        return self.times[rows], out


def downsample(
    times: np.ndarray, columns: dict[str, np.ndarray], step_s: float
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Mean of each ``step_s`` bucket, stamped with the bucket start."""
    if times.size == 0:
        return times, columns
    buckets = np.floor(times / step_s) * step_s
    unique, inverse = np.unique(buckets, return_inverse=True)
    out = {}
    for name, values in columns.items():
        finite = np.isfinite(values)
        sums = np.bincount(inverse, weights=np.where(finite, values, 0.0), minlength=unique.size)
        counts = np.bincount(inverse, weights=finite.astype(float), minlength=unique.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name] = np.where(counts > 0, sums / counts, np.nan)
    return unique, out
