"""What the service claims is what it does: ProtocolFeaturesSupported, Members POST on every
writable collection, ResetMetrics as documented, and per-PDU cards with their own accounts and
event service (driven with the DMTF ``redfish`` library), all against real servers."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from rf_support import (
    ADMIN,
    ADMIN_PASSWORD,
    RedfishServer,
    build_settings,
    serve,
)
from test_events import SUBMIT, Listener

import redfish
from energydash.net import free_port, free_port_run

RACK = "/redfish/v1/PowerEquipment/RackPDUs"
OUTLETS = f"{RACK}/1/Outlets"
ACCOUNTS = "/redfish/v1/AccountService/Accounts"
SUBSCRIPTIONS = "/redfish/v1/EventService/Subscriptions"


def _pipelined(server_url: str, paths: list[str]) -> list[bytes]:
    """Send every GET in one write on one connection; the status lines, in order."""
    port = int(server_url.rsplit(":", 1)[1])
    auth = httpx.BasicAuth(ADMIN, ADMIN_PASSWORD)._auth_header  # "Basic ..."
    raw = b"".join(
        f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n\r\n".encode()
        for p in paths
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(raw)
        data = b""
        while data.count(b"HTTP/1.1 ") < len(paths) or not data.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return re.findall(rb"HTTP/1\.1 (\d{3}) ", data)  # a response follows the last body directly


def _probes(client: httpx.Client, url: str) -> dict[str, bool]:
    """Each ProtocolFeaturesSupported flag -> whether the behaviour it names works."""

    def ok(path: str, **params: str) -> dict[str, Any] | None:
        answer = client.get(path, params=params)
        return answer.json() if answer.status_code == 200 else None

    branches = f"{RACK}/1/Branches"
    star = ok(branches, **{"$expand": "*"})
    deep = ok(branches, **{"$expand": "*($levels=2)"})
    links = ok(f"{branches}/A", **{"$expand": "~"})
    dot = ok(branches, **{"$expand": "."})
    selected = ok(f"{OUTLETS}/A1", **{"$select": "PowerState"})
    only = ok("/redfish/v1/Managers", only="")
    filtered = ok(OUTLETS, **{"$filter": "Id eq 'B2'"})
    paged = ok(OUTLETS, **{"$top": "2", "$skip": "1"})
    full = ok(f"{OUTLETS}/A1")
    excerpt = ok(f"{OUTLETS}/A1", excerpt="")
    level_3 = client.get(branches, params={"$expand": "*($levels=3)"}).status_code
    level_4 = client.get(branches, params={"$expand": "*($levels=4)"}).status_code
    statuses = _pipelined(url, [f"{OUTLETS}/A1", f"{OUTLETS}/A2", "/redfish/v1"])
    return {
        "ExpandAll": bool(star and "PowerWatts" in star["Members"][0]),
        "Levels": bool(deep and "PowerState" in deep["Members"][0]["Links"]["Outlets"][0]),
        "Links": bool(links and "PowerState" in links["Links"]["Outlets"][0]),
        "NoLinks": bool(dot and "PowerWatts" in dot["Members"][0]),
        "MaxLevels=3": level_3 == 200 and level_4 == 400,
        "SelectQuery": bool(selected)
        and {k for k in selected if not k.startswith("@")} == {"PowerState"},  # type: ignore[union-attr]
        "OnlyMemberQuery": bool(only and only["Id"] == "BMC"),
        "FilterQuery": bool(
            filtered and [m["@odata.id"] for m in filtered["Members"]] == [f"{OUTLETS}/B2"]
        ),
        "TopSkipQuery": bool(
            paged
            and [m["@odata.id"] for m in paged["Members"]] == [f"{OUTLETS}/A2", f"{OUTLETS}/A3"]
        ),
        # an excerpt would be a short view; an unsupported one is the whole resource
        "ExcerptQuery": bool(excerpt and full and len(excerpt) < len(full) - 1),
        "MultipleHTTPRequests": statuses == [b"200"] * 3,
    }


def _claims(root: dict[str, Any]) -> dict[str, bool]:
    features = root["ProtocolFeaturesSupported"]
    expand = features["ExpandQuery"]
    claims = {k: bool(v) for k, v in features.items() if isinstance(v, bool)}
    claims |= {k: bool(v) for k, v in expand.items() if isinstance(v, bool)}
    claims[f"MaxLevels={expand['MaxLevels']}"] = True
    return claims


def test_protocol_features_supported_says_exactly_what_works(
    redfish_server: RedfishServer,
) -> None:
    with redfish_server.client() as client:
        claims = _claims(client.get("/redfish/v1").json())
        works = _probes(client, redfish_server.url)
    assert claims == works


def test_post_to_members_of_accounts_and_subscriptions_creates_like_the_collection(
    redfish_server: RedfishServer,
) -> None:
    with redfish_server.client() as client:
        account = client.post(
            f"{ACCOUNTS}/Members",
            json={"UserName": "via-members", "Password": "members-secret-1", "RoleId": "ReadOnly"},
        )
        subscription = client.post(
            f"{SUBSCRIPTIONS}/Members",
            json={"Destination": "http://127.0.0.1:9/members", "Protocol": "Redfish"},
        )
        accounts = client.get(ACCOUNTS).json()["Members"]
        subscriptions = client.get(SUBSCRIPTIONS).json()["Members"]
        with httpx.Client(
            base_url=redfish_server.url, auth=("via-members", "members-secret-1")
        ) as new:
            reads = new.get("/redfish/v1/Managers").status_code
        for made in (account, subscription):
            client.delete(made.headers["Location"])
    assert account.status_code == 201 and subscription.status_code == 201, account.text
    assert {"@odata.id": account.headers["Location"]} in accounts
    assert {"@odata.id": subscription.headers["Location"]} in subscriptions
    assert reads == 200


def test_pdu_reset_metrics_resets_exactly_what_the_readme_says(
    redfish_server: RedfishServer,
) -> None:
    server = redfish_server
    server.tick(4, dt_s=120)
    with server.client() as client:

        def energy_of(pdu: str) -> dict[str, dict[str, Any]]:
            """Every resettable energy reading of a PDU: outlets, branches, mains, groups, total."""
            out = {"total": client.get(f"{RACK}/{pdu}/Metrics").json()["EnergykWh"]}
            for family in ("Outlets", "Branches", "Mains", "OutletGroups"):
                for member in client.get(f"{RACK}/{pdu}/{family}").json()["Members"]:
                    body = client.get(member["@odata.id"]).json()
                    out[body["@odata.id"]] = body["EnergykWh"]
            return out

        before, other_before = energy_of("1"), energy_of("2")
        peak_before = client.get("/redfish/v1/Chassis/1/Sensors/PowerBranchA").json()
        target = f"{RACK}/1/Metrics/Actions/PowerDistributionMetrics.ResetMetrics"
        assert client.post(target, json={}).status_code == 204
        after, other_after = energy_of("1"), energy_of("2")
        peak_after = client.get("/redfish/v1/Chassis/1/Sensors/PowerBranchA").json()
    assert before["total"]["Reading"] > 0
    assert set(after) == set(before) and len(after) > 50
    for uri, reading in after.items():
        assert reading["Reading"] == 0, uri
        assert reading["LifetimeReading"] >= before[uri]["LifetimeReading"], uri
        assert reading["SensorResetTime"] != before[uri].get("SensorResetTime"), uri
    assert peak_after["PeakReading"] == pytest.approx(peak_after["Reading"], abs=0.01)
    assert peak_before["PeakReading"] >= peak_after["PeakReading"]
    assert other_after == other_before  # PDU 2 untouched (no tick in between)


# ---------------------------------------------------------------------- per-PDU cards
@pytest.fixture(scope="module")
def cards(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedfishServer, int]]:
    base = free_port_run(2)
    port = free_port()
    while port in (base, base + 1):
        port = free_port()
    settings = build_settings(
        tmp_path_factory.mktemp("claims-cards"), redfish_port_base=base, port=port
    )
    with serve(settings) as server:
        server.tick(2)
        yield server, base


def _dmtf(url: str) -> Any:
    rf = redfish.redfish_client(base_url=url, username=ADMIN, password=ADMIN_PASSWORD, timeout=10)
    rf.login(auth="session")
    return rf


def test_a_card_keeps_its_own_accounts_with_the_dmtf_library(
    cards: tuple[RedfishServer, int],
) -> None:
    server, base = cards
    card2 = _dmtf(f"http://127.0.0.1:{base + 1}")
    try:
        made = card2.post(
            ACCOUNTS,
            body={"UserName": "rack2-only", "Password": "rack2-secret-1", "RoleId": "Operator"},
        )
        assert made.status == 201, made.text
        reads = {}
        for name, url in (
            ("card2", f"http://127.0.0.1:{base + 1}"),
            ("card1", f"http://127.0.0.1:{base}"),
            ("fleet", server.url),
        ):
            with httpx.Client(base_url=url, auth=("rack2-only", "rack2-secret-1")) as c:
                reads[name] = c.get("/redfish/v1/Managers").status_code
        assert card2.delete(made.getheader("Location")).status == 204
    finally:
        card2.logout()
    assert reads == {"card2": 200, "card1": 401, "fleet": 401}


def test_a_cards_event_service_pushes_only_its_pdu_with_its_own_uris(
    cards: tuple[RedfishServer, int],
) -> None:
    server, base = cards
    card_listener, fleet_listener = Listener(), Listener()
    card2 = _dmtf(f"http://127.0.0.1:{base + 1}")
    subscriptions = []
    try:
        for rf, listener in ((card2, card_listener),):
            made = rf.post(SUBSCRIPTIONS, body={"Destination": listener.url, "Protocol": "Redfish"})
            assert made.status == 201, made.text
            subscriptions.append((rf, made.getheader("Location")))
        with server.client() as fleet:
            made = fleet.post(SUBSCRIPTIONS, json={"Destination": fleet_listener.url})
            fleet_sub = made.headers["Location"]
            fleet.post(f"{RACK}/1/Outlets/A4/Actions/Outlet.PowerControl",
                       json={"PowerState": "Off"})  # fmt: skip
            fleet.post(f"{RACK}/2/Outlets/A2/Actions/Outlet.PowerControl",
                       json={"PowerState": "Off"})  # fmt: skip
            # a threshold set on the card is the fleet's too; its crossing reaches both
            sensor = "/redfish/v1/Chassis/1/Sensors/CurrentA2"
            patched = card2.patch(sensor, body={"Thresholds": {"UpperCaution": {"Reading": 0}}})
            assert patched.status == 200, patched.text
            server.tick(1)
            fleet_limits = fleet.get("/redfish/v1/Chassis/2/Sensors/CurrentA2").json()
            card_event = card_listener.wait_for("SensorEvent.1.1.ReadingAboveUpperCautionThreshold")
            fleet_event = fleet_listener.wait_for(
                "SensorEvent.1.1.ReadingAboveUpperCautionThreshold"
            )
            assert card2.post(SUBMIT, body={"Message": "sync"}).status == 204
            card_listener.wait_for("ResourceEvent.1.4.TestMessage")
            for pdu, outlet in (("1", "A4"), ("2", "A2")):
                fleet.post(f"{RACK}/{pdu}/Outlets/{outlet}/Actions/Outlet.PowerControl",
                           json={"PowerState": "On"})  # fmt: skip
            card2.patch(sensor, body={"Thresholds": {"UpperCaution": {"Reading": 12.8}}})
            fleet.delete(fleet_sub)
        for rf, uri in subscriptions:
            rf.delete(uri)
    finally:
        card2.logout()
        card_listener.close()
        fleet_listener.close()
    offs = [
        e["OriginOfCondition"]["@odata.id"]
        for p in card_listener.received
        for e in p["Events"]
        if e["MessageId"] == "Power.1.2.OutletPoweredOff"
    ]
    assert offs == [f"{RACK}/1/Outlets/A2"]  # PDU 2's A2 as its card names it; not PDU 1's A4
    assert fleet_limits["Thresholds"]["UpperCaution"]["Reading"] == 0
    assert card_event["Events"][0]["OriginOfCondition"]["@odata.id"] == sensor
    assert fleet_event["Events"][0]["OriginOfCondition"]["@odata.id"] == (
        "/redfish/v1/Chassis/2/Sensors/CurrentA2"
    )
    assert card_event["Events"][0]["EventType"] and "MemberId" in card_event["Events"][0]


def test_wire_faults_on_a_pdu_follow_it_to_its_card(cards: tuple[RedfishServer, int]) -> None:
    server, base = cards
    fault = server.call(
        lambda: server.service.wire.inject("wire_error", "2", None, {"status": 500}, 60)
    )
    try:
        with (
            httpx.Client(
                base_url=f"http://127.0.0.1:{base + 1}", auth=(ADMIN, ADMIN_PASSWORD)
            ) as c2,
            httpx.Client(base_url=f"http://127.0.0.1:{base}", auth=(ADMIN, ADMIN_PASSWORD)) as c1,
        ):
            on_card = c2.get(f"{RACK}/1/Outlets/A1")
            other_card = c1.get(f"{RACK}/1/Outlets/A1")
            card_root = c2.get("/redfish/v1")
    finally:
        server.call(lambda: server.service.wire.clear(fault.id))
    assert on_card.status_code == 500 and on_card.json()["error"]["code"].endswith("InternalError")
    assert card_root.status_code == 500  # the fault is on the way to the card: all of it
    assert other_card.status_code == 200
    with httpx.Client(base_url=f"http://127.0.0.1:{base + 1}", auth=(ADMIN, ADMIN_PASSWORD)) as c2:
        assert c2.get(f"{RACK}/1/Outlets/A1").status_code == 200
