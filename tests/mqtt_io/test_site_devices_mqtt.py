"""A client written to the IoT-mock service's shapes, against the backend and a real mosquitto."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import orjson
import pytest
from pydantic import SecretStr
from test_ingest_publish import Peer, wait_for

from energydash.app import BackgroundServer, create_app
from energydash.config import Settings
from energydash.mqtt.broker import BrokerProcess
from energydash.sim.engine import Engine

pytestmark = pytest.mark.mosquitto
DATA_FIELDS = {
    "device_id",
    "timestamp",
    "power",
    "voltage",
    "current",
    "energy",
    "status",
    "enabled",
}
OPERATOR = {"Authorization": "Basic " + base64.b64encode(b"operator:operator-pass").decode()}


@pytest.fixture
def backend(settings: Settings, mosquitto_broker: BrokerProcess) -> Iterator[BackgroundServer]:
    cfg = settings.model_copy(
        update={
            "mqtt_port": mosquitto_broker.port,
            "mqtt_ingest": False,
            "clock_mode": "realtime",
            "redfish_operator_user": "operator",
            "redfish_operator_password": SecretStr("operator-pass"),
        }
    )
    app = create_app(cfg, engine=Engine.from_settings(cfg, restore=False))
    with BackgroundServer(app, port=cfg.port) as server:
        wait_for(lambda: app.state.mqtt_publisher.link.connected, what="publisher connected")
        yield server


@pytest.fixture
def peer(mosquitto_broker: BrokerProcess) -> Iterator[Peer]:
    client = Peer(mosquitto_broker.port, "iot-ingestion-client")
    client.subscribe("energy/devices/+/data")
    client.subscribe("energy/devices/+/status")
    yield client
    client.close()


def latest(peer: Peer, topic: str) -> dict[str, object] | None:
    payloads = peer.on(topic)
    return orjson.loads(payloads[-1]) if payloads else None


def test_iot_mock_client_creates_simulates_reads_and_commands_over_rest_and_mqtt(
    backend: BackgroundServer, peer: Peer, mosquitto_broker: BrokerProcess
) -> None:
    api = f"{backend.url}/api/v1"
    created = httpx.post(
        f"{api}/devices",
        json={
            "device_type": "server",
            "name": "Server Rack",
            "location": "Data centre",
            "base_power": 45.0,
        },
        headers=OPERATOR,
    ).json()
    assert created["success"] is True
    device_id = created["data"]["id"]
    data_topic = f"energy/devices/{device_id}/data"
    status_topic = f"energy/devices/{device_id}/status"

    assert httpx.post(f"{api}/devices/{device_id}/simulate", headers=OPERATOR).json()["success"]
    wait_for(lambda: peer.on(data_topic), what="device data on MQTT")
    data = latest(peer, data_topic)
    assert data is not None and set(data) == DATA_FIELDS
    assert data["device_id"] == device_id and data["status"] == "online"
    assert data["voltage"] == 400.0
    # the next tick draws: a server rack runs at 45-100 % of its rating, in kW on the wire
    wait_for(lambda: float((latest(peer, data_topic) or {}).get("power", 0)) > 0, what="a tick")
    assert 0.0 < float(latest(peer, data_topic)["power"]) <= 45.0  # type: ignore[index]
    readings = httpx.get(f"{api}/devices/{device_id}/readings", headers=OPERATOR).json()["data"]
    assert set(readings) == DATA_FIELDS

    # a client that connects later finds the retained status
    late = Peer(mosquitto_broker.port, "late-client")
    try:
        late.subscribe(status_topic)
        wait_for(lambda: late.on(status_topic), what="retained status")
        status = orjson.loads(late.on(status_topic)[-1])
        assert status["status"] == "online" and status["enabled"] is True
    finally:
        late.close()

    # The backend executes an MQTT command only when it names its sender (mqtt.senders): an
    # Operator's Redfish session token; without one it is refused and nothing changes.
    peer.publish(
        f"energy/devices/{device_id}/commands",
        {"command": "set_enabled", "parameters": {"enabled": False}},
    )
    unauthenticated = wait_for(
        lambda: ((latest(peer, status_topic) or {}).get("last_command") or {}).get("message"),
        what="refusal of a command without a sender",
    )
    assert "unauthenticated" in unauthenticated
    assert latest(peer, status_topic)["enabled"] is True  # type: ignore[index]
    login = httpx.post(
        f"{backend.url}/redfish/v1/SessionService/Sessions",
        json={"UserName": "operator", "Password": "operator-pass"},
    )
    auth = {"token": login.headers["X-Auth-Token"]}
    peer.publish(
        f"energy/devices/{device_id}/commands",
        {"command": "set_enabled", "parameters": {"enabled": False}, "auth": auth},
    )

    def disabled() -> object:
        body = latest(peer, status_topic)
        return body if body and body["enabled"] is False else None

    status = wait_for(disabled, what="status after the command")
    assert status["last_command"]["ok"] is True  # type: ignore[index]
    wait_for(
        lambda: (latest(peer, data_topic) or {}).get("power") == 0.0, what="disabled device at 0 kW"
    )
    readings = httpx.get(f"{api}/devices/{device_id}/readings", headers=OPERATOR).json()["data"]
    assert readings["enabled"] is False

    peer.publish(
        f"energy/devices/{device_id}/commands",
        {"command": "set_mode", "value": "warp", "auth": auth},
    )

    def refused() -> object:
        body = latest(peer, status_topic)
        last = body.get("last_command") if body else None
        return last if last and last.get("ok") is False else None

    last = wait_for(refused, what="refusal on status")
    assert "parameters.mode" in last["message"]  # type: ignore[index]

    command = httpx.post(
        f"{api}/devices/{device_id}/command",
        json={"command": "set_power", "parameters": {"power": 30.0}},
        headers=OPERATOR,
    )
    assert command.json()["success"] is True
    info = httpx.get(f"{api}/devices/{device_id}", headers=OPERATOR).json()["data"]
    assert info["basePower"] == 30.0
