"""Stored history of every topic's series: the ``HistoryStore`` interface and its SQLite store.

The hub's rings (``energydash.hub.history``) stay the live path; a store keeps what lasts
(restarts, days, years) in downsampled tiers. ``open_store(settings)`` gives the store the
settings name, or None when stored history is off.
"""

from __future__ import annotations

from typing import Any

from energydash.history.store import HistoryStore, Query, Tier, tiers_of

__all__ = ["HistoryStore", "Query", "Tier", "open_store", "tiers_of"]


def open_store(settings: Any) -> HistoryStore | None:
    """The store ``settings.history_store`` names (``sqlite``), or None for ``none``."""
    if settings.history_store == "none":
        return None
    from energydash.history.sqlite import SqliteHistoryStore

    return SqliteHistoryStore(
        settings.data_dir / "history" / "history.sqlite3",
        tiers_of(settings),
        flush_s=settings.history_flush_s,
        queue_max=settings.history_queue_max,
    )
