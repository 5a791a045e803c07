"""start_all.sh brings the system up, a second start adds nothing, stop_all.sh stops it all.

The real scripts run against temporary run/log/data dirs and free ports, so the test never
touches a system the developer has running.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from energydash.net import free_port, port_open

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGYDASH_")}
    env.update(
        ENERGYDASH_RUN_DIR=str(tmp_path / "run"),
        ENERGYDASH_LOG_DIR=str(tmp_path / "logs"),
        ENERGYDASH_DATA_DIR=str(tmp_path / "data"),
        ENERGYDASH_BROKER_DIR=str(tmp_path / "broker"),
        ENERGYDASH_PORT=str(free_port()),
        ENERGYDASH_DASHBOARD_PORT=str(free_port()),
        ENERGYDASH_MQTT_PORT=str(free_port()),
        ENERGYDASH_PDU_COUNT="2",
    )
    return env


def _script(name: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / name), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _pid(run_dir: Path, name: str) -> int:
    return int((run_dir / f"{name}.pid").read_text())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


PARTS = ("broker", "backend", "dashboard", "replay-facility", "replay-market")


def test_start_all_then_stop_all(tmp_path: Path) -> None:
    env = _env(tmp_path)
    run_dir = tmp_path / "run"
    started = _script("start_all.sh", env, "--replay")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        pids = {name: _pid(run_dir, name) for name in PARTS}
        assert all(_alive(pid) for pid in pids.values())
        backend = f"http://127.0.0.1:{env['ENERGYDASH_PORT']}"
        assert urllib.request.urlopen(f"{backend}/health", timeout=5).status == 200
        assert port_open("127.0.0.1", int(env["ENERGYDASH_MQTT_PORT"]))
        assert f"http://127.0.0.1:{env['ENERGYDASH_DASHBOARD_PORT']}/" in started.stdout
        assert (tmp_path / "logs" / "backend.log").exists()
        _assert_broker_refuses_anonymous_and_the_backend_logs_in(tmp_path, env)

        again = _script("start_all.sh", env, "--replay")
        assert again.returncode == 0, again.stdout + again.stderr
        assert again.stdout.count("already running") == len(PARTS)
        assert {name: _pid(run_dir, name) for name in pids} == pids
    finally:
        stopped = _script("stop_all.sh", env)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not any(_alive(pid) for pid in pids.values())
    assert not list(run_dir.glob("*.pid"))


def _assert_broker_refuses_anonymous_and_the_backend_logs_in(
    tmp_path: Path, env: dict[str, str]
) -> None:
    refused: list[object] = []
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.on_connect = lambda _c, _u, _f, reason, _p: refused.append(reason.is_failure)
    client.connect("127.0.0.1", int(env["ENERGYDASH_MQTT_PORT"]))
    client.loop_start()
    try:
        _until(lambda: refused, "a CONNACK for an anonymous client")
    finally:
        client.loop_stop()
    assert refused == [True]
    log = tmp_path / "logs" / "backend.log"
    _until(lambda: "mqtt ingest connected" in log.read_text(), "the backend's MQTT login")
    secrets = tmp_path / "data" / "secrets"
    assert {"mqtt-backend", "mqtt-replay", "mqtt-commander"} <= {p.name for p in secrets.iterdir()}
    for path in secrets.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text().strip() not in log.read_text()


def _until(predicate: Callable[[], object], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_stop_all_leaves_a_process_it_did_not_start(tmp_path: Path) -> None:
    env = _env(tmp_path)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        # A PID file pointing at a process that is not ours (as after PID reuse).
        (run_dir / "backend.pid").write_text(str(stranger.pid))
        result = _script("stop_all.sh", env)
        assert result.returncode == 0, result.stderr
        assert "stale" in result.stdout
        assert stranger.poll() is None
    finally:
        stranger.terminate()
        stranger.wait()


def test_start_all_fails_with_the_log_tail_when_a_part_cannot_start(tmp_path: Path) -> None:
    env = _env(tmp_path)
    env["ENERGYDASH_PORT"] = "not-a-port"
    result = _script("start_all.sh", env)
    assert result.returncode != 0
    assert "ENERGYDASH_PORT" in result.stderr
