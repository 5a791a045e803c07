"""A broker restarted mid-stream: ingestion resumes by itself and nothing is lost at QoS 1.

mosquitto persists sessions (clean_session false) and queued QoS 1 messages across a restart,
so rows published while the backend was cut off are delivered when it reconnects. amqtt keeps
sessions only in memory: after a restart ingestion resumes (reconnect, subscriptions renewed),
but rows published to it while our session was gone are lost; that case asserts resumption only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from energydash.app import BackgroundServer, create_app
from energydash.config import Settings
from energydash.mqtt.broker import BrokerProcess
from energydash.sim.engine import Engine

ROWS = 300


def wait_for(predicate: Callable[[], object], timeout_s: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def backend(settings: Settings, mqtt_broker: BrokerProcess) -> Iterator[BackgroundServer]:
    cfg = settings.model_copy(
        update={"mqtt_port": mqtt_broker.port, "mqtt_publish": False, "mqtt_ingest_flush_s": 0.05}
    )
    app = create_app(cfg, engine=Engine.from_settings(cfg, restore=False))
    with BackgroundServer(app, port=cfg.port) as server:
        wait_for(lambda: app.state.mqtt_ingest.link.connected, what="ingest connected")
        yield server


def publisher(port: int) -> paho.Client:
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id="restart-replayer", clean_session=False
    )
    client.max_queued_messages_set(0)  # queue QoS 1 while the broker is away
    client.reconnect_delay_set(0.2, 1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def codes_in_hub(server: BackgroundServer) -> set[str]:
    state = server.app.state.hub.latest("facilities")
    if state is None or state.source != "replay":
        return set()
    return set(state.data["facilities"]["code"])


def test_broker_restart_mid_stream_loses_nothing_at_qos1(
    backend: BackgroundServer, mqtt_broker: BrokerProcess
) -> None:
    ingest = backend.app.state.mqtt_ingest
    client = publisher(mqtt_broker.port)
    try:
        expected = {f"F{i:04d}" for i in range(ROWS)}
        for i in range(ROWS):
            code = f"F{i:04d}"
            payload = f'{{"facility_code": "{code}", "power_mw": {i}}}'
            client.publish(f"energydash/facilities/{code}", payload, qos=1)
            if i == ROWS // 3:
                mqtt_broker.restart()  # mid-stream: rows keep coming while it is down
            time.sleep(0.002)
        if mqtt_broker.engine == "mosquitto":
            wait_for(lambda: codes_in_hub(backend) == expected, 30, "every row after the restart")
            assert ingest.malformed == 0
        else:
            # amqtt forgets sessions at restart; prove ingestion resumes on its own
            wait_for(lambda: ingest.link.connected, 20, "ingest reconnected")
            time.sleep(0.5)
            client.publish("energydash/facilities/AFTER", '{"power_mw": 1}', qos=1)
            wait_for(lambda: "AFTER" in codes_in_hub(backend), 20, "a row after the restart")
        assert ingest.link.connects >= 2  # it really reconnected
    finally:
        client.disconnect()
        client.loop_stop()
