"""Pure pieces of the dashboard: the heat-map layout and its patches, totals, CSV export,
outlet lookup from a clicked cell, and the control client's honest failures."""

from __future__ import annotations

import asyncio
import csv
import io

import httpx
import pytest

from energydash.dashboard.aggregate import fleet_totals, grid_totals
from energydash.dashboard.components.heatmap import (
    heatmap_arrays,
    heatmap_figure,
    heatmap_patch,
    outlet_grid,
    outlets_live,
)
from energydash.dashboard.control import BackendControl, _message
from energydash.dashboard.feed import Point
from energydash.dashboard.pages.market import market_csv
from energydash.dashboard.pages.pdus import outlet_at
from energydash.net import free_port


def outlets_frame(
    states: dict[str, str] | None = None, health: dict[str, str] | None = None
) -> dict:
    ids = [f"{bank}{n}" for bank in "AB" for n in range(1, 4)]
    states = states or {}
    health = health or {}
    return {
        "pdu_id": "1",
        "name": "Rack 1",
        "model": "AP8886",
        "branches": [
            {
                "id": "A",
                "phases": ["L1"],
                "rating_a": 16.0,
                "current_a": 3.0,
                "breaker_state": "Normal",
            },
            {
                "id": "B",
                "phases": ["L2"],
                "rating_a": 16.0,
                "current_a": 14.0,
                "breaker_state": "Tripped",
            },
        ],
        "outlets": {
            "id": ids,
            "name": [f"srv-{i}" for i in ids],
            "branch_id": [i[0] for i in ids],
            "power_state": [states.get(i, "On") for i in ids],
            "power_w": [0.0 if states.get(i) == "Off" else 100.0 * k for k, i in enumerate(ids)],
            "current_a": [0.5] * 6,
            "voltage_v": [230.0] * 6,
            "power_factor": [0.95] * 6,
            "energy_kwh": [1.0] * 6,
            "health": [health.get(i, "OK") for i in ids],
            "device": ["server"] * 6,
            "rating_a": [10.0] * 6,
        },
    }


def test_outlets_are_laid_out_bank_by_bank() -> None:
    grid = outlet_grid(outlets_frame())
    assert grid.row_ids == ["A", "B"]
    assert grid.row_labels == ["A · L1", "B · L2"]
    assert grid.columns == 3
    assert grid.cells == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]


def test_off_outlets_get_the_grey_cover_and_hatching_faults_get_a_marker() -> None:
    arrays = heatmap_arrays(outlets_frame(states={"B2": "Off"}, health={"A3": "Critical"}))
    assert arrays["off"][1][1] == 1 and arrays["off"][0][0] is None
    # B2 is Off, and B1/B3 sit on the frame's tripped branch B: all three are hatched.
    assert len(arrays["hatch_x"]) == 9 and set(arrays["hatch_y"]) == {1}
    assert arrays["fault_colour"] == ["#b91c1c"] and arrays["fault_y"][0] < 0  # top of row 0
    assert arrays["custom"][1][1][:3] == ["B2", "srv-B2", "Off"]
    assert arrays["z"][0][2] == 200.0


def test_a_tick_patches_arrays_only_and_the_range_only_when_toggled() -> None:
    frame = outlets_frame()
    figure = heatmap_figure(frame, fixed_range=True, nominal_voltage_v=230.0)
    assert figure["data"][0]["zmax"] == 2300.0  # 10 A outlets at 230 V
    ops = heatmap_patch(frame).to_plotly_json()["operations"]
    touched = {tuple(op["location"]) for op in ops}
    assert ("data", 0, "z") in touched and ("data", 1, "z") in touched
    assert not any("layout" in location for location in touched)
    assert not any(location[-1] in ("zmin", "zmax") for location in touched)
    ranged = heatmap_patch(frame, fixed_range=False).to_plotly_json()["operations"]
    assert {"zauto": True}.items() <= {
        op["location"][-1]: op["params"]["value"] for op in ranged
    }.items()


