"""History in one SQLite file (stdlib, WAL): a row per topic message per tier, values as a blob.

A topic's series names are kept once (``topics.names``, only ever appended to), and each row
holds its values as float32 in that order, so a 48-outlet PDU message is one row, not 60. The
hub calls ``record`` on the event loop, which only appends to a bounded queue; a writer thread
turns the queue into rows once per ``flush_s`` in one transaction, and keeps the open bucket of
each downsampled tier in memory (its mean is written when the bucket closes, or at ``close``).
Retention is measured from the newest time recorded, not the wall clock, so a simulated or
replayed clock keeps its own past.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from energydash.history.store import HistoryStore, Query, Tier
from energydash.hub.history import downsample

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    id INTEGER PRIMARY KEY,
    topic TEXT UNIQUE NOT NULL,
    names TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS points (
    tier INTEGER NOT NULL,
    topic_id INTEGER NOT NULL,
    t REAL NOT NULL,
    vals BLOB NOT NULL,
    PRIMARY KEY (tier, topic_id, t)
) WITHOUT ROWID;
"""


class _Topic:
    __slots__ = ("dirty", "id", "index", "names", "newest")

    def __init__(self, topic_id: int, names: list[str]) -> None:
        self.id = topic_id
        self.names = names
        self.index = {name: i for i, name in enumerate(names)}
        self.dirty = False
        # Retention counts back from each topic's own newest point: a replayed dataset's
        # clock (far ahead or years behind) must not prune the simulator's past, or its own.
        self.newest = -math.inf

    def vector(self, values: dict[str, float | None]) -> np.ndarray:
        for name in values:
            if name not in self.index:
                self.index[name] = len(self.names)
                self.names.append(name)
                self.dirty = True
        row = np.full(len(self.names), np.nan, dtype=np.float64)
        for name, value in values.items():
            if value is not None:
                row[self.index[name]] = value
        return row


class _Bucket:
    """The open bucket of one downsampled tier of one topic: sums and counts per series."""

    __slots__ = ("counts", "start", "sums")

    def __init__(self, start: float, width: int) -> None:
        self.start = start
        self.sums = np.zeros(width)
        self.counts = np.zeros(width)

    def add(self, row: np.ndarray) -> None:
        if row.size > self.sums.size:
            grow = row.size - self.sums.size
            self.sums = np.concatenate([self.sums, np.zeros(grow)])
            self.counts = np.concatenate([self.counts, np.zeros(grow)])
        finite = np.isfinite(row)
        self.sums[: row.size][finite] += row[finite]
        self.counts[: row.size][finite] += 1

    def mean(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), np.nan)


def _blob(row: np.ndarray) -> bytes:
    return row.astype(np.float32).tobytes()


