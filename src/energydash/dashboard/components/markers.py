"""Switch and breaker events as markers on a time chart: a dotted vertical line per event and
a short label on top whose hover text is the event's message.

They go into the figure's ``layout.shapes`` / ``layout.annotations``, so a live page replaces
them with a figure ``Patch`` like its points (never ``extendData``, never a second figure).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from energydash.dashboard.timerange import local, parse_utc

# kind -> (label on the chart, colour)
MARKS: dict[str, tuple[str, str]] = {
    "OutletPoweredOn": ("on", "#16a34a"),
    "OutletPoweredOff": ("off", "#64748b"),
    "BreakerTripped": ("trip", "#dc2626"),
    "BreakerReset": ("reset", "#2563eb"),
    "CircuitPoweredOff": ("open", "#b45309"),
    "CircuitPoweredOn": ("close", "#2563eb"),
}
MAX_MARKERS = 100  # the newest this many in the window; a storm must not bury the chart


def relevant(
    events: list[dict[str, Any]], outlet_id: str, branch_id: str | None
) -> list[dict[str, Any]]:
    """Events of the outlet itself and of the branch breaker that feeds it."""
    kept = []
    for event in events:
        if event.get("kind") not in MARKS:
            continue
        resource, target = event.get("resource"), str(event.get("resource_id"))
        if (resource == "outlet" and target == outlet_id) or (
            resource == "branch" and branch_id is not None and target == branch_id
        ):
            kept.append(event)
    return kept


def event_markers(
    events: list[dict[str, Any]], zone: tzinfo, start: datetime, end: datetime | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(shapes, annotations) for the events between ``start`` and ``end`` (None: no end)."""
    shown = []
    for event in events:
        try:
            at = parse_utc(str(event.get("ts")))
        except ValueError:
            continue
        if at >= start and (end is None or at <= end):
            shown.append((at, event))
    shapes, notes = [], []
    for at, event in shown[-MAX_MARKERS:]:
        label, colour = MARKS[str(event["kind"])]
        x = local(at, zone)
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": x,
                "x1": x,
                "y0": 0,
                "y1": 1,
                "line": {"color": colour, "width": 1.5, "dash": "dot"},
                "name": f"event {event['kind']}",
            }
        )
        notes.append(
            {
                "x": x,
                "xref": "x",
                "y": 1,
                "yref": "paper",
                "yanchor": "bottom",
                "text": label,
                "showarrow": False,
                "font": {"size": 10, "color": colour},
                "hovertext": f"{x} · {event.get('message') or event['kind']}",
                "name": f"event {event['kind']}",
            }
        )
    return shapes, notes
