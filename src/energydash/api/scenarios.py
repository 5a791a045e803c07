"""Scenarios at run time: ``POST /api/v1/scenarios`` starts one, ``GET`` shows their progress."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from energydash.api.deps import CallerDep, Requires, audited
from energydash.api.errors import ApiError
from energydash.models.scenario import Scenario, ScenarioStatus

router = APIRouter(tags=["control"])
# A scenario only injects faults and switches outlets and breakers: ConfigureComponents.
ScenarioStarter = Requires("ConfigureComponents", action="scenario.start")


def _runner(request: Request) -> Any:
    service = getattr(request.app.state, "redfish", None)
    if service is None:
        raise ApiError(409, "scenarios need the backend's Redfish service", "scenario")
    if service.scenarios is None:
        raise ApiError(409, "scenarios run on the fleet service only", "scenario")
    return service.scenarios


@router.get("/scenarios", summary="Scenarios started and their progress")
async def list_scenarios(request: Request, _: CallerDep) -> list[ScenarioStatus]:
    return [run.status() for run in _runner(request).runs.values()]


@router.post("/scenarios", status_code=201, summary="Start a scenario on the sim clock")
async def start_scenario(
    body: Scenario, request: Request, caller: ScenarioStarter
) -> ScenarioStatus:
    with audited(request, caller, "scenario.start", f"{len(body.steps)} steps"):
        return _runner(request).start(body).status()
