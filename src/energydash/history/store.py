"""The interface a history store offers, and the tiers it keeps.

A store is written from the event loop with ``record`` (it must only enqueue) and read from a
worker thread with ``query``; ``SqliteHistoryStore`` is the embedded one, and a server database
can replace it by offering the same methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Tier:
    """One resolution kept: ``step_s`` seconds per point (0: every message) for ``keep_s``."""

    step_s: float
    keep_s: float

    @property
    def name(self) -> str:
        return "raw" if self.step_s == 0 else f"{self.step_s:g}s"


def tiers_of(settings: Any) -> tuple[Tier, ...]:
    """Raw, 1-minute, 5-minute and 30-minute tiers with the settings' retention."""
    return (
        Tier(0.0, settings.history_raw_keep_s),
        Tier(60.0, settings.history_1m_keep_s),
        Tier(300.0, settings.history_5m_keep_s),
        Tier(1800.0, settings.history_30m_keep_s),
    )


@dataclass
class Query:
    """What ``HistoryStore.query`` answers: rows in time order, one array per series."""

    times: np.ndarray  # POSIX seconds
    columns: dict[str, np.ndarray]
    tier: Tier


class HistoryStore(ABC):
    """Series of topics over time, kept in tiers; written without blocking, read in threads."""

    tiers: tuple[Tier, ...]

    @abstractmethod
    def start(self) -> None:
        """Open the database and start writing in the background."""

    @abstractmethod
    def close(self) -> None:
        """Write what is queued (and the open tier buckets), then close."""

    @abstractmethod
    def record(self, topic: str, t_s: float, values: dict[str, float | None]) -> None:
        """Queue one message's values; cheap and non-blocking (called on the event loop)."""

    @abstractmethod
    def forget(self, topic: str) -> None:
        """Queue dropping every stored point of ``topic``, in order with ``record`` (cheap,
        non-blocking): a replay whose dataset time rewinds starts its past over."""

    @abstractmethod
    def topics(self) -> list[str]:
        """Topics with stored history."""

    @abstractmethod
    def series(self, topic: str) -> list[str]:
        """Series names stored for ``topic`` (empty when none)."""

    @abstractmethod
    def query(
        self,
        topic: str,
        names: list[str],
        start_s: float | None,
        end_s: float | None,
        *,
        step_s: float | None = None,
        max_rows: int = 10_000,
    ) -> Query:
        """Rows of ``names`` in [start_s, end_s] from the finest tier that covers the range
        in at most ``max_rows`` rows (and no finer than ``step_s``). Blocking: call it in a
        worker thread."""

    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """Counters: rows written per tier, records dropped, queue depth, write seconds."""
