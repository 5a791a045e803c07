"""Helpers for the Redfish tests: a real server, engine (stepped clock, 2 PDUs) + uvicorn.

``RedfishServer.tick(n)`` advances the simulation on the server's own event loop, so a test
never touches the engine from another thread while a request is being served.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from energydash.config import Settings, load_settings
from energydash.net import free_port
from energydash.redfish import RedfishService
from energydash.redfish.parser import RedfishHttpProtocol
from energydash.sim.engine import Engine

ADMIN, ADMIN_PASSWORD = "admin", "admin-secret-1"
OPERATOR, OPERATOR_PASSWORD = "operator", "operator-secret-1"
READER, READER_PASSWORD = "reader", "reader-secret-1"


@dataclass
class RedfishServer:
    url: str
    settings: Settings
    engine: Engine
    service: RedfishService
    loop: asyncio.AbstractEventLoop

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the server's loop and return its result."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=30)

    def tick(self, n: int = 1, dt_s: float | None = None) -> None:
        def steps() -> None:
            for _ in range(n):
                self.engine.step(dt_s)

        self.call(steps)

    def client(self, user: str = ADMIN, password: str = ADMIN_PASSWORD) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(user, password), timeout=10)


def build_settings(root: Path, **overrides: Any) -> Settings:
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
        "grid_facility_count": 20,
        "redfish_user": ADMIN,
        "redfish_password": ADMIN_PASSWORD,
        "redfish_operator_user": OPERATOR,
        "redfish_operator_password": OPERATOR_PASSWORD,
        "redfish_readonly_user": READER,
        "redfish_readonly_password": READER_PASSWORD,
        "redfish_lockout_threshold": 3,
        "redfish_lockout_duration_s": 2,
        "redfish_event_retry_attempts": 2,
        "redfish_event_retry_interval_s": 1,
        "port": free_port(),
    }
    values.update(overrides)
    return load_settings(**values)


@contextlib.contextmanager
def serve(settings: Settings, **uvicorn_options: Any) -> Iterator[RedfishServer]:
    engine = Engine.from_settings(settings, restore=False)
    service = RedfishService(engine, settings)
    holder: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        holder["loop"] = asyncio.get_running_loop()
        await service.start()
        task = asyncio.create_task(engine.run())
        yield
        engine.stop()
        await task
        await service.stop()

    app = FastAPI(lifespan=lifespan)
    app.include_router(service.router)
    if "ssl_certfile" in uvicorn_options:
        uvicorn_options.setdefault("ssl_context_factory", service.tls_context_factory)
    uvicorn_options.setdefault("http", RedfishHttpProtocol)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=settings.port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,  # an open SSE stream must not hold the shutdown
        **uvicorn_options,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="redfish-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the Redfish test server did not start")
        time.sleep(0.02)
    try:
        scheme = "https" if "ssl_certfile" in uvicorn_options else "http"
        yield RedfishServer(
            f"{scheme}://127.0.0.1:{settings.port}", settings, engine, service, holder["loop"]
        )
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        service.close()


def populate(server: RedfishServer) -> None:
    """Give a validator something to walk: a session, a subscription, a user group, log entries."""
    server.tick(3)
    with httpx.Client(base_url=server.url, auth=(ADMIN, ADMIN_PASSWORD), verify=False) as admin:
        admin.post(
            "/redfish/v1/SessionService/Sessions",
            json={"UserName": OPERATOR, "Password": OPERATOR_PASSWORD},
        )
        admin.post(
            "/redfish/v1/EventService/Subscriptions",
            json={"Destination": "http://127.0.0.1:9/events", "Protocol": "Redfish"},
        )
        outlet = "/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/A1"
        admin.post(
            "/redfish/v1/PowerEquipment/RackPDUs/1/OutletGroups",
            json={"Name": "Client group", "Links": {"Outlets": [{"@odata.id": outlet}]}},
        )
        admin.post(
            "/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/B2/Actions/Outlet.PowerControl",
            json={"PowerState": "Off"},
        )
