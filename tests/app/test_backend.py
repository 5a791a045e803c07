"""The assembled backend: create_app's lifespan and `energydash serve` as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from websockets.sync.client import connect

from energydash.app import BackgroundServer, create_app
from energydash.config import Settings


def test_redfish_power_control_reaches_ws_without_waiting_for_a_tick(settings: Settings) -> None:
    cfg = settings.model_copy(update={"mqtt_ingest": False, "mqtt_publish": False})
    app = create_app(cfg)
    with BackgroundServer(app, port=cfg.port) as server, connect(server.reader_ws_url) as ws:
        ws.send(orjson.dumps({"op": "subscribe", "topics": ["pdu/1/outlets"]}).decode())
        snapshot = orjson.loads(ws.recv(timeout=5))
        index = snapshot["data"]["outlets"]["id"].index("A1")
        assert snapshot["data"]["outlets"]["power_state"][index] == "On"
        response = httpx.post(
            f"{server.url}/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/A1/Actions/Outlet.PowerControl",
            json={"PowerState": "Off"},
            auth=(cfg.redfish_user, cfg.redfish_password.get_secret_value()),
        )
        assert response.status_code in (200, 202, 204), response.text
        update = orjson.loads(ws.recv(timeout=5))  # the stepped clock never ticks by itself
        assert update["type"] == "update" and update["seq"] == snapshot["seq"] + 1
        assert update["data"]["outlets"]["power_state"][index] == "Off"


def test_shutdown_saves_the_simulation_state(settings: Settings) -> None:
    cfg = settings.model_copy(update={"mqtt_ingest": False, "mqtt_publish": False})
    app = create_app(cfg)
    with BackgroundServer(app, port=cfg.port) as server:
        server.call(app.state.engine.step)
        state_file = app.state.engine.state_file
    assert state_file.exists()


@pytest.mark.slow
def test_energydash_serve_prints_urls_serves_and_stops_cleanly(
    settings: Settings, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "ENERGYDASH_DATA_DIR": str(settings.data_dir),
        "ENERGYDASH_LOG_DIR": str(settings.log_dir),
        "ENERGYDASH_PDU_COUNT": "2",
        "ENERGYDASH_MQTT_PORT": str(settings.mqtt_port),  # nothing listens: MQTT keeps retrying
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "energydash", "serve", "--port", str(settings.port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{settings.port}"
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert health is not None, "backend never answered"
        body = health.json()
        assert body["checks"]["engine"]["ok"] is True
        assert body["checks"]["mqtt_ingest"]["ok"] is False  # no broker: reported, not hidden
        assert health.status_code == 503 and body["status"] == "degraded"
        admin = ("admin", "energydash")  # the shipped default: fine on loopback
        assert httpx.get(f"{base}/api/v1/snapshots/pdu/2/summary").status_code == 401
        assert httpx.get(f"{base}/api/v1/snapshots/pdu/2/summary", auth=admin).status_code == 200
        assert httpx.get(f"{base}/redfish/v1").status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert f"{base}/redfish/v1" in output and "'admin'" in output
    assert "energydash'" not in output  # where the password comes from, never the password
    read_token = (settings.data_dir / "secrets" / "read_token").read_text().strip()
    assert read_token not in output
    assert read_token not in (settings.log_dir / "backend.log").read_text()
    assert f"ws://127.0.0.1:{settings.port}/ws" in output
    assert (settings.data_dir / "state").exists()
