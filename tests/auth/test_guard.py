"""The outer guard on every face: foreign Host refused, bodies capped before any work, no CORS
unless configured; and the safe-default refusal of `serve`/`dashboard` beyond loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from auth_support import ADMIN, auth_settings, backend, rss_kib
from websockets.sync.client import connect

from energydash.app import BackgroundServer
from energydash.auth import store as auth_store

CHUNK = b"x" * 65536


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    settings = auth_settings(
        tmp_path_factory.mktemp("guard"),
        public_url="https://pdus.example.org",
        allowed_hosts=["dash.example"],
    )
    with backend(settings) as running:
        yield running


@pytest.mark.parametrize(
    "path", ["/api/v1/topics", "/redfish/v1/Systems", "/redfish/v1", "/health", "/docs"]
)
def test_a_foreign_host_is_refused_on_every_face(server: BackgroundServer, path: str) -> None:
    response = httpx.get(f"{server.url}{path}", headers={"Host": "attacker.example"}, auth=ADMIN)
    assert response.status_code == 421
    assert "attacker.example" in response.json()["reason"]


def test_loopback_public_url_and_allowed_hosts_are_served(server: BackgroundServer) -> None:
    for host in ("localhost", f"127.0.0.1:{server.port}", "pdus.example.org", "DASH.example:80"):
        response = httpx.get(f"{server.url}/redfish/v1", headers={"Host": host})
        assert response.status_code == 200, host


def _upgrade(port: int, host: str, token: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            (
                f"GET /ws?token={token} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        return sock.recv(4096)


def test_a_foreign_host_cannot_open_the_websocket(server: BackgroundServer) -> None:
    token = server.app.state.read_token
    assert _upgrade(server.port, "attacker.example", token).startswith(b"HTTP/1.1 403")
    assert _upgrade(server.port, "localhost", token).startswith(b"HTTP/1.1 101")
    with connect(server.reader_ws_url) as ws:  # the same socket by a well-behaved client
        ws.send('{"op": "subscribe", "topics": ["market/NEM"]}')
        assert b"snapshot" in ws.recv(timeout=5).encode()


def _raw_post(port: int, head: bytes, body_chunks: int, chunked: bool) -> bytes:
    """Send a request head, then up to ``body_chunks`` x 64 KiB; return what the server said."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        try:
            for _ in range(body_chunks):
                if chunked:
                    sock.sendall(b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n")
                else:
                    sock.sendall(CHUNK)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed while the body was still coming
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and b'"reason"' in answer:
                    break
        except OSError:
            pass
    return answer


@pytest.mark.parametrize("path", ["/api/v1/faults", "/redfish/v1/SessionService/Sessions"])
def test_a_10_mb_body_gets_413_before_it_is_read_and_memory_stays_flat(
    server: BackgroundServer, path: str
) -> None:
    size = 10 * 1024 * 1024
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()
    before = rss_kib()
    answer = _raw_post(server.port, head, size // len(CHUNK), chunked=False)
    grown = rss_kib() - before
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"ENERGYDASH_MAX_BODY_BYTES" in answer
    assert grown < 4096, f"backend RSS grew {grown} KiB for a refused 10 MB body"


def test_a_chunked_body_is_cut_off_at_the_cap(server: BackgroundServer) -> None:
    head = (
        b"POST /api/v1/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    before = rss_kib()
    answer = _raw_post(server.port, head, 160, chunked=True)  # 10 MiB in 64 KiB chunks
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert rss_kib() - before < 4096


def test_a_body_under_the_cap_is_served(server: BackgroundServer) -> None:
    response = httpx.post(
        f"{server.url}/api/v1/faults", content=b"{" + b" " * 500_000 + b"}", auth=ADMIN
    )
    assert response.status_code == 422  # read and validated, not refused for its size


def test_refused_bodies_cost_no_password_hash(
    server: BackgroundServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = auth_store._scrypt
    monkeypatch.setattr(auth_store, "_scrypt", lambda *a: calls.append(1) or real(*a))
    response = httpx.post(
        f"{server.url}/api/v1/faults",
        content=b"x" * (2 * 1024 * 1024),
        auth=("admin", "wrong-password"),
    )
    assert response.status_code == 413 and calls == []


def test_no_cors_headers_unless_configured(server: BackgroundServer, tmp_path: Path) -> None:
    preflight = {
        "Origin": "https://dash.example",
        "Access-Control-Request-Method": "POST",
    }
    response = httpx.options(f"{server.url}/api/v1/topics", headers=preflight)
    assert "access-control-allow-origin" not in response.headers
    settings = auth_settings(tmp_path, cors_origins=["https://dash.example"])
    with backend(settings) as running:
        allowed = httpx.options(f"{running.url}/api/v1/topics", headers=preflight)
        assert allowed.headers["access-control-allow-origin"] == "https://dash.example"
        other = httpx.options(
            f"{running.url}/api/v1/topics", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers


def _command(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ENERGYDASH_")}
    clean.update(
        ENERGYDASH_DATA_DIR=str(tmp_path / "data"),
        ENERGYDASH_LOG_DIR=str(tmp_path / "logs"),
        ENERGYDASH_PDU_COUNT="1",
        ENERGYDASH_GRID_FACILITY_COUNT="5",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "energydash", *args],
        env=clean,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", ["serve", "dashboard"])
def test_binding_beyond_loopback_with_the_shipped_password_refuses_to_start(
    tmp_path: Path, command: str
) -> None:
    result = _command(tmp_path, command, "--host", "0.0.0.0", "--port", "1")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "shipped default password" in result.stderr
    assert "ENERGYDASH_REDFISH_PASSWORD" in result.stderr
    assert "energydash'" not in result.stderr + result.stdout  # no password printed


def test_a_changed_password_lets_serve_bind_beyond_loopback(tmp_path: Path) -> None:
    from energydash.auth import AuthStore
    from energydash.auth.exposure import exposure_problem

    settings = auth_settings(tmp_path, redfish_password="a-real-password")
    assert exposure_problem("serve", "0.0.0.0", AuthStore.from_settings(settings)) is None
    shipped = auth_settings(tmp_path / "shipped", redfish_password="energydash")
    assert exposure_problem("serve", "10.1.2.3", AuthStore.from_settings(shipped))
    assert exposure_problem("serve", "127.0.0.1", AuthStore.from_settings(shipped)) is None