def test_a_tick_leaves_out_arrays_the_graph_already_holds() -> None:
    sent: dict = {}
    first = heatmap_patch(outlets_frame(), sent=sent).to_plotly_json()["operations"]
    assert ("data", 2, "x") in {tuple(op["location"]) for op in first}
    frame = outlets_frame()
    frame["outlets"]["power_w"][0] = 42.0  # a new tick: power moves, nothing switched
    ops = heatmap_patch(frame, sent=sent).to_plotly_json()["operations"]
    touched = {tuple(op["location"]) for op in ops}
    assert touched == {("data", 0, "z"), ("data", 0, "customdata")}
    switched = outlets_frame(states={"A2": "Off"})  # a switch: the off cover and hatching move
    touched = {
        tuple(op["location"])
        for op in heatmap_patch(switched, sent=sent).to_plotly_json()["operations"]
    }
    assert {("data", 1, "z"), ("data", 1, "customdata"), ("data", 2, "x")} <= touched
    off_cover = heatmap_arrays(switched)["off_custom"]
    assert off_cover[0][1][:3] == ["A2", "srv-A2", "Off"] and off_cover[0][0] == [""] * 10


def test_a_clicked_cell_resolves_to_its_outlet() -> None:
    frame = outlets_frame()
    assert outlet_at(frame, [1, 2]) == "B3"
    assert outlet_at(frame, [0, 0]) == "A1"
    assert outlet_at(frame, [2, 0]) is None
    assert outlet_at(frame, ["x", None]) is None


def test_fleet_totals_add_phases_by_name_and_name_alerts_by_pdu() -> None:
    summaries = [
        {
            "pdu_id": "1",
            "name": "Rack 1",
            "power_w": 1000.0,
            "energy_kwh": 2.0,
            "outlets_on": 40,
            "outlets_total": 48,
            "breakers_tripped": 1,
            "alerts": ["Branch B tripped"],
            "phases": [{"phase": "L1", "current_a": 2.0}, {"phase": "L2", "current_a": 3.0}],
        },
        {
            "pdu_id": "2",
            "name": "Rack 2",
            "power_w": 500.0,
            "energy_kwh": 1.0,
            "outlets_on": 48,
            "outlets_total": 48,
            "breakers_tripped": 0,
            "alerts": [],
            "phases": [{"phase": "L1", "current_a": 1.5}],
        },
    ]
    totals = fleet_totals(summaries)
    assert totals.power_w == 1500.0 and totals.outlets_on == 88 and totals.breakers_tripped == 1
    assert totals.phase_current_a == {"L1": 3.5, "L2": 3.0}
    assert totals.alerts == ["Rack 1: Branch B tripped"]


def test_grid_price_is_demand_weighted_and_intensity_generation_weighted() -> None:
    market = {
        "regions": [
            {
                "region": "NSW1",
                "price_aud_per_mwh": 100.0,
                "demand_mw": 3000.0,
                "generation_mw": 1000.0,
                "emissions_t_per_mwh": 0.9,
                "generation_by_fueltech_mw": {"coal_black": 1000.0},
            },
            {
                "region": "SA1",
                "price_aud_per_mwh": 0.0,
                "demand_mw": 1000.0,
                "generation_mw": 3000.0,
                "emissions_t_per_mwh": 0.1,
                "generation_by_fueltech_mw": {"wind": 3000.0},
            },
        ]
    }
    totals = grid_totals(market)
    assert totals.price_aud_per_mwh == pytest.approx(75.0)
    assert totals.emissions_t_per_mwh == pytest.approx(0.3)
    assert grid_totals(market, ["SA1"]).generation_by_fueltech_mw == {"wind": 3000.0}


def test_market_csv_holds_exactly_the_selected_regions() -> None:
    points = [
        Point(
            "2026-01-01T00:00:00Z",
            {
                "interval": "2026-01-01T00:00:00Z",
                "regions": [
                    {
                        "region": "NSW1",
                        "price_aud_per_mwh": 50.0,
                        "demand_mw": 1.0,
                        "generation_by_fueltech_mw": {"wind": 5.0},
                    },
                    {
                        "region": "VIC1",
                        "price_aud_per_mwh": 60.0,
                        "demand_mw": 2.0,
                        "generation_by_fueltech_mw": {"coal_brown": 7.0},
                    },
                ],
            },
        ),
    ]
    rows = list(csv.DictReader(io.StringIO(market_csv(points, ["VIC1"]))))
    assert [r["region"] for r in rows] == ["VIC1"]
    assert rows[0]["price_aud_per_mwh"] == "60.0" and rows[0]["coal_brown_mw"] == "7.0"
    assert "wind_mw" not in rows[0]


