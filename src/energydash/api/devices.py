"""Devices (what is plugged into each outlet): list, get, create, update, delete, commands.

Every change goes through ``Engine.execute``; after it the hub gets fresh snapshots at once,
so `/ws` clients see the change without waiting for the next tick (or in a stepped clock).

The same paths serve site devices in the IoT-mock shapes (``api/iot.py``): a site device's id
is a number, and ``POST /devices`` with ``device_type`` creates one. ``GET /devices`` keeps its
``devices``/``profiles`` keys for outlet devices and adds the IoT-mock envelope, whose ``data``
lists the caller's site devices.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from energydash.api import iot
from energydash.api.deps import CallerDep, EngineDep, HubDep, Requires, audited
from energydash.api.errors import ApiError
from energydash.models.devices import (
    DeviceCommand,
    DeviceCreate,
    DeviceUpdate,
    split_device_id,
    to_engine_command,
)
from energydash.models.sites import IotDeviceCreate
from energydash.sim import commands as sim
from energydash.sim.engine import Engine
from energydash.sim.profiles import PROFILES

router = APIRouter(tags=["devices"])
Creator = Requires("ConfigureComponents", action="device.create")
Updater = Requires("ConfigureComponents", action="device.update")
Remover = Requires("ConfigureComponents", action="device.delete")
Commander = Requires("ConfigureComponents", action="device.command")


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


@router.get(
    "/devices", summary="Every device plugged into an outlet, and the caller's site devices"
)
async def list_devices(engine: EngineDep, caller: CallerDep) -> dict[str, Any]:
    rows = []
    for pdu in engine.fleet.pdus:
        for outlet in pdu.outlets:
            view = device_view(engine, pdu.id, outlet.id)
            if view is not None:
                rows.append(view)
    site_rows = iot.visible_infos(engine, caller)
    return {
        "devices": rows,
        "profiles": list(PROFILES),
        **iot.envelope(site_rows, f"Retrieved {len(site_rows)} devices"),
    }


@router.get("/devices/{device_id}", summary="One device with its readings")
async def get_device(device_id: str, engine: EngineDep, caller: CallerDep) -> dict[str, Any]:
    if iot.is_site_device(engine, device_id):
        return iot.get(device_id, engine, caller)
    return _existing(engine, device_id)[2]


def _parse(model: type[Any], raw: dict[str, Any]) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
        ) from None


@router.post(
    "/devices",
    status_code=201,
    summary="Plug a device into a free outlet (pdu_id, outlet_id, profile) or create a site "
    "device (IoT-mock body: device_type, name, location, base_power kW, base_voltage V)",
)
async def create_device(
    raw: Annotated[dict[str, Any], Body()],
    engine: EngineDep,
    caller: Creator,
    request: Request,
    response: Response,
) -> dict[str, Any]:
    if "device_type" in raw:
        return iot.create(_parse(IotDeviceCreate, raw), engine, caller, request)
    body: DeviceCreate = _parse(DeviceCreate, raw)
    device_id = f"{body.pdu_id}-{body.outlet_id}"
    with audited(request, caller, "device.create", f"{device_id} {body.profile}"):
        pdu_id, outlet_id = _outlet(engine, device_id)
        if device_view(engine, pdu_id, outlet_id) is not None:
            raise ApiError(
                409, f"outlet {outlet_id} of PDU {pdu_id} already has a device", "outlet_id"
            )
        engine.execute(
            sim.SetDevice(pdu_id, outlet_id, body.profile, body.name, body.rated_power_w)
        )
    refresh_snapshots(request)
    response.headers["Location"] = f"/api/v1/devices/{device_id}"
    view = device_view(engine, pdu_id, outlet_id)
    assert view is not None
    return view


@router.patch("/devices/{device_id}", summary="Change a device's profile, name or rating")
async def update_device(
    device_id: str, body: DeviceUpdate, engine: EngineDep, request: Request, caller: Updater
) -> dict[str, Any]:
    with audited(request, caller, "device.update"):
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
    device_id: str, engine: EngineDep, hub: HubDep, request: Request, caller: Remover
) -> Response:
    if iot.is_site_device(engine, device_id):
        return iot.delete(device_id, engine, caller, request)
    with audited(request, caller, "device.delete"):
        pdu_id, outlet_id, _ = _existing(engine, device_id)
        engine.execute(sim.RemoveDevice(pdu_id, outlet_id))
    hub.drop(f"devices/{device_id}")
    refresh_snapshots(request)
    return Response(status_code=204)


@router.post("/devices/{device_id}/commands", summary="set_power, set_enabled or set_online")
async def device_command(
    device_id: str, body: DeviceCommand, engine: EngineDep, request: Request, caller: Commander
) -> dict[str, Any]:
    with audited(request, caller, "device.command", body.command):
        _existing(engine, device_id)
        result = engine.execute(to_engine_command(device_id, body))
    refresh_snapshots(request)
    state = _existing(engine, device_id)[2]
    return {"ok": result.ok, "message": result.message, "device": state}
