"""Audit records of site and site-device actions, on every face that changes them.

Each action yields one ``AuditRecord`` (ok or refused, with the reason): it is logged on the
``energydash.audit`` logger and handed to ``app.state.audit.record(record)`` when the backend has
an audit sink (the Redfish log, ``logs/audit.log`` and the hub topic ``audit`` are that sink's).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException

from energydash.auth import Caller
from energydash.models.audit import AuditRecord, Face
from energydash.sim.commands import CommandError

log = logging.getLogger("energydash.audit")


def record(app: Any, record: AuditRecord) -> None:
    log.info("%s", record.model_dump_json())
    sink = getattr(getattr(app, "state", None), "audit", None)
    if sink is not None and hasattr(sink, "record"):
        try:
            sink.record(record)
        except Exception:  # the action happened; a broken sink must not turn it into a 500
            log.exception("audit sink failed")


@contextlib.contextmanager
def audited(
    app: Any,
    caller: Caller | None,
    face: Face,
    action: str,
    target: str,
    *,
    origin: str = "",
    detail: str = "",
) -> Iterator[None]:
    """Record ``action`` on ``target`` as ok, or as refused with the reason, then re-raise."""

    def make(result: str, reason: str) -> AuditRecord:
        return AuditRecord(
            ts=datetime.now(UTC),
            user=(caller.username if caller else "anonymous")[:64],
            role=caller.role_id if caller else None,
            face=face,
            action=action[:64],
            target=target[:200],
            origin=origin[:100],
            result=result,  # type: ignore[arg-type]
            detail=(reason or detail)[:500],
        )

    try:
        yield
    except CommandError as error:
        record(app, make("refused", error.message))
        raise
    except HTTPException as error:
        record(app, make("refused", str(error.detail)))
        raise
    except Exception as error:
        reason = getattr(error, "message", None) or str(error)
        record(app, make("refused", reason))
        raise
    record(app, make("ok", detail))


def origin_of(request: Any) -> str:
    client = getattr(request, "client", None)
    return f"{client.host}:{client.port}" if client else ""


def audit_route(action: str, target: str) -> Any:
    """Audit a REST route: ``target`` is formatted with the route's arguments
    (``"site/{site_id}"``); the route takes ``request`` and ``caller``."""

    def wrap(route: Any) -> Any:
        @functools.wraps(route)
        async def run(*args: Any, **kwargs: Any) -> Any:
            request = kwargs["request"]
            where = target.format(**{k: v for k, v in kwargs.items() if isinstance(v, str)})
            with audited(
                request.app, kwargs.get("caller"), "rest", action, where, origin=origin_of(request)
            ):
                return await route(*args, **kwargs)

        return run

    return wrap
