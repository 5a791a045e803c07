"""Convert a week of 500 facilities (~125 MB of JSON); print rows/s and peak memory.

Run: .venv/bin/python bench/convert.py [--dir /tmp/energydash-bench/week] [--format both]
The conversion runs in a child process so its peak RSS (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _week import DEFAULT_DIR, week_dataset


def _lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 22), b""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--format", choices=("long", "wide", "both"), default="both")
    args = parser.parse_args()
    source = week_dataset(args.dir)
    size = sum(p.stat().st_size for p in source.glob("*.json"))
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "energydash", "convert", str(source), "-o", out,
             "--format", args.format, "-q"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        summary = result.stdout.strip()
        points = int(summary.split(" units, ")[1].split(" points")[0])
        rows = sum(_lines(p) - 1 for p in Path(out).glob("*_metrics_*.csv"))
    print(summary)
    print(
        f"convert: {size / 1e6:.1f} MB JSON, {points:,} points -> {rows:,} CSV rows in "
        f"{elapsed:.1f} s: {points / elapsed:,.0f} points/s, {rows / elapsed:,.0f} rows/s; "
        f"peak RSS {peak_kb / 1024:.0f} MB = {peak_kb * 1024 / size:.2f}x the input"
    )


if __name__ == "__main__":
    main()
