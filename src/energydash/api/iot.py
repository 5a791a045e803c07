"""The IoT-mock device service's REST shapes, served for site devices.

Its clients call ``/api/v1/devices`` like the outlet-device routes of ``api/devices.py``; the two
live on the same paths and are told apart by the device id (a site device's id is a number, an
outlet device's is ``{pdu}-{outlet}``) and, for ``POST /devices``, by the body (``device_type``
is the IoT-mock form). IoT-mock answers are its envelope ``{"success", "data", "message",
"errors"}``; outlet answers keep their richer shape. Paths only the IoT mock had
(``PUT``, ``/readings``, ``/command``, ``/simulate``, ``/simulation/status|start|stop``) are here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from energydash.api import sites as access
from energydash.api.deps import WWW_AUTHENTICATE, CallerDep, EngineDep, Requires, caller_of
from energydash.api.errors import ApiError
from energydash.api.responses import OrjsonResponse
from energydash.api.site_audit import audit_route, audited, origin_of
from energydash.auth import Caller
from energydash.hub import site_snapshots as views
from energydash.models.devices import DeviceCommand, split_device_id, to_engine_command
from energydash.models.sites import (
    IotDeviceCommand,
    IotDeviceCreate,
    IotDeviceData,
    IotDeviceUpdate,
    IotEnvelope,
    IotSimulationStatus,
)
from energydash.sim import sites as sim
from energydash.sim.engine import Engine

router = APIRouter(tags=["devices (IoT-mock shapes)"])
# On the paths shared with the outlet-device routes the caller is looked up but, for outlet
# devices, not yet demanded (the REST-wide authentication decides that); site devices need one.
MaybeCaller = Annotated[Caller | None, Depends(caller_of)]


def need(caller: Caller | None) -> Caller:
    if caller is None:
        raise ApiError(401, "authentication required", headers=WWW_AUTHENTICATE)
    return caller


def envelope(data: Any = None, message: str = "Success") -> dict[str, Any]:
    return IotEnvelope(data=data, message=message).model_dump()


def is_site_device(engine: Engine, device_id: str) -> bool:
    return engine.sites.has_device(device_id)


def visible_infos(engine: Engine, caller: Caller | None) -> list[dict[str, Any]]:
    if caller is None:
        return []
    sites = engine.sites
    mine = set(access.visible_indices(engine, caller))
    return [
        views.iot_info(sites, k)
        for k in range(sites.n_devices)
        if int(sites.devices.site[k]) in mine
    ]


def default_site(engine: Engine, caller: Caller, request: Request) -> str:
    """The caller's first site; a new one named for them when they have none."""
    if caller.account_id is not None:
        owned = engine.sites.site_ids(caller.account_id)
        if owned:
            return owned[0]
    owner = access.owner_for(caller, None, request.app.state.auth)
    spec = sim.SiteSpec(name=f"Devices of {caller.username}"[:80])
    return engine.execute(sim.CreateSite(owner, spec)).message


def create(body: IotDeviceCreate, engine: Engine, maybe: Caller | None, request: Request) -> Any:
    with audited(request.app, maybe, "rest", "device.create", "devices", origin=origin_of(request)):
        return _create(body, engine, need(maybe), request)


def _create(body: IotDeviceCreate, engine: Engine, caller: Caller, request: Request) -> Any:
    if not (access.is_admin(caller) or caller.has(access.CHANGE)):
        raise ApiError(403, f"role {caller.role_id} lacks the {access.CHANGE} privilege")
    if body.site_id is not None:
        access.changeable_site(engine, caller, body.site_id)
        site_id = body.site_id
    else:
        site_id = default_site(engine, caller, request)
    spec = sim.iot_create_spec(
        body.device_type, body.name, body.location, body.base_power, body.base_voltage
    )
    device_id = engine.execute(sim.AddSiteDevice(site_id, spec)).message
    access.refresh(request)
    info = views.iot_info(engine.sites, engine.sites.device_index(device_id))
    return envelope(info, f"Device {device_id} created successfully")


