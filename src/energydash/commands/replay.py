"""`energydash replay`: send CSV rows to an MQTT broker, paced, grouped, verified."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from energydash.commands._options import (
    add_mqtt_client_options,
    mqtt_client_values,
    parse_user_properties,
)
from energydash.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "replay",
        help="replay CSV rows over MQTT (paced, grouped, verified)",
        description="Publish the rows of a CSV file to MQTT on an absolute schedule. "
        "Presets fit the CSVs `energydash convert` writes: --preset facility "
        "(facility_metrics_wide.csv, grouped per interval to <facility_root>/all) and "
        "--preset market (market_metrics_wide.csv, grouped to <market_root>/<network>). "
        "Prints a progress line on stderr and a JSON summary on stdout.",
    )
    p.add_argument("csv", type=Path, help="the CSV file (header row first)")
    p.add_argument("--preset", choices=("facility", "market"), help="topic/types/grouping preset")
    p.add_argument(
        "--topic",
        help="topic template from columns, e.g. 'energydash/facilities/{facility_code}'",
    )
    p.add_argument("--group-topic", help="topic template of grouped messages (first row's fields)")
    p.add_argument("--timestamp-column", help="column with ISO 8601 or epoch timestamps")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, help="N x real time on the timestamps' schedule")
    pace.add_argument("--max", action="store_true", help="as fast as the broker takes them")
    pace.add_argument("--rate", type=float, help="messages per second, evenly spaced")
    grouping = p.add_mutually_exclusive_group()
    grouping.add_argument(
        "--group-by-timestamp",
        dest="group",
        action="store_true",
        default=None,
        help='one message per interval: {"timestamp": ..., "rows": [...]} (facility default)',
    )
    grouping.add_argument("--per-row", dest="group", action="store_false", help="one row each")
    p.add_argument("--columns", help="comma-separated columns to put in the payload")
    p.add_argument("--types", help="column types, e.g. 'power_mw:float,online:bool,id:str'")
    p.add_argument(
        "--payload-template",
        help="text payload with $column / ${column} placeholders (per-row only)",
    )
    p.add_argument("--qos", type=int, choices=(0, 1, 2), help="default: ENERGYDASH_MQTT_QOS")
    p.add_argument("--retain", action="store_true", help="set the retain flag")
    add_mqtt_client_options(p, "replay")
    p.add_argument(
        "--connections",
        type=int,
        help="publisher connections, rows sharded by facility (default: "
        "ENERGYDASH_REPLAY_CONNECTIONS)",
    )
    p.add_argument(
        "--shard-column",
        help="column that shards rows between connections (default: facility_code)",
    )
    p.add_argument(
        "--message-expiry",
        type=int,
        help="MQTT 5 message expiry in seconds (default: ENERGYDASH_REPLAY_MESSAGE_EXPIRY_S)",
    )
    p.add_argument(
        "--user-property",
        action="append",
        metavar="KEY=VALUE",
        help="MQTT 5 user property on every message (repeatable)",
    )
    p.add_argument(
        "--latency",
        action="store_true",
        help="add a sequence number and send time to each payload (`record` reports latency)",
    )
    p.add_argument(
        "--loop",
        nargs="?",
        type=int,
        const=0,
        default=None,
        metavar="N",
        help="repeat the file N times (no N: forever), timestamps rebased to now",
    )
    p.add_argument("--rebase", action="store_true", help="rebase timestamps to now (no loop)")
    p.add_argument(
        "--dataset",
        help="name of the dataset in grouped payloads, shown as the replay's label "
        "(default: the file name; '' to send none)",
    )
    p.add_argument("--max-inflight", type=int, help="default: ENERGYDASH_MQTT_MAX_INFLIGHT")
    p.add_argument("--queue-size", type=int, help="default: ENERGYDASH_REPLAY_QUEUE_SIZE")
    p.add_argument("--verify", action="store_true", help="subscribe alongside; report lost")
    p.add_argument("--on-error", choices=("skip", "fail"), default="skip", help="bad rows")
    p.add_argument("--limit", type=int, default=0, help="stop after N messages")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    import orjson

    from energydash.mqtt.replay import (
        Replayer,
        ReplayError,
        ReplayOptions,
        options_from_preset,
    )
    from energydash.mqtt.replay_progress import ReplayProgress
    from energydash.mqtt.replay_source import parse_types

    if not args.csv.is_file():
        print(f"energydash replay: {args.csv}: no such file", file=sys.stderr)
        return 2
    if not args.preset and not args.topic:
        print("energydash replay: give --topic TEMPLATE or --preset", file=sys.stderr)
        return 2
    try:
        types = parse_types(args.types)
        user_properties = parse_user_properties(args.user_property)
    except ValueError as error:
        print(f"energydash replay: {error}", file=sys.stderr)
        return 2
    mode = "speed" if args.speed else "rate" if args.rate else "max"
    if (args.speed is not None and args.speed <= 0) or (args.rate is not None and args.rate <= 0):
        print("energydash replay: --speed and --rate must be positive", file=sys.stderr)
        return 2
    common = {
        "path": args.csv,
        "mode": mode,
        "speed": args.speed or 1.0,
        "rate": args.rate or 0.0,
        "columns": [c.strip() for c in args.columns.split(",")] if args.columns else None,
        "payload_template": args.payload_template,
        "qos": settings.mqtt_qos if args.qos is None else args.qos,
        "retain": args.retain,
        **mqtt_client_values(args, settings),
        "connections": args.connections or settings.replay_connections,
        "shard_column": args.shard_column,
        # The setting applies where it can (MQTT 5); an explicit --message-expiry must.
        "message_expiry_s": args.message_expiry
        if args.message_expiry is not None
        else settings.replay_message_expiry_s
        if (args.mqtt_version or settings.tools_mqtt_version) == "5"
        else 0,
        "user_properties": user_properties,
        "latency": args.latency,
        "loops": 1 if args.loop is None else args.loop,
        "rebase": args.rebase or args.loop is not None,
        "max_inflight": args.max_inflight or settings.mqtt_max_inflight,
        "queue_size": args.queue_size or settings.replay_queue_size,
        "verify": args.verify,
        "on_error": args.on_error,
        "limit": args.limit,
        "dataset": Path(args.csv).name if args.dataset is None else (args.dataset or None),
    }
    specific = {
        "topic": args.topic,
        "group_topic": args.group_topic,
        "timestamp_column": args.timestamp_column,
        "group_by_timestamp": args.group,
    }
    try:
        if args.preset:
            options = options_from_preset(args.preset, settings, **common, **specific)
            options.types.update(types)
        else:
            specific["group_by_timestamp"] = bool(args.group)
            options = ReplayOptions(**common, **specific, types=types)
        progress = None if args.quiet else ReplayProgress()
        replayer = Replayer(
            options,
            on_progress=progress.update if progress else None,
            warn=lambda m: print(f"energydash replay: {m}", file=sys.stderr),
        )
        try:
            summary = replayer.run()
        finally:
            if progress:
                progress.close()
    except (ReplayError, ValueError, OSError) as error:
        print(f"energydash replay: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(orjson.dumps(replayer.summary()).decode())
        return 130
    print(orjson.dumps(summary).decode())
    lost = (summary.get("verify") or {}).get("lost", 0)
    return 1 if lost else 0
