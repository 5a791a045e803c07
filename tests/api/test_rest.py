"""REST /api/v1 against the real app and engine (stepped clock, no MQTT)."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from energydash.app import create_app
from energydash.config import Settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    cfg = settings.model_copy(update={"mqtt_ingest": False, "mqtt_publish": False})
    app = create_app(cfg)
    with TestClient(app) as test_client:
        test_client.auth = (cfg.redfish_user, cfg.redfish_password.get_secret_value())
        yield test_client


def admin(client: TestClient) -> tuple[str, str]:
    """Basic credentials of the first Administrator (history reads need a caller)."""
    cfg = client.app.state.settings
    return cfg.redfish_user, cfg.redfish_password.get_secret_value()


def step(client: TestClient, n: int = 1) -> None:
    engine = client.app.state.engine
    for _ in range(n):
        client.portal.call(engine.step)


def test_topics_list_every_pdu_grid_and_device_topic(client: TestClient) -> None:
    topics = {row["topic"] for row in client.get("/api/v1/topics").json()["topics"]}
    assert {"pdu/1/outlets", "pdu/2/summary", "facilities", "market/NEM"} <= topics
    assert any(t.startswith("devices/") for t in topics)


def test_snapshot_is_the_ws_envelope_and_seq_grows_per_tick(client: TestClient) -> None:
    first = client.get("/api/v1/snapshots/pdu/1/summary").json()
    step(client)
    second = client.get("/api/v1/snapshots/pdu/1/summary").json()
    assert first["type"] == "snapshot" and first["topic"] == "pdu/1/summary"
    assert second["seq"] == first["seq"] + 1
    assert second["ts"].endswith("Z") and second["ts"] > first["ts"]


def test_unknown_topic_is_404_with_a_reason(client: TestClient) -> None:
    response = client.get("/api/v1/snapshots/pdu/99/outlets")
    assert response.status_code == 404
    assert "pdu/99/outlets" in response.json()["reason"]


def test_history_downsamples_and_exports_csv(client: TestClient) -> None:
    step(client, 30)  # 30 s of sim time at 5 s resolution
    body = client.get(
        "/api/v1/history/pdu/1/summary", params={"series": "power_w,energy_kwh"}, auth=admin(client)
    ).json()
    assert len(body["timestamps"]) >= 6
    energy = body["series"]["energy_kwh"]
    assert all(b >= a for a, b in itertools.pairwise(energy))  # meters never run back
    coarse = client.get(
        "/api/v1/history/pdu/1/summary",
        params={"series": "power_w", "step_s": 15},
        auth=admin(client),
    ).json()
    assert len(coarse["timestamps"]) < len(body["timestamps"])
    response = client.get(
        "/api/v1/history/pdu/1/summary",
        params={"series": "power_w", "format": "csv"},
        auth=admin(client),
    )
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["timestamp", "power_w"]
    assert len(rows) - 1 == len(body["timestamps"])


def test_history_rejects_unknown_series_and_bad_times(client: TestClient) -> None:
    response = client.get(
        "/api/v1/history/pdu/1/summary", params={"series": "nope"}, auth=admin(client)
    )
    assert response.status_code == 422 and response.json()["field"] == "series"
    response = client.get(
        "/api/v1/history/pdu/1/summary", params={"start": "yesterday"}, auth=admin(client)
    )
    assert response.status_code == 422 and "start" in response.json()["reason"]


def test_history_needs_a_caller(client: TestClient) -> None:
    response = client.get("/api/v1/history/pdu/1/summary", auth=None)  # no credential
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers


def test_device_lifecycle_create_update_command_delete(client: TestClient) -> None:
    devices = client.get("/api/v1/devices").json()["devices"]
    occupied = {d["device_id"] for d in devices}
    pdu = client.app.state.engine.fleet.pdus[0]
    free = next(o.id for o in pdu.outlets if f"1-{o.id}" not in occupied)
    device_id = f"1-{free}"

    created = client.post(
        "/api/v1/devices",
        json={"pdu_id": "1", "outlet_id": free, "profile": "server", "name": "web-01"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "web-01"
    assert client.get(f"/api/v1/snapshots/devices/{device_id}").json()["data"]["name"] == "web-01"
    again = client.post(
        "/api/v1/devices", json={"pdu_id": "1", "outlet_id": free, "profile": "server"}
    )
    assert again.status_code == 409

    updated = client.patch(f"/api/v1/devices/{device_id}", json={"name": "web-02"})
    assert updated.json()["name"] == "web-02" and updated.json()["profile"] == "server"

    off = client.post(
        f"/api/v1/devices/{device_id}/commands", json={"command": "set_power", "value": "Off"}
    )
    assert off.status_code == 200 and off.json()["device"]["power_state"] == "Off"
    outlets = client.get("/api/v1/snapshots/pdu/1/outlets").json()["data"]["outlets"]
    assert outlets["power_state"][outlets["id"].index(free)] == "Off"

    assert client.delete(f"/api/v1/devices/{device_id}").status_code == 204
    assert client.get(f"/api/v1/devices/{device_id}").status_code == 404
    assert client.get(f"/api/v1/snapshots/devices/{device_id}").status_code == 404


def test_unknown_or_bad_command_is_422_and_changes_nothing(client: TestClient) -> None:
    device_id = client.get("/api/v1/devices").json()["devices"][0]["device_id"]
    before = client.get(f"/api/v1/devices/{device_id}").json()["power_state"]
    response = client.post(
        f"/api/v1/devices/{device_id}/commands", json={"command": "explode", "value": 1}
    )
    assert response.status_code == 422 and "command" in response.json()["reason"]
    response = client.post(
        f"/api/v1/devices/{device_id}/commands", json={"command": "set_power", "value": "Sideways"}
    )
    assert response.status_code == 422 and response.json()["field"] == "value"
    assert client.get(f"/api/v1/devices/{device_id}").json()["power_state"] == before


def test_disabled_outlet_refuses_power_with_a_reason(client: TestClient) -> None:
    device_id = client.get("/api/v1/devices").json()["devices"][0]["device_id"]
    pdu_id, outlet_id = device_id.split("-")
    client.post(
        f"/api/v1/devices/{device_id}/commands", json={"command": "set_enabled", "value": False}
    )
    response = client.post(
        f"/api/v1/pdus/{pdu_id}/outlets/{outlet_id}/power", json={"action": "Off"}
    )
    assert response.status_code in (409, 422)
    assert response.json()["reason"]
    assert client.get(f"/api/v1/devices/{device_id}").json()["power_state"] == "On"


def test_outlet_power_on_unknown_outlet_is_404(client: TestClient) -> None:
    response = client.post("/api/v1/pdus/1/outlets/Z9/power", json={"action": "On"})
    assert response.status_code == 404 and response.json()["field"] == "outlet_id"


def test_simulation_stop_start_and_speed(client: TestClient) -> None:
    status = client.get("/api/v1/simulation").json()
    assert status["clock_mode"] == "stepped" and status["pdus"] == 2
    assert client.post("/api/v1/simulation", json={"action": "stop"}).json()["paused"] is True
    assert client.post("/api/v1/simulation", json={"action": "start"}).json()["paused"] is False
    response = client.post("/api/v1/simulation", json={"speed": -1})
    assert response.status_code == 422 and "speed" in response.json()["reason"]


def test_fault_inject_list_clear(client: TestClient) -> None:
    created = client.post("/api/v1/faults", json={"kind": "comm_loss", "pdu_id": "2"})
    assert created.status_code == 201, created.text
    fault_id = created.json()["fault_id"]
    assert [f["fault_id"] for f in client.get("/api/v1/faults").json()["faults"]] == [fault_id]
    summary = client.get("/api/v1/snapshots/pdu/2/summary").json()["data"]
    assert summary["power_w"] is None  # a PDU without communication reports nothing
    assert client.delete(f"/api/v1/faults/{fault_id}").status_code == 204
    assert client.delete(f"/api/v1/faults/{fault_id}").status_code == 404
    bad = client.post("/api/v1/faults", json={"kind": "gremlins", "pdu_id": "1"})
    assert bad.status_code == 422 and bad.json()["field"] == "body.kind"


def test_health_and_metrics(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok"
    assert health["checks"]["engine"]["clock_mode"] == "stepped"
    assert "queue_size" in health["checks"]["stream"]
    text = client.get("/metrics").text
    assert "# TYPE energydash_engine_ticks_total counter" in text


def test_openapi_documents_the_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/devices/{device_id}/commands" in paths
    assert "/api/v1/history/{topic}" in paths


def test_wrong_method_and_bad_json_get_json_reasons(client: TestClient) -> None:
    response = client.put("/api/v1/simulation", json={})
    assert response.status_code == 405 and response.json()["reason"]
    response = client.post(
        "/api/v1/simulation", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and response.json()["reason"]
