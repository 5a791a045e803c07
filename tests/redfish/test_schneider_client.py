"""A plain ``requests`` client written against the Schneider SmartPDU mock's layout.

It knows only what a client of that mock knows: outlets ``1``..``48``, sensors
``{Power|Energy|Current|Voltage}OUTLETn`` under ``RackPDUs/{id}/Sensors`` (found through the
PDU's ``Sensors`` link) and load segments switched by ``POST
/redfish/v1/PowerDistribution/{id}/PowerControl/Loadsegment/{n}/`` with ``{"Action": ...}`` and
an ``X-Auth-Token``. Nothing here is EnergyDash-specific.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from rf_support import (
    OPERATOR,
    OPERATOR_PASSWORD,
    READER,
    READER_PASSWORD,
    RedfishServer,
    build_settings,
    serve,
)

PDU = "2"  # the mock's own PDU id


@pytest.fixture(scope="module")
def mock_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedfishServer]:
    settings = build_settings(tmp_path_factory.mktemp("schneider"), pdu_profiles="schneider-mock")
    with serve(settings) as server:
        server.tick(5)
        yield server


def login(base: str, user: str, password: str) -> requests.Session:
    session = requests.Session()
    answer = session.post(
        f"{base}/redfish/v1/SessionService/Sessions",
        json={"UserName": user, "Password": password},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    session.headers["X-Auth-Token"] = answer.headers["X-Auth-Token"]
    return session


def test_a_requests_client_reads_all_48_outlets_power_and_energy_sensors(
    mock_fleet: RedfishServer,
) -> None:
    client = login(mock_fleet.url, READER, READER_PASSWORD)
    pdu = client.get(f"{mock_fleet.url}/redfish/v1/PowerEquipment/RackPDUs/{PDU}", timeout=10)
    sensors = pdu.json()["Sensors"]["@odata.id"]
    fleet = mock_fleet.engine.fleet
    for n in range(1, 49):
        power = client.get(f"{mock_fleet.url}{sensors}/PowerOUTLET{n}", timeout=10).json()
        energy = client.get(f"{mock_fleet.url}{sensors}/EnergyOUTLET{n}", timeout=10).json()
        outlet = fleet.outlet(PDU, fleet.pdu_info(PDU).outlets[n - 1].id)
        assert power["ReadingUnits"] == "W" and energy["ReadingUnits"] == "kW.h"
        assert power["Reading"] == pytest.approx(outlet.power_w, abs=1e-3)
        assert energy["Reading"] == pytest.approx(outlet.energy_kwh, abs=1e-4)
    assert any(fleet.outlet(PDU, o.id).power_w for o in fleet.pdu_info(PDU).outlets)
    client.close()


def test_a_requests_client_switches_a_load_segment(mock_fleet: RedfishServer) -> None:
    fleet = mock_fleet.engine.fleet
    segment = fleet.pdu_info(PDU).branches[1]  # load segment 2: outlets 17..32
    client = login(mock_fleet.url, OPERATOR, OPERATOR_PASSWORD)
    answer = client.post(
        f"{mock_fleet.url}/redfish/v1/PowerDistribution/{PDU}/PowerControl/Loadsegment/2/",
        json={"Action": "Off"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["OutletsAffected"] == [17, 32]
    mock_fleet.tick(1)
    assert {fleet.outlet(PDU, o).power_state for o in segment.outlet_ids} == {"Off"}
    assert fleet.outlet(PDU, fleet.pdu_info(PDU).outlets[0].id).power_state == "On"
    off = client.get(f"{mock_fleet.url}/redfish/v1/PowerEquipment/RackPDUs/{PDU}/Outlets/17")
    assert off.json()["PowerState"] == "Off"
    assert off.json()["PowerWatts"]["Reading"] == 0.0
    answer = client.post(
        f"{mock_fleet.url}/redfish/v1/PowerDistribution/{PDU}/PowerControl/Loadsegment/2/",
        json={"Action": "on"},  # the mock reads the action in any case
        timeout=10,
    )
    assert answer.status_code == 200
    mock_fleet.tick(5)
    assert {fleet.outlet(PDU, o).power_state for o in segment.outlet_ids} == {"On"}
    client.close()


def test_a_readonly_or_anonymous_client_cannot_switch_a_load_segment(
    mock_fleet: RedfishServer,
) -> None:
    fleet = mock_fleet.engine.fleet
    segment = fleet.pdu_info(PDU).branches[0]
    before = [fleet.outlet(PDU, o).power_state for o in segment.outlet_ids]
    uri = f"{mock_fleet.url}/redfish/v1/PowerDistribution/{PDU}/PowerControl/Loadsegment/1/"
    reader = login(mock_fleet.url, READER, READER_PASSWORD)
    refused = reader.post(uri, json={"Action": "Off"}, timeout=10)
    assert refused.status_code == 403
    assert "InsufficientPrivilege" in refused.text
    assert requests.post(uri, json={"Action": "Off"}, timeout=10).status_code == 401
    mock_fleet.tick(1)
    assert [fleet.outlet(PDU, o).power_state for o in segment.outlet_ids] == before
    reader.close()


@pytest.mark.parametrize(
    ("segment", "body", "status"),
    [("4", {"Action": "Off"}, 404), ("x", {"Action": "Off"}, 404),
     ("1", {"Action": "Explode"}, 400), ("1", {"State": "Off"}, 400)],
)  # fmt: skip
def test_a_bad_load_segment_request_is_refused_and_changes_nothing(
    mock_fleet: RedfishServer, segment: str, body: dict[str, str], status: int
) -> None:
    fleet = mock_fleet.engine.fleet
    before = [fleet.outlet(PDU, o.id).power_state for o in fleet.pdu_info(PDU).outlets]
    client = login(mock_fleet.url, OPERATOR, OPERATOR_PASSWORD)
    uri = f"{mock_fleet.url}/redfish/v1/PowerDistribution/{PDU}/PowerControl/Loadsegment/{segment}/"
    assert client.post(uri, json=body, timeout=10).status_code == status
    mock_fleet.tick(1)
    assert [fleet.outlet(PDU, o.id).power_state for o in fleet.pdu_info(PDU).outlets] == before
    client.close()
