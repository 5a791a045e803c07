"""Renderers: small functions from engine readings to Redfish dicts (names and units of Redfish).

URIs: ``/redfish/v1/PowerEquipment/RackPDUs/{pdu}`` for the electrical tree and
``/redfish/v1/Chassis/{pdu}/Sensors/{sensor}`` for every reading's ``DataSourceUri``. Sensor ids:
outlet ``PowerA1``; branch ``PowerBranchA``; main ``PowerMainsAC1`` and per phase
``PowerMainsAC1L1``; PDU ``PowerPDU``; group ``PowerGroup1`` (with Voltage, Current, Energy,
Frequency likewise).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from energydash.sim.pdu import CircuitInfo, GroupInfo, OutletInfo, PduInfo
from energydash.sim.readings import CircuitReading, GroupReading, OutletReading, PduReading

V1 = "/redfish/v1"
POWER_ACTIONS = ["On", "Off", "PowerCycle"]
NOMINAL_VOLTAGES = {
    120: "AC120V",
    208: "AC208V",
    230: "AC230V",
    240: "AC240V",
    277: "AC277V",
    400: "AC400V",
    480: "AC480V",
}
VOLTAGE_KEYS = {
    "L1": "Line1ToNeutral",
    "L2": "Line2ToNeutral",
    "L3": "Line3ToNeutral",
    "L1L2": "Line1ToLine2",
    "L2L3": "Line2ToLine3",
    "L3L1": "Line3ToLine1",
}
CURRENT_KEYS = {"L1": "Line1", "L2": "Line2", "L3": "Line3", "L1L2": "Line1", "L2L3": "Line2",
                "L3L1": "Line3"}  # fmt: skip
# Redfish ElectricalContext of what a phase label carries (the conductors of a reading)
CONTEXTS = {
    "L1": "Line1ToNeutral",
    "L2": "Line2ToNeutral",
    "L3": "Line3ToNeutral",
    "L1L2": "Line1ToLine2",
    "L2L3": "Line2ToLine3",
    "L3L1": "Line3ToLine1",
}
LINE_CONTEXTS = {"L1": "Line1", "L2": "Line2", "L3": "Line3", "N": "Neutral"}


def pdu_uri(pdu_id: str) -> str:
    return f"{V1}/PowerEquipment/RackPDUs/{pdu_id}"


def chassis_uri(pdu_id: str) -> str:
    return f"{V1}/Chassis/{pdu_id}"


def sensor_uri(pdu_id: str, sensor_id: str) -> str:
    return f"{V1}/Chassis/{pdu_id}/Sensors/{sensor_id}"


def link(uri: str) -> dict[str, str]:
    return {"@odata.id": uri}


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def status(health: str, reading_ok: bool = True) -> dict[str, Any]:
    return {"State": "Enabled" if reading_ok else "UnavailableOffline", "Health": health}


def collection(
    uri: str, odata_type: str, name: str, members: list[str], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@odata.id": uri,
        "@odata.type": f"#{odata_type}.{odata_type}",
        "Name": name,
        "Members@odata.count": len(members),
        "Members": [link(m) for m in members],
    }
    if extra:
        body.update(extra)
    return body


def nominal_voltage(volts: float) -> str:
    nearest = min(NOMINAL_VOLTAGES, key=lambda v: abs(v - volts))
    return NOMINAL_VOLTAGES[nearest]


def line_voltage(pdu: PduInfo) -> float:
    """Line-to-line nominal for wye inputs (x sqrt 3); delta and single phase as configured."""
    if pdu.input_type == "three_phase_wye":
        return pdu.nominal_voltage_v * 3**0.5
    return pdu.nominal_voltage_v


def wiring(pdu: PduInfo, phases: list[str]) -> str:
    if pdu.input_type == "single_phase":
        return "OnePhase3Wire"
    if len(phases) >= 3:
        return "ThreePhase4Wire" if pdu.input_type == "three_phase_delta" else "ThreePhase5Wire"
    return "TwoPhase3Wire" if pdu.input_type == "three_phase_delta" else "OnePhase3Wire"


def reading(pdu_id: str, sensor_id: str, value: float | None, digits: int = 3) -> dict[str, Any]:
    return {"DataSourceUri": sensor_uri(pdu_id, sensor_id), "Reading": rounded(value, digits)}


def power_reading(
    pdu_id: str, sensor_id: str, watts: float | None, va: float | None, var: float | None,
    pf: float | None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "DataSourceUri": sensor_uri(pdu_id, sensor_id),
        "Reading": rounded(watts, 2),
        "ApparentVA": rounded(va, 2),
        "ReactiveVAR": rounded(var, 2),
        "PowerFactor": rounded(pf, 3),
    }


def energy_reading(
    pdu_id: str, sensor_id: str, kwh: float | None, lifetime: float | None, reset: datetime | None
) -> dict[str, Any]:
    body = {
        "DataSourceUri": sensor_uri(pdu_id, sensor_id),
        "Reading": rounded(kwh, 4),
        "LifetimeReading": rounded(lifetime, 4),
    }
    if reset is not None:
        body["SensorResetTime"] = iso(reset)
    return body


# ---------------------------------------------------------------------- outlet
def outlet(
    pdu: PduInfo, info: OutletInfo, r: OutletReading, restore_policy: str = "LastState"
) -> dict[str, Any]:
    uri = f"{pdu_uri(pdu.id)}/Outlets/{info.id}"
    oid = info.id
    vkey = VOLTAGE_KEYS.get(info.phase, "Line1ToNeutral")
    ikey = CURRENT_KEYS.get(info.phase, "Line1")
    voltage = reading(pdu.id, f"Voltage{oid}", r.voltage_v, 2)
    current = reading(pdu.id, f"Current{oid}", r.current_a, 3)
    body: dict[str, Any] = {
        "@odata.id": uri,
        "@odata.type": "#Outlet.v1_4_4.Outlet",
        "Id": oid,
        "Name": info.name,
        "Status": status(r.health, r.power_w is not None),
        "PhaseWiringType": wiring(pdu, [info.phase]),
        "VoltageType": "AC",
        "OutletType": info.outlet_type,
        "RatedCurrentAmps": info.rating_a,
        "NominalVoltage": nominal_voltage(
            line_voltage(pdu) if len(info.phase) == 4 else pdu.nominal_voltage_v
        ),
        "PowerOnDelaySeconds": info.power_on_delay_s,
        "PowerOffDelaySeconds": 0,
        "PowerState": "PoweringOn" if r.power_state == "PoweringOn" else r.power_state,
        "PowerEnabled": r.power_enabled,
        "PowerRestorePolicy": restore_policy,
        "ElectricalContext": CONTEXTS.get(info.phase, "Line1ToNeutral"),
        "Voltage": voltage,
        "PolyPhaseVoltage": {vkey: voltage},
        "CurrentAmps": current,
        "PolyPhaseCurrentAmps": {ikey: current},
        "PowerWatts": power_reading(
            pdu.id, f"Power{oid}", r.power_w, r.apparent_va, r.reactive_var, r.power_factor
        ),
        "FrequencyHz": reading(pdu.id, f"Frequency{oid}", r.frequency_hz, 3),
        "EnergykWh": energy_reading(
            pdu.id, f"Energy{oid}", r.energy_kwh, r.lifetime_energy_kwh, r.sensor_reset_time
        ),
        "Links": {"BranchCircuit": link(f"{pdu_uri(pdu.id)}/Branches/{info.branch_id}")},
        "Actions": {
            "#Outlet.PowerControl": {
                "target": f"{uri}/Actions/Outlet.PowerControl",
                "PowerState@Redfish.AllowableValues": POWER_ACTIONS,
            },
            "#Outlet.ResetMetrics": {"target": f"{uri}/Actions/Outlet.ResetMetrics"},
        },
    }
    if r.device is not None:
        body["UserLabel"] = r.device.name
    if r.health_reasons:
        body["Status"]["Conditions"] = conditions(r.health_reasons, r.health)
    return body


def conditions(reasons: list[str], health: str) -> list[dict[str, Any]]:
    severity = health if health in ("OK", "Warning", "Critical") else "Warning"
    return [{"Message": reason, "Severity": severity} for reason in reasons]


# ---------------------------------------------------------------------- circuits
def circuit(
    pdu: PduInfo, info: CircuitInfo, r: CircuitReading, user_label: str | None = None
) -> dict[str, Any]:
    family = "Mains" if info.kind == "main" else "Branches"
    tag = f"Mains{info.id}" if info.kind == "main" else f"Branch{info.id}"
    uri = f"{pdu_uri(pdu.id)}/{family}/{info.id}"
    poly_v: dict[str, Any] = {}
    poly_i: dict[str, Any] = {}
    poly_p: dict[str, Any] = {}
    poly_e: dict[str, Any] = {}
    per_phase = info.kind == "main" and len(info.phases) > 1
    for label, phase in r.phases.items():
        vkey = VOLTAGE_KEYS.get(label, "Line1ToNeutral")
        ikey = CURRENT_KEYS.get(label, "Line1")
        sid = f"{tag}{label}" if per_phase else tag
        poly_v[vkey] = reading(pdu.id, f"Voltage{sid}", phase.voltage_v, 2)
        poly_i[ikey] = reading(pdu.id, f"Current{sid}", phase.current_a, 3)
        poly_p[vkey] = power_reading(
            pdu.id,
            f"Power{sid}",
            phase.power_w,
            phase.apparent_va,
            phase.reactive_var,
            phase.power_factor,
        )
        poly_e[vkey] = {
            "DataSourceUri": sensor_uri(pdu.id, f"Energy{sid}"),
            "Reading": rounded(phase.energy_kwh, 4),
        }
    if per_phase and r.line_current_a:
        # delta input: report the line currents (derived from the legs), not the leg currents
        poly_i = {
            CURRENT_KEYS[line]: reading(pdu.id, f"Current{tag}{line}", amps, 3)
            for line, amps in r.line_current_a.items()
        }
    phase_volts = pdu.nominal_voltage_v
    if any(len(p) == 4 for p in info.phases) or (
        info.kind == "main" and pdu.input_type != "single_phase"
    ):
        phase_volts = line_voltage(pdu)
    body: dict[str, Any] = {
        "@odata.id": uri,
        "@odata.type": "#Circuit.v1_9_0.Circuit",
        "Id": info.id,
        "Name": info.name,
        "Status": status(r.health, r.power_w is not None),
        "CircuitType": "Mains" if info.kind == "main" else "Branch",
        "PhaseWiringType": wiring(pdu, info.phases),
        "VoltageType": "AC",
        "NominalVoltage": nominal_voltage(phase_volts),
        "RatedCurrentAmps": info.rating_a,
        "BreakerState": r.breaker_state,
        "PowerState": r.power_state,
        "ElectricalContext": "Total"
        if len(info.phases) > 1
        else CONTEXTS.get(info.phases[0], "Line1ToNeutral"),
        "PowerEnabled": True,
        "Voltage": reading(pdu.id, f"Voltage{tag}", r.voltage_v, 2),
        "CurrentAmps": reading(pdu.id, f"Current{tag}", r.current_a, 3),
        "PowerWatts": power_reading(
            pdu.id, f"Power{tag}", r.power_w, r.apparent_va, r.reactive_var, r.power_factor
        ),
        "FrequencyHz": reading(pdu.id, f"Frequency{tag}", r.frequency_hz, 3),
        "EnergykWh": energy_reading(
            pdu.id, f"Energy{tag}", r.energy_kwh, r.lifetime_energy_kwh, r.sensor_reset_time
        ),
        "PolyPhaseVoltage": poly_v,
        "PolyPhaseCurrentAmps": poly_i,
        "PolyPhasePowerWatts": poly_p,
        "PolyPhaseEnergykWh": poly_e,
        "Links": {"Outlets": [link(f"{pdu_uri(pdu.id)}/Outlets/{o}") for o in info.outlet_ids]},
        "Actions": {
            "#Circuit.PowerControl": {
                "target": f"{uri}/Actions/Circuit.PowerControl",
                "PowerState@Redfish.AllowableValues": POWER_ACTIONS,
            },
            "#Circuit.BreakerControl": {
                "target": f"{uri}/Actions/Circuit.BreakerControl",
                "PowerState@Redfish.AllowableValues": ["On", "Off"],
            },
            "#Circuit.ResetMetrics": {"target": f"{uri}/Actions/Circuit.ResetMetrics"},
        },
    }
    if user_label is not None:
        body["UserLabel"] = user_label
    if per_phase:
        # the schema: a three-phase circuit reports per phase, not one top-level V and I
        del body["Voltage"], body["CurrentAmps"]
        if pdu.input_type == "three_phase_wye" and set(r.phases) >= {"L1", "L2", "L3"}:
            body["PolyPhaseVoltage"].update(line_to_line(r.phases))
            body["PolyPhaseCurrentAmps"]["Neutral"] = neutral_current(r.phases)
    if info.kind == "main":
        body["Links"]["Outlets@odata.count"] = len(info.outlet_ids)
        del body["Actions"]["#Circuit.PowerControl"]
        del body["Actions"]["#Circuit.BreakerControl"]
    if r.health_reasons:
        body["Status"]["Conditions"] = conditions(r.health_reasons, r.health)
    return body


def line_to_line(phases: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Wye line-to-line voltages from the phase voltages, 120 degrees apart."""
    out = {}
    for a, b, key in (("L1", "L2", "Line1ToLine2"), ("L2", "L3", "Line2ToLine3"),
                      ("L3", "L1", "Line3ToLine1")):  # fmt: skip
        va, vb = phases[a].voltage_v, phases[b].voltage_v
        value = None if va is None or vb is None else (va * va + vb * vb + va * vb) ** 0.5
        out[key] = {"Reading": rounded(value, 2)}
    return out