def test_control_reports_an_unreachable_backend_as_a_failure() -> None:
    control = BackendControl(f"http://127.0.0.1:{free_port()}", timeout_s=2.0)
    result = asyncio.run(control.outlet_power("1", "A1", "Off", "token"))
    assert not result.ok and "unreachable" in result.message


def test_control_refuses_unknown_actions_without_calling_the_backend() -> None:
    control = BackendControl("http://127.0.0.1:9")
    result = asyncio.run(control.outlet_power("1", "A1", "Explode", "token"))
    assert not result.ok and "Explode" in result.message


def test_backend_error_bodies_become_the_shown_message() -> None:
    refused = httpx.Response(
        404, json={"reason": "no outlet 'Z9' on PDU '1'", "field": "outlet_id"}
    )
    assert _message(refused) == "no outlet 'Z9' on PDU '1'"
    invalid = httpx.Response(422, json={"detail": [{"msg": "Input should be 'On'"}]})
    assert _message(invalid) == "Input should be 'On'"
    assert _message(httpx.Response(500, text="boom")) == "boom"


def test_badge_says_live_stale_with_age_or_reconnecting() -> None:
    from energydash.dashboard.components.status import describe
    from energydash.dashboard.feed import FeedStatus

    assert describe(FeedStatus("live", 1.0, 0), 5.0) == ("Live", "conn conn-live")
    assert describe(FeedStatus("live", 12.4, 0), 5.0) == ("Stale · 12 s", "conn conn-stale")
    text, css = describe(FeedStatus("reconnecting", 200.0, 1), 5.0)
    assert text == "Reconnecting · last update 3 min ago" and css.endswith("reconnecting")
    assert describe(FeedStatus("connecting", None, 0), 5.0)[0] == "Connecting…"


def _apply(figure: dict, patch: object) -> dict:
    """Apply a Patch's Append/Delete operations as dash-renderer does (the ones charts emits)."""
    for op in patch.to_plotly_json()["operations"]:  # type: ignore[attr-defined]
        *path, last = op["location"]
        target = figure
        for key in path:
            target = target[key]
        if op["operation"] == "Append":
            target[last].append(op["params"]["value"])
        elif op["operation"] == "Delete":
            del target[last]
        else:
            raise AssertionError(f"unexpected operation {op['operation']}")
    return figure


def test_append_points_patches_each_trace_and_drops_the_oldest_beyond_the_limit() -> None:
    from energydash.dashboard.components import charts

    figure = {"data": [{"x": ["t0", "t1"], "y": [1, 2]}, {"x": ["t0", "t1"], "y": [10, 20]}]}
    held = charts.points_held(figure)
    patch, held = charts.append_points("t2", [3, 30], held, max_points=3)
    assert held == 3
    assert _apply(figure, patch)["data"] == [
        {"x": ["t0", "t1", "t2"], "y": [1, 2, 3]},
        {"x": ["t0", "t1", "t2"], "y": [10, 20, 30]},
    ]
    patch, held = charts.append_points("t3", [4, 40], held, max_points=3)
    assert held == 3
    assert _apply(figure, patch)["data"] == [
        {"x": ["t1", "t2", "t3"], "y": [2, 3, 4]},
        {"x": ["t1", "t2", "t3"], "y": [20, 30, 40]},
    ]


def test_the_pump_never_forwards_an_extend_data() -> None:
    from energydash.dashboard.live import refuse_extend

    kept = refuse_extend(
        [
            ("a", {"extendData": [{"x": [["t"]]}, [0], 10]}),
            ("b", {"figure": {"data": []}, "extendData": [{"x": [["t"]]}, [0], 10]}),
            ("c", {"children": "x"}),
        ]
    )
    assert kept == [("b", {"figure": {"data": []}}), ("c", {"children": "x"})]


def test_no_dashboard_page_sends_extend_data_to_a_graph() -> None:
    # The Market corruption came from a figure and an extendData reaching the same graph;
    # every page now grows its charts with charts.append_points Patches.
    from pathlib import Path

    from energydash.dashboard import live

    root = Path(live.__file__).parent
    senders = [
        f"{path.relative_to(root)}:{number}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if '"extendData":' in line or "'extendData':" in line
    ]
    assert senders == []


