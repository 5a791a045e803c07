"""`energydash acquire`: download OpenElectricity data (key from OPENELECTRICITY_API_KEY)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path

from energydash.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "acquire",
        help="download OpenElectricity facilities, facility data and market data (SDK)",
        description="Download through the openelectricity SDK into the JSON files "
        "`energydash convert` reads: facilities.json, facility_data/batch-NNNN-*.json "
        "(at most 30 facilities per request) and market.json. Batches already on disk are "
        "skipped, so an interrupted run resumes. The key comes from OPENELECTRICITY_API_KEY only.",
    )
    p.add_argument("-o", "--output", type=Path, help="directory (default: <data_dir>/acquired)")
    p.add_argument("--network", default="NEM", choices=("NEM", "WEM", "AU"))
    p.add_argument("--region", help="network region, e.g. NSW1 (default: all)")
    p.add_argument("--start", help="ISO date/time of the first interval (network time)")
    p.add_argument("--end", help="ISO date/time of the end of the range")
    p.add_argument("--interval", default="5m", help="5m, 30m, 1h, 1d, ... (default: 5m)")
    p.add_argument("--metrics", default="power,emissions", help="facility metrics")
    p.add_argument(
        "--market-metrics", default="price,demand", help="market metrics ('' to skip market)"
    )
    p.add_argument("--facilities", help="comma-separated facility codes (default: all)")
    p.add_argument(
        "--timeout", type=float, help="seconds per request (ENERGYDASH_ACQUIRE_TIMEOUT_S)"
    )
    p.add_argument("--retries", type=int, help="retries per request (ENERGYDASH_ACQUIRE_RETRIES)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def _when(text: str | None, option: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"energydash acquire: {option}: not ISO 8601: {text!r}") from None


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _note(progress: object, message: str) -> None:
    import logging

    logging.getLogger("energydash.acquire").warning("%s", message)
    progress.console.print(  # type: ignore[attr-defined]
        f"energydash acquire: {message}", markup=False, highlight=False, soft_wrap=True
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from energydash.datasets.acquire import AcquireError, Acquirer, AcquireRequest
    from energydash.datasets.progress import count_progress
    from energydash.logs import setup_logging

    # The SDK's records (and ours) go to logs/acquire.log; stdout keeps the summary line.
    log_path = setup_logging("acquire", settings, console=False)

    key = settings.openelectricity_api_key
    request = AcquireRequest(
        out_dir=args.output or settings.data_dir / "acquired",
        network=args.network,
        region=args.region,
        start=_when(args.start, "--start"),
        end=_when(args.end, "--end"),
        interval=args.interval,
        metrics=_split(args.metrics),
        market_metrics=_split(args.market_metrics),
        facility_codes=_split(args.facilities) if args.facilities else None,
    )
    with count_progress(args.quiet) as progress:
        task = progress.add_task("facility batches", total=None)
        try:
            acquirer = Acquirer(
                api_key=key.get_secret_value() if key else None,
                base_url=settings.openelectricity_base_url,
                timeout_s=args.timeout or settings.acquire_timeout_s,
                retries=settings.acquire_retries if args.retries is None else args.retries,
                backoff_s=settings.acquire_backoff_s,
                on_batch=lambda done, total: progress.update(task, completed=done, total=total),
                log=lambda m: _note(progress, m),
            )
            summary = asyncio.run(acquirer.run(request))
        except AcquireError as error:
            print(f"energydash acquire: {error} (log: {log_path})", file=sys.stderr)
            return error.exit_code
    print(f"{summary.line()} -> {request.out_dir}")
    return 0
