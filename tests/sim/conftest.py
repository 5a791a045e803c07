"""Engines for the simulation tests: stepped clock, small fleets, state in tmp."""

from __future__ import annotations

import pytest

from energydash.config import Settings
from energydash.sim.engine import Engine


@pytest.fixture
def engine(settings: Settings) -> Engine:
    """A stepped engine over the shared isolated settings (2 PDUs x 48 outlets, 20 facilities)."""
    return Engine.from_settings(settings)
