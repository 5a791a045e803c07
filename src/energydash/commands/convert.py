"""`energydash convert`: OpenElectricity JSON responses → CSV and/or Parquet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from energydash.config import Settings

FORMAT_HELP = (
    "comma-separated: the shape long, wide or both (default both) and the file type csv "
    "and/or parquet (default csv), e.g. 'wide', 'parquet', 'wide,csv,parquet'"
)


def parse_format(text: str) -> tuple[str, list[str]]:
    """``--format`` → (shape, file types); ValueError names a bad token."""
    shape = "both"
    types: list[str] = []
    for token in (t.strip() for t in text.split(",")):
        if token in ("long", "wide", "both"):
            shape = token
        elif token in ("csv", "parquet"):
            types.append(token)
        elif token:
            raise ValueError(f"--format: {token!r} is not one of long, wide, both, csv, parquet")
    return shape, types or ["csv"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert OpenElectricity JSON (facilities, facility/network data, market) to "
        "CSV/Parquet",
        description="Convert OpenElectricity API responses (validated with the openelectricity "
        "SDK's models, 0.12 and deprecated field names; batch files holding several responses "
        "too) to facilities, facility_units, facility and market metrics in long and/or wide "
        "form, and metadata, as CSV and/or Parquet. Outputs appear only when the whole "
        "conversion succeeded; tables of a kind this run has no input for are left as they are.",
    )
    parser.add_argument("inputs", nargs="+", type=Path, help="JSON files or directories")
    parser.add_argument(
        "-o", "--output", type=Path, help="output directory (default: <data_dir>/csv)"
    )
    parser.add_argument("--format", default="both,csv", help=FORMAT_HELP)
    parser.add_argument(
        "--timezone",
        choices=("keep", "utc"),
        default="keep",
        help="keep the network's offset in timestamps (default) or convert them to UTC",
    )
    parser.add_argument(
        "--metrics", help="comma-separated metrics to keep (e.g. power,price); default: all"
    )
    parser.add_argument(
        "--grid",
        default="data",
        help="rows of the wide tables: 'data' (every timestamp of the input, nulls included; "
        "default), 'regular' (every step of the data's interval from first to last) or a "
        "step: 5m, 30m, 1h, 1d, 7d",
    )
    parser.add_argument(
        "--strict", action="store_true", help="a JSON file that is no API response is an error"
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="replace tables in -o made from other inputs (default: refuse)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from energydash.datasets.convert import Converter, ConvertError, input_files
    from energydash.datasets.jsonstream import JsonSyntaxError
    from energydash.datasets.progress import bytes_progress
    from energydash.datasets.reader import NotApiJson, SchemaError

    out_dir = args.output or settings.data_dir / "csv"
    try:
        form, file_types = parse_format(args.format)
        files = input_files(args.inputs)
    except (ValueError, FileNotFoundError) as error:
        print(f"energydash convert: {error}", file=sys.stderr)
        return 2
    total = sum(p.stat().st_size for p in files)
    metrics = [m for m in (args.metrics or "").split(",") if m.strip()] or None
    with bytes_progress(args.quiet) as progress:
        task = progress.add_task("converting", total=total)
        try:
            converter = Converter(
                out_dir,
                form=form,  # type: ignore[arg-type]
                tz=args.timezone,
                metrics=metrics,
                file_types=file_types,  # type: ignore[arg-type]
                grid=args.grid,
                strict=args.strict,
                replace=args.replace,
                on_progress=lambda n: progress.advance(task, n),
                warn=lambda m: progress.console.print(
                    f"energydash convert: {m}", markup=False, highlight=False, soft_wrap=True
                ),
            )
            summary = converter.convert(files)
        except ConvertError as error:
            print(f"energydash convert: {error}", file=sys.stderr)
            return error.exit_code
        except (JsonSyntaxError, SchemaError, NotApiJson) as error:
            print(f"energydash convert: {error}", file=sys.stderr)
            return 1
        except (OSError, ValueError) as error:
            print(f"energydash convert: {error}", file=sys.stderr)
            return 1
    print(f"{summary.line()} -> {out_dir}")
    if summary.stale_temps_removed:
        print(
            f"removed {summary.stale_temps_removed} temporary file(s) left by an interrupted run",
            file=sys.stderr,
        )
    if summary.unmapped_units:
        print(
            f"warning: {summary.unmapped_units} unit series had no facility (pass the "
            "facilities JSON too)",
            file=sys.stderr,
        )
    return 0
