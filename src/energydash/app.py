"""create_app(): the backend process assembled from its parts.

The lifespan starts the engine task, the Redfish service, MQTT ingest and publishing, and at
shutdown stops them in reverse order and saves the simulation state. ``serving_app(app)`` is
what a server runs: the Host/body guard around the Redfish fast path around the app.
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
from energydash.auth.audit import Auditor
from energydash.auth.secrets import read_token
from energydash.config import Settings, get_settings
from energydash.hub import Hub
from energydash.models.audit import AUDIT_TOPIC
from energydash.sim.engine import Engine
from energydash.stream.client import Fanout
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
    auditor = Auditor(settings, publish=hub.publish)

    from energydash.hub.snapshots import SnapshotPublisher

    snapshots = SnapshotPublisher(engine, hub)
    from energydash.hub.events import PduEventLog

    pdu_events = PduEventLog(engine, hub)
    site_snapshots = _sites(settings, engine, hub, auth)
    redfish = _redfish_service(engine, settings, auth, auditor)
    from energydash.hub.faults import FaultsPublisher

    faults = FaultsPublisher(engine, hub, redfish.wire)  # topic "faults" (issue 12)

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
        detach_sites = site_snapshots.attach()
        site_snapshots.publish()
        detach_events = engine.on_event(lambda event: snapshots.refresh_soon())
        detach_pdu_events = pdu_events.attach()
        detach_analytics = _start_analytics(app, settings, engine, hub, redfish)
        snapshots.publish()  # every topic exists before the first client subscribes
        detach_faults = faults.attach()
        faults.publish()
        hub.publish(AUDIT_TOPIC, auditor.data().model_dump(mode="json"))
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
            detach_analytics()
            detach_faults()
            detach_events()
            detach_pdu_events()
            detach_sites()
            detach_snapshots()
            detach_tick()
            auditor.close()
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
    app.state.auditor = auditor
    app.state.read_token = read_token(settings).value
    app.state.snapshots = snapshots
    app.state.site_snapshots = site_snapshots
    app.state.stream_stats = StreamStats(Fanout(hub, settings.ws_queue_size))
    app.state.mqtt_ingest = None
    app.state.mqtt_publisher = None
    app.state.redfish = redfish  # wire faults and scenarios reach its request path
    app.state.analytics = None
    app.state.equipment = None
    install_error_handlers(app)

    from energydash.api.health import router as health_router

    app.include_router(health_router)
    app.include_router(stream_router)
    for router in _api_routers():
        app.include_router(router, prefix="/api/v1")
    app.include_router(redfish.router)
    from energydash.graphql import graphql_router

    app.include_router(graphql_router(settings), prefix="/graphql")
    return app


def _sites(settings: Settings, engine: Engine, hub: Hub, auth: AuthStore) -> Any:
    """The site topics' publisher; the demo sites when nothing was saved (the accounts of the
    store own them, so they are made here, where the store is)."""
    from energydash.hub.site_snapshots import SitePublisher

    if settings.sites_enabled and settings.sites_demo and engine.sites.n_sites == 0:
        accounts = [(a.id, a.username, a.role_id) for a in auth.accounts.values()]
        engine.sites.seed_demo(accounts, engine.fleet)

    def replayed_market(state: Any) -> None:
        # a market replayed over MQTT prices the sites like the grid topics it replaces
        if state.source == "sim" or not state.topic.startswith("market/"):
            return
        for row in (state.data or {}).get("regions") or []:
            price = row.get("price_aud_per_mwh")
            if isinstance(price, int | float) and isinstance(row.get("region"), str):
                intensity = row.get("emissions_t_per_mwh")
                engine.sites.set_market(
                    row["region"], float(price), intensity if isinstance(intensity, float) else None
                )

    hub.add_listener(replayed_market)
    return SitePublisher(engine, hub)


def _api_routers() -> list[Any]:
    from energydash.api import routes

    return routes.ROUTERS


def _redfish_service(engine: Engine, settings: Settings, auth: AuthStore, auditor: Auditor) -> Any:
    from energydash.redfish import RedfishService

    return RedfishService(engine, settings, auth, auditor)


def serving_app(app: FastAPI) -> Any:
    """The ASGI app a server runs: Host check and body cap outside the Redfish fast path.

    Redfish requests take the service's pure-ASGI fast path (8k vs 5k GET/s measured by
    bench/redfish_load.py); everything else, lifespan included, goes to the FastAPI app. The
    guard sits outside both, so every face gets the same Host and body rules.
    """
    from energydash.auth.guard import Guard
    from energydash.redfish import RedfishService

    settings: Settings = app.state.settings
    service = RedfishService.find(app)
    return Guard(service.wrap(app) if service else app, settings)


def tls_files(settings: Settings) -> tuple[str, str] | None:
    """(certificate, key) paths under ENERGYDASH_TLS (generated once), else None.

    The dashboard serves HTTPS with the same pair: call this with the same settings.
    """
    if not settings.tls:
        return None
    from energydash.redfish.tls import ensure_self_signed_cert

    cert, key = ensure_self_signed_cert(settings)
    return str(cert), str(key)


def _start_analytics(
    app: FastAPI, settings: Settings, engine: Engine, hub: Hub, redfish: Any
) -> Any:
    """Equipment sensors on the engine tick and the analytics consumer of the hub (issue 14)."""
    if not settings.analytics:
        return lambda: None
    from energydash.analytics.service import AnalyticsService
    from energydash.hub.equipment import EquipmentPublisher
    from energydash.sim import equipment

    plant = equipment.from_settings(settings, [p.id for p in engine.fleet.pdus])
    app.state.equipment = plant
    app.state.analytics = AnalyticsService(settings, hub)
    detach_service = app.state.analytics.attach()
    app.state.analytics.on_alerts.append(lambda data: _redfish_alert_events(redfish, data))
    detach_tick = EquipmentPublisher(engine, hub, plant).attach()

    def detach() -> None:
        detach_tick()
        detach_service()

    return detach


# The engine raises its own Redfish events for breakers and thresholds; these are the rest.
REDFISH_ALERT_SOURCES = ("health_change", "comm_loss", "stale_feed", "anomaly")


def _redfish_alert_events(redfish: Any, data: Any) -> None:
    """PDU alerts opening or resolving, as ResourceEvent health changes on the PDU."""
    from energydash.redfish.events import pdu_uri

    for alert in data.changes:
        if alert.pdu_id is None or alert.source not in REDFISH_ALERT_SOURCES:
            continue
        if alert.state == "resolved":
            key, health = "ResourceStatusChangedOK", "OK"
        elif alert.state == "open" and alert.first_seen == alert.last_seen:
            key = "ResourceStatusChangedCritical"
            health = "Critical"
            if alert.severity != "critical":
                key, health = "ResourceStatusChangedWarning", "Warning"
        else:
            continue
        redfish.events.publish(
            "ResourceEvent",
            key,
            [alert.target, health],
            pdu_uri(alert.pdu_id),
            "PowerDistribution",
            alert.last_seen,
            text=f"{alert.message} (alert {alert.id})",
        )


def _mqtt_parts(app: FastAPI, settings: Settings, engine: Engine, hub: Hub) -> list[Any]:
    parts: list[Any] = []
    if settings.mqtt_ingest:
        from energydash.mqtt.ingest import MqttIngest

        app.state.mqtt_ingest = MqttIngest(settings, hub, engine)
        parts.append(app.state.mqtt_ingest)
    if settings.mqtt_publish:
        from energydash.mqtt.publish import MqttPublisher

        app.state.mqtt_publisher = MqttPublisher(
            settings,
            hub,
            engine,
            on_change=app.state.snapshots.refresh_soon,
            auth=app.state.auth,
        )
        app.state.mqtt_publisher.site_publisher = app.state.site_snapshots
        parts.append(app.state.mqtt_publisher)
    return parts


class BackgroundServer:
    """uvicorn serving ``app`` on a thread (tests and benchmarks on loopback).

    ``call(fn)`` runs ``fn`` on the server's event loop and returns its result: the engine,
    hub and MQTT parts belong to that loop, so tests step the engine through it. It serves
    ``serving_app(app)`` (guard and Redfish fast path) as ``energydash serve`` does, over
    HTTPS when the settings say ``tls``.
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        from energydash.redfish.parser import RedfishHttpProtocol
        from energydash.stream.rawsend import FanoutWebSocketProtocol

        self.app = app
        self.host = host
        self.port = port
        settings: Settings = app.state.settings
        files = tls_files(settings)
        self.scheme = "https" if files else "http"
        ssl = {"ssl_certfile": files[0], "ssl_keyfile": files[1]} if files else {}
        config = uvicorn.Config(
            serving_app(app),
            host=host,
            port=port,
            log_config=None,
            ws_ping_interval=settings.ws_ping_interval_s,
            ws_ping_timeout=settings.ws_idle_timeout_s,
            ws_per_message_deflate=False,  # as `energydash serve`: frames are sent as encoded
            ws=FanoutWebSocketProtocol,  # as `energydash serve`: frames written once framed
            http=RedfishHttpProtocol,  # as `energydash serve`: 501 for unknown methods
            timeout_graceful_shutdown=settings.shutdown_timeout_s,
            lifespan="on",
            **ssl,  # type: ignore[arg-type]
        )
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: Any = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``/ws`` without a credential (refused: add ``?token=`` or use ``reader_ws_url``)."""
        return f"{'wss' if self.scheme == 'https' else 'ws'}://{self.host}:{self.port}/ws"

    @property
    def reader_headers(self) -> dict[str, str]:
        """REST headers with the service read token (ReadOnly: GETs only)."""
        return {"Authorization": f"Bearer {self.app.state.read_token}"}

    @property
    def reader_ws_url(self) -> str:
        """``/ws`` with the service read token (ReadOnly: what the dashboard's feed uses)."""
        return f"{self.ws_url}?token={self.app.state.read_token}"

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
