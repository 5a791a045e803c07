"""Protocol behaviour every Redfish client relies on, checked over real HTTP with httpx."""

from __future__ import annotations

import httpx
from rf_support import RedfishServer

OUTLET = "/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/A2"


def test_service_root_and_metadata_are_open_but_everything_else_needs_credentials(
    redfish_server: RedfishServer,
) -> None:
    with httpx.Client(base_url=redfish_server.url) as anon:
        assert anon.get("/redfish").json() == {"v1": "/redfish/v1/"}
        for path in ("/redfish/v1", "/redfish/v1/"):
            root = anon.get(path).json()
            assert root["Links"]["Sessions"]["@odata.id"] == "/redfish/v1/SessionService/Sessions"
            assert root["PowerEquipment"]["@odata.id"] == "/redfish/v1/PowerEquipment"
        metadata = anon.get("/redfish/v1/$metadata")
        assert metadata.status_code == 200
        assert "EntityContainer" in metadata.text and 'Namespace="Outlet.v1_4_4"' in metadata.text
        odata = anon.get("/redfish/v1/odata").json()
        assert {"name": "Service", "kind": "Singleton", "url": "/redfish/v1/"} in odata["value"]
        denied = anon.get(OUTLET)
        assert denied.status_code == 401
        assert denied.headers["WWW-Authenticate"].startswith("Basic")
        assert denied.json()["error"]["code"] == "Base.1.22.NoValidSession"
        wrong = anon.get(OUTLET, auth=("admin", "wrong-password"))
        assert wrong.status_code == 401


def test_every_response_carries_the_odata_headers_and_a_describing_schema(
    redfish_server: RedfishServer,
) -> None:
    with redfish_server.client() as client:
        response = client.get(OUTLET)
    assert response.status_code == 200
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Allow"] == "GET, HEAD, PATCH"
    assert response.headers["Link"] == (
        "<http://redfish.dmtf.org/schemas/v1/Outlet.v1_4_4.json>; rel=describedby"
    )
    assert response.json()["@odata.etag"] == response.headers["ETag"]


def test_a_request_for_odata_4_1_is_refused_with_412(redfish_server: RedfishServer) -> None:
    with redfish_server.client() as client:
        response = client.get(OUTLET, headers={"OData-Version": "4.1"})
    assert response.status_code == 412


def test_head_has_headers_and_no_body(redfish_server: RedfishServer) -> None:
    with redfish_server.client() as client:
        response = client.head(OUTLET)
    assert response.status_code == 200
    assert response.content == b""
    assert "ETag" in response.headers


def test_unsupported_method_gives_405_with_allow(redfish_server: RedfishServer) -> None:
    with redfish_server.client() as client:
        response = client.delete(OUTLET)
        put = client.put("/redfish/v1/Managers/BMC", json={})
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, PATCH"
    assert response.json()["error"]["code"] == "Base.1.22.OperationNotAllowed"
    assert put.status_code == 405 and put.headers["Allow"] == "GET, HEAD"


