"""Every input wiring (single phase, wye, delta) renders a consistent tree whose sensors resolve."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import orjson
import pytest
from rf_support import ADMIN, ADMIN_PASSWORD, build_settings

from energydash.redfish import RedfishService
from energydash.sim.engine import Engine

AUTH = {b"authorization": b"Basic " + base64.b64encode(f"{ADMIN}:{ADMIN_PASSWORD}".encode())}


def get(service: RedfishService, path: str) -> tuple[int, dict[str, Any]]:
    response = asyncio.run(service.app.handle("GET", path, b"", AUTH, b""))
    body = response.body
    return response.status, orjson.loads(body) if isinstance(body, bytes) else body or {}


def data_sources(value: object, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "DataSourceUri":
                found.add(str(item))
            data_sources(item, found)
    elif isinstance(value, list):
        for item in value:
            data_sources(item, found)
    return found


@pytest.mark.parametrize(
    ("wiring", "main_voltage_keys", "main_wiring"),
    [
        ("single_phase", {"Line1ToNeutral"}, "OnePhase3Wire"),
        (
            "three_phase_wye",
            {"Line1ToNeutral", "Line2ToNeutral", "Line3ToNeutral"}
            | {"Line1ToLine2", "Line2ToLine3", "Line3ToLine1"},  # line-to-line derived too
            "ThreePhase5Wire",
        ),
        ("three_phase_delta", {"Line1ToLine2", "Line2ToLine3", "Line3ToLine1"}, "ThreePhase4Wire"),
    ],
)
def test_each_input_wiring_renders_its_phases_and_every_sensor_resolves(
    tmp_path: Path, wiring: str, main_voltage_keys: set[str], main_wiring: str
) -> None:
    settings = build_settings(
        tmp_path, pdu_input=wiring, pdu_count=1, pdu_outlets_per_branch=4, pdu_group_size=4
    )
    engine = Engine.from_settings(settings, restore=False)
    service = RedfishService(engine, settings)
    engine.step()
    base = "/redfish/v1/PowerEquipment/RackPDUs/1"
    status, main = get(service, f"{base}/Mains/AC1")
    assert status == 200
    assert set(main["PolyPhaseVoltage"]) == main_voltage_keys
    assert main["PhaseWiringType"] == main_wiring
    sources: set[str] = set()
    for family in ("Mains", "Branches", "Outlets", "OutletGroups"):
        _, collection = get(service, f"{base}/{family}")
        for member in collection["Members"]:
            _, resource = get(service, member["@odata.id"])
            data_sources(resource, sources)
    data_sources(get(service, f"{base}/Metrics")[1], sources)
    _, sensors = get(service, "/redfish/v1/Chassis/1/Sensors")
    listed = {m["@odata.id"] for m in sensors["Members"]}
    assert sources <= listed
    for uri in listed:
        status, sensor = get(service, uri)
        assert status == 200, uri
        assert sensor["Reading"] is None or sensor["Reading"] >= 0
    if wiring == "three_phase_delta":
        legs = {k: v["Reading"] for k, v in main["PolyPhaseCurrentAmps"].items()}
        assert set(legs) == {"Line1", "Line2", "Line3"}
        _, branch_a = get(service, f"{base}/Branches/A")
        assert set(branch_a["PolyPhaseVoltage"]) == {"Line1ToLine2"}
    service.close()
