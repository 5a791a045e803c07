"""The PDU page's outlet chart: its time range, its event markers, and how it is updated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dash import Patch
from test_components import outlets_frame

from energydash.config import Settings
from energydash.dashboard.components.markers import MARKS, event_markers, relevant
from energydash.dashboard.context import DashboardContext
from energydash.dashboard.control import BackendControl
from energydash.dashboard.feed import BackendFeed
from energydash.dashboard.pages import pdus
from energydash.dashboard.timerange import ZONES, TimeRange

T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def event(kind: str, resource: str, target: str, at: datetime) -> dict[str, Any]:
    return {
        "ts": iso(at),
        "kind": kind,
        "resource": resource,
        "resource_id": target,
        "message": f"{target} {kind}",
        "severity": "OK",
    }


def test_markers_are_the_outlets_own_and_its_branch_breakers() -> None:
    events = [
        event("OutletPoweredOff", "outlet", "A2", T0),
        event("OutletPoweredOff", "outlet", "A3", T0),
        event("BreakerTripped", "branch", "A", T0),
        event("BreakerTripped", "branch", "B", T0),
        event("ThresholdCrossed", "outlet", "A2", T0),  # not a switch: no marker
    ]
    kept = relevant(events, "A2", "A")
    assert [(e["kind"], e["resource_id"]) for e in kept] == [
        ("OutletPoweredOff", "A2"),
        ("BreakerTripped", "A"),
    ]


def test_markers_are_drawn_only_inside_the_window_in_its_zone() -> None:
    events = [
        event("OutletPoweredOff", "outlet", "A2", T0 - timedelta(hours=2)),
        event("OutletPoweredOn", "outlet", "A2", T0),
        event("BreakerTripped", "branch", "A", T0 + timedelta(hours=2)),
    ]
    shapes, notes = event_markers(
        events, ZONES["AEST"], T0 - timedelta(hours=1), T0 + timedelta(hours=1)
    )
    assert [s["x0"] for s in shapes] == ["2026-12-01 10:00:00"]  # 00:00 UTC in AEST
    assert [n["text"] for n in notes] == [MARKS["OutletPoweredOn"][0]]
    assert "A2 OutletPoweredOn" in notes[0]["hovertext"]


def _context(settings: Settings) -> DashboardContext:
    feed = BackendFeed("http://127.0.0.1:9")  # never started: frames are ingested by hand
    control = BackendControl("http://127.0.0.1:9")
    return DashboardContext(settings, feed, control, None, None)  # type: ignore[arg-type]


def _view(time_range: TimeRange) -> dict[str, Any]:
    # cell [1, 1]: bank B (row 1), second position -> outlet B2 on branch B
    return {"page": "pdus", "mount": "m", "pdu": "1", "cell": [1, 1], "fixed": False,
            "range": {"query": time_range.query()}}  # fmt: skip


def _chart_updates(updates: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    return [props["figure"] for cid, props in updates if cid == "outlet-chart"]


def test_outlet_chart_gets_one_figure_then_patches_with_new_markers(settings: Settings) -> None:
    context = _context(settings)
    feed = context.feed
    time_range = TimeRange("5m", True, "UTC")
    for k in range(3):
        feed.ingest("pdu/1/outlets", iso(T0 + timedelta(seconds=k)), outlets_frame())
    off = event("OutletPoweredOff", "outlet", "B2", T0 + timedelta(seconds=1))
    feed.ingest("pdu/1/events", iso(T0), {"pdu_id": "1", "events": [off]})
    memo: dict[str, Any] = {}

    first = _chart_updates(pdus.stream(_view(time_range), context, memo))
    assert len(first) == 1 and isinstance(first[0], dict)  # a whole figure, no patch beside it
    figure = first[0]
    assert figure["layout"]["xaxis"]["title"]["text"] == "Time (UTC)"
    assert [s["name"] for s in figure["layout"]["shapes"]] == ["event OutletPoweredOff"]
    assert len(figure["data"][0]["x"]) == 3  # the feed's frames (no login: no stored history)

    trip = event("BreakerTripped", "branch", "B", T0 + timedelta(seconds=3))
    feed.ingest("pdu/1/events", iso(T0), {"pdu_id": "1", "events": [off, trip]})
    feed.ingest("pdu/1/outlets", iso(T0 + timedelta(seconds=3)), outlets_frame())
    second = _chart_updates(pdus.stream(_view(time_range), context, memo))
    assert len(second) == 1 and isinstance(second[0], Patch)  # one Patch: point and markers
    operations = second[0].to_plotly_json()["operations"]
    locations = [op["location"] for op in operations]
    assert ["layout", "shapes"] in locations and ["data", 0, "x"] in locations


def test_fixed_range_never_grows_live(settings: Settings) -> None:
    context = _context(settings)
    start = T0 - timedelta(minutes=1)
    time_range = TimeRange("custom", False, "UTC", start, T0 + timedelta(minutes=1))
    context.feed.ingest("pdu/1/outlets", iso(T0), outlets_frame())
    memo: dict[str, Any] = {}
    pdus.stream(_view(time_range), context, memo)
    context.feed.ingest("pdu/1/outlets", iso(T0 + timedelta(seconds=5)), outlets_frame())
    assert _chart_updates(pdus.stream(_view(time_range), context, memo)) == []