def test_outlets_without_power_are_grey_a_power_cycle_and_a_tripped_branch_too() -> None:
    frame = outlets_frame(states={"A2": "PoweringOn"})  # branch B is tripped in the frame
    arrays = heatmap_arrays(frame)
    assert arrays["off"][0] == [None, 1, None]  # A2 is in a power cycle's off period
    assert arrays["off"][1] == [1, 1, 1]  # every outlet of the tripped branch
    assert arrays["custom"][1][0][2] == "On, no power (branch B tripped)"
    assert outlets_live(frame) == 2  # A1 and A3: the ones that deliver power


def test_an_empty_outlet_has_no_colour_and_says_empty() -> None:
    frame = outlets_frame()
    frame["outlets"]["device"][0] = None
    arrays = heatmap_arrays(frame)
    assert arrays["z"][0][0] is None and arrays["custom"][0][0][9] == "empty"
    assert arrays["z"][0][1] == 100.0


def test_backend_summary_counts_outlets_on_a_tripped_branch_as_off(settings) -> None:
    from energydash.hub.snapshots import pdu_outlets, pdu_summary
    from energydash.sim.engine import Engine

    engine = Engine.from_settings(settings)
    pdu = engine.fleet.pdus[0]
    outlets = pdu_outlets(engine.fleet, pdu)
    branch = outlets["branches"][0]
    branch["breaker_state"] = "Tripped"
    on_branch = [
        s
        for s, b in zip(
            outlets["outlets"]["power_state"], outlets["outlets"]["branch_id"], strict=True
        )
        if b == branch["id"] and s == "On"
    ]
    summary = pdu_summary(engine.fleet, pdu, outlets)
    all_on = sum(1 for s in outlets["outlets"]["power_state"] if s == "On")
    assert on_branch and summary["outlets_on"] == all_on - len(on_branch)


def test_facility_emissions_are_a_rate_that_states_its_period() -> None:
    from energydash.dashboard.aggregate import emissions_rate, tick_seconds

    period = tick_seconds(["2026-12-01T00:00:00Z", "2026-12-01T00:00:05Z"])
    assert period == 5.0
    assert emissions_rate(0.5, period) == "360.0 t/h (5 s tick)"
    assert emissions_rate(0.5, None) == "0.50 t (last tick)"
    assert emissions_rate(None, period) == "—"


def test_the_pump_redraws_the_pdu_charts_only_on_new_frames(settings) -> None:
    from dash import Patch

    from energydash.dashboard.context import DashboardContext
    from energydash.dashboard.feed import BackendFeed
    from energydash.dashboard.pages import pdus

    feed = BackendFeed("http://127.0.0.1:9")  # never started: frames are fed by hand
    context = DashboardContext(settings, feed, None, None, None)  # type: ignore[arg-type]
    summary = {"pdu_id": "1", "power_w": 900.0, "energy_kwh": 1.0, "phases": []}
    feed.ingest("pdu/1/outlets", "2026-12-01T00:00:00Z", outlets_frame())
    feed.ingest("pdu/1/summary", "2026-12-01T00:00:00Z", summary)

    def charts(view: dict, memo: dict) -> dict:
        return {k: v["figure"] for k, v in pdus.stream(view, context, memo) if "figure" in v}

    view = {"page": "pdus", "mount": "m1:1", "pdu": "1", "fixed": False, "cell": None}
    memo: dict = {"mount": "m1:1"}
    first = charts(view, memo)  # a fresh page: its first round sends both figures whole
    assert first["pdu-heatmap"]["data"][0]["type"] == "heatmap"
    assert not isinstance(first["pdu-circuits"], Patch)
    assert charts(view, memo) == {}  # a round woken by another topic redraws nothing
    feed.ingest("pdu/1/summary", "2026-12-01T00:00:01Z", summary)
    assert set(charts(view, memo)) == {"pdu-circuits"}
    feed.ingest("pdu/1/outlets", "2026-12-01T00:00:01Z", outlets_frame())
    patched = charts(view, memo)
    assert set(patched) == {"pdu-heatmap", "pdu-circuits"}
    assert all(isinstance(figure, Patch) for figure in patched.values())