def neutral_current(phases: dict[str, Any]) -> dict[str, Any]:
    """The phasor sum of the three line currents (each taken in phase with its voltage)."""
    currents = [phases[p].current_a for p in ("L1", "L2", "L3")]
    if any(c is None for c in currents):
        return {"Reading": None}
    a, b, c = currents
    squared = a * a + b * b + c * c - a * b - b * c - c * a
    return {"Reading": rounded(max(squared, 0.0) ** 0.5, 3)}


# ---------------------------------------------------------------------- groups, metrics, PDU
def group(pdu: PduInfo, info: GroupInfo, r: GroupReading) -> dict[str, Any]:
    uri = f"{pdu_uri(pdu.id)}/OutletGroups/{info.id}"
    body: dict[str, Any] = {
        "@odata.id": uri,
        "@odata.type": "#OutletGroup.v1_2_0.OutletGroup",
        "Id": info.id,
        "Name": info.name,
        "Status": status(r.health, r.power_w is not None),
        "CreatedBy": "client" if info.user_created else "EnergyDash",
        "PowerEnabled": True,
        "PowerWatts": power_reading(
            pdu.id, f"PowerGroup{info.id}", r.power_w, r.apparent_va, r.reactive_var, None
        ),
        "EnergykWh": energy_reading(
            pdu.id,
            f"EnergyGroup{info.id}",
            r.energy_kwh,
            r.lifetime_energy_kwh,
            r.sensor_reset_time,
        ),
        "Links": {
            "Outlets": [link(f"{pdu_uri(pdu.id)}/Outlets/{o}") for o in info.outlet_ids],
            "Outlets@odata.count": len(info.outlet_ids),
        },
        "Actions": {
            "#OutletGroup.PowerControl": {
                "target": f"{uri}/Actions/OutletGroup.PowerControl",
                "PowerState@Redfish.AllowableValues": POWER_ACTIONS,
            },
            "#OutletGroup.ResetMetrics": {"target": f"{uri}/Actions/OutletGroup.ResetMetrics"},
        },
    }
    del body["PowerWatts"]["PowerFactor"]
    if r.power_state in ("On", "Off"):
        body["PowerState"] = r.power_state
    return body


