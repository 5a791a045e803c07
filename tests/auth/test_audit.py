"""Every control action is audited: REST and Redfish, allowed and refused, in every sink."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import orjson
import pytest
from auth_support import ADMIN, OPERATOR, READER, auth_settings, backend
from websockets.sync.client import connect

from energydash.app import BackgroundServer
from energydash.auth.audit import auditor_of
from energydash.models.audit import AuditData

LOG = "/redfish/v1/Managers/BMC/LogServices/Log/Entries"
OUTLET_A4 = "/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/A4"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    with backend(auth_settings(tmp_path_factory.mktemp("audit"))) as running:
        yield running


def _recent(server: BackgroundServer) -> list[dict]:
    return httpx.get(f"{server.url}/api/v1/audit", auth=READER).json()["records"]


def _audit_log(server: BackgroundServer) -> str:
    server.app.state.auditor.flush()  # a burst of records is written once per window
    return (server.app.state.settings.log_dir / "audit.log").read_text()


def test_an_operators_rest_switch_reaches_every_audit_sink(server: BackgroundServer) -> None:
    with connect(server.reader_ws_url) as ws:
        ws.send(orjson.dumps({"op": "subscribe", "topics": ["audit"]}).decode())
        assert orjson.loads(ws.recv(timeout=5))["type"] == "snapshot"
        response = httpx.post(
            f"{server.url}/api/v1/pdus/1/outlets/A3/power", json={"action": "Off"}, auth=OPERATOR
        )
        assert response.status_code == 200
        pushed = AuditData.model_validate(orjson.loads(ws.recv(timeout=5))["data"])
    record = pushed.records[-1]
    assert (record.user, record.role, record.face, record.action, record.result) == (
        OPERATOR[0],
        "Operator",
        "rest",
        "outlet.power",
        "ok",
    )
    assert record.target == "/api/v1/pdus/1/outlets/A3/power" and record.detail == "Off"
    assert record.origin.startswith("127.0.0.1:")
    assert _recent(server)[-1] == record.model_dump(mode="json")
    assert "user='operator' role=Operator action=outlet.power" in _audit_log(server)
    entries = httpx.get(f"{server.url}{LOG}", auth=ADMIN).json()["Members"]
    assert any(
        "operator (Operator)" in e["Message"] and "outlet.power" in e["Message"] for e in entries
    )


def test_a_readonly_refusal_is_audited_with_its_reason(server: BackgroundServer) -> None:
    response = httpx.post(f"{server.url}/api/v1/simulation", json={"action": "stop"}, auth=READER)
    assert response.status_code == 403
    record = _recent(server)[-1]
    assert (record["user"], record["action"], record["result"]) == (
        READER[0],
        "sim.control",
        "refused",
    )
    assert "ConfigureManager" in record["detail"]


def test_a_failed_command_is_audited_as_failed(server: BackgroundServer) -> None:
    response = httpx.post(
        f"{server.url}/api/v1/pdus/1/outlets/Z99/power", json={"action": "On"}, auth=OPERATOR
    )
    assert response.status_code == 404
    record = _recent(server)[-1]
    assert record["result"] == "failed" and "Z99" in record["detail"]


def test_a_redfish_action_is_audited(server: BackgroundServer) -> None:
    response = httpx.post(
        f"{server.url}{OUTLET_A4}/Actions/Outlet.PowerControl",
        json={"PowerState": "Off"},
        auth=ADMIN,
    )
    assert response.status_code == 204
    record = _recent(server)[-1]
    assert (record["face"], record["action"], record["target"], record["result"]) == (
        "redfish",
        "Outlet.PowerControl",
        OUTLET_A4,
        "ok",
    )
    assert record["detail"] == "PowerState=Off"
    refused = httpx.post(
        f"{server.url}{OUTLET_A4}/Actions/Outlet.PowerControl",
        json={"PowerState": "On"},
        auth=READER,
    )
    assert refused.status_code == 403
    assert _recent(server)[-1]["result"] == "refused"


def test_an_account_change_is_audited_without_the_password(server: BackgroundServer) -> None:
    response = httpx.post(
        f"{server.url}/redfish/v1/AccountService/Accounts",
        json={"UserName": "frank", "Password": "frank-secret-1", "RoleId": "ReadOnly"},
        auth=ADMIN,
    )
    assert response.status_code == 201
    record = _recent(server)[-1]
    assert record["user"] == ADMIN[0] and record["result"] == "ok"
    assert "Password" in record["detail"]  # the property name only
    assert "frank-secret-1" not in _audit_log(server)


def test_anonymous_refusals_are_logged_but_cannot_flush_recent_actions(
    server: BackgroundServer,
) -> None:
    kept = _recent(server)
    lines_before = _audit_log(server).count("\n")
    for _ in range(50):
        response = httpx.post(
            f"{server.url}/api/v1/pdus/1/outlets/A1/power", json={"action": "Off"}
        )
        assert response.status_code == 401
    recent = _recent(server)
    assert len(recent) <= len(kept) + 1  # the first of the window, the rest summed later
    assert recent[: len(kept)] == kept  # no real entry pushed out
    assert _audit_log(server).count("\n") >= lines_before + 50  # every one on disk


def test_the_mqtt_face_can_record_through_the_backends_auditor(server: BackgroundServer) -> None:
    auditor = auditor_of(server.app)
    assert auditor is not None
    server.call(
        lambda: auditor.record(
            "device-7", None, "mqtt", "outlet.power", "1-A7", "broker:dev7", "refused", "unknown"
        )
    )
    assert _recent(server)[-1]["face"] == "mqtt"
