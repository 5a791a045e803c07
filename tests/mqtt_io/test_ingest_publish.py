"""MQTT in and out against real brokers (amqtt always, mosquitto when installed)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import httpx
import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr
from websockets.sync.client import connect

from energydash.app import BackgroundServer, create_app
from energydash.config import Settings
from energydash.mqtt.broker import BrokerProcess
from energydash.sim.engine import Engine


def wait_for(predicate: Callable[[], object], timeout_s: float = 10.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or predicate}")


class Peer:
    """A test-side MQTT client that records what it receives."""

    def __init__(self, port: int, client_id: str = "test-peer") -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def on(self, topic: str) -> list[bytes]:
        with self.lock:
            return [payload for t, payload, _ in self.messages if t == topic]

    def subscribe(self, topic: str) -> None:
        info = self.client.subscribe(topic, qos=1)
        assert info[0] == paho.MQTT_ERR_SUCCESS

    def publish(self, topic: str, payload: object, qos: int = 1) -> None:
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        self.client.publish(topic, body, qos=qos).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


OPERATOR, OPERATOR_PASSWORD = "operator", "operator-pass"
VIEWER, VIEWER_PASSWORD = "viewer", "viewer-pass"


def session_token(backend: BackgroundServer, username: str, password: str) -> str:
    """A Redfish session token, as an operator's script gets one before sending commands."""
    response = httpx.post(
        f"{backend.url}/redfish/v1/SessionService/Sessions",
        json={"UserName": username, "Password": password},
    )
    assert response.status_code == 201, response.text
    return response.headers["X-Auth-Token"]


@pytest.fixture
def backend(settings: Settings, mqtt_broker: BrokerProcess) -> Iterator[BackgroundServer]:
    cfg = settings.model_copy(
        update={
            "mqtt_port": mqtt_broker.port,
            "mqtt_ingest_flush_s": 0.05,
            "redfish_operator_user": OPERATOR,
            "redfish_operator_password": SecretStr(OPERATOR_PASSWORD),
            "redfish_readonly_user": VIEWER,
            "redfish_readonly_password": SecretStr(VIEWER_PASSWORD),
        }
    )
    app = create_app(cfg, engine=Engine.from_settings(cfg, restore=False))
    with BackgroundServer(app, port=cfg.port) as server:
        wait_for(lambda: app.state.mqtt_ingest.link.connected, what="ingest connected")
        wait_for(lambda: app.state.mqtt_publisher.link.connected, what="publisher connected")
        yield server


@pytest.fixture
def peer(mqtt_broker: BrokerProcess) -> Iterator[Peer]:
    client = Peer(mqtt_broker.port)
    yield client
    client.close()


def test_facility_row_published_over_mqtt_reaches_ws_and_rest(
    backend: BackgroundServer, peer: Peer
) -> None:
    with connect(backend.reader_ws_url) as ws:
        ws.send(orjson.dumps({"op": "subscribe", "topics": ["facilities"]}).decode())
        peer.publish(
            "energydash/facilities/TESTPS1",
            {
                "facility_code": "TESTPS1",
                "timestamp": "2025-01-15T10:05:00+10:00",
                "power_mw": "312.5",
                "emissions_t": 25.1,
                "region": "NSW1",
                "fueltech": "coal_black",
                "lat": -33.1,
                "lng": 150.2,
            },
        )
        deadline = time.monotonic() + 10
        while True:
            frame = orjson.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            cols = frame["data"]["facilities"]
            if "TESTPS1" in cols["code"]:
                break
        index = cols["code"].index("TESTPS1")
        assert cols["power_mw"][index] == 312.5
        assert cols["region"][index] == "NSW1"
        assert frame["ts"] == "2025-01-15T00:05:00Z"  # dataset time, in UTC on the wire
    body = httpx.get(
        f"{backend.url}/api/v1/snapshots/facilities", headers=backend.reader_headers
    ).json()
    assert body["data"]["facilities"]["code"] == ["TESTPS1"]  # ingest owns the topic now
    # the replay's past is kept under replay/facilities, apart from the simulator's series
    history = httpx.get(
        f"{backend.url}/api/v1/history/replay/facilities",
        params={"series": "TESTPS1.power_mw"},
        headers=backend.reader_headers,
    ).json()
    assert history["series"]["TESTPS1.power_mw"][-1] == 312.5
    simulated = httpx.get(
        f"{backend.url}/api/v1/history/facilities",
        params={"series": "TESTPS1.power_mw"},
        headers=backend.reader_headers,
    )
    assert simulated.status_code in (404, 422)  # never mixed into the simulator's history


