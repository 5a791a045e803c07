"""A damaged state file shows in /health until an operator clears it; one backend per folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from energydash.app import create_app
from energydash.config import Settings
from energydash.sim.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
from processes import ENERGYDASH, _environment, backend

ADMIN = ("admin", "energydash")  # the mock Administrator of the test settings


def test_health_is_degraded_by_a_damaged_state_file_until_an_administrator_clears_it(
    settings: Settings,
) -> None:
    cfg = settings.model_copy(update={"mqtt_ingest": False, "mqtt_publish": False})
    first = Engine.from_settings(cfg)
    first.step(30.0)
    first.save_state()
    first.state_file.write_bytes(first.state_file.read_bytes()[:100])

    with TestClient(create_app(cfg)) as client:
        health = client.get("/health")
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "degraded"
        (problem,) = body["checks"]["state"]["problems"]
        assert "sim_state.json" in problem and "unreadable-" in problem
        assert "energydash_state_problems 1" in client.get("/metrics", auth=ADMIN).text

        cleared = client.post("/api/v1/simulation/state-problems/clear", auth=ADMIN)
        assert cleared.status_code == 200
        assert cleared.json()["cleared"] == [problem]
        health = client.get("/health", auth=ADMIN)
        assert health.status_code == 200, health.json()
        assert health.json()["checks"]["state"] == {"ok": True, "problems": []}


def test_clearing_state_problems_needs_a_credential(settings: Settings) -> None:
    cfg = settings.model_copy(update={"mqtt_ingest": False, "mqtt_publish": False})
    with TestClient(create_app(cfg)) as client:
        assert client.post("/api/v1/simulation/state-problems/clear").status_code == 401
        wrong = client.post("/api/v1/simulation/state-problems/clear", auth=("admin", "nope"))
        assert wrong.status_code == 401


def test_a_second_backend_on_the_same_data_folder_exits_at_once_naming_the_holder(
    tmp_path: Path,
) -> None:
    first = backend(tmp_path, pdus=1, facilities=5).start()
    try:
        assert first.process is not None
        env = _environment(first.workdir, {**first.env, "ENERGYDASH_PORT": "1"})
        second = subprocess.run(
            [*ENERGYDASH, "serve"],
            cwd=first.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 3
        assert f"PID {first.process.pid}" in second.stderr
        assert "already uses this data folder" in second.stderr
        assert httpx.get(first.url + "/health", timeout=5).status_code == 200  # undisturbed
    finally:
        first.stop()
    # the lock went with its holder: the folder is usable again
    again = backend(tmp_path, pdus=1, facilities=5).start()  # same folder
    again.stop()
