"""Charts' past from the backend's stored history, read as the logged-in user.

A page asks for the range its time picker shows (``/api/v1/history/{topic}`` with ``start``,
``end`` and ``step_s``, as the user's Redfish session); the answer's rows become the chart's
first figure, and the live feed extends it from there. Without a login or a reachable backend,
the page falls back to the feed's own recent frames and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from energydash.dashboard.context import DashboardContext
from energydash.dashboard.gate import current_session
from energydash.dashboard.timerange import TimeRange


@dataclass
class Loaded:
    """Rows of a topic's history: UTC ISO timestamps and one list per series."""

    timestamps: list[str] = field(default_factory=list)
    series: dict[str, list[float | None]] = field(default_factory=dict)
    error: str = ""
    tier: str = ""


def iso_z(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def load(
    context: DashboardContext,
    topic: str,
    names: list[str] | None,
    time_range: TimeRange,
    now: datetime,
) -> Loaded:
    """The rows of ``time_range`` at ``now``, at the range's step."""
    start, end = time_range.bounds(now)
    return load_window(context, topic, names, start, end, time_range.step_s(now))


def load_window(
    context: DashboardContext,
    topic: str,
    names: list[str] | None,
    start: datetime,
    end: datetime,
    step_s: float | None,
) -> Loaded:
    """GET /api/v1/history/{topic} for [start, end] as the logged-in user."""
    session = current_session()
    if session is None:
        return Loaded(error="not logged in")
    params: dict[str, Any] = {"start": iso_z(start), "end": iso_z(end)}
    if step_s is not None:
        params["step_s"] = step_s
    if names:
        params["series"] = ",".join(names)
    body, error = context.control.history(topic, params, session.token)
    if body is None:
        return Loaded(error=error)
    return Loaded(
        timestamps=list(body.get("timestamps") or []),
        series={k: list(v) for k, v in (body.get("series") or {}).items()},
        tier=str(body.get("tier") or ""),
    )
