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


@pytest.fixture
def backend(settings: Settings, mqtt_broker: BrokerProcess) -> Iterator[BackgroundServer]:
    cfg = settings.model_copy(update={"mqtt_port": mqtt_broker.port, "mqtt_ingest_flush_s": 0.05})
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
    with connect(backend.ws_url) as ws:
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
    body = httpx.get(f"{backend.url}/api/v1/snapshots/facilities").json()
    assert body["data"]["facilities"]["code"] == ["TESTPS1"]  # ingest owns the topic now
    history = httpx.get(
        f"{backend.url}/api/v1/history/facilities",
        params={"series": "TESTPS1.power_mw"},
        auth=(  # history is a read for a caller
            backend.app.state.settings.redfish_user,
            backend.app.state.settings.redfish_password.get_secret_value(),
        ),
    ).json()
    assert history["series"]["TESTPS1.power_mw"][-1] == 312.5


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
        body = httpx.get(f"{backend.url}/api/v1/snapshots/market/NEM").json()
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
    wait_for(lambda: backend.app.state.hub.latest("facilities").source == "mqtt", what="flush")
    codes = backend.app.state.hub.latest("facilities").data["facilities"]["code"]
    assert codes == ["GOOD1"]  # the bad row changed nothing
    metrics = httpx.get(f"{backend.url}/metrics").text
    assert "energydash_mqtt_ingest_malformed 3" in metrics


def test_device_command_over_mqtt_switches_outlet_and_is_acknowledged(
    backend: BackgroundServer, peer: Peer
) -> None:
    engine = backend.app.state.engine
    peer.subscribe("energy/devices/1-A1/status")
    assert engine.fleet.outlet("1", "A1").power_state == "On"
    peer.publish(
        "energy/devices/1-A1/commands", {"command": "set_power", "value": "Off", "request_id": "r1"}
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
        "energy/devices/1-A1/commands", {"command": "explode", "value": 1, "request_id": "r2"}
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
