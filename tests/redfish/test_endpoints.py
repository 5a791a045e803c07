"""One Redfish endpoint per PDU (ENERGYDASH_REDFISH_PORT_BASE), beside the fleet service."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from rf_support import (
    ADMIN,
    ADMIN_PASSWORD,
    RedfishServer,
    build_settings,
    free_port,
    serve,
)

import redfish
from energydash.net import free_port_run


@pytest.fixture(scope="module")
def cards(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedfishServer, int]]:
    base = free_port_run(3)
    port = free_port()
    while base <= port < base + 3:  # the fleet port must not be one of the cards'
        port = free_port()
    settings = build_settings(tmp_path_factory.mktemp("cards"), pdu_count=3,
                              redfish_port_base=base, port=port)  # fmt: skip
    with serve(settings) as server:
        server.tick(2)
        yield server, base


def test_each_pdu_answers_as_its_own_service_with_rack_pdu_1(
    cards: tuple[RedfishServer, int],
) -> None:
    server, base = cards
    roots = []
    for k in range(3):
        rf = redfish.redfish_client(
            base_url=f"http://127.0.0.1:{base + k}", username=ADMIN, password=ADMIN_PASSWORD,
            timeout=10,
        )  # fmt: skip
        rf.login(auth="session")
        try:
            roots.append(rf.get("/redfish/v1").dict)
            pdus = rf.get("/redfish/v1/PowerEquipment/RackPDUs").dict
            pdu = rf.get(pdus["Members"][0]["@odata.id"]).dict
            outlet = rf.get("/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/A1").dict
        finally:
            rf.logout()
        fleet_pdu = server.engine.fleet.pdu_info(str(k + 1))
        assert pdus["Members@odata.count"] == 1 and pdu["Id"] == "1"
        assert pdu["SerialNumber"] == fleet_pdu.serial
        assert outlet["PowerWatts"]["DataSourceUri"].startswith("/redfish/v1/Chassis/1/")
    assert len({r["UUID"] for r in roots}) == 3


def test_a_card_has_its_own_sessions_and_controls_its_own_pdu(
    cards: tuple[RedfishServer, int],
) -> None:
    server, base = cards
    with httpx.Client(base_url=f"http://127.0.0.1:{base + 1}", timeout=10) as card2:
        made = card2.post(
            "/redfish/v1/SessionService/Sessions",
            json={"UserName": ADMIN, "Password": ADMIN_PASSWORD},
        )
        token = made.headers["X-Auth-Token"]
        switched = card2.post(
            "/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/A3/Actions/Outlet.PowerControl",
            json={"PowerState": "Off"},
            headers={"X-Auth-Token": token},
        )
        other = card2.get("/redfish/v1/PowerEquipment/RackPDUs/2", headers={"X-Auth-Token": token})
    with httpx.Client(base_url=f"http://127.0.0.1:{base}", timeout=10) as card1:
        foreign = card1.get("/redfish/v1/Managers", headers={"X-Auth-Token": token})
    state = server.call(lambda: server.engine.fleet.outlet("2", "A3").power_state)
    untouched = server.call(lambda: server.engine.fleet.outlet("1", "A3").power_state)
    server.call(
        lambda: server.engine.execute(
            __import__("energydash.sim.commands", fromlist=["x"]).OutletPower("2", "A3", "On")
        )
    )
    assert switched.status_code == 204 and state == "Off" and untouched == "On"
    assert other.status_code == 404
    assert foreign.status_code == 401  # card 1 does not know card 2's session