def test_unknown_uri_is_404_with_a_base_message(redfish_server: RedfishServer) -> None:
    with redfish_server.client() as client:
        missing = client.get("/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/Z99")
        nowhere = client.get("/redfish/v1/NoSuchThing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Base.1.22.ResourceNotFound"
    assert nowhere.status_code == 404


def test_if_none_match_with_the_current_etag_gives_304(redfish_server: RedfishServer) -> None:
    with redfish_server.client() as client:
        etag = client.get("/redfish/v1/AccountService/Roles/Operator").headers["ETag"]
        again = client.get(
            "/redfish/v1/AccountService/Roles/Operator", headers={"If-None-Match": etag}
        )
    assert again.status_code == 304 and again.content == b""


def test_if_match_with_a_stale_etag_gives_412_and_changes_nothing(
    redfish_server: RedfishServer,
) -> None:
    with redfish_server.client() as client:
        before = client.get("/redfish/v1/SessionService").json()
        response = client.patch(
            "/redfish/v1/SessionService",
            json={"SessionTimeout": before["SessionTimeout"] + 60},
            headers={"If-Match": 'W/"00000000"'},
        )
        after = client.get("/redfish/v1/SessionService").json()
        assert response.status_code == 412
        assert response.json()["error"]["code"] == "Base.1.22.PreconditionFailed"
        assert after["SessionTimeout"] == before["SessionTimeout"]
        good = client.patch(
            "/redfish/v1/SessionService",
            json={"SessionTimeout": before["SessionTimeout"]},
            headers={"If-Match": before["@odata.etag"]},
        )
        assert good.status_code == 200


def test_unknown_dollar_query_options_give_501_and_select_expand_only_work(
    redfish_server: RedfishServer,
) -> None:
    with redfish_server.client() as client:
        assert client.get(OUTLET, params={"$apply": "x"}).status_code == 501
        assert client.get(OUTLET, params={"$top": "2"}).status_code == 400  # not a collection
        assert client.get(OUTLET, params={"unrelated": "x"}).status_code == 200
        selected = client.get(OUTLET, params={"$select": "PowerState,PowerWatts/Reading"}).json()
        assert set(selected) == {"@odata.id", "@odata.type", "@odata.etag", "PowerState",
                                 "PowerWatts"}  # fmt: skip
        assert set(selected["PowerWatts"]) == {"Reading"}
        expanded = client.get(
            "/redfish/v1/PowerEquipment/RackPDUs/2/Outlets", params={"$expand": ".($levels=1)"}
        ).json()
        assert len(expanded["Members"]) == 48
        assert all("PowerWatts" in m for m in expanded["Members"])
        too_deep = client.get(
            "/redfish/v1/PowerEquipment/RackPDUs/2/Outlets", params={"$expand": "*($levels=4)"}
        )
        assert too_deep.status_code == 400
        only = client.get("/redfish/v1/Managers", params={"only": ""}).json()
        assert only["Id"] == "BMC"


def test_bad_bodies_get_the_matching_base_message(redfish_server: RedfishServer) -> None:
    action = OUTLET + "/Actions/Outlet.PowerControl"
    with redfish_server.client("operator", "operator-secret-1") as client:
        cases = {
            "Base.1.22.MalformedJSON": client.post(
                action, content=b"{not json", headers={"Content-Type": "application/json"}
            ),
            "Base.1.22.ActionParameterMissing": client.post(action, json={}),
            "Base.1.22.ActionParameterValueNotInList": client.post(
                action, json={"PowerState": "Sideways"}
            ),
            "Base.1.22.ActionParameterUnknown": client.post(
                action, json={"PowerState": "On", "Force": True}
            ),
            "Base.1.22.ActionParameterValueTypeError": client.post(action, json={"PowerState": 1}),
            "Base.1.22.UnrecognizedRequestBody": client.post(action, json=["On"]),
        }
        for code, response in cases.items():
            assert response.status_code == 400, code
            ids = [m["MessageId"] for m in response.json()["error"]["@Message.ExtendedInfo"]]
            assert code in ids, (code, ids)
        state = client.get(OUTLET).json()["PowerState"]
        assert state in ("On", "Off", "PoweringOn")


def test_patch_applies_the_good_properties_and_reports_the_bad(
    redfish_server: RedfishServer,
) -> None:
    with redfish_server.client() as client:
        response = client.patch(
            "/redfish/v1/EventService",
            json={"DeliveryRetryAttempts": 2, "ServiceEnabled": False, "Bogus": 1},
        )
        assert response.status_code == 200
        ids = {m["MessageId"] for m in response.json()["@Message.ExtendedInfo"]}
        assert ids == {"Base.1.22.PropertyNotWritable", "Base.1.22.PropertyUnknown"}
        assert response.json()["DeliveryRetryAttempts"] == 2
        refused = client.patch("/redfish/v1/EventService", json={"DeliveryRetryAttempts": "x"})
        assert refused.status_code == 400
        assert refused.json()["error"]["@Message.ExtendedInfo"][0]["MessageId"] == (
            "Base.1.22.PropertyValueTypeError"
        )
        no_op = client.patch("/redfish/v1/EventService", json={})
        assert no_op.status_code == 400


def test_every_data_source_uri_of_a_pdu_resolves_to_a_sensor(
    redfish_server: RedfishServer,
) -> None:
    uris: set[str] = set()

    def collect(value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "DataSourceUri":
                    uris.add(str(item))
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    base = "/redfish/v1/PowerEquipment/RackPDUs/1"
    with redfish_server.client() as client:
        for family in ("Outlets", "Branches", "Mains", "OutletGroups"):
            collect(client.get(f"{base}/{family}", params={"$expand": "."}).json())
        collect(client.get(f"{base}/Metrics").json())
        sensors = client.get("/redfish/v1/Chassis/1/Sensors").json()
        listed = {m["@odata.id"] for m in sensors["Members"]}
        assert uris <= listed
        for uri in sorted(uris)[::25]:
            assert client.get(uri).status_code == 200, uri
        chassis = client.get("/redfish/v1/Chassis/1").json()
        pdu = client.get(base).json()
    assert chassis["Links"]["PowerDistribution"]["@odata.id"] == base
    assert pdu["Links"]["Chassis"][0]["@odata.id"] == "/redfish/v1/Chassis/1"
