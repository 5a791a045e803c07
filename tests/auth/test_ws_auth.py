"""/ws needs a credential: a session token (query or first frame), Basic, or the read token."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import orjson
import pytest
import websockets
from auth_support import OPERATOR, READER, auth_settings, backend
from websockets.sync.client import ClientConnection, connect

from energydash.app import BackgroundServer
from energydash.models.envelope import AuthFrame


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    settings = auth_settings(tmp_path_factory.mktemp("ws-auth"), ws_auth_timeout_s=0.5)
    with backend(settings) as running:
        yield running


def _session_token(server: BackgroundServer, user: tuple[str, str]) -> str:
    response = httpx.post(
        f"{server.url}/redfish/v1/SessionService/Sessions",
        json={"UserName": user[0], "Password": user[1]},
    )
    return response.headers["x-auth-token"]


def _snapshot(ws: ClientConnection) -> dict:
    ws.send(orjson.dumps({"op": "subscribe", "topics": ["market/NEM"]}).decode())
    while True:
        frame = orjson.loads(ws.recv(timeout=5))
        if frame["type"] == "snapshot":
            return frame


def _closed_code(ws: ClientConnection) -> int | None:
    with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=5)
    return closed.value.rcvd.code if closed.value.rcvd else None


def test_without_a_credential_the_socket_is_closed_and_gets_no_data(
    server: BackgroundServer,
) -> None:
    with connect(server.ws_url) as ws:
        ws.send(orjson.dumps({"op": "subscribe", "topics": ["market/NEM"]}).decode())
        assert _closed_code(ws) == 1008  # a subscribe is not an auth frame


def test_a_silent_socket_is_closed_after_the_auth_timeout(server: BackgroundServer) -> None:
    with connect(server.ws_url) as ws:
        assert _closed_code(ws) == 1008


def test_a_wrong_token_is_refused_at_the_upgrade(server: BackgroundServer) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus):
        connect(server.ws_url + "?token=not-a-session")


def test_a_session_token_in_the_query_opens_the_stream(server: BackgroundServer) -> None:
    token = _session_token(server, READER)
    with connect(f"{server.ws_url}?token={token}") as ws:
        assert _snapshot(ws)["topic"] == "market/NEM"


def test_a_first_auth_frame_opens_the_stream_and_says_who(server: BackgroundServer) -> None:
    token = _session_token(server, OPERATOR)
    with connect(server.ws_url) as ws:
        ws.send(orjson.dumps({"op": "auth", "token": token}).decode())
        answer = AuthFrame.model_validate_json(ws.recv(timeout=5))
        assert (answer.user, answer.role) == (OPERATOR[0], "Operator")
        assert _snapshot(ws)["type"] == "snapshot"


def test_a_wrong_auth_frame_closes_the_socket(server: BackgroundServer) -> None:
    with connect(server.ws_url) as ws:
        ws.send(orjson.dumps({"op": "auth", "token": "guess"}).decode())
        assert _closed_code(ws) == 1008


def test_basic_on_the_upgrade_opens_the_stream(server: BackgroundServer) -> None:
    basic = base64.b64encode(f"{READER[0]}:{READER[1]}".encode()).decode()
    with connect(server.ws_url, additional_headers={"Authorization": f"Basic {basic}"}) as ws:
        assert _snapshot(ws)["type"] == "snapshot"
    wrong = base64.b64encode(f"{READER[0]}:nope".encode()).decode()
    with pytest.raises(websockets.exceptions.InvalidStatus):
        connect(server.ws_url, additional_headers={"Authorization": f"Basic {wrong}"})


def test_the_read_token_opens_the_stream_as_a_header_too(server: BackgroundServer) -> None:
    with connect(server.reader_ws_url) as ws:
        assert _snapshot(ws)["type"] == "snapshot"
    bearer = {"Authorization": f"Bearer {server.app.state.read_token}"}
    with connect(server.ws_url, additional_headers=bearer) as ws:
        assert _snapshot(ws)["type"] == "snapshot"


def test_the_token_does_not_reach_the_log(server: BackgroundServer) -> None:
    import logging

    from energydash.logs import RedactSecrets

    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        0,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5555", f"/ws?token={server.app.state.read_token}"),
        None,
    )
    RedactSecrets().filter(record)
    assert server.app.state.read_token not in record.getMessage()
    assert "token=<redacted>" in record.getMessage()


def test_a_socket_closes_when_its_session_ends(tmp_path) -> None:
    settings = auth_settings(tmp_path, ws_ping_interval_s=0.2, ws_idle_timeout_s=30)
    with backend(settings) as running:
        login = httpx.post(
            f"{running.url}/redfish/v1/SessionService/Sessions",
            json={"UserName": READER[0], "Password": READER[1]},
        )
        token, session = login.headers["x-auth-token"], login.headers["location"]
        with connect(f"{running.ws_url}?token={token}") as ws:
            assert _snapshot(ws)["type"] == "snapshot"
            logout = httpx.delete(f"{running.url}{session}", headers={"X-Auth-Token": token})
            assert logout.status_code == 204
            assert _closed_code(ws) == 1008
