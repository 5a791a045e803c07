"""SQLite or DuckDB for stored history: the same workload through both, side by side.

(a) the real ``SqliteHistoryStore``; (b) the same store with its database calls pointed at a
DuckDB file (bench only): the same table shape (tier, topic_id, t, float32 values as a blob),
the same queue, tier buckets, retention and query code, the same batch (everything queued,
one transaction per flush). DuckDB gets what suits it: each flush is one Arrow batch appended
with ``INSERT ... SELECT``, and no primary key (it scans with zone maps instead of a B-tree;
that also drops the store's replace-on-duplicate, which only favours DuckDB).

Write phase: ``--pdus`` PDUs (``pdu/N/outlets`` 60 values + ``pdu/N/summary`` 13 values) for
``--seconds`` simulated seconds, flat out, one flush per simulated second (the store's 1 s flush
at 1 Hz). Prints points/s, process CPU per point (all threads, DuckDB's own included; the
generation of the messages excluded) and the files' size after closing.

Read phase: ``--read-pdus`` PDUs over ``--read-hours`` hours (1 Hz for the last 65 minutes,
one message per 10 s before, so the 1-minute tier holds every bucket), retention applied,
then the dashboard's queries ``--repeat`` times each: one series over 1 h raw; 10 series (10
PDUs' power) over 24 h at 1-minute buckets; one PDU's 48 outlets over 5 min.

    .venv/bin/python bench/history_engines.py                      # about 30 s
    .venv/bin/python bench/history_engines.py --seconds 300 --repeat 10   # about 80 s
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from energydash.history.sqlite import SqliteHistoryStore, _Topic
from energydash.history.store import Tier

OUTLET_NAMES = (
    [f"A{i}.power_w" for i in range(1, 49)]
    + [f"{b}.current_a" for b in "ABCDEF"]
    + [f"{b}.power_w" for b in "ABCDEF"]
)
SUMMARY_NAMES = ["power_w", "energy_kwh", "outlets_on", "breakers_tripped"] + [
    f"L{p}.{f}" for p in (1, 2, 3) for f in ("voltage_v", "current_a", "power_w")
]
TIERS = (Tier(0.0, 6 * 3600.0), Tier(60.0, 30 * 86400.0), Tier(300.0, 3e7), Tier(1800.0, 3e8))
T0 = 1_800_000_000.0
# The bench calls flush() itself, so every write lands inside a timed window: the writer
# thread's own timer is pushed out of the way.
FLUSH_S = 3600.0

DUCK_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (id INTEGER PRIMARY KEY, topic TEXT UNIQUE NOT NULL,
    names TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (tier INTEGER NOT NULL, topic_id INTEGER NOT NULL,
    t DOUBLE NOT NULL, vals BLOB NOT NULL);
"""


