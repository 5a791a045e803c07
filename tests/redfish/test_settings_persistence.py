"""What a client writes over Redfish (and a device's name over REST) survives a restart of a real
`energydash serve`, stopped with SIGTERM or killed with SIGKILL right after the last answer.

The periodic state save is set to an hour, so only the saves made before each write answers
can carry the settings over a kill. A per-PDU card keeps what is written on it as its own.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from energydash.redfish import persistence

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
from processes import ACCOUNTS, Service, backend

from energydash.net import free_port_run

pytestmark = pytest.mark.slow
ADMIN = ACCOUNTS["Administrator"]
RACK = "/redfish/v1/PowerEquipment/RackPDUs/1"
SENSORS = "/redfish/v1/Chassis/1/Sensors"
LOCATION = {"Placement": {"Rack": "R42", "Row": "K", "RackOffset": 7}}
THRESHOLDS = {"UpperCaution": {"Reading": 9.5}, "UpperCritical": {"Reading": 11.25}}
INLET = {"LowerCaution": {"Reading": 12.0}, "UpperCaution": {"Reading": 30.5}}
RETRY = {"DeliveryRetryAttempts": 7, "DeliveryRetryIntervalSeconds": 45}


def _start(tmp_path: Path) -> tuple[Service, int]:
    port_base = free_port_run(2)
    svc = None
    while svc is None or port_base <= svc.port < port_base + 2:  # not one of the cards' ports
        svc = backend(
            tmp_path,
            pdus=2,
            facilities=10,
            ENERGYDASH_STATE_SAVE_INTERVAL_S="3600",
            ENERGYDASH_STATE_SAVE_AFTER_CHANGE_S="3600",
            ENERGYDASH_REDFISH_PORT_BASE=str(port_base),
        )
    svc.health_path = "/redfish/v1"  # up even when /health says degraded (503)
    return svc.start(), port_base


def _patch(client: httpx.Client, uri: str, body: dict[str, Any]) -> None:
    response = client.patch(uri, json=body)
    assert response.status_code == 200, (uri, response.text)


def _write_everything(client: httpx.Client, card: httpx.Client) -> str:
    """Every kind of setting, each through its own face; returns the renamed device's id."""
    _patch(client, RACK, {"UserLabel": "row K top", "AssetTag": "AT-0042", "Location": LOCATION})
    _patch(client, f"{RACK}/Mains/AC1", {"UserLabel": "feed from UPS 2"})
    _patch(client, f"{RACK}/Outlets/A1", {"PowerRestorePolicy": "AlwaysOff"})
    _patch(client, f"{RACK}/Branches/B", {"PowerRestorePolicy": "AlwaysOn"})
    _patch(client, f"{RACK}/Outlets/C2", {"PowerEnabled": False})
    _patch(client, f"{SENSORS}/CurrentA1", {"Thresholds": THRESHOLDS})
    _patch(client, f"{SENSORS}/TemperatureInlet", {"Thresholds": INLET})
    _patch(client, "/redfish/v1/EventService", RETRY)
    made = client.post(
        "/redfish/v1/EventService/Subscriptions",
        json={"Destination": "http://127.0.0.1:9/gone", "DeliveryRetryPolicy": "SuspendRetries"},
    )
    assert made.status_code == 201, made.text
    _patch(client, made.headers["Location"], {"DeliveryRetryPolicy": "RetryForever"})
    filtered = client.post(
        "/redfish/v1/EventService/Subscriptions",
        json={
            "Destination": "http://127.0.0.1:9/filtered",
            "DeliveryRetryPolicy": "SuspendRetries",
            "ExcludeRegistryPrefixes": ["ResourceEvent"],
        },
    )
    assert filtered.status_code == 201, filtered.text
    _patch(card, RACK, {"UserLabel": "card two", "AssetTag": "CARD-2"})
    devices = client.get("/api/v1/devices").json()
    device = next(d for d in devices["devices"] if d["pdu_id"] == "2")
    renamed = client.patch(f"/api/v1/devices/{device['device_id']}", json={"name": "kept name"})
    assert renamed.status_code == 200, renamed.text
    return device["device_id"]