def test_grouped_market_rows_update_the_market_topic(backend: BackgroundServer, peer: Peer) -> None:
    peer.publish(
        "energydash/market/NEM/price",
        {
            "timestamp": "2025-01-15T00:05:00Z",
            "rows": [
                {"region": "NSW1", "metric": "price", "value": 101.5},
                {"region": "VIC1", "metric": "price", "value": "88"},
            ],
        },
    )
    peer.publish(
        "energydash/market/NEM/demand",
        {"network": "NEM", "region": "NSW1", "timestamp": "2025-01-15T00:05:00Z", "value": 7000},
    )

    def market() -> dict | None:
        body = httpx.get(
            f"{backend.url}/api/v1/snapshots/market/NEM", headers=backend.reader_headers
        ).json()
        regions = {r["region"]: r for r in body.get("data", {}).get("regions", [])}
        ok = body.get("data") and regions.get("NSW1", {}).get("demand_mw") == 7000
        return regions if ok else None

    regions = wait_for(market, what="market rows in the hub")
    assert regions["NSW1"]["price_aud_per_mwh"] == 101.5
    assert regions["VIC1"]["price_aud_per_mwh"] == 88.0


def test_malformed_payloads_are_counted_and_ingestion_carries_on(
    backend: BackgroundServer, peer: Peer
) -> None:
    ingest = backend.app.state.mqtt_ingest
    peer.publish("energydash/facilities/BAD1", b"{not json")
    peer.publish("energydash/facilities/BAD1", {"facility_code": "BAD1", "power_mw": "lots"})
    peer.publish("energydash/market/NEM/price", {"region": "NSW1", "metric": "colour", "value": 1})
    peer.publish("energydash/facilities/GOOD1", {"facility_code": "GOOD1", "power_mw": 5})
    wait_for(lambda: ingest.accepted >= 1 and ingest.malformed >= 3, what="3 malformed, 1 ok")
    assert ingest.malformed == 3
    wait_for(lambda: backend.app.state.hub.latest("facilities").source == "replay", what="flush")
    codes = backend.app.state.hub.latest("facilities").data["facilities"]["code"]
    assert codes == ["GOOD1"]  # the bad row changed nothing
    metrics = httpx.get(f"{backend.url}/metrics", headers=backend.reader_headers).text
    assert "energydash_mqtt_ingest_malformed 3" in metrics


def test_device_command_over_mqtt_switches_outlet_and_is_acknowledged(
    backend: BackgroundServer, peer: Peer
) -> None:
    engine = backend.app.state.engine
    peer.subscribe("energy/devices/1-A1/status")
    assert engine.fleet.outlet("1", "A1").power_state == "On"
    auth = {"token": session_token(backend, OPERATOR, OPERATOR_PASSWORD)}
    peer.publish(
        "energy/devices/1-A1/commands",
        {"command": "set_power", "value": "Off", "request_id": "r1", "auth": auth},
    )

    def acked() -> dict | None:
        for payload in peer.on("energy/devices/1-A1/status"):
            status = orjson.loads(payload)
            if status.get("last_command", {}).get("request_id") == "r1":
                return status
        return None

    status = wait_for(acked, what="acknowledgement on status")
    assert status["last_command"]["ok"] is True
    assert status["power_state"] == "Off"
    assert backend.call(lambda: engine.fleet.outlet("1", "A1").power_state) == "Off"

    peer.publish(
        "energy/devices/1-A1/commands",
        {"command": "explode", "value": 1, "request_id": "r2", "auth": auth},
    )

    def refused() -> dict | None:
        for payload in peer.on("energy/devices/1-A1/status"):
            status = orjson.loads(payload)
            if (
                "explode" in str(status.get("last_command", {}))
                or status.get("last_command", {}).get("ok") is False
            ):
                return status
        return None

    status = wait_for(refused, what="refusal on status")
    assert status["last_command"]["ok"] is False
    assert "command" in status["last_command"]["message"]


