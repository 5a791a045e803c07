"""Device profiles: each PDU's tree shaped as its profile says, over the same engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from rf_support import RedfishServer, build_settings, serve

from energydash.config import PDU_PROFILES, SettingsError, load_settings
from energydash.net import free_port_run
from energydash.redfish.profiles import OCP_PROFILES, PROFILES, assign
from energydash.redfish.routing import RouteTable

ALL = ",".join(PDU_PROFILES)  # PDU 1 dmtf, 2 schneider-mock, 3 raritan-px3, 4 enlogic
RACK = "/redfish/v1/PowerEquipment/RackPDUs"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedfishServer]:
    settings = build_settings(tmp_path_factory.mktemp("profiles"), pdu_count=4, pdu_profiles=ALL)
    with serve(settings) as server:
        server.tick(3)
        yield server


@pytest.fixture
def admin(fleet: RedfishServer) -> Iterator[httpx.Client]:
    with fleet.client() as client:
        yield client


def _walk_strings(value: object) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, str):
                yield key, inner
            else:
                yield from _walk_strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk_strings(inner)


# ---------------------------------------------------------------------- the setting
def test_an_unknown_profile_name_is_refused_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"ENERGYDASH_PDU_PROFILES.*unknown profile 'apc'"):
        load_settings(data_dir=tmp_path, pdu_profiles="dmtf,apc")


def test_profiles_are_cycled_over_the_fleet_in_order() -> None:
    got = assign("dmtf,enlogic", ["1", "2", "3", "4", "5"])
    assert [p.name for p in got.values()] == ["dmtf", "enlogic", "dmtf", "enlogic", "dmtf"]


def test_only_the_conformant_profiles_claim_the_ocp_profile() -> None:
    assert OCP_PROFILES == ("dmtf", "raritan-px3")
    assert all(not PROFILES[name].quirks for name in OCP_PROFILES)


def test_a_dmtf_fleet_serves_the_plain_table(tmp_path: Path) -> None:
    with serve(build_settings(tmp_path)) as server:
        assert type(server.service.table) is RouteTable  # nothing shaped, nothing slower
        with server.client() as client:
            assert client.get(f"{RACK}/1/Outlets/A1").json()["Id"] == "A1"


# ---------------------------------------------------------------------- schneider-mock
def test_schneider_mock_numbers_outlets_1_to_48_and_has_no_engine_ids(
    admin: httpx.Client,
) -> None:
    members = admin.get(f"{RACK}/2/Outlets").json()["Members"]
    assert [m["@odata.id"] for m in members] == [f"{RACK}/2/Outlets/{n}" for n in range(1, 49)]
    assert admin.get(f"{RACK}/2/Outlets/48").json()["Id"] == "48"
    assert admin.get(f"{RACK}/2/Outlets/A1").status_code == 404
    assert admin.get(f"{RACK}/2/Outlets/49").status_code == 404


def test_schneider_mock_sensors_live_under_the_pdu_through_its_sensors_link(
    admin: httpx.Client,
) -> None:
    pdu = admin.get(f"{RACK}/2").json()
    assert pdu["Sensors"] == {"@odata.id": f"{RACK}/2/Sensors"}
    assert "Sensors" not in admin.get("/redfish/v1/Chassis/2").json()
    assert admin.get("/redfish/v1/Chassis/2/Sensors").status_code == 404
    outlet = admin.get(f"{RACK}/2/Outlets/7").json()
    for name, prefix in (("PowerWatts", "Power"), ("EnergykWh", "Energy"),
                         ("CurrentAmps", "Current"), ("Voltage", "Voltage")):  # fmt: skip
        uri = outlet[name]["DataSourceUri"]
        assert uri == f"{RACK}/2/Sensors/{prefix}OUTLET7"
        sensor = admin.get(uri).json()
        assert sensor["Id"] == f"{prefix}OUTLET7" and sensor["@odata.id"] == uri
        assert sensor["Reading"] == pytest.approx(outlet[name]["Reading"], abs=0.01)
    assert admin.get(f"{RACK}/2/Sensors/PowerA7").status_code == 404
    members = {m["@odata.id"] for m in admin.get(f"{RACK}/2/Sensors").json()["Members"]}
    assert f"{RACK}/2/Sensors/EnergyOUTLET48" in members
    assert f"{RACK}/2/Sensors/PowerBranchA" in members


def test_an_outlet_group_is_created_from_the_profiles_outlet_uris(
    fleet: RedfishServer, admin: httpx.Client
) -> None:
    links = [{"@odata.id": f"{RACK}/2/Outlets/{n}"} for n in (3, 4)]
    created = admin.post(
        f"{RACK}/2/OutletGroups", json={"Name": "pair", "Links": {"Outlets": links}}
    )
    assert created.status_code == 201, created.text
    assert created.json()["Links"]["Outlets"] == links
    location = created.headers["Location"]
    engine_group = fleet.engine.fleet.group_info("2", location.rpartition("/")[2])
    assert list(engine_group.outlet_ids) == ["A3", "A4"]
    assert admin.delete(location).status_code == 204


# ---------------------------------------------------------------------- raritan-px3
def test_raritan_px3_rack_pdu_is_v1_3_3_without_newer_properties(admin: httpx.Client) -> None:
    pdu = admin.get(f"{RACK}/3").json()
    assert pdu["@odata.type"] == "#PowerDistribution.v1_3_3.PowerDistribution"
    assert "PowerCapacityVA" not in pdu  # PowerDistribution v1_4_0
    assert pdu["Manufacturer"].startswith("Raritan")
    assert admin.get(f"{RACK}/1").json()["@odata.type"].endswith("v1_6_0.PowerDistribution")


def test_raritan_px3_outlets_have_no_data_source_uri_but_cycle_delay_and_transition(
    fleet: RedfishServer, admin: httpx.Client
) -> None:
    outlet = admin.get(f"{RACK}/3/Outlets/5").json()
    assert not [k for k, _ in _walk_strings(outlet) if k == "DataSourceUri"]
    assert outlet["PowerWatts"]["Reading"] is not None
    assert outlet["PowerCycleDelaySeconds"] == fleet.settings.power_cycle_delay_s
    assert outlet["PowerStateInTransition"] is False
    target = outlet["Actions"]["#Outlet.PowerControl"]["target"]
    assert target == f"{RACK}/3/Outlets/5/Actions/Outlet.PowerControl"
    assert admin.post(target, json={"PowerState": "PowerCycle"}).status_code == 204
    cycling = admin.get(f"{RACK}/3/Outlets/5").json()
    assert cycling["PowerStateInTransition"] is True
    assert fleet.engine.fleet.outlet("3", "A5").power_state in ("Off", "PoweringOn")


# ---------------------------------------------------------------------- enlogic
def test_enlogic_outlet_id_has_a_space_unlike_its_uri(admin: httpx.Client) -> None:
    outlet = admin.get(f"{RACK}/4/Outlets/OUTLET3").json()
    assert outlet["@odata.id"] == f"{RACK}/4/Outlets/OUTLET3"
    assert outlet["Id"] == "OUTLET 3"
    expanded = admin.get(f"{RACK}/4/Outlets", params={"$expand": "."}).json()["Members"]
    assert [m["Id"] for m in expanded[:2]] == ["OUTLET 1", "OUTLET 2"]


def test_enlogic_action_targets_omit_actions_and_switch_the_outlet(
    fleet: RedfishServer, admin: httpx.Client
) -> None:
    outlet = admin.get(f"{RACK}/4/Outlets/OUTLET9").json()
    target = outlet["Actions"]["#Outlet.PowerControl"]["target"]
    assert target == f"{RACK}/4/Outlets/OUTLET9/Outlet.PowerControl"
    assert admin.post(target, json={"PowerState": "Off"}).status_code == 204
    assert fleet.engine.fleet.outlet("4", "A9").power_state == "Off"
    assert admin.post(target, json={"PowerState": "On"}).status_code == 204
    metrics = admin.get(f"{RACK}/4/Metrics").json()
    reset = metrics["Actions"]["#PowerDistributionMetrics.ResetMetrics"]["target"]
    assert reset == f"{RACK}/4/Metrics/PowerDistributionMetrics.ResetMetrics"


def test_enlogic_readings_carry_float32_noise(fleet: RedfishServer, admin: httpx.Client) -> None:
    outlet = admin.get(f"{RACK}/4/Outlets/OUTLET1").json()
    engine = fleet.engine.fleet.outlet("4", "A1")
    voltage = outlet["Voltage"]["Reading"]
    assert voltage == float(np.float32(round(engine.voltage_v, 2)))
    assert voltage != round(engine.voltage_v, 2)  # 231.2 -> 231.1999969482422
    assert len(repr(voltage).partition(".")[2]) > 4


# ---------------------------------------------------------------------- same engine
@pytest.mark.parametrize(
    ("pdu", "outlet", "engine_id"),
    [("1", "A12", "A12"), ("2", "12", "A12"), ("3", "12", "A12"), ("4", "OUTLET12", "A12")],
)
def test_readings_are_the_engines_under_every_profile(
    fleet: RedfishServer, admin: httpx.Client, pdu: str, outlet: str, engine_id: str
) -> None:
    body = admin.get(f"{RACK}/{pdu}/Outlets/{outlet}").json()
    reading = fleet.engine.fleet.outlet(pdu, engine_id)
    power = round(reading.power_w, 2)
    if PROFILES[PDU_PROFILES[int(pdu) - 1]].float32_readings:
        power = float(np.float32(power))
    assert body["PowerWatts"]["Reading"] == power
    assert body["PowerState"] == reading.power_state


def test_a_per_pdu_endpoint_keeps_its_pdus_profile(tmp_path: Path) -> None:
    base = free_port_run(2)
    settings = build_settings(
        tmp_path, pdu_count=2, pdu_profiles="dmtf,schneider-mock", redfish_port_base=base
    )
    with serve(settings) as server:
        server.tick(2)
        own = f"http://127.0.0.1:{base + 1}"
        with httpx.Client(base_url=own, auth=server.client().auth, timeout=10) as card:
            assert card.get(f"{RACK}/1/Outlets/1").json()["Id"] == "1"
            sensor = card.get(f"{RACK}/1/Sensors/PowerOUTLET1").json()
            engine = server.engine.fleet.outlet("2", "A1").power_w
            assert sensor["Reading"] == pytest.approx(engine, abs=0.001)
            switched = card.post(
                "/redfish/v1/PowerDistribution/1/PowerControl/Loadsegment/3/",
                json={"Action": "Off"},
            )
            assert switched.status_code == 200, switched.text
        server.tick(1)
        assert server.engine.fleet.outlet("2", "C1").power_state == "Off"
        assert server.engine.fleet.outlet("1", "C1").power_state == "On"
        with httpx.Client(
            base_url=f"http://127.0.0.1:{base}", auth=server.client().auth, timeout=10
        ) as card:
            assert card.get(f"{RACK}/1/Outlets/A1").status_code == 200
            assert (
                card.post(
                    "/redfish/v1/PowerDistribution/1/PowerControl/Loadsegment/1/",
                    json={"Action": "Off"},
                ).status_code
                == 404
            )  # dmtf has no load-segment URI


def test_event_origins_name_the_outlet_as_its_profile_does(
    fleet: RedfishServer, admin: httpx.Client
) -> None:
    target = f"{RACK}/4/Outlets/OUTLET20/Outlet.PowerControl"
    assert admin.post(target, json={"PowerState": "Off"}).status_code == 204
    entries = admin.get("/redfish/v1/Managers/BMC/LogServices/Log/Entries").json()["Members"]
    origins = [
        e["Links"]["OriginOfCondition"]["@odata.id"]
        for e in entries
        if "OriginOfCondition" in e.get("Links", {})
    ]
    assert f"{RACK}/4/Outlets/OUTLET20" in origins
    assert f"{RACK}/4/Outlets/B4" not in origins  # outlet 20 by its engine id
    assert admin.post(target, json={"PowerState": "On"}).status_code == 204


@pytest.mark.parametrize(
    ("pdu", "outlet", "name"),
    [("1", "B4", "Outlet B4"), ("2", "20", "Outlet 20"), ("3", "20", "Outlet 20"),
     ("4", "OUTLET20", "Outlet OUTLET 20, Branch Circuit B")],
)  # fmt: skip
def test_outlet_names_follow_each_profiles_capture(
    admin: httpx.Client, pdu: str, outlet: str, name: str
) -> None:
    assert admin.get(f"{RACK}/{pdu}/Outlets/{outlet}").json()["Name"] == name


def test_a_patch_of_a_profiled_outlet_answers_in_the_profiles_shape(
    fleet: RedfishServer, admin: httpx.Client
) -> None:
    answer = admin.patch(f"{RACK}/3/Outlets/6", json={"PowerRestorePolicy": "AlwaysOff"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["Id"] == "6" and body["PowerRestorePolicy"] == "AlwaysOff"
    assert not [k for k, _ in _walk_strings(body) if k == "DataSourceUri"]
    assert admin.patch(f"{RACK}/3/Outlets/6", json={"PowerRestorePolicy": "LastState"}).is_success


@pytest.mark.parametrize("pdu", ["2", "3", "4"])
def test_every_uri_a_profiled_pdu_names_resolves(admin: httpx.Client, pdu: str) -> None:
    """What a client crawling the PDU meets: each link, DataSourceUri and member answers 200."""
    pending = [f"{RACK}/{pdu}", f"/redfish/v1/Chassis/{pdu}"]
    seen: set[str] = set()
    while pending:
        uri = pending.pop()
        if uri in seen:
            continue
        seen.add(uri)
        answer = admin.get(uri)
        assert answer.status_code == 200, uri
        body = answer.json()
        assert body["@odata.id"] == uri
        for key, value in _walk_strings(body):
            inside = value.startswith((f"{RACK}/{pdu}", f"/redfish/v1/Chassis/{pdu}"))
            if key in ("@odata.id", "DataSourceUri") and inside:
                pending.append(value)
    assert len(seen) > 300  # outlets, circuits, groups, metrics and every sensor
