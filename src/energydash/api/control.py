"""Outlet, group and breaker control, simulation status/start/stop/speed, fault injection.

Control needs ``ConfigureComponents``; simulation control ``ConfigureManager``; reads any
authenticated caller. Every control is audited, refusals included.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from energydash.api.deps import CallerDep, EngineDep, Requires, audited
from energydash.api.devices import refresh_snapshots
from energydash.api.errors import ApiError
from energydash.models.devices import OutletUpdate, PduUpdate
from energydash.redfish.wire import WIRE_KINDS, WireFaultError
from energydash.sim import commands as sim
from energydash.sim.engine import Engine

router = APIRouter(tags=["control"])
log = logging.getLogger(__name__)


class PowerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: sim.PowerAction


class BreakerRequest(BaseModel):
    """``On`` closes (resets) a tripped or opened breaker, ``Off`` opens it."""

    model_config = ConfigDict(extra="forbid")
    action: sim.BreakerAction


class SimulationRequest(BaseModel):
    """``start`` resumes ticking, ``stop`` pauses it (state kept); ``speed`` sets the clock."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["start", "stop"] | None = None
    speed: float | None = Field(None, ge=0.1, le=100_000, allow_inf_nan=False)


class FaultRequest(BaseModel):
    """A simulation fault (``kind`` of sim.FaultKind) or a wire fault (``wire.WIRE_KINDS``:
    per ``pdu_id`` or ``uri_pattern``, lasting ``duration_s`` sim seconds)."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(max_length=64)
    pdu_id: str | None = Field(None, max_length=64)
    target_id: str | None = Field(None, max_length=64)
    params: dict[str, Any] | None = Field(None, max_length=8)
    uri_pattern: str | None = Field(None, max_length=256)
    duration_s: float | None = Field(None, gt=0, le=86_400)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in sim.FAULT_KINDS and value not in WIRE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(sim.FAULT_KINDS + WIRE_KINDS)}")
        return value


Operator = Requires("ConfigureComponents", action="outlet.power")
Renamer = Requires("ConfigureComponents", action="outlet.rename")
PduRenamer = Requires("ConfigureComponents", action="pdu.rename")
GroupOperator = Requires("ConfigureComponents", action="group.power")
BreakerOperator = Requires("ConfigureComponents", action="breaker.control")
FaultInjector = Requires("ConfigureComponents", action="fault.inject")
FaultClearer = Requires("ConfigureComponents", action="fault.clear")
SimulationManager = Requires("ConfigureManager", action="sim.control")


def _known(lookup: Any, field: str, *ids: str) -> Any:
    try:
        return lookup(*ids)
    except KeyError as error:
        raise ApiError(404, str(error).strip("'\""), field) from None


@router.post("/pdus/{pdu_id}/outlets/{outlet_id}/power", summary="Switch an outlet")
async def outlet_power(
    pdu_id: str,
    outlet_id: str,
    body: PowerRequest,
    engine: EngineDep,
    request: Request,
    caller: Operator,
) -> dict[str, Any]:
    with audited(request, caller, "outlet.power", body.action):
        _known(engine.fleet.outlet_info, "outlet_id", pdu_id, outlet_id)
        result = engine.execute(sim.OutletPower(pdu_id, outlet_id, body.action))
    refresh_snapshots(request)
    reading = engine.fleet.outlet(pdu_id, outlet_id)
    return {"ok": result.ok, "message": result.message, "power_state": reading.power_state}


@router.patch("/pdus/{pdu_id}/outlets/{outlet_id}", summary="Rename an outlet")
async def rename_outlet(
    pdu_id: str,
    outlet_id: str,
    body: OutletUpdate,
    engine: EngineDep,
    request: Request,
    caller: Renamer,
) -> dict[str, Any]:
    """The outlet's own name: the dashboard and Redfish ``Name`` show it; it survives restarts."""
    with audited(request, caller, "outlet.rename", body.name):
        _known(engine.fleet.outlet_info, "outlet_id", pdu_id, outlet_id)
        result = engine.execute(sim.RenameOutlet(pdu_id, outlet_id, body.name))
    refresh_snapshots(request)
    info = engine.fleet.outlet_info(pdu_id, outlet_id)
    return {"ok": result.ok, "message": result.message, "name": info.name}


@router.patch("/pdus/{pdu_id}", summary="Rename a PDU")
async def rename_pdu(
    pdu_id: str, body: PduUpdate, engine: EngineDep, request: Request, caller: PduRenamer
) -> dict[str, Any]:
    """The PDU's own name: the dashboard and Redfish RackPDU ``Name`` show it; it survives
    restarts. (Its Redfish ``UserLabel`` is a separate, Redfish-side property.)"""
    with audited(request, caller, "pdu.rename", body.name):
        _known(engine.fleet.pdu_info, "pdu_id", pdu_id)
        result = engine.execute(sim.RenamePdu(pdu_id, body.name))
    refresh_snapshots(request)
    return {"ok": result.ok, "message": result.message, "name": engine.fleet.pdu_info(pdu_id).name}


@router.post("/pdus/{pdu_id}/groups/{group_id}/power", summary="Switch an outlet group")
async def group_power(
    pdu_id: str,
    group_id: str,
    body: PowerRequest,
    engine: EngineDep,
    request: Request,
    caller: GroupOperator,
) -> dict[str, Any]:
    with audited(request, caller, "group.power", body.action):
        _known(engine.fleet.group_info, "group_id", pdu_id, group_id)
        result = engine.execute(sim.GroupPower(pdu_id, group_id, body.action))
    refresh_snapshots(request)
    return {"ok": result.ok, "message": result.message}