def _ack(peer: Peer, device_id: str, request_id: str) -> dict | None:
    for payload in peer.on(f"energy/devices/{device_id}/status"):
        last = orjson.loads(payload).get("last_command", {})
        if last.get("request_id") == request_id:
            return last
    return None


def test_ingest_refuses_a_command_without_a_known_sender_on_a_broker_without_acl(
    backend: BackgroundServer, peer: Peer
) -> None:
    """The test brokers here are open (anonymous, no ACL): only the backend's check stands."""
    engine = backend.app.state.engine
    peer.subscribe("energy/devices/1-A2/status")
    attempts = [
        ("anon", {"command": "set_power", "value": "Off", "request_id": "anon"}),
        ("bad", {"command": "set_power", "value": "Off", "request_id": "bad",
                 "auth": {"token": "not-a-session"}}),
        ("viewer", {"command": "set_power", "value": "Off", "request_id": "viewer",
                    "auth": {"token": session_token(backend, VIEWER, VIEWER_PASSWORD)}}),
    ]  # fmt: skip
    for _, body in attempts:
        peer.publish("energy/devices/1-A2/commands", body)
    peer.publish("energy/devices/1-A2/commands", b"Off")  # the plain form carries no sender
    acks = {
        name: wait_for(lambda n=name: _ack(peer, "1-A2", n), what=f"refusal of {name}")
        for name, _ in attempts
    }
    assert all(ack["ok"] is False for ack in acks.values())
    assert acks["anon"]["message"].startswith("unauthenticated")
    assert acks["bad"]["message"].startswith("unauthenticated")
    assert "ConfigureComponents" in acks["viewer"]["message"]
    publisher = backend.app.state.mqtt_publisher
    wait_for(lambda: backend.call(lambda: publisher.commands_unauthenticated) == 3, what="count")
    assert backend.call(lambda: engine.fleet.outlet("1", "A2").power_state) == "On"
    metrics = httpx.get(f"{backend.url}/metrics", headers=backend.reader_headers).text
    assert "energydash_mqtt_publisher_commands_unauthenticated 3" in metrics
    assert "energydash_mqtt_publisher_commands_forbidden 1" in metrics
    assert "not-a-session" not in str(peer.on("energy/devices/1-A2/status"))


def test_tick_publishes_batched_pdu_telemetry_and_device_data(
    backend: BackgroundServer, peer: Peer
) -> None:
    peer.subscribe("energydash/pdu/+/telemetry")
    peer.subscribe("energy/devices/+/data")
    time.sleep(0.3)  # let the subscription land before the tick
    backend.call(backend.app.state.engine.step)
    wait_for(lambda: peer.on("energydash/pdu/2/telemetry"), what="telemetry of PDU 2")
    frame = orjson.loads(peer.on("energydash/pdu/1/telemetry")[-1])
    assert frame["topic"] == "pdu/1/outlets"
    assert len(frame["data"]["outlets"]["id"]) == 48  # every outlet in one message
    device_topics = {t for t, _, _ in peer.messages if t.endswith("/data")}
    assert device_topics  # one per plugged-in device
