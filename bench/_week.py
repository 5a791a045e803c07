"""The benchmarks' shared input: a week of 500 facilities at 5-minute intervals, made once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEFAULT_DIR = Path("/tmp/energydash-bench/week")


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


def week_csv(directory: Path = DEFAULT_DIR) -> Path:
    """The wide facility CSV of the week (converted once)."""
    out = directory / "csv"
    if not (out / "facility_metrics_wide.csv").exists():
        week_dataset(directory)
        subprocess.run(
            [sys.executable, "-m", "energydash", "convert", str(directory), "-o", str(out),
             "--format", "wide", "-q"],
            check=True,
        )  # fmt: skip
    return out / "facility_metrics_wide.csv"
