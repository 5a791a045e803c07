"""Scenarios at run time: ``POST /api/v1/scenarios`` starts one, ``GET`` shows their progress."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from energydash.api.errors import ApiError
from energydash.models.scenario import Scenario, ScenarioStatus

router = APIRouter(tags=["control"])


def _runner(request: Request) -> Any:
    service = getattr(request.app.state, "redfish", None)
    if service is None:
        raise ApiError(409, "scenarios need the backend's Redfish service", "scenario")
    if service.scenarios is None:
        raise ApiError(409, "scenarios run on the fleet service only", "scenario")
    return service.scenarios


@router.get("/scenarios", summary="Scenarios started and their progress")
async def list_scenarios(request: Request) -> list[ScenarioStatus]:
    return [run.status() for run in _runner(request).runs.values()]


@router.post("/scenarios", status_code=201, summary="Start a scenario on the sim clock")
async def start_scenario(body: Scenario, request: Request) -> ScenarioStatus:
    return _runner(request).start(body).status()
