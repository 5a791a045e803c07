"""Dashboard login against a real backend: the session map, its cookie, CSRF, logout, lockout.

The backend (``create_app``) and the dashboard (``create_dash_app``) both run under uvicorn on
loopback ports in this process; requests are plain HTTP, as a browser would send them.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from energydash.app import BackgroundServer, create_app
from energydash.config import Settings, load_settings
from energydash.dashboard.gate import cookie_header, safe_next, same_origin
from energydash.dashboard.sessions import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    DashSession,
    LoginFailures,
    SessionMap,
)
from energydash.net import free_port

LOCKOUT_THRESHOLD = 3
PASSWORDS = {role: secrets.token_urlsafe(12) for role in ("Administrator", "Operator", "ReadOnly")}


@dataclass
class Stack:
    settings: Settings
    backend: BackgroundServer
    dashboard_url: str
    dash: Any  # the Dash app (its server.state.energydash holds the session map)

    @property
    def sessions(self) -> SessionMap:
        return self.dash.server.state.energydash.sessions


class DashServer:
    """uvicorn serving the dashboard's FastAPI server on a thread."""

    def __init__(self, app: Any, port: int) -> None:
        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    def __enter__(self) -> DashServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "dashboard did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("login")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("ENERGYDASH_") and name != "ENERGYDASH_REQUIRE_ALL":
                patch.delenv(name)
        patch.chdir(tmp)
        settings = load_settings(
            data_dir=tmp / "data",
            log_dir=tmp / "logs",
            run_dir=tmp / "run",
            clock_mode="stepped",
            pdu_count=1,
            grid_facility_count=5,
            port=free_port(),
            dashboard_port=free_port(),
            mqtt_ingest=False,
            mqtt_publish=False,
            redfish_password=PASSWORDS["Administrator"],
            redfish_operator_user="operator",
            redfish_operator_password=PASSWORDS["Operator"],
            redfish_readonly_user="viewer",
            redfish_readonly_password=PASSWORDS["ReadOnly"],
            redfish_lockout_threshold=LOCKOUT_THRESHOLD,
        )
        with BackgroundServer(create_app(settings), port=settings.port) as backend:
            web_settings = settings.model_copy(update={"backend_url": backend.url})
            from energydash.dashboard.app import create_dash_app

            dash = create_dash_app(web_settings)
            with DashServer(dash.server, settings.dashboard_port):
                url = f"http://127.0.0.1:{settings.dashboard_port}"
                yield Stack(settings, backend, url, dash)


def login_form(client: httpx.Client) -> str:
    """GET /login as a browser does; the form's CSRF token."""
    page = client.get("/login")
    assert page.status_code == 200
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def log_in(stack: Stack, username: str, password: str) -> tuple[httpx.Client, httpx.Response]:
    client = httpx.Client(base_url=stack.dashboard_url)
    csrf = login_form(client)
    answer = client.post(
        "/login",
        data={"csrf": csrf, "next": "/pdus", "username": username, "password": password},
        headers={"Origin": stack.dashboard_url},
    )
    return client, answer


def error_of(page: httpx.Response) -> str:
    found = re.search(r'id="login-error"[^>]*>([^<]+)<', page.text)
    return found.group(1) if found else ""


def redfish_status(stack: Stack, token: str) -> int:
    return httpx.get(
        f"{stack.backend.url}/redfish/v1/SessionService", headers={"X-Auth-Token": token}
    ).status_code


# ---------------------------------------------------------------------- pure parts
def test_session_map_ids_are_random_and_not_the_token() -> None:
    sessions = SessionMap(max_sessions=10)
    session = _session("secret-token")
    first = sessions.add(session)
    second = sessions.add(_session("secret-token"))
    assert first != second and len(first) >= 40
    assert "secret-token" not in first
    assert sessions.get(first) is session


def test_session_map_forgets_an_idle_session_after_its_timeout() -> None:
    sessions = SessionMap(max_sessions=10)
    session_id = sessions.add(_session("t", timeout_s=30))
    now = time.monotonic()
    assert sessions.get(session_id, now=now + 29) is not None  # use resets the idle clock
    assert sessions.get(session_id, now=now + 58) is not None
    assert sessions.get(session_id, now=now + 58 + 31) is None
    assert len(sessions) == 0


