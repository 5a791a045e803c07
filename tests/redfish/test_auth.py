"""Logins (session and Basic, with the DMTF client), roles, accounts, lockout and session expiry."""

from __future__ import annotations

import time

import httpx
import pytest
from rf_support import (
    ADMIN,
    ADMIN_PASSWORD,
    OPERATOR,
    OPERATOR_PASSWORD,
    READER,
    READER_PASSWORD,
    RedfishServer,
)

import redfish
from energydash.auth import AuthStore, hash_password, verify_password

OUTLET = "/redfish/v1/PowerEquipment/RackPDUs/2/Outlets/C3"


def test_session_login_with_the_dmtf_client_gets_a_token_and_logout_ends_it(
    redfish_server: RedfishServer,
) -> None:
    client = redfish.redfish_client(
        base_url=redfish_server.url, username=ADMIN, password=ADMIN_PASSWORD
    )
    client.login(auth="session")
    token = client.get_session_key()
    location = client.get_session_location()
    assert token and location.startswith("/redfish/v1/SessionService/Sessions/")
    outlet = client.get(OUTLET)
    assert outlet.status == 200 and outlet.dict["Id"] == "C3"
    session = client.get(location)
    assert session.dict["UserName"] == ADMIN
    log = client.get("/redfish/v1/Managers/BMC/LogServices/Log/Entries").dict["Members"]
    assert any(f"User '{ADMIN}' logged in" in entry["Message"] for entry in log)
    client.logout()
    with httpx.Client(base_url=redfish_server.url) as anon:
        assert anon.get(OUTLET, headers={"X-Auth-Token": token}).status_code == 401


def test_basic_login_with_the_dmtf_client_reads_the_tree(redfish_server: RedfishServer) -> None:
    client = redfish.redfish_client(
        base_url=redfish_server.url, username=READER, password=READER_PASSWORD
    )
    client.login(auth="basic")
    root = client.get("/redfish/v1/PowerEquipment/RackPDUs")
    assert root.status == 200 and root.dict["Members@odata.count"] == 2
    client.logout()


def test_session_post_returns_201_location_token_and_the_session_body(
    redfish_server: RedfishServer,
) -> None:
    with httpx.Client(base_url=redfish_server.url) as anon:
        response = anon.post(
            "/redfish/v1/SessionService/Sessions",
            json={"UserName": OPERATOR, "Password": OPERATOR_PASSWORD},
        )
        assert response.status_code == 201
        token = response.headers["X-Auth-Token"]
        assert response.headers["Location"] == response.json()["@odata.id"]
        assert response.json()["UserName"] == OPERATOR
        headers = {"X-Auth-Token": token}
        assert anon.get(OUTLET, headers=headers).status_code == 200
        assert anon.delete(response.headers["Location"], headers=headers).status_code == 204
        assert anon.get(OUTLET, headers=headers).status_code == 401
        missing = anon.post("/redfish/v1/SessionService/Sessions", json={"UserName": OPERATOR})
        assert missing.status_code == 400


def test_readonly_can_read_but_not_switch_an_outlet(redfish_server: RedfishServer) -> None:
    with redfish_server.client(READER, READER_PASSWORD) as reader:
        assert reader.get(OUTLET).status_code == 200
        denied = reader.post(OUTLET + "/Actions/Outlet.PowerControl", json={"PowerState": "Off"})
        assert denied.status_code == 403
        assert denied.json()["error"]["code"] == "Base.1.22.InsufficientPrivilege"
        assert reader.get("/redfish/v1/AccountService/Accounts/1").status_code == 403
        assert (
            reader.post(
                "/redfish/v1/AccountService/Accounts",
                json={"UserName": "x", "Password": "abcdef", "RoleId": "ReadOnly"},
            ).status_code
            == 403
        )
    with redfish_server.client(OPERATOR, OPERATOR_PASSWORD) as operator:
        assert (
            operator.patch("/redfish/v1/SessionService", json={"SessionTimeout": 600}).status_code
            == 403
        )


def test_roles_carry_the_privilege_registry_sets(redfish_server: RedfishServer) -> None:
    expected = {
        "Administrator": {
            "Login",
            "ConfigureManager",
            "ConfigureUsers",
            "ConfigureComponents",
            "ConfigureSelf",
        },
        "Operator": {"Login", "ConfigureComponents", "ConfigureSelf"},
        "ReadOnly": {"Login", "ConfigureSelf"},
    }
    with redfish_server.client() as client:
        for role, privileges in expected.items():
            body = client.get(f"/redfish/v1/AccountService/Roles/{role}").json()
            assert set(body["AssignedPrivileges"]) == privileges


