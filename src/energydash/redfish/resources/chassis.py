"""Chassis/{pdu} for each PDU (linked both ways) and its Sensors: one per reading a resource shows.

A sensor id names its quantity and what it measures (see ``render``): ``PowerA1`` (outlet A1),
``CurrentBranchB``, ``VoltageMainsAC1L2``, ``EnergyGroup1``, ``PowerPDU``. The sensor list is
derived from the PDU's topology, so every ``DataSourceUri`` a resource carries resolves here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from energydash.redfish import assets, errors, render, thresholds
from energydash.redfish.http import Request, Response
from energydash.redfish.resources.common import action_args, action_done, apply_patch, execute
from energydash.redfish.routing import Route
from energydash.sim import commands as cmd
from energydash.sim.pdu import PduInfo

BASE = "/redfish/v1/Chassis"
QUANTITIES = {
    # prefix: (ReadingType, ReadingUnits)
    "Voltage": ("Voltage", "V"),
    "Current": ("Current", "A"),
    "Power": ("Power", "W"),
    "Energy": ("EnergykWh", "kW.h"),
    "Frequency": ("Frequency", "Hz"),
    "Temperature": ("Temperature", "Cel"),
    "Humidity": ("Humidity", "%"),
}
PROBE_QUANTITIES = ("Temperature", "Humidity")
PROBE = "Inlet"  # one temperature and one humidity probe at the rack inlet per PDU
OUTLET_QUANTITIES = ("Voltage", "Current", "Power", "Energy", "Frequency")
PHASE_QUANTITIES = ("Voltage", "Current", "Power", "Energy")
GROUP_QUANTITIES = ("Power", "Energy")
PDU_QUANTITIES = ("Power", "Energy")
LINES = ("L1", "L2", "L3")  # delta inputs: line currents derived from the leg currents


def _pdu(request: Request) -> PduInfo:
    fleet = request.service.engine.fleet
    pdu_id = request.params["pdu"]
    if not fleet.has_pdu(pdu_id):
        raise errors.not_found("Chassis", pdu_id)
    return fleet.pdu_info(pdu_id)


def sensor_ids(pdu: PduInfo) -> list[str]:
    ids: list[str] = []
    for q in PDU_QUANTITIES:
        ids.append(f"{q}PDU")
    ids += [f"{q}{PROBE}" for q in PROBE_QUANTITIES]
    for main in pdu.mains:
        ids += [f"{q}Mains{main.id}" for q in OUTLET_QUANTITIES]
        if len(main.phases) > 1:
            ids += [f"{q}Mains{main.id}{ph}" for ph in main.phases for q in PHASE_QUANTITIES]
            if pdu.input_type == "three_phase_delta":
                ids += [f"CurrentMains{main.id}{line}" for line in LINES]
    for branch in pdu.branches:
        ids += [f"{q}Branch{branch.id}" for q in OUTLET_QUANTITIES]
    for group in pdu.groups:
        ids += [f"{q}Group{group.id}" for q in GROUP_QUANTITIES]
    for outlet in pdu.outlets:
        ids += [f"{q}{outlet.id}" for q in OUTLET_QUANTITIES]
    return ids


def get_chassis_collection(request: Request) -> dict[str, Any]:
    pdus = request.service.engine.fleet.pdus
    return render.collection(
        BASE, "ChassisCollection", "Chassis", [render.chassis_uri(p.id) for p in pdus]
    )


def get_chassis(request: Request) -> dict[str, Any]:
    pdu = _pdu(request)
    reading = request.service.engine.fleet.pdu(pdu.id)
    uri = render.chassis_uri(pdu.id)
    return {
        "@odata.id": uri,
        "@odata.type": "#Chassis.v1_28_0.Chassis",
        "Id": pdu.id,
        "Name": f"{pdu.name} Chassis",
        "ChassisType": "RackMount",
        "Manufacturer": "Schneider Electric (simulated by EnergyDash)",
        "Model": pdu.model,
        "SerialNumber": pdu.serial,
        "Status": render.status(reading.health, reading.comm_ok),
        "PowerState": "On" if reading.comm_ok else "Off",
        **request.service.assets.of(pdu).chassis_fields(),
        "Sensors": render.link(f"{uri}/Sensors"),
        "Links": {
            "PowerDistribution": render.link(render.pdu_uri(pdu.id)),
            "ManagedBy": [render.link("/redfish/v1/Managers/BMC")],
            "ManagedBy@odata.count": 1,
        },
    }


def patch_chassis(request: Request, body: dict[str, Any]) -> Response:
    """The Chassis is the RackPDU's box: UserLabel, AssetTag and Location are shared with it."""
    asset = request.service.assets.of(_pdu(request))
    return apply_patch(
        request, body, get_chassis(request), assets.asset_setters(asset, chassis=True), get_chassis
    )


