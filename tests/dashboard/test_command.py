"""`energydash dashboard` refuses a backend URL it cannot turn into a WebSocket address."""

from __future__ import annotations

import contextlib

from energydash.cli import main


def test_dashboard_rejects_a_backend_url_without_scheme(settings, capsys) -> None:
    code = main(["dashboard", "--backend-url", "127.0.0.1:8000"])
    assert code == 2
    assert "backend_url must start with http:// or https://" in capsys.readouterr().err


def test_dashboard_is_listed_in_the_cli_help(capsys) -> None:
    with contextlib.suppress(SystemExit):
        main(["--help"])
    assert "dashboard" in capsys.readouterr().out
