"""`kill -KILL` of a real `energydash serve` under load: no lifetime counter goes backwards.

Clients read every face (REST snapshots, Redfish outlets, circuits, groups and PDU metrics,
/ws, MQTT telemetry) as fast as they can and keep the highest value each counter ever showed.
The backend is killed at a random moment, restarted on the same data folder, and every counter
must read at least that high. The periodic state save is set to an hour, so only the
memory-mapped counters can carry the energy of the seconds before the kill.
"""

from __future__ import annotations

import base64
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from websockets.sync.client import connect

from energydash.models.envelope import apply_update
from energydash.mqtt.broker import BrokerProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
from processes import ACCOUNTS, Service, backend

pytestmark = [pytest.mark.slow, pytest.mark.mosquitto]
ADMIN = ACCOUNTS["Administrator"]  # seeded by processes.backend for this run
RACKS = "/redfish/v1/PowerEquipment/RackPDUs"


class HighWater:
    """The highest value each counter was seen with, across every face and thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values: dict[str, float] = {}
        self.reads = 0

    def see(self, key: str, value: float | None) -> None:
        if value is None:
            return
        with self._lock:
            self.reads += 1
            if value > self.values.get(key, -1.0):
                self.values[key] = value


def _outlet_frame(water: HighWater, data: dict[str, Any], face: str) -> None:
    pdu = data["pdu_id"]
    for outlet_id, kwh in zip(data["outlets"]["id"], data["outlets"]["energy_kwh"], strict=True):
        water.see(f"{face}:outlet:{pdu}/{outlet_id}", kwh)


def _rest_counters(client: httpx.Client, water: HighWater, pdus: list[str]) -> None:
    for pdu in pdus:
        outlets = client.get(f"/api/v1/snapshots/pdu/{pdu}/outlets").json()["data"]
        _outlet_frame(water, outlets, "rest")
        summary = client.get(f"/api/v1/snapshots/pdu/{pdu}/summary").json()["data"]
        water.see(f"rest:pdu:{pdu}", summary["energy_kwh"])


def _redfish_counters(client: httpx.Client, water: HighWater, pdus: list[str]) -> None:
    for pdu in pdus:
        base = f"{RACKS}/{pdu}"
        metrics = client.get(f"{base}/Metrics").json()
        water.see(f"redfish:pdu:{pdu}", metrics["EnergykWh"]["LifetimeReading"])
        for family in ("Branches", "Mains", "OutletGroups", "Outlets"):
            members = client.get(f"{base}/{family}").json()["Members"]
            for member in members[:6]:  # every circuit and group; the first outlets
                body = client.get(member["@odata.id"]).json()
                water.see(f"redfish:{family}:{body['@odata.id']}", _lifetime(body))


def _lifetime(body: dict[str, Any]) -> float | None:
    energy = body.get("EnergykWh")
    return None if energy is None else energy.get("LifetimeReading")


def _loop(stop: threading.Event, errors: list[tuple[float, str]], body: Callable[[], None]) -> None:
    while not stop.is_set():
        try:
            body()
        except Exception as error:  # the kill breaks every connection: only earlier ones count
            errors.append((time.monotonic(), repr(error)))
            time.sleep(0.05)


def _readers(svc: Service, water: HighWater, broker_port: int, stop: threading.Event) -> list[Any]:
    pdus = ["1", "2"]
    errors: list[tuple[float, str]] = []
    rest = httpx.Client(base_url=svc.url, auth=ADMIN, timeout=5)
    redfish = httpx.Client(base_url=svc.url, auth=ADMIN, timeout=5)
    switch = httpx.Client(base_url=svc.url, auth=ADMIN, timeout=5)
    state = {"on": False}

    def toggle() -> None:  # commands too: each one marks the state for an early save
        state["on"] = not state["on"]
        action = "On" if state["on"] else "Off"
        switch.post("/api/v1/pdus/1/outlets/A1/power", json={"action": action})
        time.sleep(0.2)

    def ws() -> None:
        uri = svc.url.replace("http://", "ws://") + "/ws"
        basic = base64.b64encode(":".join(ADMIN).encode()).decode()
        headers = {"Authorization": f"Basic {basic}"}
        with connect(uri, open_timeout=5, close_timeout=1, additional_headers=headers) as sock:
            sock.send(orjson.dumps({"op": "subscribe", "topics": ["pdu/+/outlets"]}).decode())
            held: dict[str, Any] = {}  # an update leaves out the columns that did not change
            while not stop.is_set():
                frame = orjson.loads(sock.recv(timeout=5))
                if frame.get("type") in ("snapshot", "update") and "data" in frame:
                    topic, data = frame["topic"], frame["data"]
                    if frame["type"] == "update":
                        data = apply_update(topic, held.get(topic), data)
                    held[topic] = data
                    _outlet_frame(water, data, "ws")

    mqtt = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"crash-{os.getpid()}")
    mqtt.on_message = lambda _c, _u, msg: _outlet_frame(
        water, orjson.loads(msg.payload)["data"], "mqtt"
    )
    mqtt.on_connect = lambda c, *_: c.subscribe("energydash/pdu/+/telemetry", qos=0)
    mqtt.connect("127.0.0.1", broker_port)
    mqtt.loop_start()
    threads = [
        threading.Thread(target=_loop, args=(stop, errors, fn), daemon=True)
        for fn in (
            lambda: _rest_counters(rest, water, pdus),
            lambda: _redfish_counters(redfish, water, pdus),
            ws,
            toggle,
        )
    ]
    for thread in threads:
        thread.start()
    return [threads, mqtt, errors]


def test_no_lifetime_counter_reads_lower_after_kill_9_and_restart(
    tmp_path: Path, mosquitto_broker: BrokerProcess
) -> None:
    svc = backend(
        tmp_path,
        pdus=2,
        facilities=10,
        ENERGYDASH_CLOCK_MODE="accelerated",
        ENERGYDASH_SPEED="600",  # 30 sim seconds per tick: counters move fast
        ENERGYDASH_STATE_SAVE_INTERVAL_S="3600",
        ENERGYDASH_STATE_SAVE_AFTER_CHANGE_S="3600",
        ENERGYDASH_MQTT_PUBLISH="true",
        ENERGYDASH_MQTT_PORT=str(mosquitto_broker.port),
    ).start()
    water = HighWater()
    stop = threading.Event()
    try:
        threads, mqtt, errors = _readers(svc, water, mosquitto_broker.port, stop)
        deadline = time.monotonic() + 30
        while water.reads < 2000 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(random.uniform(0.0, 2.0))  # a random moment, mid-tick or between ticks
        assert svc.process is not None
        killed_at = time.monotonic()
        os.kill(svc.process.pid, signal.SIGKILL)
        svc.process.wait(timeout=10)
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        mqtt.loop_stop()
        mqtt.disconnect()
        before_kill = [e for at, e in errors if at < killed_at]
        assert not before_kill, before_kill[:3]
        faces = {key.split(":")[0] for key in water.values}
        assert faces == {"rest", "redfish", "ws", "mqtt"}, faces
        seen = dict(water.values)

        svc.start()
        after = HighWater()
        with httpx.Client(base_url=svc.url, auth=ADMIN, timeout=5) as client:
            _rest_counters(client, after, ["1", "2"])
            _redfish_counters(client, after, ["1", "2"])
            health = client.get("/health").json()
        assert health["checks"]["state"]["ok"], health["checks"]["state"]
        lower = []
        for key, before in seen.items():
            face, rest = key.split(":", 1)
            now_key = f"rest:{rest}" if face in ("ws", "mqtt") else key
            if now_key in after.values and after.values[now_key] < before:
                lower.append((key, before, after.values[now_key]))
        checked = sum(1 for key in seen if key.split(":", 1)[0] in ("rest", "redfish"))
        assert checked > 100
        assert not lower, f"{len(lower)} counters went backwards, e.g. {lower[:5]}"
    finally:
        stop.set()
        svc.stop()