class _DuckConnection:
    """What the store's code asks of a sqlite3 connection, on DuckDB; the points insert is
    one Arrow batch instead of ``executemany`` (which DuckDB runs row by row)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def execute(self, sql: str, params: Any = ()) -> duckdb.DuckDBPyConnection:
        return self.con.execute(sql, params) if params else self.con.execute(sql)

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if sql.startswith("INSERT OR REPLACE INTO points"):
            tier, topic_id, t, vals = zip(*rows, strict=True)
            batch = pa.table(
                {
                    "tier": pa.array(tier, pa.int32()),
                    "topic_id": pa.array(topic_id, pa.int32()),
                    "t": pa.array(t, pa.float64()),
                    "vals": pa.array(vals, pa.binary()),
                }
            )
            self.con.register("_batch", batch)
            self.con.execute("INSERT INTO points SELECT * FROM _batch")
            self.con.unregister("_batch")
        elif sql.startswith("DELETE FROM points WHERE tier = ? AND topic_id = ? AND t < ?"):
            # Retention in one statement: DuckDB scans per DELETE, sqlite3 seeks its key.
            tier, topic_id, cutoff = zip(*rows, strict=True)
            cut = pa.table(
                {
                    "tier": pa.array(tier, pa.int32()),
                    "topic_id": pa.array(topic_id, pa.int32()),
                    "cutoff": pa.array(cutoff, pa.float64()),
                }
            )
            self.con.register("_cut", cut)
            self.con.execute(
                "DELETE FROM points USING _cut WHERE points.tier = _cut.tier"
                " AND points.topic_id = _cut.topic_id AND points.t < _cut.cutoff"
            )
            self.con.unregister("_cut")
        else:
            self.con.executemany(sql, rows)

    def close(self) -> None:
        self.con.close()


class DuckdbHistoryStore(SqliteHistoryStore):
    """``SqliteHistoryStore`` with DuckDB underneath (a fresh file only): bench use only."""

    def __init__(self, path: Path, tiers: tuple[Tier, ...], threads: int | None) -> None:
        super().__init__(path, tiers, flush_s=FLUSH_S)
        self.threads = threads

    def start(self) -> None:
        import threading

        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.path))
        if self.threads:
            con.execute(f"SET threads = {int(self.threads)}")
        con.execute(DUCK_SCHEMA)
        self._db = _DuckConnection(con)  # type: ignore[assignment]
        self._thread = threading.Thread(target=self._run, name="bench-duckdb", daemon=True)
        self._thread.start()

    def _topic(self, topic: str) -> _Topic:
        known = self._topics.get(topic)
        if known is None:
            assert self._db is not None
            topic_id = len(self._topics) + 1  # DuckDB has no lastrowid
            self._db.execute(
                "INSERT INTO topics (id, topic, names) VALUES (?, ?, '[]')", (topic_id, topic)
            )
            known = self._topics[topic] = _Topic(topic_id, [])
        return known


def second_of(pdus: int, rng: np.random.Generator) -> list[tuple[str, dict[str, float | None]]]:
    out: list[tuple[str, dict[str, float | None]]] = []
    for n in range(1, pdus + 1):
        out.append(
            (f"pdu/{n}/outlets", dict(zip(OUTLET_NAMES, rng.random(60).tolist(), strict=True)))
        )
        out.append(
            (f"pdu/{n}/summary", dict(zip(SUMMARY_NAMES, rng.random(13).tolist(), strict=True)))
        )
    return out


def open_store(engine: str, directory: Path, threads: int | None) -> SqliteHistoryStore:
    directory.mkdir(parents=True, exist_ok=True)
    if engine == "sqlite":
        store = SqliteHistoryStore(directory / "history.sqlite3", TIERS, flush_s=FLUSH_S)
    else:
        store = DuckdbHistoryStore(directory / "history.duckdb", TIERS, threads)
    store.start()
    return store


def write_phase(
    engine: str, pdus: int, seconds: int, directory: Path, threads: int | None
) -> dict[str, float]:
    store = open_store(engine, directory, threads)
    rng = np.random.default_rng(1)
    wall = cpu = 0.0
    points = 0
    for second in range(seconds):
        batch = second_of(pdus, rng)  # not timed: the hub's messages exist already
        w0, c0 = time.perf_counter(), time.process_time()
        for topic, values in batch:
            store.record(topic, T0 + second, values)
        store.flush()
        wall += time.perf_counter() - w0
        cpu += time.process_time() - c0
        points += sum(len(v) for _, v in batch)
    c0 = time.process_time()
    store.close()  # the open tier buckets and the final checkpoint are part of the cost
    cpu += time.process_time() - c0
    size = sum(p.stat().st_size for p in directory.iterdir() if p.is_file())
    return {
        "points_per_s": points / wall,
        "cpu_us_per_point": cpu / points * 1e6,
        "cpu_share": cpu / wall,
        "size_mb": size / 1e6,
        "mb_per_pdu_hour": size / 1e6 / pdus / seconds * 3600,
    }


def load_read_dataset(store: SqliteHistoryStore, pdus: int, hours: float) -> float:
    rng = np.random.default_rng(2)
    end = T0 + hours * 3600
    dense_from = end - 65 * 60
    t = T0
    queued = 0
    while t <= end:
        for topic, values in second_of(pdus, rng):
            store.record(topic, t, values)
        queued += 2 * pdus
        if queued >= 5_000:
            store.flush()
            queued = 0
        t += 1.0 if t >= dense_from else 10.0
    store.prune()
    return t - (1.0 if t > dense_from else 10.0)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    ms = []
    result = None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        ms.append((time.perf_counter() - began) * 1e3)
    ms.sort()
    return statistics.median(ms), ms[min(len(ms) - 1, math.ceil(0.95 * len(ms)) - 1)], result


def read_phase(
    engine: str, pdus: int, hours: float, repeat: int, directory: Path, threads: int | None
) -> dict[str, Any]:
    store = open_store(engine, directory, threads)
    end = load_read_dataset(store, pdus, hours)
    out: dict[str, Any] = {}
    one = timed(lambda: store.query("pdu/1/summary", ["power_w"], end - 3600, end), repeat)
    ten = timed(
        lambda: [
            store.query(f"pdu/{n}/summary", ["power_w"], end - 86400, end, step_s=60)
            for n in range(1, min(10, pdus) + 1)
        ],
        repeat,
    )
    outlets = timed(lambda: store.query("pdu/1/outlets", OUTLET_NAMES[:48], end - 300, end), repeat)
    out["1 series, 1 h raw"] = (one[0], one[1], f"{one[2].tier.name}, {one[2].times.size} rows")
    first = ten[2][0]
    out[f"{len(ten[2])} series, 24 h at 1 min"] = (
        ten[0],
        ten[1],
        f"{first.tier.name}, {first.times.size} rows each",
    )
    out["48 outlets, 5 min"] = (
        outlets[0],
        outlets[1],
        f"{outlets[2].tier.name}, {outlets[2].times.size} rows",
    )
    store.close()
    out["size_mb"] = sum(p.stat().st_size for p in directory.iterdir() if p.is_file()) / 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdus", type=int, default=1000, help="write phase fleet")
    parser.add_argument("--seconds", type=int, default=60, help="write phase simulated seconds")
    parser.add_argument("--read-pdus", type=int, default=10, help="read phase fleet (>= 10)")
    parser.add_argument("--read-hours", type=float, default=24.0, help="read phase history")
    parser.add_argument("--repeat", type=int, default=20, help="runs of each query")
    parser.add_argument("--duckdb-threads", type=int, default=None, help="default: DuckDB's")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    for name in ("pdus", "seconds", "read_pdus", "repeat"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if not 1.5 <= args.read_hours <= 24 * 30:
        parser.error("--read-hours must be between 1.5 and 720")
    results: dict[str, dict[str, Any]] = {}
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="energydash-history-engines-") as tmp:
        for engine in ("sqlite", "duckdb"):
            results[engine] = {
                "write": write_phase(
                    engine, args.pdus, args.seconds, Path(tmp) / f"w-{engine}", args.duckdb_threads
                ),
                "read": read_phase(
                    engine,
                    args.read_pdus,
                    args.read_hours,
                    args.repeat,
                    Path(tmp) / f"r-{engine}",
                    args.duckdb_threads,
                ),
            }
    load = os.getloadavg()
    offered = args.pdus * (len(OUTLET_NAMES) + len(SUMMARY_NAMES))
    print(
        f"SQLite {__import__('sqlite3').sqlite_version} vs DuckDB {duckdb.__version__}; "
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"{time.perf_counter() - began:.0f} s"
    )
    print(
        f"write: {args.pdus} PDUs x {args.seconds} s flat out ({offered:,} points per simulated"
        " second, one flush per simulated second)"
    )
    for engine, r in results.items():
        w = r["write"]
        print(
            f"  {engine:7s} {w['points_per_s']:>11,.0f} points/s  {w['cpu_us_per_point']:.2f} us"
            f" CPU/point ({w['cpu_share']:.0%} of a core)  file {w['size_mb']:.1f} MB after"
            f" {args.seconds / 60:g} min ({w['mb_per_pdu_hour']:.2f} MB per PDU-hour)"
        )
    print(
        f"read: {args.read_pdus} PDUs over {args.read_hours:g} h (retention applied),"
        f" median / p95 of {args.repeat} runs"
    )
    for label in next(iter(results.values()))["read"]:
        if label == "size_mb":
            continue
        cells = [
            f"{engine} {r['read'][label][0]:7.2f} / {r['read'][label][1]:7.2f} ms"
            for engine, r in results.items()
        ]
        print(f"  {label:24s} " + "   ".join(cells) + f"   ({results['sqlite']['read'][label][2]})")
    print(
        "  file after the read dataset: "
        + ", ".join(f"{e} {r['read']['size_mb']:.1f} MB" for e, r in results.items())
    )
    if args.json:
        print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
