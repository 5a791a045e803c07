"""The backend's memory stays bounded under hostile input and while the broker is away.

Each case runs a real `energydash serve` subprocess against a real mosquitto and reads the
backend's resident set size from ``/proc/<pid>/status``. Bounds (growth over the case):

| case | load | bound |
| --- | --- | --- |
| oversized payloads | 5 messages of 1.35 MB on a facility topic | 48 MiB |
| ghost devices | 2,000 made-up device ids (ENERGYDASH_INGEST_MAX_DEVICES=200) | 32 MiB |
| many patterns | 10 frames of 1,000 patterns, then 1,000 new topics | 32 MiB |
| broker down | ~20 ticks/s of telemetry while mosquitto is stopped | 32 MiB |
"""

from __future__ import annotations

import base64
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from websockets.sync.client import connect

from energydash.mqtt.broker import BrokerProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
from processes import ACCOUNTS, Service, backend

pytestmark = [pytest.mark.slow, pytest.mark.mosquitto]
ADMIN = ACCOUNTS["Administrator"]  # seeded by processes.backend for this run
MIB = 1024 * 1024


def rss_bytes(svc: Service) -> int:
    assert svc.process is not None
    status = Path(f"/proc/{svc.process.pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match, status
    return int(match.group(1)) * 1024


def metric(svc: Service, name: str) -> float:
    text = httpx.get(svc.url + "/metrics", auth=ADMIN, timeout=5).text
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def wait_for(predicate: Callable[[], object], timeout_s: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def sender(port: int, name: str) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=name)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


@pytest.fixture
def ingesting(tmp_path: Path, mosquitto_broker: BrokerProcess) -> Iterator[Service]:
    svc = backend(
        tmp_path,
        pdus=2,
        facilities=10,
        ENERGYDASH_MQTT_INGEST="true",
        ENERGYDASH_MQTT_PUBLISH="false",
        ENERGYDASH_MQTT_PORT=str(mosquitto_broker.port),
        ENERGYDASH_INGEST_MAX_DEVICES="200",
    ).start()
    wait_for(lambda: metric(svc, "energydash_mqtt_ingest_connected") == 1, what="ingest up")
    try:
        yield svc
    finally:
        svc.stop()


def test_oversized_payloads_are_dropped_before_parsing_within_48_mib(
    ingesting: Service, mosquitto_broker: BrokerProcess
) -> None:
    before = rss_bytes(ingesting)
    big = orjson.dumps([{"facility_code": f"F{k:06d}", "power_mw": 1.0} for k in range(36_000)])
    assert len(big) > 1_350_000
    client = sender(mosquitto_broker.port, "oversized")
    for _ in range(5):
        client.publish("energydash/facilities/all", big, qos=1).wait_for_publish(10)
    wait_for(lambda: metric(ingesting, "energydash_mqtt_ingest_oversized") == 5, what="5 dropped")
    client.disconnect()
    assert metric(ingesting, "energydash_mqtt_ingest_accepted") == 0
    assert rss_bytes(ingesting) - before < 48 * MIB


def test_ghost_devices_are_bounded_within_32_mib(
    ingesting: Service, mosquitto_broker: BrokerProcess
) -> None:
    before = rss_bytes(ingesting)
    client = sender(mosquitto_broker.port, "ghosts")
    for k in range(2000):
        client.publish(f"energy/devices/ghost{k}/data", b'{"power_w": 12.5}', qos=0)
    client.publish("energy/devices/last/data", b'{"power_w": 1}', qos=1).wait_for_publish(10)
    wait_for(lambda: metric(ingesting, "energydash_mqtt_ingest_accepted") >= 2001, what="ghosts")
    client.disconnect()
    assert metric(ingesting, "energydash_mqtt_ingest_devices") == 200
    assert metric(ingesting, "energydash_mqtt_ingest_devices_evicted") == 1801
    topics = httpx.get(ingesting.url + "/api/v1/topics", auth=ADMIN, timeout=5).json()["topics"]
    assert sum(1 for t in topics if t["topic"].startswith("devices/ghost")) == 199
    assert rss_bytes(ingesting) - before < 32 * MIB


def test_many_ws_patterns_are_refused_and_new_topics_stay_cheap_within_32_mib(
    ingesting: Service, mosquitto_broker: BrokerProcess
) -> None:
    before = rss_bytes(ingesting)
    basic = base64.b64encode(":".join(ADMIN).encode()).decode()
    uri = ingesting.url.replace("http://", "ws://") + "/ws"
    with connect(uri, additional_headers={"Authorization": f"Basic {basic}"}) as ws:
        for frame in range(10):
            topics = [f"devices/p{frame}x{k}/+" for k in range(1000)]
            ws.send(orjson.dumps({"op": "subscribe", "topics": topics}).decode())
            reply = orjson.loads(ws.recv(timeout=10))
            assert reply["type"] == "error" and "nothing subscribed" in reply["reason"]
        client = sender(mosquitto_broker.port, "new-topics")
        for k in range(1000):
            client.publish(f"energy/devices/new{k}/data", b'{"power_w": 1}', qos=0)
        client.publish("energy/devices/end/data", b"{}", qos=1).wait_for_publish(10)
        wait_for(lambda: metric(ingesting, "energydash_mqtt_ingest_accepted") >= 1001, what="new")
        client.disconnect()
        ws.send(orjson.dumps({"op": "subscribe", "topics": ["pdu/1/summary"]}).decode())
        assert orjson.loads(ws.recv(timeout=10))["topic"] == "pdu/1/summary"  # still served
    assert rss_bytes(ingesting) - before < 32 * MIB


def test_telemetry_is_dropped_not_queued_while_the_broker_is_away(
    tmp_path: Path, mosquitto_broker: BrokerProcess
) -> None:
    svc = backend(
        tmp_path,
        pdus=2,
        facilities=10,
        ENERGYDASH_CLOCK_MODE="accelerated",
        ENERGYDASH_SPEED="20",  # 20 ticks a second: telemetry piles up fast without the bound
        ENERGYDASH_MQTT_INGEST="false",
        ENERGYDASH_MQTT_PUBLISH="true",
        ENERGYDASH_MQTT_PORT=str(mosquitto_broker.port),
    ).start()
    try:
        wait_for(lambda: metric(svc, "energydash_mqtt_publisher_connected") == 1, what="up")
        wait_for(lambda: metric(svc, "energydash_mqtt_publisher_telemetry") > 100, what="sent")
        before = rss_bytes(svc)
        mosquitto_broker.stop()
        wait_for(lambda: metric(svc, "energydash_mqtt_publisher_connected") == 0, what="down")
        # a command while the broker is away: its status must reach the broker later
        with httpx.Client(base_url=svc.url, auth=ADMIN, timeout=5) as rest:
            device = rest.get("/api/v1/devices").json()["devices"][0]
            pdu_id, outlet_id = device["pdu_id"], device["outlet_id"]
            url = f"/api/v1/pdus/{pdu_id}/outlets/{outlet_id}/power"
            switched = rest.post(url, json={"action": "Off"})
            assert switched.status_code == 200, switched.text
        status_topic = f"energy/devices/{device['device_id']}/status"
        wait_for(
            lambda: metric(svc, "energydash_mqtt_publisher_telemetry_dropped") > 5000,
            timeout_s=60,
            what="drops",
        )
        assert metric(svc, "energydash_mqtt_publisher_backlog") < 2000
        assert rss_bytes(svc) - before < 32 * MIB

        mosquitto_broker.start()
        wait_for(lambda: metric(svc, "energydash_mqtt_publisher_connected") == 1, what="back")
        seen: dict[str, bytes] = {}
        peer = paho.Client(CallbackAPIVersion.VERSION2, client_id="after-outage")
        peer.on_message = lambda _c, _u, msg: seen.__setitem__(msg.topic, bytes(msg.payload))
        peer.on_connect = lambda c, *_: c.subscribe(status_topic, qos=1)
        peer.connect("127.0.0.1", mosquitto_broker.port)
        peer.loop_start()
        try:
            wait_for(lambda: status_topic in seen, what="retained status")
            status = orjson.loads(seen[status_topic])
            assert status["power_state"] == "Off"  # survived the outage
        finally:
            peer.loop_stop()
            peer.disconnect()
    finally:
        svc.stop()
