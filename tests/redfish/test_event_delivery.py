"""Event delivery policies, SSE destinations, subscription filters and bad subscription input."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from rf_support import RedfishServer
from test_events import SUBMIT, SUBSCRIPTIONS, Listener, subscribe

RACK = "/redfish/v1/PowerEquipment/RackPDUs"


@pytest.fixture
def sink() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def eventually(check: Callable[[], bool], timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_terminate_after_retries_deletes_the_subscription(redfish_server: RedfishServer) -> None:
    listener = Listener(fail_first=1000)
    try:
        with redfish_server.client() as client:
            uri = subscribe(client, listener.url, DeliveryRetryPolicy="TerminateAfterRetries")
            client.post(SUBMIT, json={"Message": "to a dead listener"})
            eventually(lambda: client.get(uri).status_code == 404)
        assert listener.refused == 3  # the first try and its 2 retries
    finally:
        listener.close()


def test_suspend_retries_disables_then_resume_delivers_the_held_event(
    redfish_server: RedfishServer,
) -> None:
    listener = Listener(fail_first=1000)
    try:
        with redfish_server.client() as client:
            uri = subscribe(client, listener.url, DeliveryRetryPolicy="SuspendRetries")
            client.post(SUBMIT, json={"Message": "held while suspended"})
            eventually(lambda: client.get(uri).json()["Status"]["State"] == "Disabled")
            listener.fail_first = 0
            resumed = client.post(f"{uri}/Actions/EventDestination.ResumeSubscription", json={})
            assert resumed.status_code == 204
            listener.wait_for("ResourceEvent.1.4.TestMessage")
            assert client.get(uri).json()["Status"]["State"] == "Enabled"
            client.delete(uri)
    finally:
        listener.close()


def test_retry_forever_keeps_trying_past_the_attempt_count(redfish_server: RedfishServer) -> None:
    listener = Listener(fail_first=4)  # more failures than DeliveryRetryAttempts (2) allows
    try:
        with redfish_server.client() as client:
            uri = subscribe(client, listener.url, DeliveryRetryPolicy="RetryForever")
            client.post(SUBMIT, json={"Message": "eventually"})
            payload = listener.wait_for("ResourceEvent.1.4.TestMessage", timeout_s=20)
            assert client.get(uri).status_code == 200
            client.delete(uri)
    finally:
        listener.close()
    event = payload["Events"][0]
    assert event["MemberId"] == "0" and event["EventType"] in ("StatusChange", "Alert")


def test_patching_retry_settings_applies_to_existing_subscriptions(
    redfish_server: RedfishServer, sink: Listener
) -> None:
    with redfish_server.client() as client:
        uri = subscribe(client, sink.url)
        sub_id = uri.rsplit("/", 1)[-1]
        answer = client.patch("/redfish/v1/EventService", json={"DeliveryRetryAttempts": 5})
        attempts = redfish_server.call(
            lambda: redfish_server.service.events.subscriptions[sub_id].retry_attempts
        )
        client.patch("/redfish/v1/EventService", json={"DeliveryRetryAttempts": 2})
        policy = client.patch(uri, json={"DeliveryRetryPolicy": "RetryForever"}).json()
        client.delete(uri)
    assert answer.status_code == 200 and attempts == 5
    assert policy["DeliveryRetryPolicy"] == "RetryForever"


def test_headers_filters_and_origin_are_honoured(
    redfish_server: RedfishServer, sink: Listener
) -> None:
    with redfish_server.client() as client:
        uri = subscribe(
            client,
            sink.url,
            HttpHeaders=[{"X-Tenant": "blue"}],
            ExcludeRegistryPrefixes=["ResourceEvent"],
            IncludeOriginOfCondition=False,
            OriginResources=[{"@odata.id": f"{RACK}/1"}],
            SubordinateResources=True,
        )
        shown = client.get(uri).json()
        client.post(SUBMIT, json={"Message": "excluded"})
        outlet = f"{RACK}/1/Outlets/A7"
        client.post(f"{outlet}/Actions/Outlet.PowerControl", json={"PowerState": "Off"})
        payload = sink.wait_for("Power.1.2.OutletPoweredOff")
        client.post(f"{outlet}/Actions/Outlet.PowerControl", json={"PowerState": "On"})
        client.delete(uri)
    assert shown["HttpHeaders"] == [] and shown["IncludeOriginOfCondition"] is False
    assert all(e["MessageId"].split(".")[0] != "ResourceEvent"
               for p in sink.received for e in p["Events"])  # fmt: skip
    assert "OriginOfCondition" not in payload["Events"][0]
    assert any(h.get("X-Tenant") == "blue" for h in sink.headers)


def test_an_sse_stream_is_a_listed_deletable_destination(redfish_server: RedfishServer) -> None:
    with redfish_server.client() as admin:
        before = {m["@odata.id"] for m in admin.get(SUBSCRIPTIONS).json()["Members"]}
        with (
            redfish_server.client() as reader,
            reader.stream("GET", "/redfish/v1/EventService/SSE") as stream,
        ):
            destination = stream.headers["location"]
            lines = stream.iter_lines()
            next(lines)
            listed = {m["@odata.id"] for m in admin.get(SUBSCRIPTIONS).json()["Members"]}
            shown = admin.get(destination).json()
            assert admin.delete(destination).status_code == 204
            rest = list(lines)  # the stream ends when its destination is deleted
        eventually(lambda: admin.get(destination).status_code == 404)
        with (
            redfish_server.client() as reader,
            reader.stream("GET", "/redfish/v1/EventService/SSE") as stream,
        ):
            second = stream.headers["location"]
            next(stream.iter_lines())
        eventually(lambda: admin.get(second).status_code == 404)  # closed: removed
    assert destination in listed - before
    assert shown["SubscriptionType"] == "SSE"
    assert all(not line.startswith("data:") for line in rest)


def test_malformed_destination_and_non_ascii_ids_are_400_and_create_nothing(
    redfish_server: RedfishServer,
) -> None:
    with redfish_server.client() as client:
        subs = client.get(SUBSCRIPTIONS).json()["Members@odata.count"]
        bad = client.post(SUBSCRIPTIONS, json={"Destination": "http://[::1", "Protocol": "Redfish"})
        groups = client.get(f"{RACK}/1/OutletGroups").json()["Members@odata.count"]
        cyrillic = client.post(
            f"{RACK}/1/OutletGroups",
            content=json.dumps(
                {"Id": "группа", "Name": "x",
                 "Links": {"Outlets": [{"@odata.id": f"{RACK}/1/Outlets/A1"}]}}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        after_groups = client.get(f"{RACK}/1/OutletGroups").json()["Members@odata.count"]
        after_subs = client.get(SUBSCRIPTIONS).json()["Members@odata.count"]
    assert bad.status_code == 400 and cyrillic.status_code == 400
    assert cyrillic.headers["content-type"].startswith("application/json")
    assert (after_subs, after_groups) == (subs, groups)


def test_unknown_retry_policy_is_refused(redfish_server: RedfishServer) -> None:
    with httpx.Client(base_url=redfish_server.url, auth=("admin", "admin-secret-1")) as client:
        answer = client.post(
            SUBSCRIPTIONS,
            json={"Destination": "http://127.0.0.1:9/x", "DeliveryRetryPolicy": "Sometimes"},
        )
    assert answer.status_code == 400
