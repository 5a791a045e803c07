"""Sensors like a real PDU's: inlet probes, settable thresholds with SensorEvents, three-phase
mains by the schema's rules, outlets that say so when their breaker is open."""

from __future__ import annotations

import pytest
from rf_support import RedfishServer

from energydash.sim import commands as cmd

RACK = "/redfish/v1/PowerEquipment/RackPDUs"
SENSORS = "/redfish/v1/Chassis/{pdu}/Sensors"
LOG = "/redfish/v1/Managers/BMC/LogServices/Log/Entries"


def test_every_pdu_has_inlet_probes_with_plausible_readings(
    redfish_server: RedfishServer,
) -> None:
    with redfish_server.client() as client:
        for pdu in ("1", "2"):
            listed = {m["@odata.id"] for m in client.get(SENSORS.format(pdu=pdu)).json()["Members"]}
            temp = client.get(SENSORS.format(pdu=pdu) + "/TemperatureInlet").json()
            humidity = client.get(SENSORS.format(pdu=pdu) + "/HumidityInlet").json()
            assert temp["@odata.id"] in listed and humidity["@odata.id"] in listed
            assert temp["ReadingUnits"] == "Cel" and 15 < temp["Reading"] < 35
            assert humidity["ReadingUnits"] == "%" and 5 < humidity["Reading"] < 95
            assert set(temp["Thresholds"]) == {
                "LowerCritical", "LowerCaution", "UpperCaution", "UpperCritical"
            }  # fmt: skip


def test_a_cooling_failure_makes_the_inlet_climb_and_cross_its_threshold(
    redfish_server: RedfishServer,
) -> None:
    server = redfish_server
    uri = SENSORS.format(pdu="2") + "/TemperatureInlet"
    with server.client() as client:
        start = client.get(uri).json()["Reading"]
        patched = client.patch(uri, json={"Thresholds": {"UpperCaution": {"Reading": start + 3}}})
        assert patched.status_code == 200, patched.text
        fault = server.call(
            lambda: server.engine.execute(
                cmd.InjectFault("cooling_failure", "2", None, {"rate_c_per_min": 2.0})
            )
        )
        server.tick(10, 30)  # five sim minutes: about +10 °C
        hot = client.get(uri).json()
        entries = client.get(LOG).json()["Members"]
        server.call(lambda: server.engine.execute(cmd.ClearFault(fault.fault_id)))
        client.patch(uri, json={"Thresholds": {"UpperCaution": {"Reading": 32}}})
        server.tick(40, 300)  # cools back down
        cooled = client.get(uri).json()
    assert hot["Reading"] > start + 5
    assert hot["Status"]["Health"] in ("Warning", "Critical")
    crossed = [e for e in entries if e.get("MessageId", "").startswith("SensorEvent.")]
    above = [e for e in crossed if e["MessageId"].endswith("ReadingAboveUpperCautionThreshold")]
    assert any(e["Links"]["OriginOfCondition"]["@odata.id"] == uri for e in above)
    assert cooled["Reading"] < hot["Reading"]


def test_thresholds_are_patchable_and_bad_ones_change_nothing(
    redfish_server: RedfishServer,
) -> None:
    uri = SENSORS.format(pdu="1") + "/CurrentBranchA"
    with redfish_server.client() as client:
        before = client.get(uri).json()["Thresholds"]
        disorder = client.patch(
            uri,
            json={"Thresholds": {"UpperCaution": {"Reading": 99}, "UpperCritical": {"Reading": 1}}},
        )
        wrong_type = client.patch(uri, json={"Thresholds": {"UpperCaution": {"Reading": "hot"}}})
        after_bad = client.get(uri).json()["Thresholds"]
        good = client.patch(uri, json={"Thresholds": {"UpperCaution": {"Reading": 12.5}}})
        client.patch(uri, json={"Thresholds": {"UpperCaution": before["UpperCaution"]}})
        voltage = client.patch(
            SENSORS.format(pdu="1") + "/VoltageBranchA",
            json={"Thresholds": {"UpperCaution": {"Reading": 250}}},
        )
    assert disorder.status_code == 400 and wrong_type.status_code == 400
    assert after_bad == before
    assert good.status_code == 200 and good.json()["Thresholds"]["UpperCaution"]["Reading"] == 12.5
    assert voltage.status_code == 400  # no thresholds on voltage sensors


def test_three_phase_mains_report_per_phase_line_to_line_and_neutral(
    redfish_server: RedfishServer,
) -> None:
    with redfish_server.client() as client:
        mains = client.get(f"{RACK}/1/Mains/AC1").json()
    assert mains["PhaseWiringType"] == "ThreePhase5Wire"
    assert "Voltage" not in mains and "CurrentAmps" not in mains
    volts = mains["PolyPhaseVoltage"]
    l1 = volts["Line1ToNeutral"]["Reading"]
    assert volts["Line1ToLine2"]["Reading"] == pytest.approx(l1 * 3**0.5, rel=0.03)
    currents = mains["PolyPhaseCurrentAmps"]
    assert currents["Neutral"]["Reading"] >= 0
    assert currents["Neutral"]["Reading"] <= sum(currents[k]["Reading"] for k in
                                                 ("Line1", "Line2", "Line3"))  # fmt: skip


def test_outlets_behind_an_open_breaker_say_they_are_dark(redfish_server: RedfishServer) -> None:
    branch = f"{RACK}/2/Branches/B"
    with redfish_server.client() as client:
        opened = client.post(f"{branch}/Actions/Circuit.BreakerControl", json={"PowerState": "Off"})
        redfish_server.tick(1)
        outlet = client.get(f"{RACK}/2/Outlets/B3").json()
        client.post(f"{branch}/Actions/Circuit.BreakerControl", json={"PowerState": "On"})
        redfish_server.tick(1)
        back = client.get(f"{RACK}/2/Outlets/B3").json()
    assert opened.status_code == 204
    assert outlet["PowerState"] == "Off" and outlet["PowerWatts"]["Reading"] == 0
    assert outlet["Status"]["Health"] == "Warning"
    assert any("breaker open" in c["Message"] for c in outlet["Status"]["Conditions"])
    assert back["PowerState"] == "On"
