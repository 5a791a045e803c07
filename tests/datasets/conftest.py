"""Fixtures of the data-tool tests: a generated dataset and the fake OpenElectricity API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from energydash.datasets.generate import generate

from .oe_server import OeServer

API_KEY = "test-key-not-secret"


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """45 facilities, 6 hours of 5-minute data: two acquire batches, quick to convert."""
    out = tmp_path_factory.mktemp("dataset")
    generate(
        out,
        seed=3,
        facility_count=45,
        days=0.25,
        start=datetime.fromisoformat("2025-01-13T00:00:00+10:00"),
    )
    return out


@pytest.fixture
def oe_server(dataset: Path) -> Iterator[OeServer]:
    with OeServer(dataset, API_KEY) as server:
        yield server