def get(device_id: str, engine: Engine, maybe: Caller | None) -> dict[str, Any]:
    caller = need(maybe)
    k = access.visible_device(engine, caller, device_id)
    return envelope(views.iot_info(engine.sites, k), f"Device {device_id} retrieved successfully")


def delete(
    device_id: str, engine: Engine, maybe: Caller | None, request: Request
) -> OrjsonResponse:
    """200 with the envelope, as the IoT mock answers (outlet devices answer 204)."""
    where = f"devices/{device_id}"
    with audited(request.app, maybe, "rest", "device.delete", where, origin=origin_of(request)):
        access.changeable_device(engine, need(maybe), device_id)
        engine.execute(sim.RemoveSiteDevice(device_id))
    access.refresh(request)
    return OrjsonResponse(envelope(None, f"Device {device_id} deleted successfully"))


def run_command(engine: Engine, device_id: str, body: IotDeviceCommand) -> str:
    """Apply a device command to a site device; CommandError naming the field if refused."""
    k = engine.sites.device_index(device_id)
    kind = sim.KINDS[int(engine.sites.devices.kind[k])]
    spec = sim.command_spec(kind, body.command, body.parameters, body.value)
    return engine.execute(sim.UpdateSiteDevice(device_id, spec)).message


@router.put("/devices/{device_id}", summary="Update a site device (IoT-mock shape)")
@audit_route("device.update", "devices/{device_id}")
async def put_device(
    device_id: str, body: IotDeviceUpdate, engine: EngineDep, caller: CallerDep, request: Request
) -> dict[str, Any]:
    if not is_site_device(engine, device_id):
        raise ApiError(
            404,
            f"no site device {device_id!r}; outlet devices change with PATCH",
            "device_id",
        )
    k = access.changeable_device(engine, caller, device_id)
    kind = sim.KINDS[int(engine.sites.devices.kind[k])]
    given = body.model_dump(exclude_none=True)
    spec: dict[str, Any] = {}
    for name in ("name", "location", "enabled", "online"):
        if name in given:
            spec[name] = given[name]
    if "base_voltage" in given:
        spec["voltage_v"] = given["base_voltage"]
    if "base_power" in given:
        if kind in ("battery", "ev", "pdu"):
            raise ApiError(422, f"base_power: a {kind} device has no base power", "base_power")
        spec["rated_w"] = given["base_power"] * 1000.0
    engine.execute(sim.UpdateSiteDevice(device_id, sim.DeviceSpec(**spec)))
    access.refresh(request)
    info = views.iot_info(engine.sites, k)
    return envelope(info, f"Device {device_id} updated successfully")


def _outlet_readings(engine: Engine, device_id: str) -> IotDeviceData:
    try:
        pdu_id, outlet_id = split_device_id(device_id)
        reading = engine.fleet.outlet(pdu_id, outlet_id)
    except (ValueError, KeyError):
        raise ApiError(404, f"no device {device_id!r}", "device_id") from None
    if reading.device is None:
        raise ApiError(404, f"no device {device_id!r}", "device_id")

    def num(value: float | None, scale: float = 1.0) -> float:
        return 0.0 if value is None or value != value else round(value * scale, 4)

    return IotDeviceData(
        device_id=device_id,
        timestamp=views.timestamp(engine.sites),
        power=num(reading.power_w, 1e-3),
        voltage=num(reading.voltage_v),
        current=num(reading.current_a),
        energy=num(reading.lifetime_energy_kwh),
        status="online" if reading.device.online else "offline",
        enabled=bool(reading.power_enabled),
    )


@router.get("/devices/{device_id}/readings", summary="Current readings (IoT-mock shape)")
async def readings(device_id: str, engine: EngineDep, caller: CallerDep) -> dict[str, Any]:
    if is_site_device(engine, device_id):
        data = views.iot_data(engine.sites, access.visible_device(engine, caller, device_id))
    else:
        data = _outlet_readings(engine, device_id)
    return envelope(data.model_dump(), f"Readings for device {device_id} retrieved successfully")


