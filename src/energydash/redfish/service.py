"""RedfishService: the Redfish face of the engine, ready to include in the backend app.

service = RedfishService(engine, settings)
app.include_router(service.router)     # /redfish and everything under it
await service.start(); ...; await service.stop()   # event delivery, session expiry
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.routing import Route as StarletteRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from energydash import __version__
from energydash.auth import AuthStore, Caller, PrivilegeMap
from energydash.config import Settings
from energydash.redfish.assets import Assets
from energydash.redfish.card import ManagementCard
from energydash.redfish.certs import CertificateStore
from energydash.redfish.endpoints import PduEndpoints
from energydash.redfish.events import EventHub
from energydash.redfish.http import RedfishApp
from energydash.redfish.redirect import HttpsRedirect
from energydash.redfish.registries import message
from energydash.redfish.render import sensor_uri
from energydash.redfish.resources import (
    accounts,
    certificates,
    chassis,
    events,
    managers,
    power,
    root,
    update,
)
from energydash.redfish.routing import RouteTable
from energydash.redfish.thresholds import SensorThresholds
from energydash.redfish.wire import WireFaultError, WireFaults
from energydash.sim.engine import Engine
from energydash.sim.events import SimEvent
from energydash.sim.scenario import ScenarioRunner
from energydash.sim.scenario import load_file as load_scenario

log = logging.getLogger(__name__)
SESSION_SWEEP_S = 10.0
_WWW_AUTHENTICATE = {"WWW-Authenticate": 'Basic realm="EnergyDash Redfish"'}


class RedfishService:
    """Accounts, sessions, events and the resource tree over one engine."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        auth: AuthStore | None = None,
        *,
        single_pdu: str | None = None,
        thresholds: SensorThresholds | None = None,
    ) -> None:
        """``single_pdu``: the service of one PDU's own card (see ``redfish.endpoints``)."""
        self.engine = engine
        self.single_pdu = single_pdu
        self.settings = settings
        self.auth = auth if auth is not None else AuthStore.from_settings(settings)
        self.privileges = PrivilegeMap()
        self.events = EventHub(
            settings.redfish_event_retry_attempts, settings.redfish_event_retry_interval_s
        )
        card_name = f"-pdu-{single_pdu}" if single_pdu else ""
        self.uuid = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"energydash-redfish-{settings.seed}{card_name}")
        )
        self.card = ManagementCard(
            __version__,
            settings.redfish_card_reboot_s,
            settings.redfish_update_install_s,
            settings.redfish_update_max_bytes,
        )
        self.assets = Assets(settings.seed, salt=card_name)
        self.certs = CertificateStore(settings)
        self.hostname = socket.gethostname()
        self.fqdn = socket.getfqdn() or self.hostname
        table = RouteTable()
        for family in (power, chassis, root, accounts, managers, events, update, certificates):
            table.add(*family.routes())
        self.table = table
        self.app = RedfishApp(self, table, self.auth, self.privileges)
        self.router = APIRouter()
        self.router.routes.append(StarletteRoute("/redfish", endpoint=self.app))
        self.router.mount("/redfish", self.app)
        self.thresholds = thresholds or SensorThresholds(engine.fleet)
        self.wire = WireFaults(engine.clock.timestamp, settings.seed, engine.fleet.has_pdu)
        self.scenarios: ScenarioRunner | None = None
        self.endpoints: PduEndpoints | None = None
        if single_pdu is None:  # the fleet service runs scenarios and the per-PDU cards
            self.scenarios = ScenarioRunner(engine, self._wire_step, self.wire.clear)
            if settings.redfish_port_base:
                self.endpoints = PduEndpoints(self)
        self._detach = engine.on_event(self._on_engine_event)
        self._detach_tick = (
            engine.on_tick(self._check_thresholds) if thresholds is None else (lambda: None)
        )
        self._sweeper: asyncio.Task[None] | None = None
        self._redirect: HttpsRedirect | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await self.events.start()
        if self.endpoints is not None:
            await self.endpoints.start()
        if self.settings.scenario_file and self.scenarios is not None:
            run = self.scenarios.start(load_scenario(self.settings.scenario_file))
            log.info("scenario %r started (%d steps)", run.scenario.name, len(run.planned))
        if self.settings.redfish_tls and self.settings.redfish_http_redirect_port:
            host = self.settings.host
            public = host if host not in ("", "0.0.0.0", "::") else "127.0.0.1"
            self._redirect = HttpsRedirect(
                host, self.settings.redfish_http_redirect_port, self.settings.port, public
            )
            await self._redirect.start()
        self._sweeper = asyncio.get_running_loop().create_task(
            self._sweep_sessions(), name="redfish-session-expiry"
        )
        log.info(
            "Redfish service ready: %d PDUs, administrator %r",
            len(self.engine.fleet.pdus),
            self.settings.redfish_user,
        )

    async def stop(self) -> None:
        await self.card.stop()
        if self.endpoints is not None:
            await self.endpoints.stop()
        if self._redirect is not None:
            await self._redirect.stop()
            self._redirect = None
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self.events.stop()

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """The fast path: an ASGI app answering /redfish itself and passing the rest to ``app``.

        Serving ``service.wrap(fastapi_app)`` skips FastAPI's middleware and route scan for
        Redfish requests (about a third of the cost of a GET); ``router`` stays the plain way.
        """
        redfish = self.app

        async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
            path = scope.get("path", "")
            if scope["type"] == "http" and (path == "/redfish" or path.startswith("/redfish/")):
                await redfish(scope, receive, send)
            else:
                await app(scope, receive, send)

        return dispatch

    @staticmethod
    def find(app: Any) -> RedfishService | None:
        """The service whose router an app includes (for ``wrap`` by whoever starts uvicorn)."""
        pending = list(getattr(app, "routes", []))
        while pending:
            route = pending.pop()
            inner = getattr(route, "app", None)
            if isinstance(inner, RedfishApp):
                return inner.service
            router = getattr(route, "original_router", None)  # FastAPI's included routers
            if router is not None:
                pending.extend(router.routes)
        return None

    def current_caller(self, request: Request) -> Caller:
        """FastAPI dependency: the Redfish account behind a request's Basic or X-Auth-Token.

        For other faces that want Redfish accounts and roles (``CallerDep`` below); the Redfish
        tree itself authenticates in its ASGI dispatcher, before any route runs.
        """
        authorization = request.headers.get("authorization")
        token = request.headers.get("x-auth-token")
        caller = self.auth.authenticate(
            authorization.encode("latin-1") if authorization else None,
            token.encode("latin-1") if token else None,
        )
        if caller is None:
            raise HTTPException(401, "Redfish credentials required", _WWW_AUTHENTICATE)
        return caller

    @property
    def CallerDep(self) -> Any:
        """``Annotated[Caller, Depends(service.current_caller)]`` for route signatures."""
        return Annotated[Caller, Depends(self.current_caller)]

    def close(self) -> None:
        """Stop listening to the engine (a service that is thrown away)."""
        self._detach()
        self._detach_tick()
        if self.scenarios is not None:
            self.scenarios.close()

    def _wire_step(
        self,
        kind: str,
        pdu_id: str | None,
        uri_pattern: str | None,
        params: dict[str, Any] | None,
        duration_s: float,
    ) -> str:
        try:
            return self.wire.inject(kind, pdu_id, uri_pattern, params, duration_s).id
        except WireFaultError as error:
            raise ValueError(f"{error.field}: {error}") from None

    def _check_thresholds(self, engine: Engine) -> None:
        self.thresholds.evaluate(engine.fleet, self._threshold_event)

    def _threshold_event(self, family: str, index: int, key: str, args: list[str]) -> None:
        fleet = self.engine.fleet
        if family.startswith("inlet"):
            pdu = fleet.pdus[index]
            sensor = ("Temperature" if family.endswith("temperature") else "Humidity") + "Inlet"
        elif family.startswith("outlet"):
            pdu = fleet.pdus[int(fleet.o_pdu[index])]
            outlet = pdu.outlets[index - pdu.index * len(pdu.outlets)]
            sensor = ("Current" if family.endswith("current") else "Power") + outlet.id
        else:
            pdu = fleet.pdus[int(fleet.b_pdu[index])]
            branch = pdu.branches[index - pdu.index * len(pdu.branches)]
            sensor = ("Current" if family.endswith("current") else "Power") + f"Branch{branch.id}"
        origin = sensor_uri(pdu.id, sensor)
        self.events.publish("SensorEvent", key, [sensor, *args], origin, "Sensor", self.now())

    async def _sweep_sessions(self) -> None:
        while True:
            await asyncio.sleep(SESSION_SWEEP_S)
            expired = self.auth.expire_sessions()
            if expired:
                log.info("expired %d idle Redfish session(s)", expired)

    # ------------------------------------------------------------------ helpers for resources
    def now(self) -> datetime:
        try:
            return self.engine.clock.now()
        except Exception:  # a clock that cannot tell: fall back to the wall
            return datetime.now(UTC)

    def _on_engine_event(self, event: SimEvent) -> None:
        self.events.publish_engine_event(event)

    @property
    def firmware_version(self) -> str:
        return self.card.firmware_version

    def tls_context_factory(self, config: Any, default: Any) -> Any:
        """uvicorn ``ssl_context_factory``: lets CertificateService reload the live listener."""
        return self.certs.context_factory(config, default)

    def log_update_event(self, prefix: str, key: str, args: list[str]) -> None:
        self.events.publish(
            prefix, key, args, update.CARD_FIRMWARE, "SoftwareInventory", self.now()
        )

    def log_event(self, prefix: str, key: str, args: list[str], origin: str | None) -> None:
        self.events.publish(prefix, key, args, origin, timestamp=self.now())

    def log_login(self, username: str, *, ok: bool, client: str) -> None:
        """Record a login attempt in the Manager log (not pushed to subscribers)."""
        if ok:
            msg = message("Base", "Success")
            msg["Message"] = f"User '{username}' logged in from {client or 'unknown'}."
        else:
            msg = message("Base", "NoValidSession")
            msg["Message"] = f"Login of user '{username}' from {client or 'unknown'} failed."
            msg["MessageSeverity"] = "Warning"
        self.events.log_only(msg)
