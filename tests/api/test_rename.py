"""REST renames of outlets and PDUs: bounded, named errors, audited, shown everywhere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from energydash.app import create_app
from energydash.config import Settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    cfg = settings.model_copy(update={"mqtt_ingest": False, "mqtt_publish": False})
    with TestClient(create_app(cfg)) as test_client:
        test_client.auth = (cfg.redfish_user, cfg.redfish_password.get_secret_value())
        yield test_client


def outlet(client: TestClient, pdu: str, outlet_id: str) -> dict:
    return client.get(f"/redfish/v1/PowerEquipment/RackPDUs/{pdu}/Outlets/{outlet_id}").json()


def test_renamed_outlet_is_its_redfish_name_and_in_the_topic(client: TestClient) -> None:
    answer = client.patch("/api/v1/pdus/1/outlets/A3", json={"name": "db-primary"})
    assert answer.status_code == 200 and answer.json()["name"] == "db-primary"
    assert outlet(client, "1", "A3")["Name"] == "db-primary"
    data = client.get("/api/v1/snapshots/pdu/1/outlets").json()["data"]["outlets"]
    assert data["name"][data["id"].index("A3")] == "db-primary"
    records = client.get("/api/v1/audit").json()["records"]
    assert any(r["action"] == "outlet.rename" and r["result"] == "ok" for r in records)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": ""}, 422, "name"),
        ({"name": "x" * 65}, 422, "name"),
        ({"name": "a\u0007b"}, 422, "name"),
        ({"name": "ok", "extra": 1}, 422, "extra"),
    ],
)
def test_bad_outlet_rename_names_the_field_and_changes_nothing(
    client: TestClient, body: dict, status: int, field: str
) -> None:
    before = outlet(client, "1", "A3")["Name"]
    answer = client.patch("/api/v1/pdus/1/outlets/A3", json=body)
    assert answer.status_code == status
    assert field in answer.text
    assert outlet(client, "1", "A3")["Name"] == before


def test_rename_of_an_unknown_outlet_or_pdu_is_404(client: TestClient) -> None:
    assert client.patch("/api/v1/pdus/1/outlets/Z9", json={"name": "x"}).status_code == 404
    assert client.patch("/api/v1/pdus/99", json={"name": "x"}).status_code == 404


def test_renamed_pdu_is_its_redfish_name(client: TestClient) -> None:
    answer = client.patch("/api/v1/pdus/2", json={"name": "Rack 7 feed A"})
    assert answer.status_code == 200
    rack = client.get("/redfish/v1/PowerEquipment/RackPDUs/2").json()
    assert rack["Name"] == "Rack 7 feed A"
    assert client.get("/api/v1/snapshots/pdu/2/summary").json()["data"]["name"] == "Rack 7 feed A"