@router.post("/devices/{device_id}/command", summary="Send a command (IoT-mock shape)")
@audit_route("device.command", "devices/{device_id}")
async def command(
    device_id: str, body: IotDeviceCommand, engine: EngineDep, caller: CallerDep, request: Request
) -> dict[str, Any]:
    if is_site_device(engine, device_id):
        access.changeable_device(engine, caller, device_id)
        run_command(engine, device_id, body)
        access.refresh(request)
    else:
        # an outlet device: the outlet commands, with the IoT-mock parameter names accepted
        if not caller.has(access.CHANGE):
            raise ApiError(403, f"role {caller.role_id} lacks the {access.CHANGE} privilege")
        _outlet_readings(engine, device_id)
        if body.command not in ("set_power", "set_enabled", "set_online"):
            raise ApiError(422, f"command: {body.command} is for site devices", "command")
        key = body.command[4:]
        value = (body.parameters or {}).get(key, body.value)
        outlet = DeviceCommand(command=body.command, value=value, request_id=body.request_id)
        engine.execute(to_engine_command(device_id, outlet))
        request.app.state.snapshots.publish()
    return envelope(None, f"Command '{body.command}' sent to device {device_id}")


@router.post("/devices/{device_id}/simulate", summary="Publish a device's readings now")
async def simulate(
    device_id: str, engine: EngineDep, caller: CallerDep, request: Request
) -> dict[str, Any]:
    """Publishes the device's current readings on the hub, /ws and MQTT at once (the IoT
    mock's one-off simulation); the simulation clock is not advanced."""
    if is_site_device(engine, device_id):
        access.visible_device(engine, caller, device_id)
        access.refresh(request)
    else:
        _outlet_readings(engine, device_id)
        request.app.state.snapshots.publish()
    return envelope(None, f"Data simulation triggered for device {device_id}")


def _status(engine: Engine, caller: Caller, request: Request) -> IotSimulationStatus:
    sites = engine.sites
    mine = set(access.visible_indices(engine, caller))
    rows = [k for k in range(sites.n_devices) if int(sites.devices.site[k]) in mine]
    publisher = request.app.state.mqtt_publisher
    link = getattr(publisher, "link", None)
    return IotSimulationStatus(
        is_running=bool(engine.running and not engine.paused),
        total_devices=len(rows),
        online_devices=int(sites.devices.online[rows].sum()) if rows else 0,
        enabled_devices=int(sites.devices.enabled[rows].sum()) if rows else 0,
        mqtt_connected=bool(link is not None and link.connected),
        simulation_interval=f"{engine.settings.tick_s} seconds",
    )


@router.get("/simulation/status", summary="Simulation status (IoT-mock shape)")
async def simulation_status(
    engine: EngineDep, caller: CallerDep, request: Request
) -> dict[str, Any]:
    status = _status(engine, caller, request)
    return envelope(status.model_dump(), "Simulation status retrieved successfully")


@router.post("/simulation/start", summary="Resume the simulation (Administrators)")
@audit_route("sim.start", "simulation")
async def simulation_start(
    engine: EngineDep, caller: Requires("ConfigureManager"), request: Request
) -> dict[str, Any]:
    if not engine.paused:
        return envelope(None, "Simulation is already running")
    engine.resume()
    return envelope(None, "Device simulation started")


@router.post("/simulation/stop", summary="Pause the simulation (Administrators)")
@audit_route("sim.stop", "simulation")
async def simulation_stop(
    engine: EngineDep, caller: Requires("ConfigureManager"), request: Request
) -> dict[str, Any]:
    if engine.paused:
        return envelope(None, "Simulation is already stopped")
    engine.pause()
    return envelope(None, "Device simulation stopped")
