"""start_all.sh brings the system up, a second start adds nothing, stop_all.sh stops it all.

The real scripts run against temporary run/log/data dirs and free ports, so the test never
touches a system the developer has running.
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from energydash.mqtt.broker import free_port, port_open

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

        again = _script("start_all.sh", env, "--replay")
        assert again.returncode == 0, again.stdout + again.stderr
        assert again.stdout.count("already running") == len(PARTS)
        assert {name: _pid(run_dir, name) for name in pids} == pids
    finally:
        stopped = _script("stop_all.sh", env)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not any(_alive(pid) for pid in pids.values())
    assert not list(run_dir.glob("*.pid"))


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
