"""End to end on the generated broker: the backend logs in as itself, an operator's command
through the commander identity switches an outlet, and nothing else does."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import httpx
import orjson
import pytest
from pydantic import SecretStr

from energydash.app import BackgroundServer, create_app
from energydash.config import Settings
from energydash.mqtt.broker import BrokerProcess
from energydash.mqtt.identities import client_credentials
from energydash.sim.engine import Engine

from .conftest import DEVICE_A, Client, wait_for

OPERATOR, OPERATOR_PASSWORD = "operator", "operator-pass"


def _backend(settings: Settings, **update: object) -> Iterator[BackgroundServer]:
    cfg = settings.model_copy(
        update={
            "mqtt_ingest_flush_s": 0.05,
            "redfish_operator_user": OPERATOR,
            "redfish_operator_password": SecretStr(OPERATOR_PASSWORD),
            **update,
        }
    )
    app = create_app(cfg, engine=Engine.from_settings(cfg, restore=False))
    with BackgroundServer(app, port=cfg.port) as server:
        wait_for(lambda: app.state.mqtt_ingest.link.connected, what="ingest logged in")
        wait_for(lambda: app.state.mqtt_publisher.link.connected, what="publisher logged in")
        yield server


@pytest.fixture
def backend(settings: Settings, secured_broker: BrokerProcess) -> Iterator[BackgroundServer]:
    yield from _backend(settings)


@pytest.fixture
def acl_trusting_backend(
    settings: Settings, secured_broker: BrokerProcess
) -> Iterator[BackgroundServer]:
    yield from _backend(settings, mqtt_command_auth="broker")


def _token(backend: BackgroundServer) -> str:
    response = httpx.post(
        f"{backend.url}/redfish/v1/SessionService/Sessions",
        json={"UserName": OPERATOR, "Password": OPERATOR_PASSWORD},
    )
    assert response.status_code == 201, response.text
    return response.headers["X-Auth-Token"]


def _ack(client: Client, device_id: str, request_id: str) -> dict | None:
    for payload in client.on(f"energy/devices/{device_id}/status"):
        last = orjson.loads(payload).get("last_command", {})
        if last.get("request_id") == request_id:
            return last
    return None


def _power(backend: BackgroundServer, outlet: str) -> str:
    engine = backend.app.state.engine
    return backend.call(lambda: engine.fleet.outlet("1", outlet).power_state)


def test_operator_command_through_commander_switches_outlet(
    backend: BackgroundServer, login: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    commander = login("commander")
    commander.subscribe("energy/devices/1-A1/status")
    assert _power(backend, "A1") == "On"
    token = _token(backend)
    with caplog.at_level(logging.INFO, logger="energydash.audit"):
        commander.publish(
            "energy/devices/1-A1/commands",
            {"command": "set_power", "value": "Off", "request_id": "op1", "auth": {"token": token}},
        )
        ack = wait_for(lambda: _ack(commander, "1-A1", "op1"), what="acknowledgement")
        assert ack["ok"] is True, ack
        assert _power(backend, "A1") == "Off"
        audit = [
            orjson.loads(r.getMessage()) for r in caplog.records if r.name == "energydash.audit"
        ]
    assert audit and audit[-1]["user"] == OPERATOR and audit[-1]["result"] == "ok"
    assert audit[-1]["target"] == "pdu/1/outlets/A1" and audit[-1]["face"] == "mqtt"
    assert token not in caplog.text and token not in str(commander.messages)


def test_device_command_never_reaches_the_backend_even_with_acl_trust(
    acl_trusting_backend: BackgroundServer, login: Callable[..., Client]
) -> None:
    """With ENERGYDASH_MQTT_COMMAND_AUTH=broker, the generated ACL is the gate: the commander's
    plain command runs, a device's is dropped by the broker."""
    commander = login("commander")
    commander.subscribe("energy/devices/1-A2/status")
    commander.subscribe("energy/devices/1-A3/status")
    login(DEVICE_A).publish("energy/devices/1-A3/commands", {"command": "set_power",
                            "value": "Off", "request_id": "dev"})  # fmt: skip
    commander.publish(
        "energy/devices/1-A2/commands", {"command": "set_power", "value": "Off", "request_id": "c"}
    )
    ack = wait_for(lambda: _ack(commander, "1-A2", "c"), what="the commander's acknowledgement")
    assert ack["ok"] is True and _power(acl_trusting_backend, "A2") == "Off"
    publisher = acl_trusting_backend.app.state.mqtt_publisher
    # One command reached the backend; the device's was dropped by the broker's ACL.
    assert acl_trusting_backend.call(lambda: publisher.commands_ok) == 1
    assert _ack(commander, "1-A3", "dev") is None and _power(acl_trusting_backend, "A3") == "On"


def test_backend_ingests_a_device_identity_data_over_the_secured_broker(
    backend: BackgroundServer, login: Callable[..., Client]
) -> None:
    login(DEVICE_A).publish(
        f"energy/devices/{DEVICE_A}/data", {"power_w": 42.0, "online": True, "name": "meter"}
    )
    hub = backend.app.state.hub
    state = wait_for(lambda: hub.latest(f"devices/{DEVICE_A}"), what="the device in the hub")
    assert state.data["power_w"] == 42.0  # type: ignore[attr-defined]
    metrics = httpx.get(f"{backend.url}/metrics", headers=backend.reader_headers).text
    assert "energydash_mqtt_ingest_connected 1" in metrics


@pytest.mark.mosquitto
def test_shared_subscriptions_pass_the_acl(
    settings: Settings, secured_mosquitto: BrokerProcess
) -> None:
    """Several backends split commands with $share/<group>/...; the ACL must allow that too."""
    for server in _backend(settings, mqtt_share_group="backends", mqtt_command_auth="broker"):
        commander = Client(secured_mosquitto, *client_credentials(settings, "commander"))
        try:
            commander.subscribe("energy/devices/1-B1/status")
            commander.publish("energy/devices/1-B1/commands", {"command": "set_power",
                              "value": "Off", "request_id": "s"})  # fmt: skip
            ack = wait_for(lambda c=commander: _ack(c, "1-B1", "s"), what="shared acknowledgement")
            assert ack["ok"] is True and _power(server, "B1") == "Off"
        finally:
            commander.close()
