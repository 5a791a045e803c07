"""Sim time: realtime (wall clock), accelerated (wall clock x speed) or stepped (by hand)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

ClockMode = Literal["realtime", "accelerated", "stepped"]
CLOCK_MODES: tuple[str, ...] = ("realtime", "accelerated", "stepped")


class Clock:
    """Sim time as an aware UTC datetime.

    Realtime follows the wall clock. Accelerated runs ``speed`` sim seconds per wall second
    from its start and freezes while paused. Stepped only moves when ``advance`` is called,
    so tests and benchmarks get the same numbers every run.
    """

    def __init__(
        self,
        mode: ClockMode = "realtime",
        speed: float = 1.0,
        start: datetime | None = None,
        *,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in CLOCK_MODES:
            raise ValueError(f"clock mode must be one of {CLOCK_MODES}, got {mode!r}")
        if speed <= 0:
            raise ValueError(f"clock speed must be > 0, got {speed!r}")
        self.mode: ClockMode = mode
        self._wall = wall
        self._speed = float(speed) if mode == "accelerated" else 1.0
        if start is None:
            start = datetime.now(UTC)
        elif start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self._anchor_sim = start.astimezone(UTC)
        self._anchor_wall = self._wall()
        self._paused = False

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def paused(self) -> bool:
        return self._paused

    def now(self) -> datetime:
        if self.mode == "realtime":
            return datetime.now(UTC)
        if self.mode == "stepped" or self._paused:
            return self._anchor_sim
        elapsed = (self._wall() - self._anchor_wall) * self._speed
        return self._anchor_sim + timedelta(seconds=elapsed)

    def timestamp(self) -> float:
        """Sim time as POSIX seconds (the unit the vectorised model works in)."""
        return self.now().timestamp()

    def advance(self, seconds: float) -> datetime:
        """Move a stepped (or paused) clock forward; other modes follow the wall clock."""
        if seconds < 0:
            raise ValueError(f"cannot advance the clock by a negative {seconds} s")
        if self.mode == "stepped" or self._paused:
            self._anchor_sim += timedelta(seconds=seconds)
        return self.now()

    def _rebase(self) -> None:
        self._anchor_sim = self.now()
        self._anchor_wall = self._wall()

    def set_speed(self, speed: float) -> None:
        """Change the pace. A realtime clock becomes accelerated from now on; stepped ignores it."""
        if not speed > 0:
            raise ValueError(f"clock speed must be > 0, got {speed!r}")
        if self.mode == "stepped":
            return
        self._rebase()
        self.mode = "accelerated"
        self._speed = float(speed)

    def pause(self) -> None:
        if not self._paused:
            self._rebase()
            self._paused = True

    def resume(self) -> None:
        if self._paused:
            self._anchor_wall = self._wall()
            self._paused = False
