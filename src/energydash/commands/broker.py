"""`energydash broker`: run a local MQTT broker in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys

from energydash.commands._options import add_server_options, apply_server_options
from energydash.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "broker",
        help="run a local MQTT broker (mosquitto when installed, else amqtt)",
        description="Run a local MQTT broker bound to loopback: mosquitto with a generated "
        "config (persistence, max_queued_messages 0) when it is installed, else the amqtt "
        "fallback (MQTT 3.1.1, no shared subscriptions).",
    )
    add_server_options(parser, "mqtt_host", "mqtt_port")
    parser.add_argument(
        "--engine",
        choices=("auto", "mosquitto", "amqtt"),
        default="auto",
        help="which broker to run (default: auto, mosquitto when on PATH)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from energydash.logs import setup_logging
    from energydash.mqtt.broker import BrokerProcess, choose_engine

    settings = apply_server_options(args, settings)
    setup_logging("broker", settings)
    try:
        engine = choose_engine(args.engine)
        broker = BrokerProcess(
            engine, settings.mqtt_host, settings.mqtt_port, settings.broker_dir
        ).start()
    except (RuntimeError, ValueError) as error:
        print(f"energydash broker: {error}", file=sys.stderr)
        return 1
    print(f"{engine} broker listening on {broker.url}", flush=True)

    def _stop(signum: int, _frame: object) -> None:
        # Only signal here: waiting inside a handler deadlocks with the wait() below.
        broker.terminate()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    code = broker.wait()
    broker.stop()
    # A broker we stopped on request exits with its signal code; that is a clean stop.
    return 0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else code
