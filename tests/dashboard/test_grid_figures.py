"""The grid figures the dashboard derives from the backend's topics: units, renewables, flows."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from energydash.dashboard.aggregate import grid_totals
from energydash.dashboard.pages.map import facility_units
from energydash.dashboard.pages.overview import flow_items, grid_texts
from energydash.hub.snapshots import facilities, market
from energydash.models.topics import FacilitiesData, MarketData
from energydash.sim.grid import RENEWABLE, Grid


@pytest.fixture(scope="module")
def engine() -> SimpleNamespace:
    grid = Grid.generate(2, 80)
    grid.step(datetime(2025, 1, 15, 2, tzinfo=UTC), 300.0)  # noon in the NEM: sun and wind
    return SimpleNamespace(grid=grid)


def test_facility_units_are_that_facilitys_units_with_their_live_output(engine) -> None:
    data = facilities(engine)
    FacilitiesData.model_validate(data)
    grid = engine.grid
    for index, facility in enumerate(grid.facilities):
        rows = facility_units(data, index)
        assert [r["code"] for r in rows] == [u.code for u in facility.units]
        live = grid.arrays.unit_power_mw[grid.unit_slice(index)]
        assert [r["power_mw"] for r in rows] == pytest.approx(live.tolist(), abs=1e-3)


def test_renewables_share_is_renewable_output_over_gross_generation(engine) -> None:
    data = market(engine)
    MarketData.model_validate(data)
    totals = grid_totals(data)
    output = engine.grid.arrays.unit_power_mw
    techs = engine.grid.unit_fueltech
    renewable = sum(p for p, t in zip(output, techs, strict=True) if t in RENEWABLE)
    loads = {"battery_charging", "pumps"}
    gross = sum(p for p, t in zip(output, techs, strict=True) if t not in loads)
    assert totals.renewables_share == pytest.approx(renewable / gross)
    assert totals.curtailed_mw == pytest.approx(
        sum(r.curtailed_mw for r in engine.grid.regions.values())
    )
    assert grid_texts(totals)["ov-renewables"] == f"{renewable / gross:.1%}"


def test_flows_point_the_way_power_flows() -> None:
    frame = {
        "regions": [],
        "interconnectors": [
            {"id": "VIC1->SA1", "from_region": "VIC1", "to_region": "SA1", "flow_mw": -120.4},
            {"id": "NSW1->QLD1", "from_region": "NSW1", "to_region": "QLD1", "flow_mw": 300.0},
        ],
    }
    totals = grid_totals(frame)
    assert totals.interconnectors == [("SA1", "VIC1", 120.4), ("NSW1", "QLD1", 300.0)]
    assert [item.children[0].children for item in flow_items(totals)] == [
        "SA1 → VIC1",
        "NSW1 → QLD1",
    ]


def test_a_source_without_grid_figures_shows_dashes() -> None:
    replayed = {"regions": [{"region": "NSW1", "demand_mw": 7000.0}]}  # what a dataset carries
    totals = grid_totals(replayed)
    texts = grid_texts(totals)
    assert texts["ov-demand"] == "7,000 MW"
    assert {k: texts[k] for k in ("ov-generation", "ov-renewables", "ov-curtailed")} == {
        "ov-generation": "—",  # a prices-only dataset has no generation: not "0 MW"
        "ov-renewables": "—",
        "ov-curtailed": "—",
    }
    assert "No interconnector data" in flow_items(totals)[0].children


def test_a_facilities_only_replay_shows_generation_but_no_demand() -> None:
    replayed = {"regions": [{"region": "VIC1", "generation_mw": 512.5, "demand_mw": None}]}
    texts = grid_texts(grid_totals(replayed))
    assert texts["ov-generation"] == "512 MW"
    assert texts["ov-demand"] == "—"
    assert texts["ov-price"] == "—"
