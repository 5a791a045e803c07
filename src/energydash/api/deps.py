"""Dependencies as Annotated aliases, so routes read like their signature.

``CallerDep`` is whoever sent the request (HTTP Basic, a Redfish session's ``X-Auth-Token``,
or ``Authorization: Bearer <session token>``), checked against the one account store; without
a credential the answer is 401 with ``WWW-Authenticate``. ``Requires("ConfigureComponents")``
is the same caller, with 403 naming the privilege when the caller's role lacks it.
``Requires(privilege, action="outlet.power")`` also audits a refusal as that action, and a
route wraps its work in ``audited(request, caller, action)`` so the outcome is audited too.

The service read token (``energydash.auth.secrets.read_token``) is accepted as a Bearer or
X-Auth-Token credential: a ReadOnly service caller (``Login`` only) for the dashboard's feed.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from energydash.api.errors import ApiError
from energydash.auth import AuthStore, Caller
from energydash.auth.audit import Auditor
from energydash.config import Settings
from energydash.hub import Hub
from energydash.models.audit import Result
from energydash.sim.commands import CommandError
from energydash.sim.engine import Engine

READ_TOKEN_USER = "read-token"
READ_TOKEN_CALLER = Caller(READ_TOKEN_USER, "ReadOnly", frozenset({"Login"}))

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


def credential_caller(
    store: AuthStore,
    read_token: str | None,
    authorization: str | None,
    token: str | None,
    client_host: str | None,
) -> Caller | None:
    """The caller of a Basic header, a session token or the read token (REST and /ws)."""
    if authorization and authorization[:7].lower() == "bearer ":
        token, authorization = authorization[7:].strip(), None
    if token and read_token and secrets.compare_digest(token.encode(), read_token.encode()):
        return READ_TOKEN_CALLER
    return store.authenticate(
        authorization.encode("latin-1") if authorization else None,
        token.encode("latin-1") if token else None,
        client_host,
    )


def caller_of(request: Request) -> Caller | None:
    """The account behind the request's credential, or None (no or wrong credential)."""
    return credential_caller(
        request.app.state.auth,
        getattr(request.app.state, "read_token", None),
        request.headers.get("authorization"),
        request.headers.get("x-auth-token"),
        request.client.host if request.client else None,
    )


def origin_of(request: Request) -> str:
    client = request.client
    return f"{client.host}:{client.port}" if client else ""


def audit(
    request: Request, caller: Caller | None, action: str, result: Result, detail: str = ""
) -> None:
    auditor: Auditor | None = getattr(request.app.state, "auditor", None)
    if auditor is not None:
        auditor.record_caller(
            caller,
            "rest",
            action,
            request.scope["path"],  # request.url.path, without building the whole URL
            origin_of(request),
            result,
            detail,
        )


@contextlib.contextmanager
def audited(request: Request, caller: Caller, action: str, detail: str = "") -> Iterator[None]:
    """Audit the work inside as ``action``: ok, or failed with the error's reason."""
    try:
        yield
    except ApiError as error:
        audit(request, caller, action, "failed", f"{detail} {error.reason}".strip())
        raise
    except CommandError as error:
        audit(request, caller, action, "failed", f"{detail} {error.message}".strip())
        raise
    audit(request, caller, action, "ok", detail)


def _checks_password(request: Request) -> bool:
    authorization = request.headers.get("authorization")
    if not authorization or authorization[:7].lower() == "bearer ":
        return False
    token = request.headers.get("x-auth-token")
    return request.app.state.auth.needs_password_check(
        authorization.encode("latin-1"), token.encode("latin-1") if token else None
    )


async def _authenticated(request: Request, action: str | None) -> Caller:
    """Every request is authenticated and then authorised; only a password hash (a Basic
    credential not verified lately) runs in a worker thread, the rest on the loop: a thread
    hop per request was a third of a command's cost."""
    if _checks_password(request):
        caller = await run_in_threadpool(caller_of, request)
    else:
        caller = caller_of(request)
    if caller is None:
        if action:
            audit(request, None, action, "refused", "no valid credential")
        raise ApiError(401, "authentication required", headers=WWW_AUTHENTICATE)
    request.state.caller = caller
    return caller


async def _caller(request: Request) -> Caller:
    return await _authenticated(request, None)


def Requires(privilege: str, action: str | None = None) -> Any:
    """``Annotated[Caller, ...]`` that also demands ``privilege`` (a Redfish 1.8.0 privilege).

    With ``action`` a refusal (401 or 403) is audited under that name.
    """

    async def check(request: Request) -> Caller:
        caller = await _authenticated(request, action)
        if not caller.has(privilege):
            reason = f"role {caller.role_id} lacks the {privilege} privilege"
            if action:
                audit(request, caller, action, "refused", reason)
            raise ApiError(403, reason)
        return caller

    return Annotated[Caller, Depends(check)]


HubDep = Annotated[Hub, Depends(_hub)]
SettingsDep = Annotated[Settings, Depends(_settings)]
EngineDep = Annotated[Engine, Depends(_engine)]
AuthDep = Annotated[AuthStore, Depends(_auth)]
CallerDep = Annotated[Caller, Depends(_caller)]
