"""REST /api/v1/sites and the IoT-mock /devices shapes, with ownership, on the real app."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from energydash.app import create_app
from energydash.config import Settings
from energydash.models.audit import AuditRecord
from energydash.models.sites import SiteDevicesData, SiteStats


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def site_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "mqtt_ingest": False,
            "mqtt_publish": False,
            "redfish_operator_user": "operator",
            "redfish_operator_password": SecretStr("operator-pass"),
            "redfish_readonly_user": "viewer",
            "redfish_readonly_password": SecretStr("viewer-pass"),
        }
    )


@pytest.fixture
def client(site_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(site_settings)) as test_client:
        yield test_client


@pytest.fixture
def who(site_settings: Settings) -> dict[str, dict[str, str]]:
    return {
        "admin": basic(
            site_settings.redfish_user, site_settings.redfish_password.get_secret_value()
        ),
        "operator": basic("operator", "operator-pass"),
        "viewer": basic("viewer", "viewer-pass"),
    }


def step(client: TestClient, n: int = 1, dt: float = 1.0) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    for _ in range(n):
        client.portal.call(engine.step, dt)


def site_named(client: TestClient, headers: dict[str, str], name: str) -> dict[str, object]:
    rows = client.get("/api/v1/sites", headers=headers).json()["sites"]
    return next(r for r in rows if r["name"] == name)


def test_demo_sites_seeded_per_account_and_building_a_has_the_five_loads_and_the_pdus(
    client: TestClient, who: dict[str, dict[str, str]]
) -> None:
    names = [s["name"] for s in client.get("/api/v1/sites", headers=who["admin"]).json()["sites"]]
    assert names == ["Home of admin", "Home of operator", "Home of viewer", "Building A"]
    building = site_named(client, who["admin"], "Building A")
    devices = client.get(f"/api/v1/sites/{building['site_id']}/devices", headers=who["admin"])
    rows = {d["name"]: d for d in devices.json()["devices"]}
    expected = {
        "HVAC System": 25_000,
        "LED Lighting": 8_500,
        "Server Rack": 45_000,
        "Production Line": 120_000,
        "Kitchen Equipment": 15_000,
    }
    for name, rated in expected.items():
        assert rows[name]["settings"]["rated_w"] == rated
        assert rows[name]["voltage_v"] == 400 and rows[name]["phases"] == 3
    pdus = [d for d in rows.values() if d["kind"] == "pdu"]
    assert {d["settings"]["pdu_id"] for d in pdus} == {"1", "2"}


def test_regular_users_see_only_their_own_sites_and_administrators_see_all(
    client: TestClient, who: dict[str, dict[str, str]]
) -> None:
    mine = client.get("/api/v1/sites", headers=who["operator"]).json()["sites"]
    assert [s["name"] for s in mine] == ["Home of operator"]
    theirs = site_named(client, who["admin"], "Home of viewer")
    response = client.get(f"/api/v1/sites/{theirs['site_id']}", headers=who["operator"])
    assert response.status_code == 404  # another account's site does not exist for them
    response = client.get(f"/api/v1/sites/{theirs['site_id']}", headers=who["admin"])
    assert response.status_code == 200


def test_site_routes_need_a_credential(client: TestClient) -> None:
    response = client.get("/api/v1/sites")
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers
    assert client.post("/api/v1/sites", json={"name": "x"}).status_code == 401
    assert (
        client.post("/api/v1/devices", json={"device_type": "hvac", "name": "x"}).status_code == 401
    )


def test_readonly_cannot_change_its_own_site_and_operator_cannot_touch_anothers(
    client: TestClient, who: dict[str, dict[str, str]]
) -> None:
    viewer_site = site_named(client, who["viewer"], "Home of viewer")["site_id"]
    response = client.patch(
        f"/api/v1/sites/{viewer_site}", json={"name": "mine"}, headers=who["viewer"]
    )
    assert response.status_code == 403 and "ConfigureComponents" in response.json()["reason"]
    response = client.post(
        f"/api/v1/sites/{viewer_site}/devices",
        json={"kind": "pv", "rated_w": 3000},
        headers=who["operator"],
    )
    assert response.status_code == 404
    assert site_named(client, who["admin"], "Home of viewer")["device_count"] == 6


def test_site_crud_and_device_type_rules_answer_422_naming_the_field(
    client: TestClient, who: dict[str, dict[str, str]]
) -> None:
    op = who["operator"]
    created = client.post(
        "/api/v1/sites", json={"name": "Beach house", "region": "QLD1"}, headers=op
    )
    assert created.status_code == 201
    site_id = created.json()["site_id"]
    assert created.headers["Location"] == f"/api/v1/sites/{site_id}"
    cases = [
        ({"kind": "pv", "rated_w": 5000, "capacity_wh": 10}, "capacity_wh"),
        ({"kind": "battery", "max_charge_w": 500}, "capacity_wh"),
        ({"kind": "ev", "capacity_wh": 10, "level_wh": 20, "max_charge_w": 5}, "level_wh"),
        ({"kind": "pv", "rated_w": "lots"}, "body.rated_w"),
    ]
    for body, field in cases:
        response = client.post(f"/api/v1/sites/{site_id}/devices", json=body, headers=op)
        assert response.status_code == 422, body
        assert response.json()["field"] == field
    added = client.post(
        f"/api/v1/sites/{site_id}/devices",
        json={"kind": "battery", "capacity_wh": 10_000, "level_wh": 4_000, "max_charge_w": 2_000},
        headers=op,
    )
    assert added.status_code == 201
    device_id = added.json()["device_id"]
    response = client.patch(
        f"/api/v1/sites/{site_id}/devices/{device_id}", json={"level_wh": 20_000}, headers=op
    )
    assert response.status_code == 422 and response.json()["field"] == "level_wh"
    response = client.patch(
        f"/api/v1/sites/{site_id}/devices/{device_id}", json={"mode": "manual"}, headers=op
    )
    assert response.json()["settings"]["mode"] == "manual"
    assert (
        client.patch(f"/api/v1/sites/{site_id}", json={"region": "VIC1"}, headers=op).json()[
            "region"
        ]
        == "VIC1"
    )
    assert client.delete(f"/api/v1/sites/{site_id}", headers=op).status_code == 204
    assert client.get(f"/api/v1/sites/{site_id}", headers=op).status_code == 404


def test_stats_follow_the_one_sign_convention_and_history_records_them(
    client: TestClient, who: dict[str, dict[str, str]]
) -> None:
    step(client, 12)
    building = site_named(client, who["admin"], "Building A")["site_id"]
    stats = client.get(f"/api/v1/sites/{building}/stats", headers=who["admin"]).json()
    net = stats["consumption_w"] - stats["production_w"] + stats["storage_flow_w"]
    assert stats["net_grid_flow_w"] == pytest.approx(net)
    today = stats["today"]
    balance_in = today["produced_kwh"] + today["imported_kwh"] + today["discharged_kwh"]
    balance_out = today["consumed_kwh"] + today["exported_kwh"] + today["charged_kwh"]
    assert balance_in == pytest.approx(balance_out)
    history = client.get(
        f"/api/v1/sites/{building}/history",
        params={"series": "net_grid_flow_w,storage_level_wh"},
        headers=who["admin"],
    ).json()
    assert len(history["timestamps"]) >= 2
    assert history["series"]["net_grid_flow_w"][-1] == pytest.approx(net, rel=1e-3)
    assert client.get(f"/api/v1/sites/{building}/stats", headers=who["operator"]).status_code == 404


def test_iot_mock_client_creates_reads_commands_and_deletes_a_site_device(
    client: TestClient, who: dict[str, dict[str, str]]
) -> None:
    op = who["operator"]
    created = client.post(
        "/api/v1/devices",
        json={
            "device_type": "hvac",
            "name": "HVAC System",
            "location": "Building A HVAC",
            "base_power": 25.0,
        },
        headers=op,
    ).json()
    assert created["success"] is True and created["errors"] is None
    info = created["data"]
    device_id = info["id"]
    assert info["basePower"] == 25.0 and info["type"] == "hvac"
    assert set(info["currentReadings"]) == {
        "device_id",
        "timestamp",
        "power",
        "voltage",
        "current",
        "energy",
        "status",
        "enabled",
    }
    listed = client.get("/api/v1/devices", headers=op).json()
    assert device_id in [d["id"] for d in listed["data"]]
    assert listed["devices"] and "profiles" in listed  # the outlet devices are still there
    step(client, 3)
    readings = client.get(f"/api/v1/devices/{device_id}/readings", headers=op).json()["data"]
    assert readings["power"] <= 25.0 and readings["voltage"] == 400.0
    put = client.put(
        f"/api/v1/devices/{device_id}", json={"base_power": 30.0, "name": "HVAC 2"}, headers=op
    )
    assert put.json()["data"]["basePower"] == 30.0
    command = client.post(
        f"/api/v1/devices/{device_id}/command",
        json={"command": "set_enabled", "parameters": {"enabled": False}},
        headers=op,
    )
    assert command.status_code == 200 and command.json()["success"]
    step(client)
    readings = client.get(f"/api/v1/devices/{device_id}/readings", headers=op).json()["data"]
    assert readings["enabled"] is False and readings["power"] == 0.0
    assert client.post(f"/api/v1/devices/{device_id}/simulate", headers=op).json()["success"]
    status = client.get("/api/v1/simulation/status", headers=op).json()["data"]
    assert status["total_devices"] == 7 and status["enabled_devices"] == 6
    bad = client.post(
        "/api/v1/devices", json={"device_type": "hvac", "name": "x", "base_power": 5000}, headers=op
    )
    assert bad.status_code == 422 and bad.json()["field"] == "body.base_power"
    viewer = client.get(f"/api/v1/devices/{device_id}", headers=who["viewer"])
    assert viewer.status_code == 404
    deleted = client.delete(f"/api/v1/devices/{device_id}", headers=op)
    assert deleted.status_code == 200 and deleted.json()["success"]
    assert client.get(f"/api/v1/devices/{device_id}", headers=op).status_code == 404


def test_outlet_devices_keep_their_shapes_and_answer_iot_readings(
    client: TestClient, who: dict[str, dict[str, str]]
) -> None:
    outlet = client.get("/api/v1/devices", headers=who["viewer"]).json()["devices"][0]
    device_id = outlet["device_id"]
    one = client.get(f"/api/v1/devices/{device_id}", headers=who["viewer"])
    assert one.json()["pdu_id"] == outlet["pdu_id"]
    readings = client.get(f"/api/v1/devices/{device_id}/readings", headers=who["viewer"])
    assert readings.json()["data"]["device_id"] == device_id


def test_simulation_stop_and_start_need_configure_manager(
    client: TestClient, who: dict[str, dict[str, str]]
) -> None:
    assert client.post("/api/v1/simulation/stop", headers=who["operator"]).status_code == 403
    assert client.post("/api/v1/simulation/stop", headers=who["admin"]).json()["success"]
    assert client.app.state.engine.paused  # type: ignore[attr-defined]
    status = client.get("/api/v1/simulation/status", headers=who["admin"]).json()["data"]
    assert status["is_running"] is False
    client.post("/api/v1/simulation/start", headers=who["admin"])
    assert not client.app.state.engine.paused  # type: ignore[attr-defined]


def test_every_outlet_has_a_cost_and_carbon_from_its_sites_region(
    client: TestClient, who: dict[str, dict[str, str]]
) -> None:
    step(client, 5, dt=60.0)
    body = client.get("/api/v1/costs/pdus/1", headers=who["viewer"]).json()
    assert body["region"] == "NSW1" and body["site_id"] is not None
    assert len(body["outlets"]["cost_aud"]) == len(body["outlets"]["id"])
    assert body["cost_aud"] == pytest.approx(sum(body["outlets"]["cost_aud"]), abs=1e-4)
    assert client.get("/api/v1/costs/pdus/99", headers=who["viewer"]).status_code == 404


def test_ws_topics_site_and_site_devices_carry_their_models(
    client: TestClient, who: dict[str, dict[str, str]]
) -> None:
    building = site_named(client, who["admin"], "Building A")["site_id"]
    with client.websocket_connect("/ws", headers=who["admin"]) as ws:
        ws.send_json(
            {"op": "subscribe", "topics": [f"site/{building}", f"site/{building}/devices"]}
        )
        frames = {}
        while len(frames) < 2:
            frame = ws.receive_json()
            if frame.get("type") == "snapshot":
                frames[frame["topic"]] = frame["data"]
    stats = SiteStats.model_validate(frames[f"site/{building}"])
    assert stats.name == "Building A" and stats.region == "NSW1"
    devices = SiteDevicesData.model_validate(frames[f"site/{building}/devices"])
    assert {d.role for d in devices.devices} == {"production", "consumption", "storage"}


def test_ws_gives_a_regular_user_only_their_own_sites(
    client: TestClient, who: dict[str, dict[str, str]]
) -> None:
    building = site_named(client, who["admin"], "Building A")["site_id"]  # the admin's
    own = client.get("/api/v1/sites", headers=who["operator"]).json()["sites"][0]["site_id"]
    with client.websocket_connect("/ws", headers=who["operator"]) as ws:
        for refused in (["site/+"], ["#"], [f"site/{building}"], ["+/+/devices"]):
            ws.send_json({"op": "subscribe", "topics": refused})
            frame = ws.receive_json()
            assert frame["type"] == "error" and "nothing subscribed" in frame["reason"], refused
        ws.send_json({"op": "subscribe", "topics": [f"site/{own}", "pdu/1/summary"]})
        seen = set()
        while len(seen) < 2:
            frame = ws.receive_json()
            assert frame["type"] == "snapshot", frame
            seen.add(frame["topic"])
    assert seen == {f"site/{own}", "pdu/1/summary"}


def test_a_replayed_market_prices_the_sites_instead_of_the_simulated_grid(
    client: TestClient, who: dict[str, dict[str, str]]
) -> None:
    hub = client.app.state.hub  # type: ignore[attr-defined]
    market = {"network": "NEM", "regions": [{"region": "NSW1", "price_aud_per_mwh": 321.5}]}
    client.portal.call(lambda: hub.publish("market/NEM", market, source="mqtt"))
    step(client)
    building = site_named(client, who["admin"], "Building A")["site_id"]
    stats = client.get(f"/api/v1/sites/{building}/stats", headers=who["admin"]).json()
    assert stats["price_aud_per_mwh"] == 321.5


def test_site_changes_are_audited_with_who_asked_and_refusals_with_the_reason(
    client: TestClient, who: dict[str, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="energydash.audit")
    viewer_site = site_named(client, who["viewer"], "Home of viewer")["site_id"]
    client.patch(f"/api/v1/sites/{viewer_site}", json={"name": "x"}, headers=who["viewer"])
    client.patch(f"/api/v1/sites/{viewer_site}", json={"name": "Villa"}, headers=who["admin"])
    records = [AuditRecord.model_validate_json(r.getMessage()) for r in caplog.records]
    refused, ok = records[-2], records[-1]
    assert (refused.user, refused.result, refused.action) == ("viewer", "refused", "site.update")
    assert "ConfigureComponents" in refused.detail
    assert (ok.user, ok.result, ok.target) == ("admin", "ok", f"site/{viewer_site}")


def test_generic_topic_routes_hide_other_accounts_sites(
    client: TestClient, who: dict[str, dict[str, str]]
) -> None:
    building = site_named(client, who["admin"], "Building A")["site_id"]
    for path in (f"/api/v1/snapshots/site/{building}", f"/api/v1/history/site/{building}"):
        assert client.get(path).status_code == 401  # anonymous: no read at all
        assert client.get(path, headers=who["operator"]).status_code == 404
        assert client.get(path, headers=who["admin"]).status_code == 200