def test_session_map_is_bounded_and_evicts_the_least_recently_seen() -> None:
    sessions = SessionMap(max_sessions=2)
    a = sessions.add(_session("a"))
    b = sessions.add(_session("b"))
    sessions.get(a)  # a was seen last, so b goes first
    sessions.add(_session("c"))
    assert len(sessions) == 2 and sessions.get(b) is None and sessions.get(a) is not None


def test_a_token_the_backend_rejected_ends_every_login_backed_by_it() -> None:
    sessions = SessionMap(max_sessions=10)
    one, two = _session("dead"), _session("alive")
    first, second = sessions.add(one), sessions.add(two)
    sessions.drop_token("dead")
    assert sessions.get(first) is None and sessions.get(second) is two
    assert not sessions.holds(one) and sessions.holds(two)


def test_cookie_attributes_are_strict_httponly_and_secure_only_under_tls() -> None:
    plain = cookie_header(SESSION_COOKIE, "abc", secure=False, http_only=True)
    assert plain == f"{SESSION_COOKIE}=abc; Path=/; SameSite=Strict; HttpOnly"
    tls = cookie_header(SESSION_COOKIE, "abc", secure=True, http_only=True)
    assert tls.endswith("; HttpOnly; Secure")
    csrf = cookie_header(CSRF_COOKIE, "t", secure=False, http_only=False)
    assert "HttpOnly" not in csrf and "SameSite=Strict" in csrf  # Dash's renderer reads it


def test_after_login_only_a_local_path_is_followed() -> None:
    assert safe_next("/pdus?pdu=2") == "/pdus?pdu=2"
    for hostile in ("https://evil.example/", "//evil.example/x", "/\\evil", "pdus", "/logout"):
        assert safe_next(hostile) == "/"
    assert safe_next("/" + "a" * 500) == "/"


def test_origin_must_match_the_host_else_the_referer_must() -> None:
    host = {"host": "127.0.0.1:8050"}
    assert same_origin({**host, "origin": "http://127.0.0.1:8050"}, "http")
    assert not same_origin({**host, "origin": "http://evil.example"}, "http")
    assert not same_origin({**host, "origin": "http://127.0.0.1:8050"}, "https")
    assert same_origin({**host, "referer": "http://127.0.0.1:8050/pdus"}, "http")
    assert not same_origin(host, "http")  # neither header: refused


def test_login_failures_lock_after_the_threshold_and_unlock_after_the_duration() -> None:
    failures = LoginFailures(threshold=3, duration_s=60)
    now = 1000.0
    for _ in range(3):
        failures.failed("Viewer", now=now)
    assert failures.locked_for_s("viewer", now=now + 1) == pytest.approx(59)
    assert failures.locked_for_s("viewer", now=now + 61) == 0


# ---------------------------------------------------------------------- real servers
def test_pages_redirect_to_login_and_dash_requests_get_401_without_a_session(stack) -> None:
    client = httpx.Client(base_url=stack.dashboard_url)
    page = client.get("/pdus?pdu=1")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/pdus%3Fpdu%3D1"
    layout = client.get("/_dash-layout")
    assert layout.status_code == 401 and layout.headers["X-EnergyDash-Login"] == "/login"
    assert client.get("/assets/style.css").status_code == 200  # the login page needs it


def test_no_page_may_be_framed_by_another_site(stack) -> None:
    client, _ = log_in(stack, "operator", PASSWORDS["Operator"])
    for path in ("/login", "/", "/pdus", "/_dash-layout"):
        answer = client.get(path)
        assert answer.headers["X-Frame-Options"] == "DENY", path
        assert answer.headers["Content-Security-Policy"] == "frame-ancestors 'none'", path


