"""`energydash convert`: OpenElectricity JSON responses → CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from energydash.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert OpenElectricity JSON (facilities, facility/network data, market) to CSV",
        description="Convert OpenElectricity API responses (validated with the openelectricity "
        "SDK's models, 0.12 and deprecated field names) to facilities.csv, facility_units.csv, "
        "facility and market metrics in long and/or wide form, and metadata.csv. Outputs appear "
        "only when the whole conversion succeeded.",
    )
    parser.add_argument("inputs", nargs="+", type=Path, help="JSON files or directories")
    parser.add_argument(
        "-o", "--output", type=Path, help="output directory (default: <data_dir>/csv)"
    )
    parser.add_argument("--format", choices=("long", "wide", "both"), default="both")
    parser.add_argument(
        "--timezone",
        choices=("keep", "utc"),
        default="keep",
        help="keep the network's offset in timestamps (default) or convert them to UTC",
    )
    parser.add_argument(
        "--metrics", help="comma-separated metrics to keep (e.g. power,price); default: all"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from energydash.datasets.convert import Converter, input_files
    from energydash.datasets.jsonstream import JsonSyntaxError
    from energydash.datasets.progress import bytes_progress
    from energydash.datasets.reader import SchemaError

    out_dir = args.output or settings.data_dir / "csv"
    try:
        files = input_files(args.inputs)
    except FileNotFoundError as error:
        print(f"energydash convert: {error}", file=sys.stderr)
        return 2
    total = sum(p.stat().st_size for p in files)
    metrics = [m for m in (args.metrics or "").split(",") if m.strip()] or None
    with bytes_progress(args.quiet) as progress:
        task = progress.add_task("converting", total=total)
        converter = Converter(
            out_dir,
            form=args.format,
            tz=args.timezone,
            metrics=metrics,
            on_progress=lambda n: progress.advance(task, n),
        )
        try:
            summary = converter.convert(files)
        except (JsonSyntaxError, SchemaError) as error:
            print(f"energydash convert: {error}", file=sys.stderr)
            return 1
        except (OSError, ValueError) as error:
            print(f"energydash convert: {error}", file=sys.stderr)
            return 1
    print(f"{summary.line()} -> {out_dir}")
    if summary.unmapped_units:
        print(
            f"warning: {summary.unmapped_units} unit series had no facility (pass the "
            "facilities JSON too)",
            file=sys.stderr,
        )
    return 0