def market_frame(price: float) -> dict:
    return {
        "network": "NEM",
        "regions": [
            {
                "region": "NSW1",
                "price_aud_per_mwh": price,
                "demand_mw": 8000.0,
                "generation_mw": 8100.0,
                "emissions_t_per_mwh": 0.7,
                "generation_by_fueltech_mw": {"coal_black": 6000.0, "wind": 2100.0},
            }
        ],
    }


def test_overview_redraws_a_bar_chart_only_when_its_bars_change(settings) -> None:
    from energydash.dashboard.context import DashboardContext
    from energydash.dashboard.feed import BackendFeed
    from energydash.dashboard.pages import overview

    feed = BackendFeed("http://127.0.0.1:9")  # never started: frames are fed by hand
    context = DashboardContext(settings, feed, None, None, None)  # type: ignore[arg-type]
    summary = {
        "pdu_id": "1",
        "power_w": 900.0,
        "energy_kwh": 1.0,
        "phases": [{"phase": "L1", "current_a": 3.0}],
    }
    feed.ingest("pdu/1/outlets", "2026-12-01T00:00:00Z", outlets_frame())
    feed.ingest("pdu/1/summary", "2026-12-01T00:00:00Z", summary)
    feed.ingest(f"market/{settings.grid_network}", "2026-12-01T00:00:00Z", market_frame(80.0))
    bars = {"ov-phase-chart", "ov-mix-chart", "ov-price-chart"}

    def redrawn(memo: dict) -> set[str]:
        view = {"page": "overview", "mount": "m", "range": {"live": False, "zone": "UTC"}}
        updates = overview.stream(view, context, memo)
        return {cid for cid, _ in updates if isinstance(cid, str) and cid in bars}

    memo: dict = {"mount": "m"}
    assert redrawn(memo) == bars  # the first round of a page draws every bar chart
    assert redrawn(memo) == set()  # a round woken by another topic's frame redraws none
    feed.ingest(f"market/{settings.grid_network}", "2026-12-01T00:00:01Z", market_frame(95.0))
    assert redrawn(memo) == {"ov-price-chart"}  # same mix and phases, a new price
    summary["phases"] = [{"phase": "L1", "current_a": 4.0}]
    feed.ingest("pdu/1/summary", "2026-12-01T00:00:01Z", summary)
    assert redrawn(memo) == {"ov-phase-chart"}


def test_market_table_waits_one_round_when_that_round_draws_chart_points(settings) -> None:
    from energydash.dashboard.context import DashboardContext
    from energydash.dashboard.feed import BackendFeed
    from energydash.dashboard.pages import market

    feed = BackendFeed("http://127.0.0.1:9")  # never started: frames are fed by hand
    every_round = settings.model_copy(update={"dashboard_table_refresh_s": 0.0})
    context = DashboardContext(every_round, feed, None, None, None)  # type: ignore[arg-type]
    topic = f"market/{settings.grid_network}"
    facilities = {
        "facilities": {
            "code": ["F1"],
            "name": ["One"],
            "region": ["NSW1"],
            "fueltech": ["wind"],
            "power_mw": [50.0],
            "capacity_mw": [100.0],
            "emissions_t": [0.0],
        }
    }
    view = {
        "page": "market",
        "mount": "m",
        "regions": ["NSW1"],
        "range": {"live": True, "step_s": 1.0, "max_points": 10, "zone": "UTC", "held": 0,
                  "techs": ["coal_black", "wind"], "last_ts": None},
    }  # fmt: skip
    memo: dict = {"mount": "m"}

    def tick(second: int, *, market_frame_too: bool = True) -> set[str]:
        ts = f"2026-12-01T00:00:0{second}Z"
        if market_frame_too:
            feed.ingest(topic, ts, market_frame(80.0 + second))
        feed.ingest("facilities", ts, facilities)
        updates = market.stream(view, context, memo)
        return {cid for cid, _ in updates if cid in ("market-top", "market-price")}

    assert tick(0) == {"market-top", "market-price"}  # a fresh page draws both at once
    assert tick(1) == {"market-price"}  # the table waits for the charts' round to paint
    assert tick(2) == {"market-top", "market-price"}  # but never more than one round
    assert tick(3, market_frame_too=False) == {"market-top"}
