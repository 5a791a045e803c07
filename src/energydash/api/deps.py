"""Dependencies as Annotated aliases, so routes read like their signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from energydash.api.errors import ApiError
from energydash.config import Settings
from energydash.hub import Hub
from energydash.sim.engine import Engine


def _hub(request: Request) -> Hub:
    return request.app.state.hub


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _engine(request: Request) -> Engine:
    engine = request.app.state.engine
    if engine is None:
        raise ApiError(503, "this backend runs without a simulation engine")
    return engine


HubDep = Annotated[Hub, Depends(_hub)]
SettingsDep = Annotated[Settings, Depends(_settings)]
EngineDep = Annotated[Engine, Depends(_engine)]
