"""A broker with the generated password file and ACL, and clients that log in to it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from energydash.config import Settings
from energydash.mqtt.broker import BrokerLimits, BrokerProcess, find_mosquitto
from energydash.mqtt.identities import BrokerAccess, add_device, client_credentials

DEVICE_A, DEVICE_B = "meter-a", "meter-b"


def wait_for(predicate: Callable[[], object], timeout_s: float = 10.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or predicate}")


class Client:
    """A paho client logged in as one identity, recording what it receives."""

    def __init__(
        self,
        broker: BrokerProcess,
        username: str | None,
        password: str | None,
        *,
        client_id: str = "",
        clean_session: bool = True,
    ) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.connack: list[object] = []
        self.session_present: bool | None = None
        self.subacks: list[list[object]] = []
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda _c, _u, _m, codes, _p: self.subacks.append(codes)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        wait_for(lambda: self.connack, what="CONNACK")

    def _on_connect(
        self, _c: object, _u: object, flags: object, reason: object, _p: object
    ) -> None:
        self.session_present = bool(getattr(flags, "session_present", False))
        self.connack.append(reason)

    def _on_message(self, _c: object, _u: object, message: paho.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((message.topic, bytes(message.payload)))

    @property
    def accepted(self) -> bool:
        return not getattr(self.connack[0], "is_failure", True)

    def subscribe(self, topic: str) -> None:
        before = len(self.subacks)
        self.client.subscribe(topic, qos=1)
        wait_for(lambda: len(self.subacks) > before, what=f"SUBACK for {topic}")

    def publish(self, topic: str, payload: object) -> None:
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        self.client.publish(topic, body, qos=1).wait_for_publish(5)

    def topics(self) -> list[str]:
        with self.lock:
            return [topic for topic, _ in self.messages]

    def on(self, topic: str) -> list[bytes]:
        with self.lock:
            return [payload for t, payload in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _secured(engine: str, settings: Settings) -> Iterator[BrokerProcess]:
    passwords = {device: add_device(settings, device) for device in (DEVICE_A, DEVICE_B)}
    broker = BrokerProcess(
        engine,  # type: ignore[arg-type]
        settings.mqtt_host,
        settings.mqtt_port,
        settings.broker_dir,
        access=BrokerAccess.from_settings(settings),
        limits=BrokerLimits.from_settings(settings),
    )
    broker.device_passwords = passwords  # type: ignore[attr-defined]
    with broker:
        yield broker


@pytest.fixture(params=["amqtt", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
def secured_broker(request: pytest.FixtureRequest, settings: Settings) -> Iterator[BrokerProcess]:
    """The broker `energydash broker` runs: generated identities, password file and ACL.

    Two device identities exist; their passwords are on ``broker.device_passwords``.
    """
    if request.param == "mosquitto" and find_mosquitto() is None:
        pytest.skip("mosquitto is not installed")  # conftest's hook fails it under REQUIRE_ALL
    yield from _secured(request.param, settings)


@pytest.fixture
def secured_mosquitto(settings: Settings) -> Iterator[BrokerProcess]:
    """``secured_broker`` on mosquitto only (for what amqtt lacks, e.g. $share)."""
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed")
    yield from _secured("mosquitto", settings)


@pytest.fixture
def login(secured_broker: BrokerProcess, settings: Settings) -> Iterator[Callable[..., Client]]:
    """``login("backend")``, ``login("meter-a")``, ``login(None)`` (anonymous): a Client."""
    made: list[Client] = []

    def make(identity: str | None, password: str | None = None, **kwargs: object) -> Client:
        if identity in ("backend", "replay", "commander") and password is None:
            username, password = client_credentials(settings, identity)  # type: ignore[arg-type]
        else:
            username = identity
            if password is None and identity is not None:
                password = secured_broker.device_passwords[identity]  # type: ignore[attr-defined]
        made.append(Client(secured_broker, username, password, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for client in made:
        client.close()
