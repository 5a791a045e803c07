"""ENERGYDASH_TLS=true: REST, /ws and Redfish over HTTPS with the one generated certificate."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import orjson
from auth_support import READER, auth_settings, backend
from websockets.sync.client import connect

from energydash.app import tls_files


def test_one_setting_serves_every_face_over_https_with_the_same_cert(tmp_path: Path) -> None:
    settings = auth_settings(tmp_path, tls=True)
    files = tls_files(settings)
    assert files is not None
    cert, key = map(Path, files)
    assert cert.exists() and key.exists()
    context = ssl.create_default_context(cafile=str(cert))  # verified against our own cert
    with backend(settings) as server:
        assert server.url.startswith("https://")
        with httpx.Client(base_url=server.url, verify=context, auth=READER) as http:
            assert http.get("/api/v1/topics").status_code == 200
            assert http.get("/redfish/v1/Managers/BMC/NetworkProtocol").json()["HTTPS"][
                "ProtocolEnabled"
            ]
        assert server.reader_ws_url.startswith("wss://")
        with connect(server.reader_ws_url, ssl=context) as ws:
            ws.send(orjson.dumps({"op": "subscribe", "topics": ["market/NEM"]}).decode())
            assert orjson.loads(ws.recv(timeout=5))["type"] == "snapshot"
        try:
            httpx.get(f"http://127.0.0.1:{server.port}/health", timeout=3)
            plain_served = True
        except httpx.HTTPError:
            plain_served = False
        assert not plain_served  # nothing answers in clear text
    assert tls_files(settings) == files  # generated once, the dashboard reuses the pair


def test_the_old_redfish_tls_setting_still_turns_tls_on(tmp_path: Path) -> None:
    settings = auth_settings(tmp_path, redfish_tls=True)
    assert settings.tls and settings.backend_base_url.startswith("https://")
