"""The time picker's range: URL round trip, bounds, step, zones, "today", and market rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

from energydash.dashboard.history import Loaded
from energydash.dashboard.pages.market import _chosen_regions, _loaded_points, market_csv
from energydash.dashboard.timerange import (
    ZONES,
    TimeRange,
    axis_title,
    day_start,
    from_query,
    local,
    points_for,
    with_range,
)

NOW = datetime(2026, 12, 1, 13, 30, tzinfo=UTC)  # 23:30 AEST, 23:00 ACST


def test_the_default_is_the_last_hour_live_in_market_time() -> None:
    time_range = from_query({})
    assert (time_range.preset, time_range.live, time_range.zone) == ("1h", True, "AEST")
    assert time_range.bounds(NOW) == (NOW - timedelta(hours=1), NOW)


def test_unknown_values_fall_back_instead_of_failing() -> None:
    time_range = from_query({"range": "3y", "tz": "Mars", "live": "maybe"})
    assert (time_range.preset, time_range.zone, time_range.live) == ("1h", "AEST", True)
    backwards = from_query(
        {"range": "custom", "from": "2026-12-01T10:00", "to": "2026-12-01T09:00"}
    )
    assert backwards.preset == "1h"


def test_a_custom_range_is_wall_time_in_its_zone_and_round_trips_through_the_url() -> None:
    query = {"range": "custom", "from": "2026-12-01T10:00", "to": "2026-12-01T12:00", "tz": "AEST"}
    time_range = from_query(query)
    assert time_range.start == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    assert time_range.end == datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    assert not time_range.live  # a range that ended is fixed
    search = with_range("?pdu=2&range=5m", time_range)
    assert search.startswith("?pdu=2&")
    again = from_query(dict(parse_qsl(search[1:])))
    assert again == time_range


def test_every_range_loads_about_the_same_number_of_points() -> None:
    for preset, step in (
        ("5m", 1),
        ("1h", 5),
        ("6h", 30),
        ("24h", 120),
        ("7d", 900),
        ("30d", 3600),
    ):
        time_range = TimeRange(preset, True, "UTC")
        assert time_range.step_s(NOW) == step
        assert 80 <= points_for(time_range, NOW) <= 722


def test_times_are_drawn_in_the_chosen_zone() -> None:
    assert local("2026-12-01T13:30:00Z", ZONES["AEST"]) == "2026-12-01 23:30:00"
    assert local("2026-12-01T13:30:00Z", ZONES["ACST"]) == "2026-12-01 23:00:00"
    assert local("2026-12-01T13:30:00Z", ZONES["UTC"]) == "2026-12-01 13:30:00"
    assert axis_title("AEST") == "Time (AEST, UTC+10)"
    assert axis_title("ACST") == "Time (ACST, UTC+9.5)"


def test_today_starts_at_midnight_of_the_chosen_zone() -> None:
    assert day_start(NOW, ZONES["AEST"]) == datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    assert day_start(NOW, ZONES["UTC"]) == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    late = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)  # 00:30 AEST the next day
    assert day_start(late, ZONES["AEST"]) == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def test_regions_come_from_the_url_or_are_all() -> None:
    assert _chosen_regions({}, ["NSW1", "VIC1"]) == ["NSW1", "VIC1"]
    assert _chosen_regions({"regions": "VIC1"}, ["NSW1", "VIC1"]) == ["VIC1"]
    assert _chosen_regions({"regions": ""}, ["NSW1", "VIC1"]) == []


def test_stored_market_history_becomes_the_same_rows_as_live_frames() -> None:
    loaded = Loaded(
        timestamps=["2026-12-01T00:00:00Z", "2026-12-01T00:00:05Z"],
        series={
            "NSW1.price_aud_per_mwh": [80.0, 82.5],
            "NSW1.demand_mw": [7000.0, 7100.0],
            "NSW1.mix_mw.coal_black": [5000.0, None],
            "VIC1.price_aud_per_mwh": [60.0, 61.0],
        },
    )
    points = _loaded_points(loaded, ["NSW1"])
    assert [p.ts for p in points] == loaded.timestamps
    row = points[1].values["regions"][0]
    assert row["region"] == "NSW1" and row["price_aud_per_mwh"] == 82.5
    assert row["generation_by_fueltech_mw"] == {}  # a missing value is not a zero
    rows = market_csv(points, ["NSW1"]).splitlines()
    assert len(rows) == 3 and rows[1].startswith("2026-12-01T00:00:00Z")
