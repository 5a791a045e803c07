"""The benchmarks' shared input: generated facilities at 5-minute intervals, made once per size.

The full week (500 facilities x 7 days, ~127 MB of JSON) is the default of the older figures;
``--facilities``/``--days`` pick a smaller set for a shared machine, cached in its own folder.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_ROOT = Path("/tmp/energydash-bench")
DEFAULT_DIR = BENCH_ROOT / "week"


def dataset_dir(facilities: int, days: float) -> Path:
    if (facilities, days) == (500, 7.0):
        return DEFAULT_DIR
    return BENCH_ROOT / f"f{facilities}-d{days:g}"


def week_dataset(directory: Path = DEFAULT_DIR, facilities: int = 500, days: float = 7.0) -> Path:
    """Generate the JSON (seed 1) unless it is already there; returns its directory."""
    if not (directory / "facility_data.json").exists():
        print(
            f"generating {facilities} facilities x {days:g} days into {directory} ...", flush=True
        )
        subprocess.run(
            [sys.executable, "-m", "energydash", "datasets", "generate", "-o", str(directory),
             "--facilities", str(facilities), "--days", str(days), "--seed", "1", "-q"],
            check=True,
        )  # fmt: skip
    return directory


def week_csv(directory: Path = DEFAULT_DIR, facilities: int = 500, days: float = 7.0) -> Path:
    """The wide facility CSV of the set (converted once)."""
    out = directory / "csv"
    if not (out / "facility_metrics_wide.csv").exists():
        week_dataset(directory, facilities, days)
        subprocess.run(
            [sys.executable, "-m", "energydash", "convert", str(directory), "-o", str(out),
             "--format", "wide", "-q"],
            check=True,
        )  # fmt: skip
    return out / "facility_metrics_wide.csv"