def get_sensors(request: Request) -> dict[str, Any]:
    pdu = _pdu(request)
    uri = f"{render.chassis_uri(pdu.id)}/Sensors"
    return render.collection(
        uri, "SensorCollection", f"{pdu.name} Sensors", [f"{uri}/{s}" for s in sensor_ids(pdu)]
    )


def _split(sensor_id: str) -> tuple[str, str]:
    for prefix in QUANTITIES:
        if sensor_id.startswith(prefix):
            return prefix, sensor_id[len(prefix) :]
    raise KeyError(sensor_id)


def get_sensor(request: Request) -> dict[str, Any]:
    pdu = _pdu(request)
    sensor_id = request.params["sensor"]
    try:
        quantity, subject = _split(sensor_id)
        return _render_sensor(request, pdu, sensor_id, quantity, subject)
    except KeyError:
        raise errors.not_found("Sensor", sensor_id) from None


def _sensor_target(pdu: PduInfo, subject: str) -> tuple[str, str | None, str | None]:
    """(kind, target id, phase) from the subject part of a sensor id."""
    if subject == "PDU":
        return "pdu", None, None
    if subject == PROBE:
        return "probe", None, None
    if subject.startswith("Mains"):
        rest = subject[len("Mains") :]
        for main in pdu.mains:
            if rest == main.id:
                return "main", main.id, None
            suffix = rest[len(main.id) :] if rest.startswith(main.id) else ""
            if suffix in main.phases or (suffix in LINES and pdu.input_type == "three_phase_delta"):
                return "main", main.id, suffix
        raise KeyError(subject)
    if subject.startswith("Branch"):
        rest = subject[len("Branch") :]
        if any(b.id == rest for b in pdu.branches):
            return "branch", rest, None
        raise KeyError(subject)
    if subject.startswith("Group"):
        rest = subject[len("Group") :]
        if any(g.id == rest for g in pdu.groups):
            return "group", rest, None
        raise KeyError(subject)
    if any(o.id == subject for o in pdu.outlets):
        return "outlet", subject, None
    raise KeyError(subject)


