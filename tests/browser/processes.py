"""`energydash serve` and `energydash dashboard` as real subprocesses on free loopback ports.

Shared by the browser tests and bench/dashboard_render.py. Each process gets its own data and
log directories and a clean environment (no ENERGYDASH_ variables of the caller's shell).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from energydash.mqtt.broker import free_port

ENERGYDASH = [sys.executable, "-m", "energydash"]


def _environment(workdir: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGYDASH_")}
    env.update(
        ENERGYDASH_DATA_DIR=str(workdir / "data"),
        ENERGYDASH_LOG_DIR=str(workdir / "logs"),
        ENERGYDASH_RUN_DIR=str(workdir / "run"),
        ENERGYDASH_MQTT_PUBLISH="false",
        ENERGYDASH_MQTT_INGEST="false",
    )
    env.update(extra)
    return env


def _wait_http(url: str, process: subprocess.Popen, timeout_s: float, log: Path) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(
                f"{url} exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not up after {timeout_s} s:\n{log.read_text()[-3000:]}")


@dataclass
class Service:
    """One energydash subprocess that can be stopped and started again on the same port."""

    name: str
    args: list[str]
    workdir: Path
    port: int
    health_path: str
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> Service:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / f"{self.name}.out"
        handle = log.open("ab")
        self.process = subprocess.Popen(
            [*ENERGYDASH, *self.args],
            cwd=self.workdir,
            env=_environment(self.workdir, self.env),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        _wait_http(self.url + self.health_path, self.process, timeout_s, log)
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def backend(workdir: Path, *, pdus: int = 2, facilities: int = 60, **extra: str) -> Service:
    port = free_port()
    env = {
        "ENERGYDASH_PORT": str(port),
        "ENERGYDASH_PDU_COUNT": str(pdus),
        "ENERGYDASH_GRID_FACILITY_COUNT": str(facilities),
        "ENERGYDASH_CLOCK_MODE": "realtime",
        **extra,
    }
    return Service("backend", ["serve"], workdir / "backend", port, "/health", env)


def dashboard(workdir: Path, backend_url: str, **extra: str) -> Service:
    port = free_port()
    env = {
        "ENERGYDASH_DASHBOARD_STALE_AFTER_S": "3",
        "ENERGYDASH_DASHBOARD_RECONNECT_MAX_S": "1",
        **extra,
    }
    args = ["dashboard", "--port", str(port), "--backend-url", backend_url]
    return Service("dashboard", args, workdir / "dashboard", port, "/", env)
