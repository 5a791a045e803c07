"""Dependencies as Annotated aliases, so routes read like their signature.

``CallerDep`` is whoever sent the request (HTTP Basic, a Redfish session's ``X-Auth-Token``,
or ``Authorization: Bearer <session token>``), checked against the one account store; without
a credential the answer is 401 with ``WWW-Authenticate``. ``Requires("ConfigureComponents")``
is the same caller, with 403 naming the privilege when the caller's role lacks it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from energydash.api.errors import ApiError
from energydash.auth import AuthStore, Caller
from energydash.config import Settings
from energydash.hub import Hub
from energydash.sim.engine import Engine

# Lookups are ``async def``: FastAPI runs a plain ``def`` dependency on its thread pool, a
# thread round trip per request that cost more than the command itself (bench/commands.py).
# ``_caller`` stays a ``def``: a password check (scrypt) must not block the event loop.
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Basic realm="EnergyDash", charset="UTF-8"'}


async def _hub(request: Request) -> Hub:
    """The hub, with any coalesced command refresh published first: a REST read sees every
    command that was answered before it."""
    snapshots = getattr(request.app.state, "snapshots", None)
    if snapshots is not None:
        snapshots.flush()
    return request.app.state.hub


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _engine(request: Request) -> Engine:
    engine = request.app.state.engine
    if engine is None:
        raise ApiError(503, "this backend runs without a simulation engine")
    return engine


async def _auth(request: Request) -> AuthStore:
    return request.app.state.auth


def caller_of(request: Request) -> Caller | None:
    """The account behind the request's credential, or None (no or wrong credential)."""
    store: AuthStore = request.app.state.auth
    authorization = request.headers.get("authorization")
    token = request.headers.get("x-auth-token")
    if authorization and authorization[:7].lower() == "bearer ":
        token, authorization = authorization[7:].strip(), None
    return store.authenticate(
        authorization.encode("latin-1") if authorization else None,
        token.encode("latin-1") if token else None,
    )


def _caller(request: Request) -> Caller:
    caller = caller_of(request)
    if caller is None:
        raise ApiError(401, "authentication required", headers=WWW_AUTHENTICATE)
    request.state.caller = caller
    return caller


def Requires(privilege: str) -> Any:
    """``Annotated[Caller, ...]`` that also demands ``privilege`` (a Redfish 1.8.0 privilege)."""

    async def check(caller: Annotated[Caller, Depends(_caller)]) -> Caller:
        if not caller.has(privilege):
            raise ApiError(403, f"role {caller.role_id} lacks the {privilege} privilege")
        return caller

    return Annotated[Caller, Depends(check)]


HubDep = Annotated[Hub, Depends(_hub)]
SettingsDep = Annotated[Settings, Depends(_settings)]
EngineDep = Annotated[Engine, Depends(_engine)]
AuthDep = Annotated[AuthStore, Depends(_auth)]
CallerDep = Annotated[Caller, Depends(_caller)]