def capacity_va(pdu: PduInfo) -> float:
    return sum(m.rating_a * len(m.phases) for m in pdu.mains) * pdu.nominal_voltage_v


def metrics(pdu: PduInfo, r: PduReading) -> dict[str, Any]:
    uri = f"{pdu_uri(pdu.id)}/Metrics"
    capacity = capacity_va(pdu)
    load = None if r.apparent_va is None or not capacity else 100.0 * r.apparent_va / capacity
    return {
        "@odata.id": uri,
        "@odata.type": "#PowerDistributionMetrics.v1_4_0.PowerDistributionMetrics",
        "Id": "Metrics",
        "Name": f"{pdu.name} Summary Metrics",
        "PowerWatts": power_reading(
            pdu.id, "PowerPDU", r.power_w, r.apparent_va, r.reactive_var, r.power_factor
        ),
        "EnergykWh": energy_reading(
            pdu.id, "EnergyPDU", r.energy_kwh, r.lifetime_energy_kwh, r.sensor_reset_time
        ),
        # apparent power over the mains' rated capacity (what a PDU's load bar shows)
        "PowerLoadPercent": {"Reading": rounded(load, 2)},
        "Actions": {
            "#PowerDistributionMetrics.ResetMetrics": {
                "target": f"{uri}/Actions/PowerDistributionMetrics.ResetMetrics"
            }
        },
    }