def test_accounts_are_created_patched_and_deleted_with_hashed_passwords(
    redfish_server: RedfishServer,
) -> None:
    with redfish_server.client() as admin:
        created = admin.post(
            "/redfish/v1/AccountService/Accounts",
            json={"UserName": "tech1", "Password": "tech-pass-1", "RoleId": "Operator"},
        )
        assert created.status_code == 201
        location = created.headers["Location"]
        assert created.json()["Password"] is None
        account_id = location.rsplit("/", 1)[1]
        stored = redfish_server.service.auth.accounts[account_id].password_hash
        assert "tech-pass-1" not in stored and stored.startswith("scrypt$")
        duplicate = admin.post(
            "/redfish/v1/AccountService/Accounts",
            json={"UserName": "tech1", "Password": "tech-pass-1", "RoleId": "Operator"},
        )
        assert duplicate.status_code == 409
        bad_role = admin.post(
            "/redfish/v1/AccountService/Accounts",
            json={"UserName": "tech2", "Password": "tech-pass-2", "RoleId": "King"},
        )
        assert bad_role.status_code == 400
        with redfish_server.client("tech1", "tech-pass-1") as tech:
            assert tech.get(OUTLET).status_code == 200
            # ConfigureSelf: one's own password, nothing else
            assert tech.patch(location, json={"Password": "tech-pass-9"}).status_code == 200
            assert tech.get(OUTLET).status_code == 401  # the old password no longer works
        with redfish_server.client("tech1", "tech-pass-9") as tech:
            assert tech.patch(location, json={"RoleId": "Administrator"}).status_code == 403
        patched = admin.patch(location, json={"RoleId": "ReadOnly", "Enabled": False})
        assert patched.status_code == 200 and patched.json()["RoleId"] == "ReadOnly"
        with redfish_server.client("tech1", "tech-pass-9") as tech:
            assert tech.get(OUTLET).status_code == 401  # disabled
        assert admin.delete(location).status_code == 204
        assert admin.get(location).status_code == 404


def test_the_last_administrator_cannot_be_deleted_or_demoted(
    redfish_server: RedfishServer,
) -> None:
    with redfish_server.client() as admin:
        assert admin.delete("/redfish/v1/AccountService/Accounts/1").status_code == 409
        demote = admin.patch("/redfish/v1/AccountService/Accounts/1", json={"RoleId": "Operator"})
        assert demote.status_code == 400
        assert admin.get("/redfish/v1/AccountService/Accounts/1").json()["RoleId"] == (
            "Administrator"
        )


def test_repeated_bad_passwords_lock_the_account_for_the_lockout_duration(
    redfish_server: RedfishServer,
) -> None:
    with redfish_server.client() as admin:
        created = admin.post(
            "/redfish/v1/AccountService/Accounts",
            json={"UserName": "victim", "Password": "victim-pass", "RoleId": "ReadOnly"},
        )
        location = created.headers["Location"]
        threshold = admin.get("/redfish/v1/AccountService").json()["AccountLockoutThreshold"]
        with httpx.Client(base_url=redfish_server.url) as anon:
            for _ in range(threshold):
                bad = anon.post(
                    "/redfish/v1/SessionService/Sessions",
                    json={"UserName": "victim", "Password": "nope"},
                )
                assert bad.status_code == 401
            right = anon.post(
                "/redfish/v1/SessionService/Sessions",
                json={"UserName": "victim", "Password": "victim-pass"},
            )
            assert right.status_code == 401  # locked, even with the right password
            assert admin.get(location).json()["Locked"] is True
            time.sleep(redfish_server.settings.redfish_lockout_duration_s + 0.2)
            again = anon.post(
                "/redfish/v1/SessionService/Sessions",
                json={"UserName": "victim", "Password": "victim-pass"},
            )
            assert again.status_code == 201
        admin.delete(location)


def test_idle_sessions_expire_after_the_session_timeout() -> None:
    store = AuthStore(session_timeout_s=30, lockout_threshold=0, lockout_duration_s=0,
                      lockout_reset_after_s=0)  # fmt: skip
    account = store.create_account("u", "password-1", "ReadOnly")
    session = store.create_session(account)
    assert store.authenticate(None, session.token.encode()) is not None
    session.last_used -= 31
    assert store.authenticate(None, session.token.encode()) is None
    assert session.id not in store.sessions


def test_password_hashes_verify_only_the_right_password() -> None:
    stored = hash_password("correct horse")
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong horse", stored)
    assert hash_password("correct horse") != stored  # salted


@pytest.mark.parametrize("timeout", [29, 86_401, "600"])
def test_session_timeout_outside_its_range_is_refused(
    redfish_server: RedfishServer, timeout: object
) -> None:
    with redfish_server.client() as admin:
        response = admin.patch("/redfish/v1/SessionService", json={"SessionTimeout": timeout})
    assert response.status_code == 400


def test_failed_logins_spread_wider_than_the_reset_window_never_lock() -> None:
    store = AuthStore(session_timeout_s=60, lockout_threshold=2, lockout_duration_s=60,
                      lockout_reset_after_s=30)  # fmt: skip
    account = store.create_account("u", "password-1", "ReadOnly")
    assert store.check_password("u", "bad") is None
    account.last_failure -= 31  # the first failure is older than the reset window
    assert store.check_password("u", "bad") is None
    assert not account.locked(time.monotonic())
    assert store.check_password("u", "bad") is None  # two within the window: locked
    assert account.locked(time.monotonic())
    assert store.check_password("u", "password-1") is None
