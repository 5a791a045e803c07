"""`energydash analytics` on a real mosquitto raises the same alerts as the backend does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from energydash.app import BackgroundServer, create_app
from energydash.config import Settings
from energydash.models.alerts import AlertsData
from energydash.mqtt.broker import BrokerProcess
from energydash.sim.commands import InjectFault

WORKER_TOPIC = "test/worker/alerts"


def key(alert) -> tuple[str, str, str, str]:  # type: ignore[no-untyped-def]
    return (alert.source, alert.kind, alert.target, alert.severity)


@pytest.mark.mosquitto
@pytest.mark.slow
def test_separate_worker_on_the_broker_raises_the_same_alerts_as_in_process(
    settings: Settings, mosquitto_broker: BrokerProcess
) -> None:
    cfg = settings.model_copy(
        update={"mqtt_port": mosquitto_broker.port, "mqtt_ingest": False, "mqtt_publish": True}
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGYDASH_")}
    env.update(
        ENERGYDASH_MQTT_PORT=str(mosquitto_broker.port),
        ENERGYDASH_MQTT_ALERTS_TOPIC=WORKER_TOPIC,
        ENERGYDASH_LOG_DIR=str(settings.log_dir),
        ENERGYDASH_PORT=str(settings.port + 1 if settings.port < 65535 else 1),
        ENERGYDASH_ANALYTICS_SHARE_GROUP="workers",
    )
    latest: dict[str, AlertsData] = {}
    got = threading.Event()

    def on_message(client, userdata, message) -> None:  # type: ignore[no-untyped-def]
        who = "worker" if message.topic == WORKER_TOPIC else "backend"
        latest[who] = AlertsData.model_validate(orjson.loads(message.payload))
        got.set()

    listener = paho.Client(CallbackAPIVersion.VERSION2, client_id="alerts-listener")
    listener.on_message = on_message
    listener.connect("127.0.0.1", mosquitto_broker.port)
    listener.subscribe([(WORKER_TOPIC, 1), (settings.mqtt_alerts_topic, 1)])
    listener.loop_start()
    worker = subprocess.Popen(
        [sys.executable, "-m", "energydash", "analytics"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert worker.stdout is not None
        line = ""
        for _ in range(50):  # log lines may come first; the banner says when it is connected
            line = worker.stdout.readline()
            if line.startswith("analytics worker") or not line:
                break
        assert "connected to" in line and "$share group workers" in line, line
        with BackgroundServer(create_app(cfg)) as server:
            engine = server.app.state.engine
            server.call(engine.execute, InjectFault("relay_failure", "1", "A2"))
            server.call(engine.execute, InjectFault("comm_loss", "2"))
            server.call(engine.execute, InjectFault("sensor_noisy", "1", "B4"))
            deadline = time.monotonic() + 30
            expected: set = set()
            seen: set = set()
            backend_sent: set = set()
            while time.monotonic() < deadline:
                server.call(engine.step)
                expected = {key(a) for a in server.app.state.analytics.book.live()}
                if "worker" in latest:
                    seen = {key(a) for a in latest["worker"].alerts}
                if "backend" in latest:
                    backend_sent = {key(a) for a in latest["backend"].alerts}
                if expected and seen == expected and backend_sent == expected:
                    break
                got.wait(0.2)
                got.clear()
            assert {("comm_loss", "no_data", "pdu/2", "critical")} <= expected
            assert ("health_change", "health", "pdu/1/A2", "critical") in expected
            assert seen == expected
            assert backend_sent == expected  # the backend's own alerts on energydash/alerts
    finally:
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=20)
        listener.loop_stop()
        listener.disconnect()
    assert worker.returncode == 0, out
    assert "analytics worker stopped" in out
