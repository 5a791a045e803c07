"""PDU faults become alerts on REST and the hub's `alerts` topic; acknowledging needs a role."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from energydash.analytics.scenario import EXPECTED_PDU
from energydash.app import create_app
from energydash.config import Settings
from energydash.sim.commands import BreakerControl, ClearFault, InjectFault

ADMIN = ("admin", "energydash")
READER = ("viewer", "viewer-pass-1")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    cfg = settings.model_copy(
        update={
            "mqtt_ingest": False,
            "mqtt_publish": False,
            "redfish_readonly_user": READER[0],
            "redfish_readonly_password": SecretStr(READER[1]),
        }
    )
    with TestClient(create_app(cfg)) as test_client:
        yield test_client


def step(client: TestClient, n: int = 1) -> None:
    engine = client.app.state.engine
    for _ in range(n):
        client.portal.call(engine.step)


def live(client: TestClient, **params: str) -> list[dict]:
    response = client.get("/api/v1/alerts", params={"state": "live", **params}, auth=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()["alerts"]


CASES = [
    ("sensor_stuck", "1", "A3", "pdu/1/A3"),
    ("sensor_dropout", "1", "B2", "pdu/1/B2"),
    ("sensor_noisy", "2", "C5", "pdu/2/C5"),
    ("relay_failure", "2", "A1", "pdu/2/A1"),
    ("branch_overload", "1", "B", "pdu/1/branch/B"),
    ("comm_loss", "2", None, "pdu/2"),
]


@pytest.mark.parametrize(("kind", "pdu", "target", "where"), CASES, ids=[c[0] for c in CASES])
def test_pdu_fault_raises_the_right_alert_and_resolves_when_cleared(
    client: TestClient, kind: str, pdu: str, target: str | None, where: str
) -> None:
    engine = client.app.state.engine
    step(client, 2)
    assert live(client, target=where) == []
    fault = client.portal.call(engine.execute, InjectFault(kind, pdu, target)).fault_id
    expected = EXPECTED_PDU[kind]
    for _ in range(10):
        step(client)
        found = [a for a in live(client, target=where) if (a["source"], a["kind"]) in expected]
        if found:
            break
    else:
        raise AssertionError(f"no {expected} alert on {where}: {live(client)}")
    alert = found[0]
    assert alert["pdu_id"] == pdu and alert["state"] == "open"
    topic = client.get("/api/v1/snapshots/alerts", auth=ADMIN).json()["data"]
    assert alert["id"] in {a["id"] for a in topic["alerts"]}
    client.portal.call(engine.execute, ClearFault(fault))
    if kind == "branch_overload":
        client.portal.call(engine.execute, BreakerControl(pdu, target, "On"))
    step(client, 2)
    assert live(client, target=where) == []
    resolved = client.get("/api/v1/alerts", params={"state": "resolved"}, auth=ADMIN).json()
    assert alert["id"] in {a["id"] for a in resolved["alerts"]}


def test_comm_lost_pdu_alert_says_since_when(client: TestClient) -> None:
    engine = client.app.state.engine
    step(client, 2)
    client.portal.call(engine.execute, InjectFault("comm_loss", "1"))
    step(client, 2)
    (alert,) = live(client, target="pdu/1")
    assert alert["source"] == "comm_loss" and alert["severity"] == "critical"
    assert "since 20" in alert["message"]


def test_readonly_cannot_acknowledge_and_operator_rights_can(client: TestClient) -> None:
    engine = client.app.state.engine
    client.portal.call(engine.execute, InjectFault("relay_failure", "1", "A2"))
    step(client, 2)
    (alert,) = live(client, target="pdu/1/A2")
    assert client.get("/api/v1/alerts").status_code == 401
    denied = client.post(f"/api/v1/alerts/{alert['id']}/ack", auth=READER)
    assert denied.status_code == 403 and "ConfigureComponents" in denied.json()["reason"]
    assert live(client, target="pdu/1/A2")[0]["state"] == "open"
    done = client.post(f"/api/v1/alerts/{alert['id']}/ack", auth=ADMIN)
    assert done.status_code == 200
    assert done.json()["state"] == "acknowledged" and done.json()["acknowledged_by"] == "admin"
    assert client.post("/api/v1/alerts/A999999/ack", auth=ADMIN).status_code == 404


def test_alert_filters_are_bounded_and_checked(client: TestClient) -> None:
    assert client.get("/api/v1/alerts", params={"limit": 5000}, auth=ADMIN).status_code == 422
    bad = client.get("/api/v1/alerts", params={"severity": "meh"}, auth=ADMIN)
    assert bad.status_code == 422


def test_pdu_alert_opening_and_resolving_are_redfish_events_of_the_pdu(
    client: TestClient,
) -> None:
    from energydash.redfish import RedfishService

    events = RedfishService.find(client.app).events  # type: ignore[union-attr]
    engine = client.app.state.engine
    fault = client.portal.call(engine.execute, InjectFault("comm_loss", "1")).fault_id
    step(client, 2)
    client.portal.call(engine.execute, ClearFault(fault))
    step(client, 2)
    mine = [r.entry() for r in events.log if "(alert " in r.entry()["Message"]]
    ids = [e["MessageId"].rsplit(".", 1)[-1] for e in mine]
    assert ids == ["ResourceStatusChangedCritical", "ResourceStatusChangedOK"]
    assert all(e["OriginOfCondition"]["@odata.id"].endswith("/1") for e in mine)
    assert "no data from Rack PDU 1" in mine[0]["Message"]


def test_idle_outlet_suggestion_applies_for_admin_only_and_switches_them_off(
    client: TestClient,
) -> None:
    step(client, 12)  # suggestions are refreshed every 10 s of data time
    data = client.get("/api/v1/snapshots/analytics/suggestions", auth=ADMIN).json()["data"]
    idle = next(s for s in data["suggestions"] if s["kind"] == "power_down_idle")
    assert idle["appliable"] and idle["commands"] and idle["saving_kg_co2"] > 0
    path = f"/api/v1/suggestions/{idle['id']}/apply"
    assert client.post(path, auth=READER).status_code == 403
    fleet = client.app.state.engine.fleet
    first = idle["commands"][0]
    assert fleet.outlet(first["pdu_id"], first["outlet_id"]).power_state == "On"
    done = client.post(path, auth=ADMIN)
    assert done.status_code == 200, done.text
    assert all(r["ok"] for r in done.json()["results"])
    assert fleet.outlet(first["pdu_id"], first["outlet_id"]).power_state == "Off"
    assert client.post("/api/v1/suggestions/nope/apply", auth=ADMIN).status_code == 404


def test_equipment_fault_injection_needs_a_role_and_names_a_bad_field(client: TestClient) -> None:
    body = {"kind": "bearing_wear", "target": "motor-01", "develop_s": 600}
    assert client.post("/api/v1/equipment/faults", json=body, auth=READER).status_code == 403
    assert client.app.state.equipment.labels == []
    bad = client.post("/api/v1/equipment/faults", json={**body, "target": "hvac-01"}, auth=ADMIN)
    assert bad.status_code == 422 and bad.json()["field"] == "target"
    made = client.post("/api/v1/equipment/faults", json=body, auth=ADMIN).json()
    step(client, 2)
    faults = client.get("/api/v1/snapshots/analytics/faults", auth=ADMIN).json()["data"]["faults"]
    assert [(f["id"], f["kind"], f["end"]) for f in faults] == [(made["id"], "bearing_wear", None)]
    assert client.delete(f"/api/v1/equipment/faults/{made['id']}", auth=ADMIN).status_code == 200
    assert client.app.state.equipment.labels[0].end is not None


def test_ws_topic_alerts_sends_a_snapshot_of_open_alerts_then_changes(client: TestClient) -> None:
    engine = client.app.state.engine
    client.portal.call(engine.execute, InjectFault("relay_failure", "1", "A4"))
    step(client, 2)
    basic = base64.b64encode(":".join(ADMIN).encode()).decode()
    with client.websocket_connect("/ws", headers={"Authorization": f"Basic {basic}"}) as ws:
        ws.send_json({"op": "subscribe", "topics": ["alerts"]})
        snapshot = ws.receive_json()
        assert snapshot["type"] == "snapshot" and snapshot["topic"] == "alerts"
        assert "pdu/1/A4" in {a["target"] for a in snapshot["data"]["alerts"]}
        assert snapshot["data"]["counts"]["critical"] >= 1
        fault = client.portal.call(engine.execute, InjectFault("sensor_stuck", "2", "B1"))
        step(client)
        update = ws.receive_json()
        while update.get("type") == "ping":
            update = ws.receive_json()
        assert update["type"] == "update" and update["seq"] > snapshot["seq"]
        assert {a["target"] for a in update["data"]["changes"]} == {"pdu/2/B1"}
        assert fault.fault_id