def rack_pdu(
    pdu: PduInfo, r: PduReading, firmware: str, asset: dict[str, Any] | None = None
) -> dict[str, Any]:
    uri = pdu_uri(pdu.id)
    body = {
        "@odata.id": uri,
        "@odata.type": "#PowerDistribution.v1_6_0.PowerDistribution",
        "Id": pdu.id,
        "Name": pdu.name,
        "EquipmentType": "RackPDU",
        "Manufacturer": "Schneider Electric (simulated by EnergyDash)",
        "Model": pdu.model,
        "SerialNumber": pdu.serial,
        "FirmwareVersion": firmware,
        "Status": status(r.health, r.comm_ok),
        "PowerCapacityVA": round(capacity_va(pdu)),
        "Mains": link(f"{uri}/Mains"),
        "Branches": link(f"{uri}/Branches"),
        "Outlets": link(f"{uri}/Outlets"),
        "OutletGroups": link(f"{uri}/OutletGroups"),
        "Metrics": link(f"{uri}/Metrics"),
        "Links": {
            "Chassis": [link(chassis_uri(pdu.id))],
            "Chassis@odata.count": 1,
            "ManagedBy": [link(f"{V1}/Managers/BMC")],
            "ManagedBy@odata.count": 1,
        },
    }
    if asset:
        body.update(asset)
    return body
