"""`energydash record`: subscribe to MQTT topics and write what arrives to CSV or Parquet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from energydash.commands._options import add_mqtt_client_options, mqtt_client_values
from energydash.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "record",
        help="record MQTT messages to CSV or Parquet (the shapes replay reads)",
        description="Subscribe to topics and write every message to a CSV or Parquet file in "
        "the shapes `energydash replay` reads: a grouped message becomes one row per element "
        "with its timestamp, any other JSON object one row. Stops after --count messages, "
        "--duration, --idle seconds of silence, or SIGINT/SIGTERM, and writes the file then. "
        "Prints a summary line on stderr and a JSON summary on stdout; with payloads from "
        "`replay --latency`, delivery latency p50/p99, gaps and duplicates.",
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="the .csv or .parquet file")
    p.add_argument(
        "--topic",
        action="append",
        help="topic filter, wildcards + and # allowed (repeatable; default with --preset)",
    )
    p.add_argument(
        "--preset",
        choices=("facility", "market"),
        help="subscribe to <facility_root>/# or <market_root>/#",
    )
    p.add_argument("--format", choices=("csv", "parquet"), help="default: from the file suffix")
    p.add_argument("--qos", type=int, choices=(0, 1, 2), help="default: ENERGYDASH_MQTT_QOS")
    add_mqtt_client_options(p, "record")
    p.add_argument("--count", type=int, default=0, help="stop after N messages")
    p.add_argument("--duration", type=float, default=0.0, help="stop after S seconds")
    p.add_argument("--idle", type=float, default=0.0, help="stop after S seconds without a message")
    p.add_argument(
        "--max-rows", type=int, help="stop after N rows (default: ENERGYDASH_RECORD_MAX_ROWS)"
    )
    p.add_argument("--topic-column", action="store_true", help="add each message's topic")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line on stderr")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    import signal

    import orjson

    from energydash.mqtt.record import Recorder, RecordError, RecordOptions, summary_line

    topics = list(args.topic or [])
    if args.preset == "facility":
        topics.append(settings.mqtt_facility_root.rstrip("/") + "/#")
    elif args.preset == "market":
        topics.append(settings.mqtt_market_root.rstrip("/") + "/#")
    if not topics:
        print("energydash record: give --topic FILTER or --preset", file=sys.stderr)
        return 2
    file_type = args.format or ("parquet" if args.output.suffix == ".parquet" else "csv")
    if min(args.count, args.duration, args.idle) < 0:
        print("energydash record: --count, --duration and --idle must be >= 0", file=sys.stderr)
        return 2
    try:
        recorder = Recorder(
            RecordOptions(
                out=args.output,
                topics=topics,
                qos=settings.mqtt_qos if args.qos is None else args.qos,
                file_type=file_type,
                count=args.count,
                duration_s=args.duration,
                idle_s=args.idle,
                max_rows=args.max_rows or settings.record_max_rows,
                topic_column=args.topic_column,
                **mqtt_client_values(args, settings),  # type: ignore[arg-type]
            )
        )
    except RecordError as error:
        print(f"energydash record: {error}", file=sys.stderr)
        return 2
    # A signal only asks the recorder to stop; the file is then written in full.
    previous = {
        sig: signal.signal(sig, lambda *_a: recorder.stop("signal"))
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    progress = _Progress(enabled=not args.quiet and sys.stderr.isatty())
    recorder.on_progress = progress.update
    try:
        summary = recorder.run()
    except (RecordError, OSError) as error:
        print(f"energydash record: {error}", file=sys.stderr)
        return 1
    finally:
        progress.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not args.quiet:
        print(summary_line(summary), file=sys.stderr)
    print(orjson.dumps(summary).decode())
    return 0


class _Progress:
    """A rich status on a terminal while recording (messages, rows, msg/s); nothing elsewhere."""

    def __init__(self, *, enabled: bool) -> None:
        self._progress = None
        self._last = (0.0, 0)
        if enabled:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("record {task.fields[detail]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("record", total=None, detail="waiting")

    def update(self, recorder: object) -> None:
        if self._progress is None:
            return
        import time

        messages, rows = recorder.messages, recorder.rows  # type: ignore[attr-defined]
        now = time.monotonic()
        then, before = self._last
        rate = (messages - before) / (now - then) if then else 0.0
        self._last = (now, messages)
        self._progress.update(
            self._task, detail=f"{messages:,} messages ({rows:,} rows) {rate:,.0f} msg/s"
        )

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