def test_login_maps_an_opaque_httponly_cookie_to_the_users_redfish_session(stack) -> None:
    client, answer = log_in(stack, "operator", PASSWORDS["Operator"])
    assert answer.status_code == 303 and answer.headers["location"] == "/pdus"
    cookies = answer.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in session_cookie and "SameSite=Strict" in session_cookie
    assert "Secure" not in session_cookie  # plain HTTP here
    cookie_id = client.cookies[SESSION_COOKIE]
    session = stack.sessions.get(cookie_id)
    assert session is not None and session.role == "Operator"
    assert "ConfigureComponents" in session.privileges
    assert "ConfigureManager" not in session.privileges
    assert PASSWORDS["Operator"] not in cookie_id and session.token not in cookie_id
    assert redfish_status(stack, session.token) == 200  # a live Redfish session behind it
    assert session.timeout_s == stack.settings.redfish_session_timeout_s
    who = client.get("/auth/session")
    assert who.json() == {"user": "operator", "role": "Operator"}
    layout = client.get("/_dash-layout").text
    assert '"header-user"' in layout and '"Operator"' in layout


def test_wrong_password_shows_an_error_and_sets_no_session(stack) -> None:
    client, answer = log_in(stack, "operator", "wrong")
    assert answer.status_code == 200
    assert error_of(answer) == "Wrong user name or password."
    assert SESSION_COOKIE not in client.cookies
    client, _ = log_in(stack, "operator", PASSWORDS["Operator"])  # and the count starts anew
    assert client.get("/auth/session").status_code == 200


def test_login_form_from_another_origin_or_without_its_token_is_refused(stack) -> None:
    before = len(stack.sessions)
    client = httpx.Client(base_url=stack.dashboard_url)
    csrf = login_form(client)
    fields = {"username": "operator", "password": PASSWORDS["Operator"], "next": "/"}
    foreign = client.post(
        "/login", data={**fields, "csrf": csrf}, headers={"Origin": "http://evil.example"}
    )
    assert foreign.status_code == 403
    tokenless = client.post(
        "/login", data={**fields, "csrf": "guess"}, headers={"Origin": stack.dashboard_url}
    )
    assert tokenless.status_code == 403 and "CSRF" in tokenless.json()["reason"]
    assert len(stack.sessions) == before


def test_dash_callbacks_need_the_sessions_csrf_header_and_this_origin(stack) -> None:
    client, _ = log_in(stack, "operator", PASSWORDS["Operator"])
    csrf = client.cookies[CSRF_COOKIE]
    origin = {"Origin": stack.dashboard_url}
    url = "/_dash-update-component"
    assert client.post(url, json={}, headers=origin).status_code == 403
    wrong = client.post(url, json={}, headers={**origin, "X-CSRF-Token": "x" * len(csrf)})
    assert wrong.status_code == 403
    foreign = {"Origin": "http://evil.example", "X-CSRF-Token": csrf}
    assert client.post(url, json={}, headers=foreign).status_code == 403
    # With both, the request reaches Dash (which then judges the callback body itself).
    passed = client.post(url, json={}, headers={**origin, "X-CSRF-Token": csrf})
    assert passed.status_code not in (401, 403)


def test_logout_needs_its_token_then_deletes_the_redfish_session_and_the_cookie(stack) -> None:
    client, _ = log_in(stack, "viewer", PASSWORDS["ReadOnly"])
    session = stack.sessions.get(client.cookies[SESSION_COOKIE])
    assert session is not None and session.role == "ReadOnly"
    refused = client.post("/logout", data={"csrf": "nope"}, headers={"Origin": stack.dashboard_url})
    assert refused.status_code == 403 and redfish_status(stack, session.token) == 200
    done = client.post(
        "/logout", data={"csrf": session.csrf}, headers={"Origin": stack.dashboard_url}
    )
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert any("Max-Age=0" in c for c in done.headers.get_list("set-cookie"))
    assert redfish_status(stack, session.token) == 401
    assert client.get("/auth/session").status_code == 401


