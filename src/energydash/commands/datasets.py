"""`energydash datasets generate`: OpenElectricity-shaped sample data from the grid simulator."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from energydash.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("datasets", help="generate sample OpenElectricity datasets")
    sub = parser.add_subparsers(dest="datasets_command", metavar="<action>")
    gen = sub.add_parser(
        "generate",
        help="facilities, facility power/emissions and market JSON from the grid simulator",
        description="Write facilities.json, facility_data.json and market.json in the "
        "OpenElectricity v4 response shapes (deterministic by seed); with --csv also their "
        "conversion (as `energydash convert` writes it).",
    )
    gen.add_argument(
        "-o", "--output", type=Path, help="output directory (default: <data_dir>/generated)"
    )
    gen.add_argument("--seed", type=int, help="random seed (default: ENERGYDASH_SEED)")
    gen.add_argument(
        "--facilities", type=int, help="facility count (default: ENERGYDASH_GRID_FACILITY_COUNT)"
    )
    gen.add_argument("--days", type=float, default=7.0, help="days of data (default: 7)")
    gen.add_argument(
        "--start",
        default="2025-01-13T00:00:00+10:00",
        help="first interval, ISO 8601 (default: 2025-01-13T00:00:00+10:00; no offset: +10:00)",
    )
    gen.add_argument("--interval-min", type=int, default=5, help="minutes per interval")
    gen.add_argument(
        "--csv", action="store_true", help="also convert into <output>/csv (both forms)"
    )
    gen.add_argument(
        "--csv-format", choices=("long", "wide", "both"), default="both", help="with --csv"
    )
    gen.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.datasets_command != "generate":
        print("usage: energydash datasets generate [options]", file=sys.stderr)
        return 2
    from energydash.datasets.convert import Converter
    from energydash.datasets.generate import generate
    from energydash.datasets.progress import count_progress

    try:
        start = datetime.fromisoformat(args.start)
    except ValueError:
        print(f"energydash datasets: --start: not ISO 8601: {args.start!r}", file=sys.stderr)
        return 2
    if args.days <= 0 or args.interval_min <= 0:
        print("energydash datasets: --days and --interval-min must be positive", file=sys.stderr)
        return 2
    out_dir = args.output or settings.data_dir / "generated"
    seed = settings.seed if args.seed is None else args.seed
    count = settings.grid_facility_count if args.facilities is None else args.facilities
    if count < 1:
        print("energydash datasets: --facilities must be at least 1", file=sys.stderr)
        return 2
    with count_progress(args.quiet) as progress:
        task = progress.add_task("simulating intervals", total=None)
        summary = generate(
            out_dir,
            seed=seed,
            facility_count=count,
            days=args.days,
            start=start,
            interval_min=args.interval_min,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    print(f"{summary.line()} -> {out_dir} (seed {seed})")
    if args.csv:
        inputs = [out_dir / n for n in ("facilities.json", "facility_data.json", "market.json")]
        converted = Converter(out_dir / "csv", form=args.csv_format).convert(inputs)
        print(f"{converted.line()} -> {out_dir / 'csv'}")
    return 0
