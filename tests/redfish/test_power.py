"""The PDU tree with the DMTF client: live readings, actions that show in the next reading."""

from __future__ import annotations

from typing import Any

from rf_support import ADMIN, ADMIN_PASSWORD, OPERATOR, OPERATOR_PASSWORD, RedfishServer

import redfish
from energydash.sim.commands import ClearFault, InjectFault

RACKS = "/redfish/v1/PowerEquipment/RackPDUs"


def dmtf_client(server: RedfishServer, user: str = OPERATOR, password: str = OPERATOR_PASSWORD):  # type: ignore[no-untyped-def]
    client = redfish.redfish_client(base_url=server.url, username=user, password=password)
    client.login(auth="session")
    return client


def loaded_outlet(client: Any, pdu: str, branch: str = "") -> dict[str, Any]:
    outlets = client.get(f"{RACKS}/{pdu}/Outlets?$expand=.").dict["Members"]
    for outlet in outlets:
        if outlet["Id"].startswith(branch) and (outlet["PowerWatts"]["Reading"] or 0) > 1:
            return outlet
    raise AssertionError(f"no loaded outlet on PDU {pdu}")


def test_every_outlet_of_every_pdu_reads_live_values(redfish_server: RedfishServer) -> None:
    client = dmtf_client(redfish_server)
    try:
        pdus = client.get(RACKS).dict["Members"]
        assert len(pdus) == 2
        for member in pdus:
            pdu = client.get(member["@odata.id"]).dict
            assert pdu["EquipmentType"] == "RackPDU"
            outlets = client.get(pdu["Outlets"]["@odata.id"]).dict["Members"]
            assert len(outlets) == 48
            for link in outlets:
                outlet = client.get(link["@odata.id"]).dict
                watts = outlet["PowerWatts"]
                assert outlet["PowerState"] in ("On", "Off", "PoweringOn")
                assert outlet["Voltage"]["Reading"] > 100
                assert watts["Reading"] >= 0
                if watts["Reading"] > 1:
                    # P = V x I x PF, within the renderer's rounding
                    expected = (
                        outlet["Voltage"]["Reading"]
                        * outlet["CurrentAmps"]["Reading"]
                        * watts["PowerFactor"]
                    )
                    assert abs(expected - watts["Reading"]) <= 0.01 * watts["Reading"] + 0.5
                assert (
                    outlet["EnergykWh"]["LifetimeReading"] >= outlet["EnergykWh"]["Reading"] - 1e-6
                )
                target = outlet["Actions"]["#Outlet.PowerControl"]["target"]
                assert target == link["@odata.id"] + "/Actions/Outlet.PowerControl"
    finally:
        client.logout()


def test_switching_an_outlet_off_and_on_shows_in_power_and_power_state(
    redfish_server: RedfishServer,
) -> None:
    client = dmtf_client(redfish_server)
    try:
        outlet = loaded_outlet(client, "1", "B")
        uri = outlet["@odata.id"]
        target = outlet["Actions"]["#Outlet.PowerControl"]["target"]
        assert client.post(target, body={"PowerState": "Off"}).status == 204
        off = client.get(uri).dict
        assert off["PowerState"] == "Off" and off["PowerWatts"]["Reading"] == 0
        redfish_server.tick(2)
        assert (
            client.get(uri).dict["EnergykWh"]["LifetimeReading"]
            >= (outlet["EnergykWh"]["LifetimeReading"])
        )
        assert client.post(target, body={"PowerState": "On"}).status == 204
        assert client.get(uri).dict["PowerState"] in ("PoweringOn", "On")
        redfish_server.tick(2, dt_s=outlet["PowerOnDelaySeconds"] + 1)
        on = client.get(uri).dict
        assert on["PowerState"] == "On" and on["PowerWatts"]["Reading"] > 0
    finally:
        client.logout()


def test_switching_an_outlet_group_switches_all_its_outlets(
    redfish_server: RedfishServer,
) -> None:
    client = dmtf_client(redfish_server)
    try:
        group_uri = f"{RACKS}/2/OutletGroups/2"
        group = client.get(group_uri).dict
        target = group["Actions"]["#OutletGroup.PowerControl"]["target"]
        assert target == group_uri + "/Actions/OutletGroup.PowerControl"
        assert client.post(target, body={"PowerState": "Off"}).status == 204
        after = client.get(group_uri).dict
        assert after["PowerState"] == "Off" and after["PowerWatts"]["Reading"] == 0
        for link in after["Links"]["Outlets"]:
            assert client.get(link["@odata.id"]).dict["PowerState"] == "Off"
        assert client.post(target, body={"PowerState": "On"}).status == 204
        redfish_server.tick(2, dt_s=10)
        assert client.get(group_uri).dict["PowerState"] == "On"
    finally:
        client.logout()


