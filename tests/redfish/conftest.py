"""Fixtures of the Redfish tests: one real server (engine + uvicorn on loopback) per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rf_support import RedfishServer, build_settings, serve


@pytest.fixture(scope="session")
def redfish_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedfishServer]:
    """One server for the package; tests that change state restore it or use their own ids."""
    settings = build_settings(tmp_path_factory.mktemp("redfish"))
    with serve(settings) as server:
        server.tick(3)
        yield server