@router.post(
    "/pdus/{pdu_id}/circuits/{circuit_id}/breaker",
    summary="Reset (On) or open (Off) a branch or mains breaker",
)
async def breaker_control(
    pdu_id: str,
    circuit_id: str,
    body: BreakerRequest,
    engine: EngineDep,
    request: Request,
    caller: BreakerOperator,
) -> dict[str, Any]:
    with audited(request, caller, "breaker.control", body.action):
        _known(engine.fleet.circuit_info, "circuit_id", pdu_id, circuit_id)
        result = engine.execute(sim.BreakerControl(pdu_id, circuit_id, body.action))
    refresh_snapshots(request)
    return {"ok": result.ok, "message": result.message}


def simulation_status(engine: Engine) -> dict[str, Any]:
    return {
        "running": engine.running,
        "paused": engine.paused,
        "clock_mode": engine.clock.mode,
        "speed": engine.clock.speed,
        "sim_time": engine.clock.now().isoformat().replace("+00:00", "Z"),
        "tick_count": engine.tick_count,
        "last_tick_ms": engine.last_tick_ms,
        "pdus": len(engine.fleet.pdus),
        "outlets": sum(len(p.outlets) for p in engine.fleet.pdus),
        "facilities": len(engine.grid.facilities),
        "faults": len(engine.faults),
    }


@router.get("/simulation", summary="Clock, tick count and fleet size")
async def get_simulation(engine: EngineDep, _: CallerDep) -> dict[str, Any]:
    return simulation_status(engine)


@router.post("/simulation", summary="start, stop (pause) or change speed")
async def post_simulation(
    body: SimulationRequest, engine: EngineDep, request: Request, caller: SimulationManager
) -> dict[str, Any]:
    detail = " ".join(
        part
        for part in (body.action, f"speed={body.speed:g}" if body.speed is not None else None)
        if part
    )
    with audited(request, caller, "sim.control", detail):
        if body.action is None and body.speed is None:
            raise ApiError(422, "give action (start|stop) and/or speed", "action")
        if body.speed is not None:
            try:
                engine.set_speed(body.speed)
            except ValueError as error:
                raise ApiError(422, str(error), "speed") from None
        if body.action == "start":
            engine.resume()
        elif body.action == "stop":
            engine.pause()
    return simulation_status(engine)


@router.post(
    "/simulation/state-problems/clear",
    summary="Acknowledge state-file problems (moved-aside files) so /health is ok again",
)
async def clear_state_problems(
    engine: EngineDep,
    caller: Requires("ConfigureManager"),  # type: ignore[valid-type]
) -> dict[str, Any]:
    cleared = engine.clear_state_problems()
    log.warning("%s cleared %d state problem(s): %s", caller.username, len(cleared), cleared)
    return {"cleared": cleared}


def fault_view(fault: Any) -> dict[str, Any]:
    return {
        "fault_id": fault.id,
        "kind": fault.kind,
        "pdu_id": fault.pdu_id,
        "target_id": fault.target_id,
        "params": fault.params,
        "resource": fault.resource,
        "injected_at": fault.injected_at.isoformat().replace("+00:00", "Z"),
    }


def _wire(request: Request) -> Any:
    service = getattr(request.app.state, "redfish", None)
    if service is None:
        raise ApiError(409, "wire faults need the Redfish service of this backend", "kind")
    return service.wire


@router.get("/faults", summary="Active faults (simulation and wire)")
async def list_faults(engine: EngineDep, request: Request, _: CallerDep) -> dict[str, Any]:
    faults = [fault_view(f) for f in engine.faults.values()]
    service = getattr(request.app.state, "redfish", None)
    if service is not None:
        faults += [f.view() for f in service.wire.current()]
    return {"faults": faults}


@router.post("/faults", status_code=201, summary="Inject a fault")
async def inject_fault(
    body: FaultRequest, engine: EngineDep, request: Request, caller: FaultInjector
) -> dict[str, Any]:
    where = body.uri_pattern or f"{body.pdu_id}/{body.target_id or '*'}"
    with audited(request, caller, "fault.inject", f"{body.kind} on {where}"):
        if body.kind in WIRE_KINDS:
            try:
                fault = _wire(request).inject(
                    body.kind, body.pdu_id, body.uri_pattern, body.params, body.duration_s
                )
            except WireFaultError as error:
                raise ApiError(422, str(error), error.field) from None
            return fault.view()
        if body.pdu_id is None:
            raise ApiError(422, "pdu_id is required", "pdu_id")
        result = engine.execute(
            sim.InjectFault(body.kind, body.pdu_id, body.target_id, body.params)
        )
    refresh_snapshots(request)
    assert result.fault_id is not None
    return fault_view(engine.faults[result.fault_id])


@router.delete("/faults/{fault_id}", status_code=204, summary="Clear a fault")
async def clear_fault(
    fault_id: str, engine: EngineDep, request: Request, caller: FaultClearer
) -> Response:
    with audited(request, caller, "fault.clear"):
        service = getattr(request.app.state, "redfish", None)
        if service is not None and service.wire.clear(fault_id):
            return Response(status_code=204)
        if fault_id not in engine.faults:
            raise ApiError(404, f"no active fault {fault_id!r}", "fault_id")
        engine.execute(sim.ClearFault(fault_id))
    refresh_snapshots(request)
    return Response(status_code=204)
