"""Alerts: list with filters, acknowledge (ConfigureComponents), and the analytics view."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from energydash.api.deps import CallerDep, Requires
from energydash.api.errors import ApiError
from energydash.models.alerts import Alert, AlertList, Severity

router = APIRouter(tags=["alerts"])
MAX_LIMIT = 1000
AlertState = Annotated[str | None, Query(pattern="^(open|acknowledged|resolved|live)$")]


def _service(request: Request) -> Any:
    service = request.app.state.analytics
    if service is None:
        raise ApiError(503, "analytics is off in this backend (ENERGYDASH_ANALYTICS=false)")
    return service


@router.get("/alerts", summary="Alerts, newest first", response_model=AlertList)
async def list_alerts(
    request: Request,
    caller: CallerDep,
    state: AlertState = None,
    severity: Severity | None = None,
    target: Annotated[str | None, Query(max_length=256)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 200,
) -> AlertList:
    """``state=live`` is open and acknowledged; ``target`` matches itself and what is under it
    (``pdu/1`` matches ``pdu/1/A3``); ``since``/``until`` bound ``last_seen``."""
    alerts: list[Alert] = _service(request).book.all()
    if state == "live":
        alerts = [a for a in alerts if a.state != "resolved"]
    elif state:
        alerts = [a for a in alerts if a.state == state]
    if severity:
        alerts = [a for a in alerts if a.severity == severity]
    if target:
        alerts = [a for a in alerts if a.target == target or a.target.startswith(target + "/")]
    if since:
        alerts = [a for a in alerts if a.last_seen >= since]
    if until:
        alerts = [a for a in alerts if a.first_seen <= until]
    alerts.sort(key=lambda a: a.last_seen, reverse=True)
    return AlertList(alerts=alerts[:limit], total=len(alerts), truncated=len(alerts) > limit)


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert", response_model=Alert)
async def acknowledge(
    alert_id: Annotated[str, Path(max_length=32)],
    request: Request,
    caller: Requires("ConfigureComponents"),  # type: ignore[valid-type]
) -> Alert:
    service = _service(request)
    now = request.app.state.engine.clock.now()
    try:
        alert = service.book.acknowledge(alert_id, caller.username, now)
    except KeyError:
        raise ApiError(404, f"no alert {alert_id!r}", "alert_id") from None
    except ValueError as error:
        raise ApiError(409, str(error), "alert_id") from None
    service.flush(now)
    return alert
