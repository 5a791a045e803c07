"""The Analytics page's score timeline: its time range, its fault rectangles, its updates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dash import Patch

from energydash.config import Settings
from energydash.dashboard.context import DashboardContext
from energydash.dashboard.control import BackendControl
from energydash.dashboard.feed import BackendFeed
from energydash.dashboard.pages import analytics
from energydash.dashboard.timerange import TimeRange
from energydash.models.alerts import FaultLabelRow, FaultsData, ScoresData

T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
SENSORS = ["hvac-01/discharge_temp_c", "motor-01/bearing_temp_c"]


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _context(settings: Settings) -> DashboardContext:
    feed = BackendFeed("http://127.0.0.1:9")  # never started: frames are ingested by hand
    control = BackendControl("http://127.0.0.1:9")
    return DashboardContext(settings, feed, control, None, None)  # type: ignore[arg-type]


def _scores(context: DashboardContext, at: datetime, values: list[float]) -> None:
    context.feed.ingest(
        "analytics/scores", iso(at), ScoresData(series=SENSORS, score=values).model_dump()
    )


def _fault(context: DashboardContext, start: datetime, end: datetime | None) -> None:
    row = FaultLabelRow(
        id="f1", kind="sensor_drift", target=SENSORS[0], start=start, end=end, fail_at=None
    )
    data = FaultsData(faults=[row]).model_dump(mode="json")
    context.feed.ingest("analytics/faults", iso(T0), data)


def _view(time_range: TimeRange) -> dict[str, Any]:
    return {"page": "analytics", "mount": "m", "range": {"query": time_range.query()}}


def _timeline(updates: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    return [props["figure"] for cid, props in updates if cid == "an-scores"]


def test_timeline_gets_one_figure_then_one_patch_per_due_score(settings: Settings) -> None:
    context = _context(settings)
    time_range = TimeRange("5m", True, "UTC")
    for k in range(3):
        _scores(context, T0 + timedelta(seconds=10 * k), [0.2, 0.1 * k])
    _fault(context, T0 - timedelta(hours=1), None)  # began before the window, still open
    memo: dict[str, Any] = {}

    first = _timeline(analytics.stream(_view(time_range), context, memo))
    assert len(first) == 1 and isinstance(first[0], dict)  # a whole figure, no patch beside it
    figure = first[0]
    assert figure["layout"]["xaxis"]["title"]["text"] == "Time (UTC)"
    assert next(trace["name"] for trace in figure["data"]) == SENSORS[0]  # the faulted one first
    assert len(figure["data"][0]["x"]) == 3  # the feed's frames (no login: no stored history)
    rect = [s for s in figure["layout"]["shapes"] if s["type"] == "rect"]
    # clipped to the window's start (5 min before the newest score), open to the newest point
    assert (rect[0]["x0"], rect[0]["x1"]) == ("2026-11-30 23:55:20", "2026-12-01 00:00:20")

    _scores(context, T0 + timedelta(seconds=30), [0.3, 0.4])
    second = _timeline(analytics.stream(_view(time_range), context, memo))
    assert len(second) == 1 and isinstance(second[0], Patch)  # point and rectangle together
    locations = [op["location"] for op in second[0].to_plotly_json()["operations"]]
    assert ["layout", "shapes"] in locations and ["data", 0, "x"] in locations
    assert _timeline(analytics.stream(_view(time_range), context, memo)) == []  # nothing new


def test_fixed_range_never_grows_and_keeps_its_bounds(settings: Settings) -> None:
    context = _context(settings)
    time_range = TimeRange(
        "custom", False, "UTC", T0 - timedelta(minutes=1), T0 + timedelta(minutes=1)
    )
    _scores(context, T0, [0.2, 0.3])
    _fault(context, T0 - timedelta(minutes=5), T0 + timedelta(minutes=5))
    memo: dict[str, Any] = {}
    figure = _timeline(analytics.stream(_view(time_range), context, memo))[0]
    assert figure["layout"]["xaxis"]["range"] == ["2026-11-30 23:59:00", "2026-12-01 00:01:00"]
    rect = next(s for s in figure["layout"]["shapes"] if s["type"] == "rect")
    assert (rect["x0"], rect["x1"]) == ("2026-11-30 23:59:00", "2026-12-01 00:01:00")
    _scores(context, T0 + timedelta(seconds=10), [0.4, 0.5])
    assert _timeline(analytics.stream(_view(time_range), context, memo)) == []


def test_a_fault_on_a_series_not_shown_redraws_the_timeline_with_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analytics, "TIMELINES", 1)  # the highest score alone: motor-01
    context = _context(settings)
    time_range = TimeRange("1h", True, "AEST")
    _scores(context, T0, [0.2, 0.3])
    memo: dict[str, Any] = {}
    shown = _timeline(analytics.stream(_view(time_range), context, memo))[0]
    assert [trace["name"] for trace in shown["data"]] == [SENSORS[1]]
    row = FaultLabelRow(
        id="f2", kind="sensor_drift", target="hvac-01", start=T0, end=None, fail_at=None
    )
    context.feed.ingest(
        "analytics/faults", iso(T0), FaultsData(faults=[row]).model_dump(mode="json")
    )
    _scores(context, T0 + timedelta(seconds=10), [0.2, 0.9])
    updates = _timeline(analytics.stream(_view(time_range), context, memo))
    assert len(updates) == 1 and isinstance(updates[0], dict)
    assert [trace["name"] for trace in updates[0]["data"]] == [SENSORS[0]]
    assert any(s["type"] == "rect" for s in updates[0]["layout"]["shapes"])
    assert updates[0]["layout"]["xaxis"]["title"]["text"] == "Time (AEST, UTC+10)"
