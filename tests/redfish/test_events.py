"""EventService: events pushed to a real local listener (with retries), SSE, SubmitTestEvent."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from rf_support import OPERATOR, OPERATOR_PASSWORD, RedfishServer

from energydash.net import free_port

SUBSCRIPTIONS = "/redfish/v1/EventService/Subscriptions"
SUBMIT = "/redfish/v1/EventService/Actions/EventService.SubmitTestEvent"


class Listener:
    """An HTTP server that records every POSTed event; can refuse the first N deliveries."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.refused = 0
        self.fail_first = fail_first
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                listener.headers.append(dict(self.headers))
                if listener.refused < listener.fail_first:
                    listener.refused += 1
                    self.send_response(503)
                else:
                    listener.received.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, message_id: str, timeout_s: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for payload in self.received:
                for event in payload["Events"]:
                    if event["MessageId"] == message_id:
                        return payload
            time.sleep(0.05)
        raise AssertionError(f"{message_id} not received; got {self.received}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def subscribe(client: httpx.Client, destination: str, **extra: Any) -> str:
    body = {"Destination": destination, "Protocol": "Redfish", "Context": "test-ctx", **extra}
    response = client.post(SUBSCRIPTIONS, json=body)
    assert response.status_code == 201, response.text
    return response.headers["Location"]


def test_a_subscription_receives_a_pushed_event_when_an_outlet_switches(
    redfish_server: RedfishServer, listener: Listener
) -> None:
    with redfish_server.client() as admin:
        location = subscribe(admin, listener.url, RegistryPrefixes=["Power"])
        sub = admin.get(location).json()
        assert sub["Destination"] == listener.url and sub["Context"] == "test-ctx"
        with redfish_server.client(OPERATOR, OPERATOR_PASSWORD) as operator:
            target = "/redfish/v1/PowerEquipment/RackPDUs/2/Outlets/C9/Actions/Outlet.PowerControl"
            assert operator.post(target, json={"PowerState": "Off"}).status_code == 204
            payload = listener.wait_for("Power.1.2.OutletPoweredOff")
            assert payload["Context"] == "test-ctx"
            event = payload["Events"][0]
            assert event["OriginOfCondition"]["@odata.id"].endswith("/RackPDUs/2/Outlets/C9")
            operator.post(target, json={"PowerState": "On"})
        # the prefix filter keeps ResourceEvent messages away from this subscriber
        admin.post(SUBMIT, json={})
        time.sleep(0.3)
        assert all(
            e["MessageId"].startswith("Power.") for p in listener.received for e in p["Events"]
        )
        assert admin.delete(location).status_code == 204
        assert admin.get(location).status_code == 404


def test_delivery_is_retried_when_the_listener_fails_first(
    redfish_server: RedfishServer,
) -> None:
    flaky = Listener(fail_first=1)
    try:
        with redfish_server.client() as admin:
            location = subscribe(admin, flaky.url)
            response = admin.post(SUBMIT, json={"Message": "retry me"})
            assert response.status_code == 204
            payload = flaky.wait_for("ResourceEvent.1.4.TestMessage")
            assert payload["Events"][0]["Message"] == "retry me"
            assert flaky.refused == 1
            admin.delete(location)
    finally:
        flaky.close()


def test_a_dead_destination_never_blocks_requests(redfish_server: RedfishServer) -> None:
    dead = f"http://127.0.0.1:{free_port()}/nobody"
    with redfish_server.client() as admin:
        location = subscribe(admin, dead)
        for _ in range(5):
            assert admin.post(SUBMIT, json={}).status_code == 204
        assert admin.get("/redfish/v1/EventService").status_code == 200
        admin.delete(location)


@pytest.mark.parametrize(
    "body",
    [
        {"Destination": "http://127.0.0.1:9/x", "Protocol": "SNMPv2c"},
        {"Protocol": "Redfish"},
        {"Destination": "not a url", "Protocol": "Redfish"},
        {"Destination": "http://127.0.0.1:9/x", "RegistryPrefixes": ["Nope"]},
        {"Destination": "http://127.0.0.1:9/x", "Colour": "blue"},
    ],
)
def test_bad_subscriptions_are_refused_with_400(
    redfish_server: RedfishServer, body: dict[str, Any]
) -> None:
    with redfish_server.client() as admin:
        before = admin.get(SUBSCRIPTIONS).json()["Members@odata.count"]
        response = admin.post(SUBSCRIPTIONS, json=body)
        assert response.status_code == 400
        assert admin.get(SUBSCRIPTIONS).json()["Members@odata.count"] == before


def test_sse_streams_the_same_events(redfish_server: RedfishServer) -> None:
    with redfish_server.client() as admin:
        sse_uri = admin.get("/redfish/v1/EventService").json()["ServerSentEventUri"]
        with redfish_server.client() as reader, reader.stream("GET", sse_uri) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines).startswith(":")  # registered before the first line
            admin.post(SUBMIT, json={"Message": "over SSE"})
            for line in lines:
                if line.startswith("data: "):
                    event = json.loads(line[len("data: ") :])["Events"][0]
                    assert event["Message"] == "over SSE"
                    break


def test_head_on_the_sse_uri_answers_without_streaming(redfish_server: RedfishServer) -> None:
    with redfish_server.client() as client:
        response = client.head("/redfish/v1/EventService/SSE")
    assert response.status_code == 200 and response.content == b""
