"""The Caller dependency lets another FastAPI face reuse Redfish accounts and roles."""

# no "from __future__ import annotations": FastAPI must see the CallerDep alias itself

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from rf_support import ADMIN, ADMIN_PASSWORD, READER, READER_PASSWORD, build_settings

from energydash.redfish import Caller, RedfishService
from energydash.sim.engine import Engine


def test_caller_dependency_names_the_account_and_role_or_answers_401(tmp_path: Path) -> None:
    settings = build_settings(tmp_path)
    service = RedfishService(Engine.from_settings(settings, restore=False), settings)
    app = FastAPI()
    CallerDep = service.CallerDep

    @app.get("/whoami")
    def whoami(caller: CallerDep) -> dict[str, str]:  # type: ignore[valid-type]
        assert isinstance(caller, Caller)
        return {"user": caller.username, "role": caller.role_id}

    with TestClient(app) as client:
        assert client.get("/whoami", auth=(READER, READER_PASSWORD)).json() == {
            "user": READER,
            "role": "ReadOnly",
        }
        assert client.get("/whoami", auth=(ADMIN, ADMIN_PASSWORD)).json()["role"] == (
            "Administrator"
        )
        denied = client.get("/whoami", auth=(ADMIN, "wrong"))
        assert denied.status_code == 401 and "WWW-Authenticate" in denied.headers
    service.close()


def test_the_service_is_found_in_an_app_that_includes_its_router(tmp_path: Path) -> None:
    settings = build_settings(tmp_path)
    service = RedfishService(Engine.from_settings(settings, restore=False), settings)
    app = FastAPI()
    assert RedfishService.find(app) is None
    app.include_router(service.router)
    assert RedfishService.find(app) is service
    with TestClient(service.wrap(app)) as client:
        assert client.get("/redfish").json() == {"v1": "/redfish/v1/"}
    service.close()