def _render_sensor(
    request: Request, pdu: PduInfo, sensor_id: str, quantity: str, subject: str
) -> dict[str, Any]:
    fleet = request.service.engine.fleet
    kind, target, phase = _sensor_target(pdu, subject)
    if (kind == "probe") != (quantity in PROBE_QUANTITIES):
        raise KeyError(sensor_id)
    if kind == "probe":
        return _render_probe(request, pdu, sensor_id, quantity)
    if kind == "group" and quantity not in GROUP_QUANTITIES:
        raise KeyError(sensor_id)
    if kind == "pdu" and quantity not in PDU_QUANTITIES:
        raise KeyError(sensor_id)
    if phase is not None and quantity not in PHASE_QUANTITIES:
        raise KeyError(sensor_id)
    if kind == "outlet":
        r: Any = fleet.outlet(pdu.id, str(target))
        context, label = "PowerOutlet", f"outlet {target}"
    elif kind in ("main", "branch"):
        r = fleet.circuit(pdu.id, str(target))
        context = "PowerSupply" if kind == "main" else "PowerOutlet"
        label = f"{'mains' if kind == 'main' else 'branch circuit'} {target}"
        if phase is not None and phase not in r.phases:  # a delta line current
            if quantity != "Current":
                raise KeyError(sensor_id)
            r = _LineCurrent(r.line_current_a.get(phase), r.health)
            label += f" line {phase}"
        elif phase is not None:
            r = r.phases[phase]
            label += f" {phase}"
    elif kind == "group":
        r = fleet.group(pdu.id, str(target))
        context, label = "PowerOutlet", f"outlet group {target}"
    else:
        r = fleet.pdu(pdu.id)
        context, label = "PowerSupply", pdu.name
    reading_type, units = QUANTITIES[quantity]
    value = {
        "Voltage": lambda: r.voltage_v,
        "Current": lambda: r.current_a,
        "Power": lambda: r.power_w,
        "Energy": lambda: r.energy_kwh,
        "Frequency": lambda: getattr(r, "frequency_hz", None),
    }[quantity]()
    health = getattr(r, "health", "OK")
    if kind in ("pdu", "group") or (kind == "main" and phase is None and len(pdu.phases) > 1):
        electrical = "Total"
    else:
        conductor = phase or _phase_of(pdu, kind, str(target))
        wye = conductor in render.LINE_CONTEXTS and conductor in pdu.phases
        delta_line = phase is not None and phase not in pdu.phases
        if delta_line or (quantity == "Current" and wye):
            electrical = render.LINE_CONTEXTS[conductor]
        else:
            electrical = render.CONTEXTS.get(conductor, "Line1ToNeutral")
    fleet_time = fleet.last_tick_s
    body: dict[str, Any] = {
        "@odata.id": render.sensor_uri(pdu.id, sensor_id),
        "@odata.type": "#Sensor.v1_12_0.Sensor",
        "Id": sensor_id,
        "Name": f"{quantity} of {label}",
        "ReadingType": reading_type,
        "ReadingUnits": units,
        "Reading": render.rounded(value, 4),
        "PhysicalContext": context,
        "ElectricalContext": electrical,
        "SensingInterval": f"PT{request.service.settings.tick_s:g}S",
        "ReadingTime": render.iso(_posix(fleet_time)),
        "Status": render.status(health, value is not None),
    }
    family = thresholds.FAMILIES.get((quantity, kind)) if phase is None else None
    if family is not None:
        _add_thresholds(request, body, family, _index(fleet, pdu, kind, str(target)))
    if quantity == "Power":
        peak, peak_t = _peak(fleet, pdu, kind, str(target), phase)
        body["PeakReading"] = render.rounded(peak, 2)
        body["PeakReadingTime"] = render.iso(_posix(peak_t))
        body["Actions"] = {
            "#Sensor.ResetMetrics": {"target": f"{body['@odata.id']}/Actions/Sensor.ResetMetrics"}
        }
    if quantity == "Power":
        body["ApparentVA"] = render.rounded(r.apparent_va, 2)
        body["ReactiveVAR"] = render.rounded(r.reactive_var, 2)
        if getattr(r, "power_factor", None) is not None:
            body["PowerFactor"] = render.rounded(r.power_factor, 3)
    if quantity == "Energy":
        lifetime = getattr(r, "lifetime_energy_kwh", None)
        if lifetime is not None:
            body["LifetimeReading"] = render.rounded(lifetime, 4)
        reset_time = getattr(r, "sensor_reset_time", None)
        if reset_time is not None:
            body["SensorResetTime"] = render.iso(reset_time)
        if phase is None:
            body["Actions"] = {
                "#Sensor.ResetMetrics": {
                    "target": f"{body['@odata.id']}/Actions/Sensor.ResetMetrics"
                }
            }
    return body


def sensor_reset(request: Request, body: dict[str, Any]) -> Response:
    """Reset an energy sensor: resets the energy of the outlet/circuit/group/PDU it measures."""
    pdu = _pdu(request)
    sensor_id = request.params["sensor"]
    try:
        quantity, subject = _split(sensor_id)
        kind, target, phase = _sensor_target(pdu, subject)
    except KeyError:
        raise errors.not_found("Sensor", sensor_id) from None
    if quantity == "Power":  # a Power sensor's metric is its peak
        action_args(body, "Sensor.ResetMetrics", {})
        return action_done(execute(request, cmd.ResetPeak(pdu.id, kind, target, phase)))
    if quantity != "Energy" or phase is not None:
        raise errors.base(400, "ActionNotSupported", "Sensor.ResetMetrics")
    action_args(body, "Sensor.ResetMetrics", {})
    return action_done(execute(request, cmd.ResetMetrics(pdu.id, kind, target)))


def _index(fleet: Any, pdu: PduInfo, kind: str, target: str) -> int:
    if kind == "outlet":
        return int(fleet.outlet_info(pdu.id, target).index)
    if kind == "branch":
        return int(fleet.circuit_info(pdu.id, target).index)
    return pdu.index


