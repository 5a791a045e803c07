"""What an administrator changes survives a restart (a new app on the same data dir)."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import orjson
import pytest
from auth_support import ADMIN, OPERATOR, READER, auth_settings, backend

from energydash.auth import AuthStore

ACCOUNTS = "/redfish/v1/AccountService/Accounts"
PDU1 = "/redfish/v1/PowerEquipment/RackPDUs/1"
NEW_ADMIN_PASSWORD = "a-new-admin-password"


def _account_id(base: str, name: str) -> str:
    members = httpx.get(f"{base}{ACCOUNTS}", auth=ADMIN).json()["Members"]
    for member in members:
        body = httpx.get(f"{base}{member['@odata.id']}", auth=ADMIN).json()
        if body["UserName"] == name:
            return body["Id"]
    raise AssertionError(f"no account {name}")


def test_account_policy_subscription_and_group_changes_survive_a_restart(tmp_path: Path) -> None:
    settings = auth_settings(tmp_path)
    with backend(settings) as first:
        base = first.url
        carol = httpx.post(
            f"{base}{ACCOUNTS}",
            json={"UserName": "carol", "Password": "carol-secret-1", "RoleId": "ReadOnly"},
            auth=ADMIN,
        )
        assert carol.status_code == 201, carol.text
        carol_uri = carol.headers["location"]
        assert httpx.patch(f"{base}{carol_uri}", json={"RoleId": "Operator"}, auth=ADMIN).is_success
        operator_uri = f"{ACCOUNTS}/{_account_id(base, OPERATOR[0])}"
        assert httpx.patch(f"{base}{operator_uri}", json={"Enabled": False}, auth=ADMIN).is_success
        policy = {
            "AccountLockoutThreshold": 7,
            "AccountLockoutDuration": 120,
            "AccountLockoutCounterResetAfter": 90,
        }
        response = httpx.patch(f"{base}/redfish/v1/AccountService", json=policy, auth=ADMIN)
        assert response.status_code == 200, response.text
        response = httpx.patch(
            f"{base}/redfish/v1/SessionService", json={"SessionTimeout": 600}, auth=ADMIN
        )
        assert response.status_code == 200, response.text
        subscription = httpx.post(
            f"{base}/redfish/v1/EventService/Subscriptions",
            json={"Destination": "http://127.0.0.1:9/listener", "Context": "kept"},
            auth=ADMIN,
        )
        assert subscription.status_code == 201, subscription.text
        group = httpx.post(
            f"{base}{PDU1}/OutletGroups",
            json={
                "Name": "rack top",
                "Links": {"Outlets": [{"@odata.id": f"{PDU1}/Outlets/A1"}]},
            },
            auth=ADMIN,
        )
        assert group.status_code == 201, group.text
        session = httpx.post(
            f"{base}/redfish/v1/SessionService/Sessions",
            json={"UserName": READER[0], "Password": READER[1]},
        ).headers["x-auth-token"]
        admin_uri = f"{ACCOUNTS}/{_account_id(base, ADMIN[0])}"
        changed = httpx.patch(
            f"{base}{admin_uri}", json={"Password": NEW_ADMIN_PASSWORD}, auth=ADMIN
        )
        assert changed.status_code == 200, changed.text

    with backend(settings) as second:  # a new app on the same data dir
        base = second.url
        new_admin = (ADMIN[0], NEW_ADMIN_PASSWORD)
        assert httpx.get(f"{base}{ACCOUNTS}", auth=ADMIN).status_code == 401  # old password
        assert httpx.get(f"{base}{ACCOUNTS}", auth=new_admin).status_code == 200
        carol_body = httpx.get(f"{base}{carol_uri}", auth=new_admin).json()
        assert carol_body["RoleId"] == "Operator"
        assert httpx.get(f"{base}/api/v1/topics", auth=("carol", "carol-secret-1")).is_success
        assert httpx.get(f"{base}/api/v1/topics", auth=OPERATOR).status_code == 401  # disabled
        service = httpx.get(f"{base}/redfish/v1/AccountService", auth=new_admin).json()
        assert {k: service[k] for k in policy} == policy
        sessions = httpx.get(f"{base}/redfish/v1/SessionService", auth=new_admin).json()
        assert sessions["SessionTimeout"] == 600
        subs = httpx.get(f"{base}/redfish/v1/EventService/Subscriptions", auth=new_admin).json()
        assert [m["@odata.id"] for m in subs["Members"]] == [subscription.headers["location"]]
        kept = httpx.get(f"{base}{subscription.headers['location']}", auth=new_admin).json()
        assert kept["Context"] == "kept"
        assert httpx.get(f"{base}{group.headers['location']}", auth=new_admin).status_code == 200
        # sessions live in memory only: a restart ends them (documented)
        assert (
            httpx.get(f"{base}/api/v1/topics", headers={"X-Auth-Token": session}).status_code == 401
        )


def test_saved_files_are_private_and_hold_hashes_only(tmp_path: Path) -> None:
    settings = auth_settings(tmp_path)
    with backend(settings) as server:
        admin_uri = f"{ACCOUNTS}/{_account_id(server.url, ADMIN[0])}"
        httpx.patch(f"{server.url}{admin_uri}", json={"Password": NEW_ADMIN_PASSWORD}, auth=ADMIN)
        httpx.post(
            f"{server.url}/redfish/v1/EventService/Subscriptions",
            json={"Destination": "http://127.0.0.1:9/x"},
            auth=(ADMIN[0], NEW_ADMIN_PASSWORD),
        )
    folder = settings.data_dir / "auth"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in ("accounts.json", "subscriptions.json"):
        path = folder / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
        text = path.read_text()
        for password in (NEW_ADMIN_PASSWORD, ADMIN[1], OPERATOR[1], READER[1]):
            assert password not in text
    accounts = orjson.loads((folder / "accounts.json").read_bytes())["accounts"]
    assert all(a["password_hash"].startswith("scrypt$") for a in accounts)
    assert not list(folder.glob("*.tmp"))  # written by replace, no stray temp file


def test_a_corrupt_accounts_file_is_refused_naming_it(tmp_path: Path) -> None:
    settings = auth_settings(tmp_path)
    path = settings.data_dir / "auth" / "accounts.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1, "accounts": [')
    with pytest.raises(ValueError, match=r"accounts\.json"):
        AuthStore.from_settings(settings)
    path.write_text('{"version": 1, "next_account": 2, "policy": {}, "accounts": []}')
    with pytest.raises(ValueError, match="session_timeout_s"):
        AuthStore.from_settings(settings)


def test_seeding_settings_apply_until_the_first_saved_change(tmp_path: Path) -> None:
    """Without a saved file the settings decide; after a change the file does."""
    store = AuthStore.from_settings(auth_settings(tmp_path))
    assert not (tmp_path / "data" / "auth" / "accounts.json").exists()
    store.create_account("dave", "dave-secret-1", "ReadOnly")
    later = AuthStore.from_settings(auth_settings(tmp_path, redfish_password="other-password"))
    admin = later.check_password(ADMIN[0], ADMIN[1])
    assert admin is not None and later.account_by_name("dave") is not None