def test_a_session_the_backend_ended_sends_the_user_back_to_login(stack) -> None:
    client, _ = log_in(stack, "viewer", PASSWORDS["ReadOnly"])
    session = stack.sessions.get(client.cookies[SESSION_COOKIE])
    deleted = httpx.delete(
        stack.backend.url + session.location, auth=("admin", PASSWORDS["Administrator"])
    )
    assert deleted.status_code == 204
    session.last_backend -= 3600  # due for its periodic check with the backend
    assert client.get("/auth/session").status_code == 401
    assert client.get("/").headers["location"].startswith("/login")


def test_a_control_refused_with_401_ends_the_login_and_sends_the_tab_to_login(stack) -> None:
    client, _ = log_in(stack, "operator", PASSWORDS["Operator"])
    session = stack.sessions.get(client.cookies[SESSION_COOKIE])
    admin = ("admin", PASSWORDS["Administrator"])
    assert httpx.delete(stack.backend.url + session.location, auth=admin).status_code == 204
    # The group switch as the page sends it (the login was checked moments ago, so the gate
    # lets it through and the backend is the one to say the session is gone).
    body = {
        "output": "..group-result.children...group-result.className..",
        "outputs": [
            {"id": "group-result", "property": "children"},
            {"id": "group-result", "property": "className"},
        ],
        "inputs": [
            {"id": "group-on", "property": "n_clicks", "value": 1},
            {"id": "group-off", "property": "n_clicks", "value": 0},
        ],
        "state": [
            {"id": "pdu-select", "property": "value", "value": "1"},
            {"id": "group-select", "property": "value", "value": "1"},
        ],
        "changedPropIds": ["group-on.n_clicks"],
    }
    headers = {"Origin": stack.dashboard_url, "X-CSRF-Token": client.cookies[CSRF_COOKIE]}
    answer = client.post("/_dash-update-component", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    reply = answer.json()
    shown = reply["response"]["group-result"]["children"]
    assert shown.startswith("✖ PDU 1 group 1: On refused — HTTP 401")
    assert reply["sideUpdate"]["login-redirect"] == {"href": "/login?expired=1"}
    assert client.get("/auth/session").status_code == 401


def test_lockout_is_shown_and_honoured_before_and_by_the_backend(stack) -> None:
    for _ in range(LOCKOUT_THRESHOLD - 1):
        _, answer = log_in(stack, "viewer", "wrong")
        assert error_of(answer) == "Wrong user name or password."
    _, answer = log_in(stack, "viewer", "wrong")
    assert error_of(answer).startswith(f"Account locked after {LOCKOUT_THRESHOLD} failed logins")
    _, answer = log_in(stack, "viewer", PASSWORDS["ReadOnly"])  # even the right password
    assert error_of(answer).startswith("Account locked")
    basic = httpx.get(
        f"{stack.backend.url}/redfish/v1/SessionService", auth=("viewer", PASSWORDS["ReadOnly"])
    )
    assert basic.status_code == 401  # the backend refuses the locked account as well


def test_dash_websocket_needs_a_login_and_closes_when_the_login_ends(stack) -> None:
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect

    url = stack.dashboard_url.replace("http://", "ws://") + "/_dash-ws-callback"
    origin = {"Origin": stack.dashboard_url}
    with pytest.raises(InvalidStatus):
        connect(url, additional_headers=origin, open_timeout=5).close()
    client, _ = log_in(stack, "operator", PASSWORDS["Operator"])
    cookie = f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}"
    with connect(url, additional_headers={**origin, "Cookie": cookie}, open_timeout=5) as socket:
        socket.send('{"type": "heartbeat"}')
        assert "heartbeat_ack" in socket.recv(timeout=5)
        csrf = client.cookies[CSRF_COOKIE]
        client.post("/logout", data={"csrf": csrf}, headers={"Origin": stack.dashboard_url})
        socket.send('{"type": "heartbeat"}')
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)
        assert closed.value.rcvd.code == 4401


def _session(token: str, timeout_s: float = 1800) -> DashSession:
    return DashSession(
        token=token,
        location="/redfish/v1/SessionService/Sessions/1",
        username="u",
        role="ReadOnly",
        privileges=frozenset({"Login"}),
        csrf="c",
        timeout_s=timeout_s,
    )
