"""Convert generated OpenElectricity JSON to CSV and to Parquet; print rows/s and peak RSS.

Run: .venv/bin/python bench/convert.py [--facilities 200] [--days 2] [--shape both]
(the older figure used --facilities 500 --days 7, ~127 MB of JSON). Each conversion runs in a
child process so its peak RSS (ru_maxrss of that child, read through os.wait4) is its own.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from _week import dataset_dir, week_dataset


def _lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 22), b""))


def _rows(out: Path, file_type: str) -> int:
    if file_type == "csv":
        return sum(_lines(p) - 1 for p in out.glob("*_metrics_*.csv"))
    return sum(pq.ParquetFile(p).metadata.num_rows for p in out.glob("*_metrics_*.parquet"))


def convert(source: Path, shape: str, file_type: str) -> tuple[str, float, int, int, float]:
    """(summary line, seconds, metric rows written, peak RSS in KiB, CPU seconds)."""
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "energydash", "convert", str(source), "-o", out,
             "--format", f"{shape},{file_type}", "-q"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        summary = proc.stdout.read().strip()
        _pid, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"convert failed: {summary}")
        cpu = usage.ru_utime + usage.ru_stime
        return summary, elapsed, _rows(Path(out), file_type), usage.ru_maxrss, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facilities", type=int, default=200)
    parser.add_argument("--days", type=float, default=2.0)
    parser.add_argument("--shape", choices=("long", "wide", "both"), default="both")
    args = parser.parse_args()
    source = week_dataset(dataset_dir(args.facilities, args.days), args.facilities, args.days)
    size = sum(p.stat().st_size for p in source.glob("*.json"))
    print(f"input: {args.facilities} facilities x {args.days:g} days, {size / 1e6:.1f} MB JSON")
    for file_type in ("csv", "parquet"):
        summary, elapsed, rows, peak_kb, cpu = convert(source, args.shape, file_type)
        points = int(summary.split(" units, ")[1].split(" points")[0])
        print(
            f"convert --format {args.shape},{file_type}: {points:,} points -> {rows:,} rows in "
            f"{elapsed:.1f} s: {rows / elapsed:,.0f} rows/s, {points / elapsed:,.0f} points/s "
            f"(CPU {cpu:.1f} s: {rows / cpu:,.0f} rows per CPU-second); "
            f"peak RSS {peak_kb / 1024:.0f} MB"
        )


if __name__ == "__main__":
    main()
