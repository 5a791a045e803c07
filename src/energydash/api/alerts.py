"""Alerts (list with filters, acknowledge), suggestions (apply), equipment faults (inject).

Reads need a caller; every change needs ConfigureComponents and is logged with who asked.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from energydash.analytics.service import SUGGESTIONS_TOPIC
from energydash.api.deps import CallerDep, Requires, audited
from energydash.api.devices import refresh_snapshots
from energydash.api.errors import ApiError
from energydash.models.alerts import Alert, AlertList, Severity, SuggestionsData
from energydash.sim.commands import CommandError, OutletPower
from energydash.sim.equipment import EquipmentError

log = logging.getLogger(__name__)

router = APIRouter(tags=["alerts"])

AlertAcker = Requires("ConfigureComponents", action="alert.ack")
SuggestionApplier = Requires("ConfigureComponents", action="suggestion.apply")
EquipmentFaultInjector = Requires("ConfigureComponents", action="equipment.fault.inject")
EquipmentFaultClearer = Requires("ConfigureComponents", action="equipment.fault.clear")
MAX_LIMIT = 1000
AlertState = Annotated[str | None, Query(pattern="^(open|acknowledged|resolved|live)$")]


def _service(request: Request) -> Any:
    service = request.app.state.analytics
    if service is None:
        raise ApiError(503, "analytics is off in this backend (ENERGYDASH_ANALYTICS=false)")
    return service


@router.get("/alerts", summary="Alerts, newest first", response_model=AlertList)
async def list_alerts(
    request: Request,
    caller: CallerDep,
    state: AlertState = None,
    severity: Severity | None = None,
    target: Annotated[str | None, Query(max_length=256)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 200,
) -> AlertList:
    """``state=live`` is open and acknowledged; ``target`` matches itself and what is under it
    (``pdu/1`` matches ``pdu/1/A3``); ``since``/``until`` bound ``last_seen``."""
    alerts: list[Alert] = _service(request).book.all()
    if state == "live":
        alerts = [a for a in alerts if a.state != "resolved"]
    elif state:
        alerts = [a for a in alerts if a.state == state]
    if severity:
        alerts = [a for a in alerts if a.severity == severity]
    if target:
        alerts = [a for a in alerts if a.target == target or a.target.startswith(target + "/")]
    if since:
        alerts = [a for a in alerts if a.last_seen >= since]
    if until:
        alerts = [a for a in alerts if a.first_seen <= until]
    alerts.sort(key=lambda a: a.last_seen, reverse=True)
    return AlertList(alerts=alerts[:limit], total=len(alerts), truncated=len(alerts) > limit)


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert", response_model=Alert)
async def acknowledge(
    alert_id: Annotated[str, Path(max_length=32)],
    request: Request,
    caller: AlertAcker,
) -> Alert:
    with audited(request, caller, "alert.ack", alert_id):
        service = _service(request)
        now = request.app.state.engine.clock.now()
        try:
            alert = service.book.acknowledge(alert_id, caller.username, now)
        except KeyError:
            raise ApiError(404, f"no alert {alert_id!r}", "alert_id") from None
        except ValueError as error:
            raise ApiError(409, str(error), "alert_id") from None
        service.flush(now)
        return alert


class ApplyResult(BaseModel):
    suggestion_id: str
    results: list[dict[str, Any]]


@router.post(
    "/suggestions/{suggestion_id}/apply",
    summary="Apply a suggestion through the engine's command API",
    response_model=ApplyResult,
)
async def apply_suggestion(
    suggestion_id: Annotated[str, Path(max_length=64)],
    request: Request,
    caller: SuggestionApplier,
) -> ApplyResult:
    with audited(request, caller, "suggestion.apply", suggestion_id):
        service = _service(request)
        state = service.hub.latest(SUGGESTIONS_TOPIC)
        rows = SuggestionsData.model_validate(state.data).suggestions if state else []
        suggestion = next((s for s in rows if s.id == suggestion_id), None)
        if suggestion is None:
            raise ApiError(404, f"no current suggestion {suggestion_id!r}", "suggestion_id")
        if not suggestion.appliable:
            raise ApiError(409, f"{suggestion.title}: not appliable by command", "suggestion_id")
        engine = request.app.state.engine
        results: list[dict[str, Any]] = []
        for command in suggestion.commands:
            if "repair" in command:
                plant = request.app.state.equipment
                cleared = [
                    plant.clear(label.id, engine.clock.now()).id
                    for label in plant.active()
                    if label.target == command["repair"]
                    or label.target.startswith(command["repair"] + "/")
                ]
                results.append({"repair": command["repair"], "ok": True, "cleared": cleared})
                continue
            try:
                result = engine.execute(
                    OutletPower(command["pdu_id"], command["outlet_id"], command["action"])
                )
                results.append({**command, "ok": result.ok, "message": result.message})
            except CommandError as error:
                results.append({**command, "ok": False, "message": error.message})
        log.info("%s applied suggestion %s: %s", caller.username, suggestion_id, results)
        refresh_snapshots(request)
        return ApplyResult(suggestion_id=suggestion_id, results=results)


class EquipmentFaultRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(max_length=32)
    target: str = Field(max_length=128)
    develop_s: float = Field(3600.0, gt=0, le=30 * 86_400)
    rate_per_h: float = Field(0.1, ge=0, le=100.0)
    multiple: float = Field(6.0, gt=0, le=100.0)


@router.post("/equipment/faults", summary="Inject an equipment fault (ground truth kept)")
async def inject_equipment_fault(
    body: EquipmentFaultRequest,
    request: Request,
    caller: EquipmentFaultInjector,
) -> dict[str, Any]:
    with audited(request, caller, "equipment.fault.inject", f"{body.kind} on {body.target}"):
        plant = request.app.state.equipment
        if plant is None:
            raise ApiError(503, "analytics is off in this backend (ENERGYDASH_ANALYTICS=false)")
        try:
            label = plant.inject(
                body.kind,
                body.target,
                request.app.state.engine.clock.now(),
                develop_s=body.develop_s,
                rate_per_h=body.rate_per_h,
                multiple=body.multiple,
            )
        except EquipmentError as error:
            raise ApiError(422, str(error), error.field) from None
        log.info(
            "%s injected equipment fault %s %s on %s",
            caller.username,
            label.id,
            label.kind,
            label.target,
        )
        return {"id": label.id, "kind": label.kind, "target": label.target}


@router.delete("/equipment/faults/{fault_id}", summary="Clear an equipment fault")
async def clear_equipment_fault(
    fault_id: Annotated[str, Path(max_length=32)],
    request: Request,
    caller: EquipmentFaultClearer,
) -> dict[str, Any]:
    with audited(request, caller, "equipment.fault.clear", fault_id):
        plant = request.app.state.equipment
        if plant is None:
            raise ApiError(503, "analytics is off in this backend (ENERGYDASH_ANALYTICS=false)")
        try:
            label = plant.clear(fault_id, request.app.state.engine.clock.now())
        except EquipmentError as error:
            raise ApiError(404, str(error), error.field) from None
        log.info("%s cleared equipment fault %s", caller.username, fault_id)
        return {"id": label.id, "cleared": True}