def _add_thresholds(request: Request, body: dict[str, Any], family: str, index: int) -> None:
    limits = request.service.thresholds
    body["Thresholds"] = limits.render(family, index)
    level = limits.health(family, index)
    order = ("OK", "Warning", "Critical")
    if order.index(level) > order.index(body["Status"]["Health"]):
        body["Status"]["Health"] = level


def _render_probe(request: Request, pdu: PduInfo, sensor_id: str, quantity: str) -> dict[str, Any]:
    fleet = request.service.engine.fleet
    env = fleet.environment
    blind = bool(fleet.comm_lost[pdu.index])
    raw = env.temperature_c if quantity == "Temperature" else env.humidity_pct
    value = None if blind else float(raw[pdu.index])
    reading_type, units = QUANTITIES[quantity]
    body: dict[str, Any] = {
        "@odata.id": render.sensor_uri(pdu.id, sensor_id),
        "@odata.type": "#Sensor.v1_12_0.Sensor",
        "Id": sensor_id,
        "Name": f"{pdu.name} inlet {quantity.lower()}",
        "ReadingType": reading_type,
        "ReadingUnits": units,
        "Reading": render.rounded(value, 2),
        "PhysicalContext": "Intake",
        "SensingInterval": f"PT{request.service.settings.tick_s:g}S",
        "ReadingTime": render.iso(_posix(fleet.last_tick_s)),
        "Status": render.status("Critical" if blind else "OK", value is not None),
    }
    if quantity == "Temperature":
        body["ReadingRangeMin"], body["ReadingRangeMax"] = -20, 80
    else:
        body["ReadingRangeMin"], body["ReadingRangeMax"] = 0, 100
    family = thresholds.FAMILIES[(quantity, "probe")]
    _add_thresholds(request, body, family, pdu.index)
    return body


def patch_sensor(request: Request, body: dict[str, Any]) -> Response:
    """PATCH ``Thresholds`` of a current, power, temperature or humidity sensor."""
    pdu = _pdu(request)
    sensor_id = request.params["sensor"]
    current = get_sensor(request)
    try:
        quantity, subject = _split(sensor_id)
        kind, target, phase = _sensor_target(pdu, subject)
    except KeyError:
        raise errors.not_found("Sensor", sensor_id) from None
    family = thresholds.FAMILIES.get((quantity, kind)) if phase is None else None
    setters = {}
    if family is not None:
        fleet = request.service.engine.fleet
        index = _index(fleet, pdu, kind, str(target))
        setters["Thresholds"] = request.service.thresholds.setter(family, index)
    return apply_patch(request, body, current, setters, get_sensor)


def _posix(value: float | None) -> datetime | None:
    if value is None or math.isnan(value):
        return None
    return datetime.fromtimestamp(value, UTC)


def _phase_of(pdu: PduInfo, kind: str, target: str) -> str:
    if kind == "outlet":
        return next(o.phase for o in pdu.outlets if o.id == target)
    circuits = pdu.branches if kind == "branch" else pdu.mains
    return next(c.phases[0] for c in circuits if c.id == target)


def _peak(
    fleet: Any, pdu: PduInfo, kind: str, target: str, phase: str | None
) -> tuple[float | None, float | None]:
    peaks = fleet.peaks
    if kind == "outlet":
        return peaks.outlet.get(fleet.outlet_info(pdu.id, target).index)
    if kind == "branch":
        return peaks.branch.get(fleet.circuit_info(pdu.id, target).index)
    if kind == "main":
        index = fleet.circuit_info(pdu.id, target).index
        if phase is None:
            return peaks.main.get(index)
        return peaks.main_phase.get(index * fleet.phases_per_pdu + pdu.phases.index(phase))
    if kind == "group":
        return peaks.group(pdu.id, target)
    return peaks.pdu.get(pdu.index)


@dataclass(slots=True)
class _LineCurrent:
    current_a: float | None
    health: str


def routes() -> list[Route]:
    return [
        Route(BASE, "ChassisCollection", get=get_chassis_collection),
        Route(BASE + "/{pdu}", "Chassis", get=get_chassis, patch=patch_chassis),
        Route(BASE + "/{pdu}/Sensors", "SensorCollection", get=get_sensors),
        Route(BASE + "/{pdu}/Sensors/{sensor}", "Sensor", get=get_sensor, patch=patch_sensor),
        Route(
            BASE + "/{pdu}/Sensors/{sensor}/Actions/Sensor.ResetMetrics",
            "Sensor",
            post=sensor_reset,
        ),
    ]
