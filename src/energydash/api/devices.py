"""Devices (what is plugged into each outlet): list, get, create, update, delete, commands.

Every change goes through ``Engine.execute``; after it the hub gets fresh snapshots at once,
so `/ws` clients see the change without waiting for the next tick (or in a stepped clock).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from energydash.api.deps import EngineDep, HubDep
from energydash.api.errors import ApiError
from energydash.models.devices import (
    DeviceCommand,
    DeviceCreate,
    DeviceUpdate,
    split_device_id,
    to_engine_command,
)
from energydash.sim import commands as sim
from energydash.sim.engine import Engine
from energydash.sim.profiles import PROFILES

router = APIRouter(tags=["devices"])


def refresh_snapshots(request: Request) -> None:
    """Fresh states of what the command changed, coalesced with other commands (see
    ``SnapshotPublisher.refresh_soon``); the MQTT status ack follows from them."""
    request.app.state.snapshots.refresh_soon()


def _outlet(engine: Engine, device_id: str) -> tuple[str, str]:
    try:
        pdu_id, outlet_id = split_device_id(device_id)
        engine.fleet.outlet_info(pdu_id, outlet_id)
    except (ValueError, KeyError) as error:
        raise ApiError(404, str(error).strip("'\""), "device_id") from None
    return pdu_id, outlet_id


def device_view(engine: Engine, pdu_id: str, outlet_id: str) -> dict[str, Any] | None:
    """A device with its readings, or None when the outlet is empty."""
    reading = engine.fleet.outlet(pdu_id, outlet_id)
    if reading.device is None:
        return None
    device = reading.device
    return {
        "device_id": f"{pdu_id}-{outlet_id}",
        "pdu_id": pdu_id,
        "outlet_id": outlet_id,
        "name": device.name,
        "profile": device.profile,
        "rated_power_w": device.rated_power_w,
        "online": device.online,
        "power_state": reading.power_state,
        "power_enabled": reading.power_enabled,
        "health": reading.health,
        "readings": {
            "power_w": reading.power_w,
            "current_a": reading.current_a,
            "voltage_v": reading.voltage_v,
            "power_factor": reading.power_factor,
            "energy_kwh": reading.energy_kwh,
            "lifetime_energy_kwh": reading.lifetime_energy_kwh,
        },
    }


def _existing(engine: Engine, device_id: str) -> tuple[str, str, dict[str, Any]]:
    pdu_id, outlet_id = _outlet(engine, device_id)
    view = device_view(engine, pdu_id, outlet_id)
    if view is None:
        raise ApiError(404, f"no device on outlet {outlet_id} of PDU {pdu_id}", "device_id")
    return pdu_id, outlet_id, view


@router.get("/devices", summary="Every device plugged into an outlet")
async def list_devices(engine: EngineDep) -> dict[str, Any]:
    rows = []
    for pdu in engine.fleet.pdus:
        for outlet in pdu.outlets:
            view = device_view(engine, pdu.id, outlet.id)
            if view is not None:
                rows.append(view)
    return {"devices": rows, "profiles": list(PROFILES)}


@router.get("/devices/{device_id}", summary="One device with its readings")
async def get_device(device_id: str, engine: EngineDep) -> dict[str, Any]:
    return _existing(engine, device_id)[2]


@router.post("/devices", status_code=201, summary="Plug a device into a free outlet")
async def create_device(
    body: DeviceCreate, engine: EngineDep, request: Request, response: Response
) -> dict[str, Any]:
    device_id = f"{body.pdu_id}-{body.outlet_id}"
    pdu_id, outlet_id = _outlet(engine, device_id)
    if device_view(engine, pdu_id, outlet_id) is not None:
        raise ApiError(409, f"outlet {outlet_id} of PDU {pdu_id} already has a device", "outlet_id")
    engine.execute(sim.SetDevice(pdu_id, outlet_id, body.profile, body.name, body.rated_power_w))
    refresh_snapshots(request)
    response.headers["Location"] = f"/api/v1/devices/{device_id}"
    view = device_view(engine, pdu_id, outlet_id)
    assert view is not None
    return view


@router.patch("/devices/{device_id}", summary="Change a device's profile, name or rating")
async def update_device(
    device_id: str, body: DeviceUpdate, engine: EngineDep, request: Request
) -> dict[str, Any]:
    pdu_id, outlet_id, view = _existing(engine, device_id)
    engine.execute(
        sim.SetDevice(
            pdu_id,
            outlet_id,
            body.profile or view["profile"],
            body.name if body.name is not None else view["name"],
            body.rated_power_w if body.rated_power_w is not None else view["rated_power_w"],
        )
    )
    refresh_snapshots(request)
    return _existing(engine, device_id)[2]


@router.delete("/devices/{device_id}", status_code=204, summary="Unplug a device")
async def delete_device(
    device_id: str, engine: EngineDep, hub: HubDep, request: Request
) -> Response:
    pdu_id, outlet_id, _ = _existing(engine, device_id)
    engine.execute(sim.RemoveDevice(pdu_id, outlet_id))
    hub.drop(f"devices/{device_id}")
    refresh_snapshots(request)
    return Response(status_code=204)


@router.post("/devices/{device_id}/commands", summary="set_power, set_enabled or set_online")
async def device_command(
    device_id: str, body: DeviceCommand, engine: EngineDep, request: Request
) -> dict[str, Any]:
    _existing(engine, device_id)
    result = engine.execute(to_engine_command(device_id, body))
    refresh_snapshots(request)
    state = _existing(engine, device_id)[2]
    return {"ok": result.ok, "message": result.message, "device": state}
