"""Hardening found in use: enumeration, lockout abuse, log flushing, user names, sessions."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from auth_support import ADMIN, OPERATOR, READER, auth_settings, backend

from energydash.app import BackgroundServer
from energydash.auth import AuthStore
from energydash.auth import store as auth_store

ACCOUNTS = "/redfish/v1/AccountService/Accounts"
SESSIONS = "/redfish/v1/SessionService/Sessions"
LOG = "/redfish/v1/Managers/BMC/LogServices/Log/Entries"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    settings = auth_settings(
        tmp_path_factory.mktemp("hardening"),
        redfish_lockout_threshold=3,
        redfish_lockout_duration_s=600,
    )
    with backend(settings) as running:
        yield running


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = auth_store._scrypt
    monkeypatch.setattr(auth_store, "_scrypt", lambda *a: calls.append(1) or real(*a))
    return calls


def _login(base: str, user: str, password: str) -> httpx.Response:
    return httpx.post(f"{base}{SESSIONS}", json={"UserName": user, "Password": password})


def test_unknown_and_known_user_names_cost_one_hash_each(
    server: BackgroundServer, hash_calls: list[int]
) -> None:
    counts = {}
    for user in ("no-such-user", READER[0]):
        del hash_calls[:]
        assert _login(server.url, user, "wrong-password").status_code == 401
        counts[user] = len(hash_calls)
    del hash_calls[:]
    assert httpx.get(f"{server.url}/api/v1/topics", auth=("nobody", "x")).status_code == 401
    counts["basic unknown"] = len(hash_calls)
    assert set(counts.values()) == {1}, counts


def test_a_locked_account_refuses_at_the_same_cost(tmp_path: Path, hash_calls: list[int]) -> None:
    store = AuthStore.from_settings(auth_settings(tmp_path, redfish_lockout_threshold=2))
    for _ in range(2):
        assert store.check_password(OPERATOR[0], "wrong") is None
    del hash_calls[:]
    assert store.check_password(OPERATOR[0], OPERATOR[1]) is None  # locked, right password
    assert len(hash_calls) == 1


def test_anonymous_failures_cannot_keep_the_last_administrator_out(tmp_path: Path) -> None:
    store = AuthStore.from_settings(
        auth_settings(tmp_path, redfish_lockout_threshold=3, redfish_lockout_duration_s=3600)
    )
    for _ in range(10):
        store.check_password(ADMIN[0], "guess", "203.0.113.9")
    admin = store.account_by_name(ADMIN[0])
    assert admin is not None and admin.locked_until > 0
    assert store.check_password(ADMIN[0], ADMIN[1], "203.0.113.9") is None  # still locked there
    assert store.check_password(ADMIN[0], "guess", "127.0.0.1") is None  # a wrong one still fails
    assert store.check_password(ADMIN[0], ADMIN[1], "127.0.0.1") is admin  # the console way in
    for _ in range(3):
        store.check_password(OPERATOR[0], "guess", "203.0.113.9")
    assert store.check_password(OPERATOR[0], OPERATOR[1], "127.0.0.1") is None  # not an admin


def test_lockout_duration_is_bounded(server: BackgroundServer, tmp_path: Path) -> None:
    response = httpx.patch(
        f"{server.url}/redfish/v1/AccountService",
        json={"AccountLockoutDuration": 10**9},
        auth=ADMIN,
    )
    assert response.status_code == 400 and "AccountLockoutDuration" in response.text
    with pytest.raises(ValueError, match="REDFISH_LOCKOUT_DURATION_S"):
        from energydash.config import SettingsError

        try:
            auth_settings(tmp_path, redfish_lockout_duration_s=10**6)
        except SettingsError as error:
            raise ValueError(str(error)) from None


def test_failed_logins_cannot_flush_the_manager_log(server: BackgroundServer) -> None:
    marker = httpx.post(
        f"{server.url}/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/A9/Actions/Outlet.PowerControl",
        json={"PowerState": "Off"},
        auth=ADMIN,
    )
    assert marker.status_code == 204
    before = httpx.get(f"{server.url}{LOG}", auth=ADMIN).json()["Members@odata.count"]
    for index in range(40):
        _login(server.url, f"spray-{index}", "x")
    entries = httpx.get(f"{server.url}{LOG}", auth=ADMIN).json()
    assert entries["Members@odata.count"] <= before + 2  # one kept, the rest summed up later
    assert any("Outlet.PowerControl" in e["Message"] for e in entries["Members"])


def test_failed_login_user_names_are_truncated_and_sanitised(server: BackgroundServer) -> None:
    hostile = "evil\r\n2026-01-01 forged line\x1b[31m" + "y" * 5000
    with httpx.Client(base_url=server.url) as http:
        http.post(SESSIONS, json={"UserName": hostile, "Password": "x"})
    server.app.state.auditor.flush()  # a burst of records is written once per window
    text = (server.app.state.settings.log_dir / "audit.log").read_text()
    assert "forged line" in text  # recorded...
    assert "\r\n2026-01-01 forged" not in text and "\x1b" not in text  # ...on one line
    assert "y" * 100 not in text
    recent = httpx.get(f"{server.url}/api/v1/audit", auth=ADMIN).json()["records"]
    assert all(len(r["user"]) <= 64 for r in recent)


@pytest.mark.parametrize(
    "name",
    ["with:colon", "tab\there", "", "x" * 65, " padded", "bell\x07", "nl\n"],
)
def test_invalid_user_names_are_refused_on_create_and_rename(
    server: BackgroundServer, name: str
) -> None:
    created = httpx.post(
        f"{server.url}{ACCOUNTS}",
        json={"UserName": name, "Password": "valid-pass-1", "RoleId": "ReadOnly"},
        auth=ADMIN,
    )
    assert created.status_code == 400, created.text
    assert "UserName" in created.text
    reader_id = _account_id(server, READER[0])
    renamed = httpx.patch(
        f"{server.url}{ACCOUNTS}/{reader_id}", json={"UserName": name}, auth=ADMIN
    )
    assert renamed.status_code == 400
    assert httpx.get(f"{server.url}/api/v1/topics", auth=READER).status_code == 200  # unchanged


def test_user_names_are_unique_ignoring_case(server: BackgroundServer) -> None:
    response = httpx.post(
        f"{server.url}{ACCOUNTS}",
        json={"UserName": "ADMIN", "Password": "valid-pass-1", "RoleId": "ReadOnly"},
        auth=ADMIN,
    )
    assert response.status_code == 409
    reader_id = _account_id(server, READER[0])
    renamed = httpx.patch(
        f"{server.url}{ACCOUNTS}/{reader_id}", json={"UserName": "Operator"}, auth=ADMIN
    )
    assert renamed.status_code == 400 and "ResourceAlreadyExists" in renamed.text


def _account_id(server: BackgroundServer, name: str) -> str:
    return server.call(lambda: server.app.state.auth.account_by_name(name).id)


def test_a_password_change_ends_the_users_other_sessions(server: BackgroundServer) -> None:
    created = httpx.post(
        f"{server.url}{ACCOUNTS}",
        json={"UserName": "erin", "Password": "erin-secret-1", "RoleId": "Operator"},
        auth=ADMIN,
    )
    assert created.status_code == 201
    uri = created.headers["location"]
    first = _login(server.url, "erin", "erin-secret-1").headers["x-auth-token"]
    second = _login(server.url, "erin", "erin-secret-1").headers["x-auth-token"]
    changed = httpx.patch(
        f"{server.url}{uri}", json={"Password": "erin-secret-2"}, headers={"X-Auth-Token": first}
    )
    assert changed.status_code == 200, changed.text
    assert httpx.get(f"{server.url}/api/v1/topics", headers={"X-Auth-Token": first}).is_success
    other = httpx.get(f"{server.url}/api/v1/topics", headers={"X-Auth-Token": second})
    assert other.status_code == 401
    # an administrator resetting it ends every session of that user
    httpx.patch(f"{server.url}{uri}", json={"Password": "erin-secret-3"}, auth=ADMIN)
    kept = httpx.get(f"{server.url}/api/v1/topics", headers={"X-Auth-Token": first})
    assert kept.status_code == 401


def test_readonly_sees_only_its_own_account(server: BackgroundServer) -> None:
    listed = httpx.get(f"{server.url}{ACCOUNTS}", auth=READER).json()["Members"]
    assert len(listed) == 1
    own = httpx.get(f"{server.url}{listed[0]['@odata.id']}", auth=READER)
    assert own.status_code == 200 and own.json()["UserName"] == READER[0]
    everyone = httpx.get(f"{server.url}{ACCOUNTS}", auth=ADMIN).json()["Members"]
    assert len(everyone) > 1


def test_dmtf_rf_accounts_lists_accounts_as_readonly(server: BackgroundServer) -> None:
    tool = Path(sys.executable).parent / "rf_accounts.py"
    if not tool.exists():
        pytest.skip("rf_accounts.py (pip install redfish-utilities) is not installed")
    result = subprocess.run(
        [sys.executable, str(tool), "-u", READER[0], "-p", READER[1], "-r", server.url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert READER[0] in result.stdout and "Traceback" not in result.stderr
