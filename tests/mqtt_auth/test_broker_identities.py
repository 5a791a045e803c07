"""The generated broker refuses anonymous clients and keeps each identity to its topics."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import orjson
import pytest

from energydash.cli import main
from energydash.config import Settings
from energydash.mqtt.broker import BrokerProcess
from energydash.mqtt.identities import (
    BrokerAccess,
    add_device,
    load_devices,
    mosquitto_hash,
    verify_mosquitto_hash,
)
from energydash.net import wait_for_port

from .conftest import DEVICE_A, DEVICE_B, Client, wait_for


def test_anonymous_client_is_refused(login) -> None:
    assert not login(None).accepted


def test_wrong_password_is_refused(login) -> None:
    assert not login("backend", "not-the-password").accepted
    assert not login(DEVICE_A, "not-the-password").accepted
    assert login("backend").accepted


def test_device_cannot_publish_to_another_devices_topics_or_to_commands(login) -> None:
    backend = login("backend")
    backend.subscribe("energy/devices/+/data")
    backend.subscribe("energy/devices/+/commands")
    device = login(DEVICE_A)
    device.publish(f"energy/devices/{DEVICE_B}/data", {"power_w": 1})
    device.publish(f"energy/devices/{DEVICE_B}/commands", b"Off")
    device.publish(f"energy/devices/{DEVICE_A}/commands", b"Off")
    device.publish("energy/devices/1-A1/commands", b"Off")
    # Its own data topic goes through; messages of one client arrive in order, so once this
    # one is in, any of the refused ones would have arrived before it.
    device.publish(f"energy/devices/{DEVICE_A}/data", {"power_w": 2})
    wait_for(lambda: backend.topics(), what="the device's own data")
    assert backend.topics() == [f"energy/devices/{DEVICE_A}/data"]


def test_replay_identity_writes_dataset_topics_only(login) -> None:
    backend = login("backend")
    for topic in ("energydash/facilities/#", "energy/devices/+/commands", "energydash/pdu/#"):
        backend.subscribe(topic)
    replay = login("replay")
    replay.publish("energy/devices/1-A1/commands", b"Off")
    replay.publish("energydash/pdu/1/telemetry", {"forged": True})
    replay.publish("energydash/facilities/all", {"rows": []})
    wait_for(lambda: backend.topics(), what="the dataset message")
    assert backend.topics() == ["energydash/facilities/all"]


def test_commander_may_write_commands_and_backend_reads_them(login) -> None:
    backend = login("backend")
    backend.subscribe("energy/devices/+/commands")
    login("commander").publish("energy/devices/1-A1/commands", b"Off")
    wait_for(lambda: backend.on("energy/devices/1-A1/commands"), what="the command")


def test_access_files_are_private_and_hold_no_password(
    secured_broker: BrokerProcess, settings: Settings
) -> None:
    names = ["passwd", "acl"] if secured_broker.engine == "mosquitto" else ["amqtt-passwd"]
    secret_files = list((settings.data_dir / "secrets").iterdir())
    for path in [secured_broker.broker_dir / n for n in names] + secret_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    password_file = (secured_broker.broker_dir / names[0]).read_text()
    for path in secret_files:
        if path.name.startswith("mqtt-") and not path.name.endswith(".json"):
            assert path.read_text().strip() not in password_file
    for device, password in secured_broker.device_passwords.items():  # type: ignore[attr-defined]
        assert password not in password_file
        assert password not in (settings.data_dir / "secrets" / "mqtt-devices.json").read_text()
        assert device in password_file


def test_mosquitto_hash_round_trips_and_differs_per_salt() -> None:
    first, second = mosquitto_hash("s3cret"), mosquitto_hash("s3cret")
    assert first.startswith("$7$101$") and first != second
    assert verify_mosquitto_hash("s3cret", first) and not verify_mosquitto_hash("other", first)


def test_add_device_prints_the_password_once_and_refuses_bad_ids(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENERGYDASH_DATA_DIR", str(settings.data_dir))
    assert main(["broker", "add-device", "rack7-meter"]) == 0
    password = capsys.readouterr().out.split("password ")[1].split()[0]
    (device,) = load_devices(settings)
    assert device.username == "rack7-meter"
    assert verify_mosquitto_hash(password, device.mosquitto_hash or "")
    assert main(["broker", "identities"]) == 0
    listed = capsys.readouterr().out
    assert "rack7-meter" in listed and password not in listed
    for bad in ("a/b", "+", "#", "backend", "x" * 65):
        assert main(["broker", "add-device", bad]) == 2, bad
        assert "device id" in capsys.readouterr().err
    assert [d.username for d in load_devices(settings)] == ["rack7-meter"]


def test_a_tampered_device_list_is_refused_naming_the_file(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_device(settings, "meter-1")
    path = settings.data_dir / "secrets" / "mqtt-devices.json"
    entries = orjson.loads(path.read_bytes())
    entries["devices"]["meter-1"]["mosquitto"] += "\nintruder:$7$101$AAAA$BBBB"
    path.write_bytes(orjson.dumps(entries))
    with pytest.raises(ValueError, match=r"mqtt-devices\.json.*meter-1"):
        load_devices(settings)
    monkeypatch.setenv("ENERGYDASH_DATA_DIR", str(settings.data_dir))
    assert main(["broker", "add-device", "meter-2"]) == 2
    assert "mqtt-devices.json" in capsys.readouterr().err


def test_broker_refuses_a_user_name_that_cannot_stand_in_its_acl(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENERGYDASH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ENERGYDASH_BROKER_DIR", str(settings.broker_dir))
    monkeypatch.setenv("ENERGYDASH_MQTT_PORT", str(settings.mqtt_port))
    monkeypatch.setenv("ENERGYDASH_MQTT_REPLAY_USERNAME", "two words")
    assert main(["broker", "--engine", "amqtt"]) == 1
    assert "ENERGYDASH_MQTT_REPLAY_USERNAME='two words'" in capsys.readouterr().err
    assert not (settings.broker_dir / "amqtt.yaml").exists()  # nothing half-written


def test_broker_rules_give_command_topics_only_to_configure_components(
    settings: Settings,
) -> None:
    acl = BrokerAccess.from_settings(settings).mosquitto_acl()
    writers = [block.splitlines()[0] for block in acl.split("\n\n") if "commands" in block]
    command_writers = [
        block.splitlines()[0]
        for block in acl.split("\n\n")
        if "topic write energy/devices/+/commands" in block
    ]
    assert command_writers == ["user commander"]
    assert "user backend" in writers  # it reads them


@pytest.mark.mosquitto
def test_device_added_while_the_broker_runs_can_log_in_at_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**os.environ, "ENERGYDASH_DATA_DIR": str(settings.data_dir),
           "ENERGYDASH_BROKER_DIR": str(settings.broker_dir),
           "ENERGYDASH_RUN_DIR": str(settings.run_dir), "ENERGYDASH_LOG_DIR": str(settings.log_dir),
           "ENERGYDASH_MQTT_PORT": str(settings.mqtt_port)}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "energydash", "broker", "--engine", "mosquitto"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for_port(settings.mqtt_host, settings.mqtt_port, 30)
        settings.run_dir.mkdir(parents=True, exist_ok=True)
        (settings.run_dir / "broker.pid").write_text(f"{process.pid}\n")  # as start_all.sh does
        for name, value in env.items():
            if name.startswith("ENERGYDASH_"):
                monkeypatch.setenv(name, value)
        assert main(["broker", "add-device", "late-meter"]) == 0
        out = capsys.readouterr().out
        assert f"pid {process.pid}" in out
        password = out.split("password ")[1].split()[0]
        broker = BrokerProcess("mosquitto", settings.mqtt_host, settings.mqtt_port)

        def logs_in() -> bool:
            client = Client(broker, "late-meter", password)
            client.close()
            return client.accepted

        wait_for(logs_in, 10, "a login after the reload")
    finally:
        process.terminate()
        process.wait(15)
