"""create_app(): the backend process assembled from its parts.

The lifespan starts the engine task, the Redfish service, MQTT ingest and publishing, and at
shutdown stops them in reverse order and saves the simulation state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from energydash import __version__
from energydash.api.errors import install_error_handlers
from energydash.api.responses import OrjsonResponse
from energydash.auth import AuthStore
from energydash.config import Settings, get_settings
from energydash.hub import Hub
from energydash.sim.engine import Engine
from energydash.stream.endpoint import StreamStats
from energydash.stream.endpoint import router as stream_router

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """The backend app; builds an engine from settings unless one is given (tests, benches)."""
    settings = settings or get_settings()
    engine = engine or Engine.from_settings(settings)
    hub = Hub(settings)
    from energydash.history import open_store

    hub.store = open_store(settings)
    auth = AuthStore.from_settings(settings)

    from energydash.hub.snapshots import SnapshotPublisher

    snapshots = SnapshotPublisher(engine, hub)
    redfish = _redfish_service(engine, settings, auth)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop_parts: list[Any] = []
        if hub.store is not None:
            hub.store.start()
        app.state.last_tick_wall = time.monotonic()

        def mark_tick(_: Engine) -> None:
            app.state.last_tick_wall = time.monotonic()

        detach_tick = engine.on_tick(mark_tick)
        detach_snapshots = snapshots.attach()
        detach_events = engine.on_event(lambda event: snapshots.refresh_soon())
        snapshots.publish()  # every topic exists before the first client subscribes
        await redfish.start()
        for part in _mqtt_parts(app, settings, engine, hub):
            await part.start()
            stop_parts.append(part)
        engine_task = asyncio.create_task(engine.run(), name="energydash-engine")
        log.info("backend ready: %d topics, clock %s", len(hub.topics()), engine.clock.mode)
        try:
            yield
        finally:
            engine.stop()
            try:
                await asyncio.wait_for(engine_task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                log.warning("engine task did not stop in time; saving state directly")
                engine.save_state()
            except Exception:
                log.exception("engine task failed")
            for part in reversed(stop_parts):
                try:
                    await part.stop()
                except Exception:
                    log.exception("stopping %r failed", part)
            await redfish.stop()
            detach_events()
            detach_snapshots()
            detach_tick()
            if hub.store is not None:  # the last queued values and open buckets go to disk
                await asyncio.to_thread(hub.store.close)

    app = FastAPI(
        title="EnergyDash backend",
        version=__version__,
        description="Live PDU, grid and market data: REST /api/v1, WebSocket /ws, Redfish.",
        default_response_class=OrjsonResponse,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.hub = hub
    app.state.history_store = hub.store
    app.state.auth = auth
    app.state.snapshots = snapshots
    app.state.stream_stats = StreamStats()
    app.state.mqtt_ingest = None
    app.state.mqtt_publisher = None
    install_error_handlers(app)

    from energydash.api.health import router as health_router

    app.include_router(health_router)
    app.include_router(stream_router)
    for router in _api_routers():
        app.include_router(router, prefix="/api/v1")
    app.include_router(redfish.router)
    return app


def _api_routers() -> list[Any]:
    from energydash.api import routes

    return routes.ROUTERS


def _redfish_service(engine: Engine, settings: Settings, auth: AuthStore) -> Any:
    from energydash.redfish import RedfishService

    return RedfishService(engine, settings, auth)


def _mqtt_parts(app: FastAPI, settings: Settings, engine: Engine, hub: Hub) -> list[Any]:
    parts: list[Any] = []
    if settings.mqtt_ingest:
        from energydash.mqtt.ingest import MqttIngest

        app.state.mqtt_ingest = MqttIngest(settings, hub, engine)
        parts.append(app.state.mqtt_ingest)
    if settings.mqtt_publish:
        from energydash.mqtt.publish import MqttPublisher

        app.state.mqtt_publisher = MqttPublisher(
            settings, hub, engine, on_change=app.state.snapshots.publish
        )
        parts.append(app.state.mqtt_publisher)
    return parts


class BackgroundServer:
    """uvicorn serving ``app`` on a thread (tests and benchmarks on loopback).

    ``call(fn)`` runs ``fn`` on the server's event loop and returns its result: the engine,
    hub and MQTT parts belong to that loop, so tests step the engine through it.
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        from energydash.stream.rawsend import FanoutWebSocketProtocol

        self.app = app
        self.host = host
        self.port = port
        settings: Settings = app.state.settings
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            ws_ping_interval=settings.ws_ping_interval_s,
            ws_ping_timeout=settings.ws_idle_timeout_s,
            ws_per_message_deflate=False,  # as `energydash serve`: frames are sent as encoded
            ws=FanoutWebSocketProtocol,  # as `energydash serve`: frames written once framed
            timeout_graceful_shutdown=settings.shutdown_timeout_s,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    def start(self, timeout_s: float = 20.0) -> BackgroundServer:
        import threading

        self._thread = threading.Thread(target=self._run, name="energydash-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"backend did not start on {self.host}:{self.port}")
            time.sleep(0.02)
        return self

    def call(self, fn: Any, *args: Any, timeout_s: float = 10.0) -> Any:
        assert self.loop is not None

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout_s)

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=20)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
