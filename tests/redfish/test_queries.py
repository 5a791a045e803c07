"""Protocol behaviours real clients trip on: methods, Members POST, query options, paging,
Content-Type, percent-decoding. All against the real server on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from rf_support import ADMIN, ADMIN_PASSWORD, RedfishServer, build_settings, serve

RACK = "/redfish/v1/PowerEquipment/RackPDUs"
OUTLETS = f"{RACK}/1/Outlets"


def raw_request(server: RedfishServer, head: bytes) -> bytes:
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_an_unknown_http_method_gets_501_and_a_known_unsupported_one_405(
    redfish_server: RedfishServer,
) -> None:
    answer = raw_request(
        redfish_server, b"BREW /redfish/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 501 "), answer[:80]
    assert b"OperationNotAllowed" in answer
    with redfish_server.client() as client:
        put = client.request("PUT", f"{OUTLETS}/A1", json={})
    assert put.status_code == 405 and "PATCH" in put.headers["Allow"]


def test_post_to_members_creates_like_post_to_the_collection(
    redfish_server: RedfishServer,
) -> None:
    outlet = {"@odata.id": f"{OUTLETS}/A5"}
    with redfish_server.client() as client:
        made = client.post(
            f"{RACK}/1/OutletGroups/Members",
            json={"Name": "via Members", "Links": {"Outlets": [outlet]}},
        )
        assert made.status_code == 201, made.text
        listed = client.get(f"{RACK}/1/OutletGroups").json()["Members"]
        assert {"@odata.id": made.headers["Location"]} in listed
        client.delete(made.headers["Location"])
        session = client.post(
            "/redfish/v1/SessionService/Sessions/Members",
            json={"UserName": ADMIN, "Password": ADMIN_PASSWORD},
        )
        assert session.status_code == 201 and session.headers["X-Auth-Token"]
        client.delete(session.headers["Location"])


def test_bad_only_select_and_expand_values_are_400(redfish_server: RedfishServer) -> None:
    with redfish_server.client() as client:
        assert client.get("/redfish/v1/Managers", params={"only": "yes"}).status_code == 400
        assert client.get(f"{OUTLETS}/A1", params={"$select": "NoSuchThing"}).status_code == 400
        assert client.get(f"{OUTLETS}/A1", params={"$select": "A,,B"}).status_code == 400
        assert client.get(OUTLETS, params={"$expand": "everything"}).status_code == 400
        assert client.get(OUTLETS, params={"$expand": "*($levels=x)"}).status_code == 400


def test_filter_top_skip_select_on_a_collection(redfish_server: RedfishServer) -> None:
    with redfish_server.client() as client:
        filtered = client.get(OUTLETS, params={"$filter": "Id eq 'A1' or Id eq 'B3'"}).json()
        page = client.get(OUTLETS, params={"$skip": "2", "$top": "3"}).json()
        combo = client.get(
            OUTLETS,
            params={"$filter": "PowerState eq 'On' and RatedCurrentAmps ge 10", "$top": "2",
                    "$expand": ".", "$select": "PowerState"},
        ).json()  # fmt: skip
        bad = client.get(OUTLETS, params={"$filter": "Id eq"})
        negative = client.get(OUTLETS, params={"$top": "-1"})
    assert [m["@odata.id"].rsplit("/", 1)[-1] for m in filtered["Members"]] == ["A1", "B3"]
    assert filtered["Members@odata.count"] == 2
    assert [m["@odata.id"].rsplit("/", 1)[-1] for m in page["Members"]] == ["A3", "A4", "A5"]
    assert page["Members@odata.count"] == 48
    assert len(combo["Members"]) == 2
    for member in combo["Members"]:
        assert {k for k in member if not k.startswith("@")} == {"PowerState"}
        assert member["PowerState"] == "On" and "@odata.id" in member
    assert bad.status_code == 400 and negative.status_code == 400


def test_expand_levels_two_expands_the_members_links_too(redfish_server: RedfishServer) -> None:
    with redfish_server.client() as client:
        deep = client.get(f"{RACK}/1/Branches", params={"$expand": "*($levels=2)"}).json()
    branch = deep["Members"][0]
    assert "PowerWatts" in branch
    assert "PowerState" in branch["Links"]["Outlets"][0]  # the outlet itself, one level down


@pytest.fixture(scope="module")
def paged_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedfishServer]:
    with serve(build_settings(tmp_path_factory.mktemp("paged"), redfish_page_size=20)) as server:
        yield server


def test_large_collections_page_with_next_link(paged_server: RedfishServer) -> None:
    seen: list[str] = []
    with paged_server.client() as client:
        uri: str | None = OUTLETS
        while uri:
            body = client.get(uri).json()
            assert len(body["Members"]) <= 20 and body["Members@odata.count"] == 48
            seen += [m["@odata.id"] for m in body["Members"]]
            uri = body.get("Members@odata.nextLink")
    assert len(seen) == len(set(seen)) == 48


def test_a_body_that_is_not_json_gets_415_and_changes_nothing(
    redfish_server: RedfishServer,
) -> None:
    with redfish_server.client() as client:
        before = client.get("/redfish/v1/SessionService").json()["SessionTimeout"]
        answer = client.patch(
            "/redfish/v1/SessionService",
            content=b"SessionTimeout=999",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        after = client.get("/redfish/v1/SessionService").json()["SessionTimeout"]
    assert answer.status_code == 415
    assert after == before


def test_a_path_is_percent_decoded_once(redfish_server: RedfishServer) -> None:
    with httpx.Client(base_url=redfish_server.url, auth=(ADMIN, ADMIN_PASSWORD)) as client:
        once = client.get("/redfish/v1/Chassis/%31")  # %31 is "1"
        twice = client.get("/redfish/v1/Chassis/%2531")  # "%31" literally: no such chassis
    assert once.status_code == 200
    assert twice.status_code == 404
