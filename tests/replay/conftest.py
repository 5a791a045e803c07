"""Replay test helpers: a real MQTT subscriber and small CSV files."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from energydash.mqtt.broker import BrokerProcess


class Subscriber:
    """Collects (topic, decoded payload) of everything under ``topic`` on a real broker."""

    def __init__(self, broker: BrokerProcess, topic: str) -> None:
        self.messages: list[tuple[str, object]] = []
        self.ready = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-sub-{id(self)}")
        self.client.on_connect = lambda c, *_a: c.subscribe(topic, 1)
        self.client.on_subscribe = lambda *_a: self.ready.set()
        self.client.on_message = lambda _c, _u, m: self.messages.append(
            (m.topic, orjson.loads(m.payload) if m.payload[:1] in b"{[" else m.payload.decode())
        )
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self.ready.wait(10), "subscriber got no SUBACK"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[tuple[str, object]]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscribe(mqtt_broker: BrokerProcess) -> Iterator[object]:
    made: list[Subscriber] = []

    def make(topic: str, broker: BrokerProcess = mqtt_broker) -> Subscriber:
        made.append(Subscriber(broker, topic))
        return made[-1]

    yield make
    for sub in made:
        sub.close()


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path