def test_an_overloaded_branch_trips_its_breaker_and_breaker_control_resets_it(
    redfish_server: RedfishServer,
) -> None:
    engine = redfish_server.engine
    result = redfish_server.call(
        lambda: engine.execute(InjectFault("branch_overload", "2", "A", {"multiple": 3.0}))
    )
    client = dmtf_client(redfish_server)
    branch_uri = f"{RACKS}/2/Branches/A"
    try:
        for _ in range(200):
            if client.get(branch_uri).dict["BreakerState"] == "Tripped":
                break
            redfish_server.tick(1, dt_s=5)
        tripped = client.get(branch_uri).dict
        assert tripped["BreakerState"] == "Tripped"
        assert tripped["PowerWatts"]["Reading"] == 0
        assert tripped["Status"]["Health"] == "Critical"
        redfish_server.call(lambda: engine.execute(ClearFault(str(result.fault_id))))
        target = tripped["Actions"]["#Circuit.BreakerControl"]["target"]
        assert client.post(target, body={"PowerState": "On"}).status == 204
        redfish_server.tick(2, dt_s=10)
        reset = client.get(branch_uri).dict
        assert reset["BreakerState"] == "Normal"
        log = client.get("/redfish/v1/Managers/BMC/LogServices/Log/Entries?$expand=.").dict
        ids = [e.get("MessageId") for e in log["Members"]]
        assert "Power.1.2.BreakerTripped" in ids and "Power.1.2.BreakerReset" in ids
        assert "Power.1.2.CurrentCritical" in ids  # the threshold crossing before the trip
        assert "ResourceEvent.1.4.ResourceErrorsDetected" in ids  # the injected fault
    finally:
        client.logout()


def test_reset_metrics_zeroes_energy_but_never_the_lifetime_counter(
    redfish_server: RedfishServer,
) -> None:
    client = dmtf_client(redfish_server)
    try:
        redfish_server.tick(5, dt_s=60)
        outlet = loaded_outlet(client, "1", "C")
        uri = outlet["@odata.id"]
        assert outlet["EnergykWh"]["Reading"] > 0
        target = outlet["Actions"]["#Outlet.ResetMetrics"]["target"]
        assert client.post(target, body={}).status == 204
        after = client.get(uri).dict["EnergykWh"]
        assert after["Reading"] == 0
        assert after["LifetimeReading"] >= outlet["EnergykWh"]["LifetimeReading"]
        assert "SensorResetTime" in after
        metrics = client.get(f"{RACKS}/1/Metrics").dict
        reset = metrics["Actions"]["#PowerDistributionMetrics.ResetMetrics"]["target"]
        assert client.post(reset, body={}).status == 204
        assert client.get(f"{RACKS}/1/Metrics").dict["EnergykWh"]["Reading"] == 0
        sensor = client.get("/redfish/v1/Chassis/1/Sensors/EnergyBranchA").dict
        assert (
            client.post(sensor["Actions"]["#Sensor.ResetMetrics"]["target"], body={}).status == 204
        )
        assert client.get(f"{RACKS}/1/Branches/A").dict["EnergykWh"]["Reading"] == 0
    finally:
        client.logout()


def test_clients_can_create_and_delete_outlet_groups(redfish_server: RedfishServer) -> None:
    client = dmtf_client(redfish_server, ADMIN, ADMIN_PASSWORD)
    try:
        body = {
            "Name": "Rack 7 storage",
            "Links": {
                "Outlets": [
                    {"@odata.id": f"{RACKS}/1/Outlets/A5"},
                    {"@odata.id": f"{RACKS}/1/Outlets/A6"},
                ]
            },
        }
        created = client.post(f"{RACKS}/1/OutletGroups", body=body)
        assert created.status == 201
        location = created.getheader("Location")
        group = client.get(location).dict
        assert group["Name"] == "Rack 7 storage" and len(group["Links"]["Outlets"]) == 2
        members = client.get(f"{RACKS}/1/OutletGroups").dict["Members"]
        assert {"@odata.id": location} in members
        bad = client.post(
            f"{RACKS}/1/OutletGroups",
            body={"Name": "x", "Links": {"Outlets": [{"@odata.id": f"{RACKS}/2/Outlets/A1"}]}},
        )
        assert bad.status == 400
        assert client.delete(location).status == 204
        assert client.get(location).status == 404
    finally:
        client.logout()


def test_disabled_outlet_refuses_power_control(redfish_server: RedfishServer) -> None:
    client = dmtf_client(redfish_server)
    uri = f"{RACKS}/2/Outlets/B7"
    try:
        assert client.patch(uri, body={"PowerEnabled": False}).status == 200
        refused = client.post(uri + "/Actions/Outlet.PowerControl", body={"PowerState": "Off"})
        assert refused.status == 400
        assert client.patch(uri, body={"PowerEnabled": True}).status == 200
        assert client.get(uri).dict["PowerEnabled"] is True
    finally:
        client.logout()


def test_circuit_power_control_switches_every_outlet_of_the_branch(
    redfish_server: RedfishServer,
) -> None:
    client = dmtf_client(redfish_server)
    branch_uri = f"{RACKS}/1/Branches/C"
    try:
        branch = client.get(branch_uri).dict
        target = branch["Actions"]["#Circuit.PowerControl"]["target"]
        assert target == branch_uri + "/Actions/Circuit.PowerControl"
        assert client.post(target, body={"PowerState": "Off"}).status == 204
        off = client.get(branch_uri).dict
        assert off["PowerWatts"]["Reading"] == 0
        for link in off["Links"]["Outlets"]:
            assert client.get(link["@odata.id"]).dict["PowerState"] == "Off"
        assert client.post(target, body={"PowerState": "On"}).status == 204
        redfish_server.tick(2, dt_s=10)
        assert client.get(branch_uri).dict["PowerWatts"]["Reading"] > 0
        entries = client.get("/redfish/v1/Managers/BMC/LogServices/Log/Entries").dict["Members"]
        ids = {e.get("MessageId") for e in entries}
        assert {"Power.1.2.OutletPoweredOff", "Power.1.2.OutletPoweredOn"} <= ids
    finally:
        client.logout()
