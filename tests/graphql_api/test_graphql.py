"""GraphQL /graphql: the smart-home prototype's documents as regular user and administrator."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from energydash.app import create_app
from energydash.config import Settings
from energydash.graphql.schema import build_schema

CREATE = """
mutation {
  createDevice(input: {
    name: "Tesla EV",
    status: "online",
    deviceType: "storage",
    totalCapacityWh: 32000,
    currentLevelWh: 12000,
    chargeDischargeRateWatts: 500
  }) {
    id
    name
    deviceType
    otherDetails
  }
}
"""
ALL = "query { allDevices { id name status deviceType otherDetails } }"
STATS = """
query {
  energyStats {
    currentProduction
    currentConsumption
    currentStorage { totalCapacityWh currentLevelWh percentage }
    currentStorageFlow
    netGridFlow
    timestamp
  }
}
"""


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    cfg = settings.model_copy(
        update={
            "mqtt_ingest": False,
            "mqtt_publish": False,
            "redfish_operator_user": "alice",
            "redfish_operator_password": SecretStr("alice-pass"),
            "redfish_readonly_user": "bob",
            "redfish_readonly_password": SecretStr("bob-pass"),
        }
    )
    with TestClient(create_app(cfg)) as test_client:
        test_client.headers.update({"x-admin": cfg.redfish_password.get_secret_value()})
        yield test_client


def gql(client: TestClient, who: str, query: str) -> dict[str, Any]:
    admin = client.headers["x-admin"]
    headers = {
        "admin": basic("admin", admin),
        "alice": basic("alice", "alice-pass"),
        "bob": basic("bob", "bob-pass"),
    }[who]
    response = client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def step(client: TestClient, n: int = 1) -> None:
    for _ in range(n):
        client.portal.call(client.app.state.engine.step, 1.0)  # type: ignore[attr-defined]


def test_prototype_documents_as_regular_user_and_admin_with_ownership(client: TestClient) -> None:
    created = gql(client, "alice", CREATE)["data"]["createDevice"]
    assert created["name"] == "Tesla EV" and created["deviceType"] == "storage"
    details = created["otherDetails"]
    assert details["total_capacity_wh"] == 32000 and details["current_level_wh"] == 12000
    assert details["charge_discharge_rate_watts"] == 500
    device_id = created["id"]

    updated = gql(
        client,
        "alice",
        f'mutation {{ updateDevice(input: {{id: {device_id}, deviceType: "storage", '
        f"currentLevelWh: 16000}}) {{ name otherDetails }} }}",
    )["data"]["updateDevice"]
    assert updated["otherDetails"]["current_level_wh"] == 16000

    alice = [d["id"] for d in gql(client, "alice", ALL)["data"]["allDevices"]]
    bob = [d["id"] for d in gql(client, "bob", ALL)["data"]["allDevices"]]
    admin = [d["id"] for d in gql(client, "admin", ALL)["data"]["allDevices"]]
    assert device_id in alice and device_id not in bob and device_id in admin
    assert set(alice) < set(admin) and set(bob) < set(admin)

    stolen = gql(
        client,
        "bob",
        f'mutation {{ updateDevice(input: {{id: {device_id}, deviceType: "storage", '
        f"currentLevelWh: 0}}) {{ name }} }}",
    )
    assert stolen["data"] is None and "no device" in stolen["errors"][0]["message"]

    step(client, 3)
    mine = gql(client, "alice", STATS)["data"]["energyStats"]
    everyone = gql(client, "admin", STATS)["data"]["energyStats"]
    storage = mine["currentStorage"]
    assert storage["totalCapacityWh"] == 13_500 + 32_000  # the demo battery and the Tesla
    assert storage["percentage"] == pytest.approx(
        storage["currentLevelWh"] / storage["totalCapacityWh"] * 100
    )
    net = mine["currentConsumption"] - mine["currentProduction"] + mine["currentStorageFlow"]
    assert mine["netGridFlow"] == pytest.approx(net)
    assert everyone["currentStorage"]["totalCapacityWh"] > storage["totalCapacityWh"]
    assert everyone["currentConsumption"] > mine["currentConsumption"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (
            'deviceType: "storage", totalCapacityWh: 100, currentLevelWh: 200, '
            "chargeDischargeRateWatts: 5",
            "currentLevelWh",
        ),
        ('deviceType: "storage", chargeDischargeRateWatts: 5', "totalCapacityWh"),
        (
            'deviceType: "production", instantaneousOutputWatts: 100, totalCapacityWh: 5',
            "totalCapacityWh",
        ),
        ('deviceType: "consumption"', "consumptionRateWatts"),
        ('deviceType: "teleporter"', "deviceType"),
    ],
)
def test_create_device_validations_name_the_field(
    client: TestClient, fields: str, field: str
) -> None:
    body = gql(
        client, "alice", f'mutation {{ createDevice(input: {{name: "x", {fields}}}) {{ id }} }}'
    )
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["field"] == field


def test_readonly_cannot_create_and_anonymous_is_refused(client: TestClient) -> None:
    body = gql(client, "bob", CREATE)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    response = client.post("/graphql", json={"query": ALL})
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers


def test_sites_and_site_by_id_respect_ownership(client: TestClient) -> None:
    sites = gql(client, "alice", "{ sites { id name devices { name } stats { netGridFlow } } }")
    rows = sites["data"]["sites"]
    assert [s["name"] for s in rows] == ["Home of alice"]
    everyone = gql(client, "admin", "{ sites { id name } }")["data"]["sites"]
    building = next(s["id"] for s in everyone if s["name"] == "Building A")
    assert gql(client, "alice", f'{{ site(id: "{building}") {{ name }} }}')["data"]["site"] is None
    assert gql(client, "admin", f'{{ site(id: "{building}") {{ name }} }}')["data"]["site"] == {
        "name": "Building A"
    }


def test_deep_and_costly_queries_are_refused_before_running(client: TestClient) -> None:
    fields = " ".join(f"a{i}: name" for i in range(60))
    costly = gql(client, "admin", f"{{ sites {{ devices {{ {fields} }} }} }}")
    assert "query cost" in costly["errors"][0]["message"]
    fragment = "fragment F on Site { devices { name } } "
    deep = "{ sites { ...F } }"
    assert "data" in gql(client, "admin", fragment + deep)  # within both limits
    nested = "{ sites { stats { currentStorage { totalCapacityWh } } } }"
    assert gql(client, "admin", nested)["data"]["sites"]


def test_graphiql_answers_a_browser(client: TestClient) -> None:
    response = client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()


def test_a_query_deeper_than_the_limit_is_refused(settings: Settings) -> None:
    schema = build_schema(settings.model_copy(update={"graphql_max_depth": 2}))
    result = schema.execute_sync("{ sites { stats { currentStorage { percentage } } } }")
    assert result.errors and "exceeds maximum operation depth" in result.errors[0].message
    assert result.data is None
