"""What broker identities and the command sender check cost.

Prints: CONNECT→CONNACK time (median and p95 over --connects logins) on an open broker and on
the generated one (password file + ACL) for mosquitto ($7$ PBKDF2-SHA512) and amqtt (Argon2),
and the backend's sender checks per second (a Redfish session token looked up in the store).
Run: .venv/bin/python bench/mqtt_auth.py [--connects 100] [--engine mosquitto|amqtt|both]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from energydash.auth import AuthStore
from energydash.config import load_settings
from energydash.models.devices import CommandAuth, MqttDeviceCommand
from energydash.mqtt.broker import BrokerProcess, find_mosquitto
from energydash.mqtt.identities import BrokerAccess, client_credentials
from energydash.mqtt.senders import CommandSenders
from energydash.net import free_port


def connect_ms(port: int, username: str | None, password: str | None) -> float:
    done = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2)
    if username:
        client.username_pw_set(username, password)
    client.on_connect = lambda *_a: done.set()
    start = time.perf_counter()
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not done.wait(10):
        raise RuntimeError("no CONNACK")
    elapsed = (time.perf_counter() - start) * 1000
    client.disconnect()
    client.loop_stop()
    return elapsed


def logins(engine: str, root: Path, connects: int) -> None:
    settings = load_settings(data_dir=root / "data", broker_dir=root / engine)
    user, password = client_credentials(settings, "backend")
    for label, access, creds in (
        ("open", None, (None, None)),
        ("identity", BrokerAccess.from_settings(settings), (user, password)),
    ):
        broker = BrokerProcess(
            engine,  # type: ignore[arg-type]
            port=free_port(),
            broker_dir=root / f"{engine}-{label}",
            access=access,
            log_output=False,
        )
        with broker:
            times = sorted(connect_ms(broker.port, *creds) for _ in range(connects))
        p95 = times[int(len(times) * 0.95) - 1]
        print(
            f"{engine:<9} {label:<8} CONNECT->CONNACK median {statistics.median(times):6.2f} ms"
            f"  p95 {p95:6.2f} ms  ({connects} logins)"
        )


def sender_checks(root: Path, seconds: float = 1.0) -> None:
    settings = load_settings(data_dir=root / "data", redfish_operator_user="op",
                             redfish_operator_password="op-pass")  # fmt: skip
    store = AuthStore.from_settings(settings)
    session = store.create_session(store.account_by_name("op"))  # type: ignore[arg-type]
    senders = CommandSenders(settings, store)
    command = MqttDeviceCommand(
        command="set_power", value="On", auth=CommandAuth(token=session.token)
    )
    count, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        senders.check(command)
        count += 1
    print(f"sender check (session token, ConfigureComponents): {count / seconds:,.0f} checks/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connects", type=int, default=100)
    parser.add_argument("--engine", choices=("mosquitto", "amqtt", "both"), default="both")
    args = parser.parse_args()
    engines = ["mosquitto", "amqtt"] if args.engine == "both" else [args.engine]
    with tempfile.TemporaryDirectory() as tmp:
        for engine in engines:
            if engine == "mosquitto" and find_mosquitto() is None:
                print("mosquitto is not installed; skipped")
                continue
            logins(engine, Path(tmp), args.connects)
        sender_checks(Path(tmp))


if __name__ == "__main__":
    main()