class SqliteHistoryStore(HistoryStore):
    def __init__(
        self,
        path: Path,
        tiers: tuple[Tier, ...],
        *,
        flush_s: float = 1.0,
        queue_max: int = 20_000,
        prune_every_s: float = 60.0,
    ) -> None:
        self.path = Path(path)
        self.tiers = tiers
        self.flush_s = flush_s
        self.queue_max = queue_max
        self.prune_every_s = prune_every_s
        self._queue: collections.deque[tuple[str, float | None, dict[str, float | None] | None]] = (
            collections.deque()
        )
        self._lock = threading.Lock()  # the connection, topic map and open buckets
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._db: sqlite3.Connection | None = None
        self._topics: dict[str, _Topic] = {}
        self._buckets: dict[tuple[int, int], _Bucket] = {}
        self._newest = -math.inf
        self._last_prune = 0.0
        self.dropped = 0
        self.rows_written = {tier.name: 0 for tier in tiers}
        self.records_written = 0
        self.write_s = 0.0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(SCHEMA)
            rows = db.execute("SELECT id, topic, names FROM topics").fetchall()
            newest = db.execute("SELECT max(t) FROM points WHERE tier = 0").fetchone()[0]
            newest_of = dict(
                db.execute(
                    "SELECT topic_id, max(t) FROM points WHERE tier = 0 GROUP BY topic_id"
                ).fetchall()
            )
        except sqlite3.DatabaseError as error:
            raise RuntimeError(f"{self.path}: not a usable history database: {error}") from None
        self._db = db
        self._topics = {topic: _Topic(i, json.loads(names)) for i, topic, names in rows}
        for entry in self._topics.values():
            if entry.id in newest_of:
                entry.newest = float(newest_of[entry.id])
        if newest is not None:
            self._newest = float(newest)
        self._thread = threading.Thread(target=self._run, name="energydash-history", daemon=True)
        self._thread.start()
        log.info("history store %s: %d topics", self.path, len(self._topics))

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self._db is None:
            return
        with self._lock:
            self._write_locked(close_buckets=True)
            self._db.close()
            self._db = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_s)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # keep recording; the next round retries what is queued
                log.exception("history write failed")

    # ------------------------------------------------------------------ writing
    def record(self, topic: str, t_s: float, values: dict[str, float | None]) -> None:
        if len(self._queue) >= self.queue_max:
            # Bounded memory when the disk cannot keep up: the oldest queued record goes.
            self._queue.popleft()
            self.dropped += 1
        self._queue.append((topic, t_s, values))

    def forget(self, topic: str) -> None:
        if len(self._queue) >= self.queue_max:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append((topic, None, None))

    def flush(self) -> None:
        """Write everything queued now (the writer thread does this every ``flush_s``)."""
        if self._db is None:
            return
        with self._lock:
            self._write_locked()

    def _topic(self, topic: str) -> _Topic:
        known = self._topics.get(topic)
        if known is None:
            assert self._db is not None
            cursor = self._db.execute(
                "INSERT INTO topics (topic, names) VALUES (?, '[]')", (topic,)
            )
            known = self._topics[topic] = _Topic(int(cursor.lastrowid or 0), [])
        return known

    def _write_locked(self, *, close_buckets: bool = False) -> None:
        db = self._db
        assert db is not None
        began = time.perf_counter()
        rows: list[tuple[int, int, float, bytes]] = []
        counts = dict.fromkeys(self.rows_written, 0)
        records = 0
        db.execute("BEGIN")
        try:
            while self._queue:
                topic, t_s, values = self._queue.popleft()
                if t_s is None:  # forget(topic): its queued and stored points go
                    gone = self._topics.get(topic)
                    if gone is not None:
                        rows = [r for r in rows if r[1] != gone.id]
                        db.execute("DELETE FROM points WHERE topic_id = ?", (gone.id,))
                        for key in [k for k in self._buckets if k[0] == gone.id]:
                            del self._buckets[key]
                        gone.newest = -math.inf
                    continue
                entry = self._topic(topic)
                row = entry.vector(values)
                rows.append((0, entry.id, t_s, _blob(row)))
                counts[self.tiers[0].name] += 1
                records += 1
                self._newest = max(self._newest, t_s)
                entry.newest = max(entry.newest, t_s)
                for tier in self.tiers[1:]:
                    start = math.floor(t_s / tier.step_s) * tier.step_s
                    key = (entry.id, int(tier.step_s))
                    bucket = self._buckets.get(key)
                    if bucket is not None and start < bucket.start:
                        continue  # out of order (a replay restarted): the tier stays monotonic
                    if bucket is not None and start > bucket.start:
                        mean = _blob(bucket.mean())
                        rows.append((int(tier.step_s), entry.id, bucket.start, mean))
                        counts[tier.name] += 1
                        bucket = None
                    if bucket is None:
                        bucket = self._buckets[key] = _Bucket(start, row.size)
                    bucket.add(row)
            if close_buckets:
                for (topic_id, step), bucket in self._buckets.items():
                    rows.append((step, topic_id, bucket.start, _blob(bucket.mean())))
                self._buckets.clear()
            db.executemany("INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?)", rows)
            for entry in self._topics.values():
                if entry.dirty:
                    db.execute(
                        "UPDATE topics SET names = ? WHERE id = ?",
                        (json.dumps(entry.names), entry.id),
                    )
                    entry.dirty = False
            if time.monotonic() - self._last_prune >= self.prune_every_s:
                self._prune_locked()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        for name, count in counts.items():
            self.rows_written[name] += count
        self.records_written += records
        self.write_s += time.perf_counter() - began

    def _prune_locked(self) -> None:
        assert self._db is not None
        self._last_prune = time.monotonic()
        self._db.executemany(
            "DELETE FROM points WHERE tier = ? AND topic_id = ? AND t < ?",
            [
                (int(tier.step_s), entry.id, entry.newest - tier.keep_s)
                for tier in self.tiers
                for entry in self._topics.values()
                if math.isfinite(entry.newest)
            ],
        )

    def prune(self) -> None:
        """Apply retention now (the writer does it every ``prune_every_s``)."""
        with self._lock:
            assert self._db is not None
            self._write_locked()
            self._db.execute("BEGIN")
            self._prune_locked()
            self._db.execute("COMMIT")

    # ------------------------------------------------------------------ reading
    def topics(self) -> list[str]:
        with self._lock:
            return sorted(self._topics)

    def series(self, topic: str) -> list[str]:
        with self._lock:
            if self._db is not None:
                self._write_locked()  # names of still-queued records count too
            entry = self._topics.get(topic)
            return list(entry.names) if entry else []

    def _choose(
        self,
        entry: _Topic,
        start_s: float | None,
        end_s: float,
        step_s: float | None,
        max_rows: int,
    ) -> Tier:
        """The tier to read: one holding the start of the range (or, when none does, one
        holding the oldest data), then the coarsest no coarser than ``step_s``, else the finest
        answering in at most ``max_rows`` rows."""
        assert self._db is not None
        begin = -1e18 if start_s is None else start_s
        facts = []
        for tier in self.tiers:
            oldest, count = self._db.execute(
                "SELECT min(t), count(*) FROM points"
                " WHERE tier = ? AND topic_id = ? AND t BETWEEN ? AND ?",
                (int(tier.step_s), entry.id, begin, end_s),
            ).fetchone()
            if oldest is not None:
                facts.append((tier, float(oldest), int(count)))
        if not facts:
            return self.tiers[0]
        # A bucket is stamped with its start, which can be before the first value it holds:
        # credit a downsampled tier only from the end of its first bucket.
        starts = [(t, oldest + t.step_s, n) for t, oldest, n in facts]
        reach = max(begin, min(start for _, start, _ in starts))
        covering = [(t, n) for t, start, n in starts if start <= reach + max(t.step_s, 1.0)]
        if step_s is not None:
            finer = [t for t, _ in covering if t.step_s <= step_s]
            return finer[-1] if finer else covering[0][0]
        for tier, count in covering:
            if count <= max_rows:
                return tier
        return covering[-1][0]

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
        with self._lock:
            assert self._db is not None
            self._write_locked()  # what is queued now is part of the answer
            entry = self._topics.get(topic)
            if entry is None:
                empty = {name: np.zeros(0) for name in names}
                return Query(np.zeros(0), empty, self.tiers[0])
            end = end_s if end_s is not None else entry.newest
            tier = self._choose(entry, start_s, end, step_s, max_rows)
            rows = self._db.execute(
                "SELECT t, vals FROM points WHERE tier = ? AND topic_id = ? AND t BETWEEN ? AND ?"
                " ORDER BY t",
                (int(tier.step_s), entry.id, start_s if start_s is not None else -1e18, end),
            ).fetchall()
            index = dict(entry.index)
        times = np.fromiter((r[0] for r in rows), dtype=np.float64, count=len(rows))
        matrix = np.full((len(rows), len(index)), np.nan, dtype=np.float32)
        for i, (_, blob) in enumerate(rows):
            values = np.frombuffer(blob, dtype=np.float32)
            matrix[i, : values.size] = values
        columns = {
            name: matrix[:, index[name]].astype(np.float64)
            if name in index
            else np.full(len(rows), np.nan)
            for name in names
        }
        if step_s is not None and step_s > tier.step_s:
            times, columns = downsample(times, columns, step_s)
        elif times.size > max_rows:
            span = float(times[-1] - times[0]) or 1.0
            times, columns = downsample(times, columns, span / (max_rows - 1))
        return Query(times, columns, tier)

    def stats(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "queued": len(self._queue),
            "dropped": self.dropped,
            "records_written": self.records_written,
            "rows_written": dict(self.rows_written),
            "write_s": round(self.write_s, 3),
        }
