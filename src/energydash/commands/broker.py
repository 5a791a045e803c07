"""`energydash broker`: run a local MQTT broker in the foreground, or manage its identities."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from energydash.commands._options import add_server_options, apply_server_options
from energydash.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "broker",
        help="run a local MQTT broker (mosquitto when installed, else amqtt)",
        description="Run a local MQTT broker bound to loopback: mosquitto with a generated "
        "config (persistence, bounded per-client queues, a password file and an ACL: no "
        "anonymous clients) when it is installed, else the amqtt fallback (MQTT 3.1.1, no "
        "shared subscriptions, password file and topic ACL). Identities: backend, replay, "
        "commander and the devices added with `energydash broker add-device ID`.",
    )
    add_server_options(parser, "mqtt_host", "mqtt_port")
    parser.add_argument(
        "--engine",
        choices=("auto", "mosquitto", "amqtt"),
        default="auto",
        help="which broker to run (default: auto, mosquitto when on PATH)",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    add = actions.add_parser(
        "add-device",
        help="create a device identity (or a new password for it); prints the password once",
        description="Create the MQTT identity of a device: user name = the device id, allowed "
        "to write only <device_root>/<id>/data and /status and to read its /commands. The "
        "password is printed once; only its hash is kept. A running broker started by "
        "start_all.sh reloads it at once, otherwise it takes effect at the next start.",
    )
    add.add_argument("device_id", help="e.g. meter-7 (letters, digits, '.', '_', '-')")
    remove = actions.add_parser("remove-device", help="delete a device identity")
    remove.add_argument("device_id")
    actions.add_parser("identities", help="list the identities and where their passwords are")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.action is not None:
        return _manage(args, settings)
    from energydash.logs import setup_logging
    from energydash.mqtt.broker import BrokerLimits, BrokerProcess, choose_engine
    from energydash.mqtt.identities import BrokerAccess

    settings = apply_server_options(args, settings)
    setup_logging("broker", settings)
    try:
        engine = choose_engine(args.engine)
        broker = BrokerProcess(
            engine,
            settings.mqtt_host,
            settings.mqtt_port,
            settings.broker_dir,
            access=BrokerAccess.from_settings(settings),
            limits=BrokerLimits.from_settings(settings),
        )
    except (RuntimeError, ValueError, OSError) as error:
        print(f"energydash broker: {error}", file=sys.stderr)
        return 1

    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        # Only signal here: waiting inside a handler deadlocks with the wait() below.
        nonlocal stopping
        stopping = True
        broker.terminate()

    def _reload(signum: int, _frame: object) -> None:
        # add-device signals us: rewrite the password file and ACL, mosquitto rereads both
        # on SIGHUP (amqtt cannot reload; it needs a restart).
        try:
            broker.reload(BrokerAccess.from_settings(settings))
        except (OSError, ValueError) as error:
            print(f"energydash broker: reload failed: {error}", file=sys.stderr, flush=True)

    # Handlers before the broker listens: an add-device that sees the port open may signal us
    # at once, and an unhandled SIGHUP would end this process.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if hasattr(signal, "SIGHUP"):  # not on Windows: there add-device needs a broker restart
        signal.signal(signal.SIGHUP, _reload)
    try:
        broker.start()
    except (RuntimeError, ValueError, OSError) as error:
        print(f"energydash broker: {error}", file=sys.stderr)
        return 1
    if stopping:  # asked to stop while it was starting
        broker.terminate()
    print(f"{engine} broker listening on {broker.url} (anonymous clients refused)", flush=True)
    print(
        f"identities: `energydash broker identities`; passwords in {settings.data_dir}/secrets/",
        flush=True,
    )
    code = broker.wait()
    broker.stop()
    # A broker we stopped on request exits with its signal code; that is a clean stop.
    return 0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else code


def _manage(args: argparse.Namespace, settings: Settings) -> int:
    from energydash.mqtt import identities

    try:
        if args.action == "identities":
            for identity in identities.service_identities(settings):
                setting = "ENERGYDASH_MQTT" + (
                    "" if identity.kind == "backend" else f"_{identity.kind.upper()}"
                )
                where = (
                    f"{setting}_PASSWORD"
                    if identities.configured_password(settings, identity.kind)  # type: ignore[arg-type]
                    else f"{settings.data_dir}/secrets/mqtt-{identity.kind}"
                )
                print(f"{identity.username:<20} {identity.kind:<10} password: {where}")
            for device in identities.load_devices(settings):
                print(f"{device.username:<20} device     password: shown once at add-device")
            return 0
        if args.action == "remove-device":
            if not identities.remove_device(settings, args.device_id):
                print(f"energydash broker: no device identity {args.device_id!r}", file=sys.stderr)
                return 1
            print(f"removed device identity {args.device_id}; {_signal_broker(settings)}")
            return 0
        password = identities.add_device(settings, args.device_id)
    except ValueError as error:
        print(f"energydash broker: {error}", file=sys.stderr)
        return 2
    # The one time this password is shown: only its hashes are stored.
    print(f"device identity {args.device_id}: user name {args.device_id}, password {password}")
    print(f"it is shown only now; {_signal_broker(settings)}")
    return 0


def _signal_broker(settings: Settings) -> str:
    """Ask a running `energydash broker` (its PID file in the run dir) to reload identities."""
    pid_file = settings.run_dir / "broker.pid"
    try:
        pid = int(pid_file.read_text().strip())
        # A stale PID file may name another process now, for which SIGHUP would be fatal.
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if not any(part.endswith(b"energydash") for part in cmdline) or b"broker" not in cmdline:
            raise ValueError("not an energydash broker")
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError):
        return "it takes effect when the broker (re)starts"
    return f"the running broker (pid {pid}) reloads it now (amqtt: restart it)"
