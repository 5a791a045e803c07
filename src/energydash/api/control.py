"""Outlet power, simulation status/start/stop/speed, and fault injection."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from energydash.api.deps import EngineDep
from energydash.api.devices import refresh_snapshots
from energydash.api.errors import ApiError
from energydash.redfish.wire import WIRE_KINDS, WireFaultError
from energydash.sim import commands as sim
from energydash.sim.engine import Engine

router = APIRouter(tags=["control"])


class PowerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: sim.PowerAction


class SimulationRequest(BaseModel):
    """``start`` resumes ticking, ``stop`` pauses it (state kept); ``speed`` sets the clock."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["start", "stop"] | None = None
    speed: float | None = Field(None, gt=0, le=100_000)


class FaultRequest(BaseModel):
    """A simulation fault (``kind`` of sim.FaultKind) or a wire fault (``wire.WIRE_KINDS``:
    per ``pdu_id`` or ``uri_pattern``, lasting ``duration_s`` sim seconds)."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(max_length=64)
    pdu_id: str | None = None
    target_id: str | None = None
    params: dict[str, Any] | None = None
    uri_pattern: str | None = Field(None, max_length=256)
    duration_s: float | None = Field(None, gt=0, le=86_400)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in sim.FAULT_KINDS and value not in WIRE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(sim.FAULT_KINDS + WIRE_KINDS)}")
        return value


@router.post("/pdus/{pdu_id}/outlets/{outlet_id}/power", summary="Switch an outlet")
async def outlet_power(
    pdu_id: str, outlet_id: str, body: PowerRequest, engine: EngineDep, request: Request
) -> dict[str, Any]:
    try:
        engine.fleet.outlet_info(pdu_id, outlet_id)
    except KeyError as error:
        raise ApiError(404, str(error).strip("'\""), "outlet_id") from None
    result = engine.execute(sim.OutletPower(pdu_id, outlet_id, body.action))
    refresh_snapshots(request)
    reading = engine.fleet.outlet(pdu_id, outlet_id)
    return {"ok": result.ok, "message": result.message, "power_state": reading.power_state}


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
async def get_simulation(engine: EngineDep) -> dict[str, Any]:
    return simulation_status(engine)


@router.post("/simulation", summary="start, stop (pause) or change speed")
async def post_simulation(body: SimulationRequest, engine: EngineDep) -> dict[str, Any]:
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
async def list_faults(engine: EngineDep, request: Request) -> dict[str, Any]:
    faults = [fault_view(f) for f in engine.faults.values()]
    service = getattr(request.app.state, "redfish", None)
    if service is not None:
        faults += [f.view() for f in service.wire.current()]
    return {"faults": faults}


@router.post("/faults", status_code=201, summary="Inject a fault")
async def inject_fault(body: FaultRequest, engine: EngineDep, request: Request) -> dict[str, Any]:
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
    result = engine.execute(sim.InjectFault(body.kind, body.pdu_id, body.target_id, body.params))
    refresh_snapshots(request)
    assert result.fault_id is not None
    return fault_view(engine.faults[result.fault_id])


@router.delete("/faults/{fault_id}", status_code=204, summary="Clear a fault")
async def clear_fault(fault_id: str, engine: EngineDep, request: Request) -> Response:
    service = getattr(request.app.state, "redfish", None)
    if service is not None and service.wire.clear(fault_id):
        return Response(status_code=204)
    if fault_id not in engine.faults:
        raise ApiError(404, f"no active fault {fault_id!r}", "fault_id")
    engine.execute(sim.ClearFault(fault_id))
    refresh_snapshots(request)
    return Response(status_code=204)
