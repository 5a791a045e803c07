"""Stored history write cost: 1,000 PDUs at 1 Hz into the SQLite store.

Each simulated second every PDU publishes ``pdu/N/outlets`` (48 outlet powers, 6 branch
currents and powers: 60 values) and ``pdu/N/summary`` (4 totals, 3 phases x 3: 13 values), so
1,000 PDUs are 2,000 messages and 73,000 points a second. ``record`` is what the event loop
pays (it only enqueues); the writer thread pays the rest. Two runs:

- paced: one second of messages every wall second, as a live backend; prints the points/s
  sustained, the writer's busy share of a core, the queue's peak and anything dropped;
- flat out: messages as fast as the writer takes them; prints the store's ceiling in points/s.

    .venv/bin/python bench/history_write.py                    # 1,000 PDUs, 20 s paced
    .venv/bin/python bench/history_write.py --pdus 200 --seconds 10
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from energydash.history.sqlite import SqliteHistoryStore
from energydash.history.store import Tier

OUTLET_NAMES = (
    [f"A{i}.power_w" for i in range(1, 49)]
    + [f"{b}.{f}" for b in ("A", "B", "C", "D", "E", "F") for f in ("current_a",)]
    + [f"{b}.power_w" for b in ("A", "B", "C", "D", "E", "F")]
)
SUMMARY_NAMES = ["power_w", "energy_kwh", "outlets_on", "breakers_tripped"] + [
    f"L{p}.{f}" for p in (1, 2, 3) for f in ("voltage_v", "current_a", "power_w")
]
TIERS = (Tier(0.0, 6 * 3600.0), Tier(60.0, 30 * 86400.0), Tier(300.0, 3e7), Tier(1800.0, 3e8))


def second_of(pdus: int, rng: np.random.Generator) -> list[tuple[str, dict[str, float | None]]]:
    out = []
    for n in range(1, pdus + 1):
        out.append(
            (f"pdu/{n}/outlets", dict(zip(OUTLET_NAMES, rng.random(60).tolist(), strict=True)))
        )
        out.append(
            (f"pdu/{n}/summary", dict(zip(SUMMARY_NAMES, rng.random(13).tolist(), strict=True)))
        )
    return out


def run(pdus: int, seconds: int, paced: bool, directory: Path) -> dict[str, float]:
    store = SqliteHistoryStore(directory / f"history-{'paced' if paced else 'flat'}.sqlite3", TIERS)
    store.start()
    rng = np.random.default_rng(1)
    t0 = 1_800_000_000.0
    record_s = 0.0
    peak_queue = 0
    points = 0
    began = time.perf_counter()
    for second in range(seconds):
        batch = second_of(pdus, rng)
        start = time.perf_counter()
        for topic, values in batch:
            store.record(topic, t0 + second, values)
        record_s += time.perf_counter() - start
        points += sum(len(v) for _, v in batch)
        peak_queue = max(peak_queue, store.stats()["queued"])
        if paced:
            time.sleep(max(0.0, began + second + 1 - time.perf_counter()))
        else:
            store.flush()
    store.flush()
    wall = time.perf_counter() - began
    stats = store.stats()
    size = sum(p.stat().st_size for p in directory.glob(f"history-{'paced' if paced else 'flat'}*"))
    store.close()
    return {
        "points_per_s": points / wall,
        "messages": stats["records_written"],
        "record_us": record_s / max(1, stats["records_written"]) * 1e6,
        "writer_busy": stats["write_s"] / wall,
        "peak_queue": peak_queue,
        "dropped": stats["dropped"],
        "bytes_per_pdu_hour": size / pdus / seconds * 3600,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdus", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="energydash-history-bench-") as tmp:
        paced = run(args.pdus, args.seconds, True, Path(tmp))
        flat = run(args.pdus, args.seconds, False, Path(tmp))
    offered = args.pdus * (len(OUTLET_NAMES) + len(SUMMARY_NAMES))
    print(f"{args.pdus} PDUs at 1 Hz: {offered:,} points/s offered, {args.seconds} s per run")
    print(
        f"paced:    {paced['points_per_s']:,.0f} points/s sustained, writer busy "
        f"{paced['writer_busy']:.0%} of a core, record() {paced['record_us']:.1f} us/message "
        f"on the event loop, queue peak {paced['peak_queue']:,}, dropped {paced['dropped']}"
    )
    print(
        f"flat out: {flat['points_per_s']:,.0f} points/s ({flat['points_per_s'] / offered:.1f}x "
        f"the 1 Hz load), writer busy {flat['writer_busy']:.0%}"
    )
    print(f"disk: {paced['bytes_per_pdu_hour'] / 1e6:.2f} MB per PDU-hour of raw + tiers")


if __name__ == "__main__":
    main()