def _read_everything(client: httpx.Client, card: httpx.Client, device_id: str) -> dict[str, Any]:
    rack = client.get(RACK).json()
    card_rack = card.get(RACK).json()
    return {
        "label": rack["UserLabel"],
        "tag": rack["AssetTag"],
        "placement": rack["Location"]["Placement"],
        "chassis_tag": client.get("/redfish/v1/Chassis/1").json()["AssetTag"],
        "mains": client.get(f"{RACK}/Mains/AC1").json()["UserLabel"],
        "a1": client.get(f"{RACK}/Outlets/A1").json()["PowerRestorePolicy"],
        "b_outlets": {
            client.get(m["@odata.id"]).json()["PowerRestorePolicy"]
            for m in client.get(f"{RACK}/Branches/B").json()["Links"]["Outlets"]
        },
        "c2_enabled": client.get(f"{RACK}/Outlets/C2").json()["PowerEnabled"],
        "current": client.get(f"{SENSORS}/CurrentA1").json()["Thresholds"],
        "inlet": client.get(f"{SENSORS}/TemperatureInlet").json()["Thresholds"],
        "retry": {k: client.get("/redfish/v1/EventService").json()[k] for k in RETRY},
        "subscriptions": sorted(
            (body["DeliveryRetryPolicy"], tuple(body.get("ExcludeRegistryPrefixes", ())))
            for body in (
                client.get(m["@odata.id"]).json()
                for m in client.get("/redfish/v1/EventService/Subscriptions").json()["Members"]
            )
        ),
        "card": (card_rack["UserLabel"], card_rack["AssetTag"]),
        "device": client.get(f"/api/v1/devices/{device_id}").json()["name"],
    }


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
def test_redfish_settings_and_names_survive_a_restart(tmp_path: Path, stop: str) -> None:
    svc, port_base = _start(tmp_path)
    card_url = f"http://127.0.0.1:{port_base + 1}"  # PDU 2's own card
    try:
        with (
            httpx.Client(base_url=svc.url, auth=ADMIN, timeout=10) as client,
            httpx.Client(base_url=card_url, auth=ADMIN, timeout=10) as card,
        ):
            default_label = client.get(RACK).json()["UserLabel"]
            device_id = _write_everything(client, card)
            before = _read_everything(client, card, device_id)
        assert svc.process is not None
        os.kill(svc.process.pid, getattr(signal, stop))
        svc.process.wait(timeout=20)

        svc.start()
        with (
            httpx.Client(base_url=svc.url, auth=ADMIN, timeout=10) as client,
            httpx.Client(base_url=card_url, auth=ADMIN, timeout=10) as card,
        ):
            after = _read_everything(client, card, device_id)
            health = client.get("/health").json()
            fleet_label_of_pdu_2 = client.get("/redfish/v1/PowerEquipment/RackPDUs/2").json()[
                "UserLabel"
            ]
    finally:
        svc.stop()
    assert before["label"] == "row K top" and before["a1"] == "AlwaysOff"
    assert after == before
    assert after["placement"]["Rack"] == "R42" and after["placement"]["RackOffset"] == 7
    assert after["current"]["UpperCritical"]["Reading"] == 11.25
    assert after["b_outlets"] == {"AlwaysOn"} and after["c2_enabled"] is False
    assert after["device"] == "kept name"
    assert after["subscriptions"] == [("RetryForever", ()), ("SuspendRetries", ("ResourceEvent",))]
    assert after["card"] == ("card two", "CARD-2")
    assert fleet_label_of_pdu_2 != "card two" and default_label != "row K top"
    assert health["checks"]["state"]["ok"], health["checks"]["state"]


def test_an_unreadable_settings_file_falls_back_to_the_previous_good_copy(tmp_path: Path) -> None:
    svc, _ = _start(tmp_path)
    settings_file = persistence.settings_path(svc.data_dir)
    try:
        with httpx.Client(base_url=svc.url, auth=ADMIN, timeout=10) as client:
            _patch(client, RACK, {"AssetTag": "first"})
            _patch(client, RACK, {"AssetTag": "second"})  # "first" is now the previous copy
        svc.stop()
        settings_file.write_bytes(b'{"version": 1, "assets": {"1": {"AssetTag": ')  # torn
        svc.start()
        with httpx.Client(base_url=svc.url, auth=ADMIN, timeout=10) as client:
            tag = client.get(RACK).json()["AssetTag"]
            health = client.get("/health").json()["checks"]["state"]
    finally:
        svc.stop()
    assert tag == "first"
    assert not health["ok"]
    assert any("settings.json" in p and "previous good copy" in p for p in health["problems"])
    assert list(settings_file.parent.glob("settings.json.unreadable-*"))


def test_a_settings_file_with_a_bad_value_changes_nothing_and_says_where(tmp_path: Path) -> None:
    svc, _ = _start(tmp_path)
    settings_file = persistence.settings_path(svc.data_dir)
    try:
        with httpx.Client(base_url=svc.url, auth=ADMIN, timeout=10) as client:
            _patch(client, RACK, {"AssetTag": "kept"})
        svc.stop()
        body = orjson.loads(settings_file.read_bytes())
        body["assets"]["1"]["AssetTag"] = "x" * 500
        body["thresholds"] = {"outlet_current": {"1/A1": [None, None, 5.0, 1.0]}}
        settings_file.with_name(persistence.PREVIOUS_FILE).unlink(missing_ok=True)
        settings_file.write_bytes(orjson.dumps(body))
        svc.start()
        with httpx.Client(base_url=svc.url, auth=ADMIN, timeout=10) as client:
            tag = client.get(RACK).json()["AssetTag"]
            limits = client.get(f"{SENSORS}/CurrentA1").json()["Thresholds"]
            problems = client.get("/health").json()["checks"]["state"]["problems"]
    finally:
        svc.stop()
    assert tag == ""  # the defaults: nothing of the bad file was applied
    assert limits["UpperCaution"]["Reading"] < limits["UpperCritical"]["Reading"]
    assert any("thresholds.outlet_current.1/A1" in p for p in problems), problems
