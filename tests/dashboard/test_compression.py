"""The dashboard compresses what it serves: scripts, styles and pages go gzip to a browser
that accepts it (issue 15: a first load was 6.3 MB uncompressed)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from energydash.config import Settings
from energydash.dashboard.app import create_dash_app


def test_scripts_and_styles_are_served_gzip_when_accepted(settings: Settings) -> None:
    app = create_dash_app(settings)
    with TestClient(app.server) as client:
        page = client.get("/login", headers={"Accept-Encoding": "gzip"})
        assert page.status_code == 200
        style = client.get("/assets/style.css", headers={"Accept-Encoding": "gzip"})
        assert style.headers["content-encoding"] == "gzip"
        plain = client.get("/assets/style.css", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert style.content == plain.content  # the client decoded the gzip body
        # Content-Length is the size on the wire: the compressed body.
        assert int(style.headers["content-length"]) < len(plain.content) / 2
