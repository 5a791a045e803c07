"""Helpers of the identity tests: settings with one account per role and a real backend."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from energydash.app import BackgroundServer, create_app
from energydash.config import Settings, load_settings
from energydash.net import free_port

ADMIN = ("admin", "admin-secret-1")
OPERATOR = ("operator", "operator-secret-1")
READER = ("reader", "reader-secret-1")


def auth_settings(root: Path, **overrides: Any) -> Settings:
    """Isolated settings (stepped clock, 2 PDUs, no MQTT) with an account of each role."""
    for name in list(os.environ):
        if name.startswith("ENERGYDASH_") and name != "ENERGYDASH_REQUIRE_ALL":
            os.environ.pop(name)
    values: dict[str, Any] = {
        "data_dir": root / "data",
        "log_dir": root / "logs",
        "run_dir": root / "run",
        "broker_dir": root / "broker",
        "clock_mode": "stepped",
        "pdu_count": 2,
        "grid_facility_count": 10,
        "mqtt_ingest": False,
        "mqtt_publish": False,
        "redfish_user": ADMIN[0],
        "redfish_password": ADMIN[1],
        "redfish_operator_user": OPERATOR[0],
        "redfish_operator_password": OPERATOR[1],
        "redfish_readonly_user": READER[0],
        "redfish_readonly_password": READER[1],
        "port": free_port(),
    }
    values.update(overrides)
    return load_settings(**values)


@contextlib.contextmanager
def backend(settings: Settings) -> Iterator[BackgroundServer]:
    """``create_app(settings)`` served on loopback as ``energydash serve`` serves it."""
    server = BackgroundServer(create_app(settings), port=settings.port).start()
    try:
        yield server
    finally:
        server.stop()


def client(server: BackgroundServer, auth: tuple[str, str] | None = None) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=auth, timeout=10, verify=False)


def rss_kib() -> int:
    """Resident memory of this process (the in-process backend) from /proc, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")
