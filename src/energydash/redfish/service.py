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

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.routing import Route as StarletteRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from energydash import __version__
from energydash.auth import AuthStore, Caller, PrivilegeMap
from energydash.auth.audit import Auditor
from energydash.config import Settings
from energydash.models.audit import AuditRecord, Result
from energydash.redfish import persistence
from energydash.redfish.assets import Assets
from energydash.redfish.card import ManagementCard
from energydash.redfish.certs import CertificateStore
from energydash.redfish.endpoints import PduEndpoints
from energydash.redfish.events import EventHub
from energydash.redfish.http import RedfishApp
from energydash.redfish.profiles import ProfiledTable, profiled_table
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
SESSIONS_URI = "/redfish/v1/SessionService/Sessions"
_WWW_AUTHENTICATE = {"WWW-Authenticate": 'Basic realm="EnergyDash Redfish"'}


class RedfishService:
    """Accounts, sessions, events and the resource tree over one engine."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        auth: AuthStore | None = None,
        auditor: Auditor | None = None,
        *,
        single_pdu: str | None = None,
        thresholds: SensorThresholds | None = None,
    ) -> None:
        """``single_pdu``: the service of one PDU's own card (see ``redfish.endpoints``)."""
        self.engine = engine
        self.single_pdu = single_pdu
        self.settings = settings
        self.auth = auth if auth is not None else AuthStore.from_settings(settings)
        self.auditor = auditor if auditor is not None else Auditor(settings)
        self.privileges = PrivilegeMap()
        self.events = EventHub(
            settings.redfish_event_retry_attempts, settings.redfish_event_retry_interval_s
        )
        self._restore_subscriptions()
        self.events.on_change = self._save_subscriptions
        self._detach_audit = self.auditor.add_sink(self._audit_to_log)
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
        # device profiles (ENERGYDASH_PDU_PROFILES): the plain table when every PDU is dmtf
        self.table = profiled_table(table, engine.fleet, settings.pdu_profiles, single_pdu)
        self.app = RedfishApp(self, self.table, self.auth, self.privileges)
        if isinstance(self.table, ProfiledTable):
            self.events.shape_origin = self.table.uri_out
        self.router = APIRouter()
        self.router.routes.append(StarletteRoute("/redfish", endpoint=self.app))
        self.router.mount("/redfish", self.app)
        self.thresholds = thresholds or SensorThresholds(engine.fleet)
        self.owns_thresholds = thresholds is None  # per-PDU cards share the fleet's
        engine.state_problems.extend(persistence.restore(self))
        if self.owns_thresholds:
            self.thresholds.on_change = self.save_settings
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
            request.client.host if request.client else None,
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
        self._detach_audit()
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

    # ------------------------------------------------------------------ persistence
    @property
    def subscriptions_path(self) -> Any:
        return self.settings.data_dir / "auth" / "subscriptions.json"

    def _save_subscriptions(self) -> None:
        from energydash.auth.secrets import write_private

        rows = self.events.saved()
        write_private(
            self.subscriptions_path, orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode()
        )

    def save_settings(self) -> None:
        """Write what clients set (``redfish.persistence``); called before a write answers."""
        try:
            persistence.save(self)
        except OSError:
            log.exception("could not save the Redfish settings of %s", self.settings.data_dir)

    def _restore_subscriptions(self) -> None:
        path = self.subscriptions_path
        if not path.exists():
            return
        try:
            rows = orjson.loads(path.read_bytes())
            if not isinstance(rows, list):
                raise ValueError("not a JSON list")
            restored = self.events.restore(rows)
        except (OSError, ValueError, TypeError) as error:
            raise ValueError(
                f"{path}: cannot load the saved event subscriptions ({error}); fix or remove it"
            ) from None
        log.info("restored %d Redfish event subscription(s)", restored)

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
        if key == "UpdateSuccessful":  # the installed firmware stays after a restart
            self.save_settings()
        self.events.publish(
            prefix, key, args, update.CARD_FIRMWARE, "SoftwareInventory", self.now()
        )

    def log_event(self, prefix: str, key: str, args: list[str], origin: str | None) -> None:
        self.events.publish(prefix, key, args, origin, timestamp=self.now())

    def log_login(self, username: str, *, ok: bool, client: str, role: str | None = None) -> None:
        """Audit a login attempt; failures are coalesced (anyone can cause them)."""
        self.auditor.record(
            username,
            role,
            "redfish",
            "session.login",
            "/redfish/v1/SessionService/Sessions",
            client,
            "ok" if ok else "refused",
            "" if ok else "wrong user name or password, or account locked or disabled",
            anonymous=not ok,
        )

    def audit_write(self, request: Any, status: int, reason: str = "") -> None:
        """Audit one Redfish write (every PATCH, POST, DELETE but a login, audited apart)."""
        if request.method == "POST" and request.path == SESSIONS_URI:
            return
        action, _, _ = request.path.rpartition("/Actions/")
        if action:
            name = request.path.rpartition("/")[2]
            target = action
            detail = _action_detail(request.body)
        else:
            name = f"{request.method.lower()} {request.path.rstrip('/').rpartition('/')[2]}"
            target = request.path
            detail = _property_names(request.body)
        result: Result = "ok" if status < 400 else ("refused" if status in (401, 403) else "failed")
        if reason:
            detail = f"{detail}: {reason}" if detail else reason
        self.auditor.record_caller(
            request.caller, "redfish", name, target, request.client, result, detail
        )

    def audit_refusal(
        self, caller: Caller | None, method: str, path: str, client: str, reason: str
    ) -> None:
        """A write refused before any handler ran (no credential, missing privilege)."""
        if method == "POST" and path.rstrip("/") == SESSIONS_URI:
            return
        self.auditor.record_caller(
            caller,
            "redfish",
            f"{method.lower()} {path.rpartition('/')[2]}",
            path,
            client,
            "refused",
            reason,
        )

    def _audit_to_log(self, record: AuditRecord) -> None:
        """The Manager log's entry of an audit record (not pushed to event subscribers)."""
        if record.result == "ok":
            msg = message("Base", "Success")
        else:
            msg = message("Base", "InsufficientPrivilege" if record.role else "NoValidSession")
            msg["MessageSeverity"] = "Warning"
        who = f"{record.user} ({record.role})" if record.role else record.user
        origin = record.origin or "unknown"
        if record.action == "session.login":
            msg["Message"] = (
                f"User '{record.user}' logged in from {origin}."
                if record.result == "ok"
                else f"Login of user '{record.user}' from {origin} failed."
            )
        else:
            msg["Message"] = f"{record.face}: {who} from {origin}: {record.action} {record.target}"
            msg["Message"] += f": {record.result}"
        if record.detail:
            msg["Message"] += f" ({record.detail})"
        self.events.log_only(msg)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else {}


def _action_detail(body: bytes) -> str:
    """An action's parameters for the audit (actions carry no secrets; bounded anyway)."""
    params = _json_object(body)
    if params is None:
        return "unparseable body"
    return ", ".join(f"{k}={v}" for k, v in list(params.items())[:10])[:300]


def _property_names(body: bytes) -> str:
    """Only the names of the properties written: a PATCH may carry a Password."""
    params = _json_object(body)
    if params is None:
        return "unparseable body"
    return "properties " + ", ".join(str(k)[:40] for k in list(params)[:20]) if params else ""
