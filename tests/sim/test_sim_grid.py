"""The grid and market: physical bounds, the sun, balance, ramps, storage, prices, datasets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from energydash.sim.grid import (
    FUELTECHS,
    NETWORK_REGIONS,
    FacilityInfo,
    Grid,
    UnitInfo,
)

START = datetime(2025, 1, 15, tzinfo=UTC)


def run(grid: Grid, steps: int, dt_s: float = 300.0, start: datetime = START):  # type: ignore[no-untyped-def]
    when = start
    for _ in range(steps):
        grid.step(when, dt_s)
        yield when
        when += timedelta(seconds=dt_s)


@hsettings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31), count=st.integers(5, 150), day=st.integers(0, 364))
def test_every_step_is_bounded_balanced_and_ramp_limited(seed: int, count: int, day: int) -> None:
    grid = Grid.generate(seed, count)
    prev = None
    for _ in run(grid, 96, start=START + timedelta(days=day)):
        out = grid.arrays.unit_power_mw
        assert np.all(out >= 0.0) and np.all(out <= grid.capacity_mw + 1e-9)
        for name, region in grid.regions.items():
            assert region.generation_mw + region.net_interchange_mw == pytest.approx(
                region.demand_mw, abs=1e-6
            ), name
        net = sum(r.net_interchange_mw for r in grid.regions.values())
        assert net == pytest.approx(0.0, abs=1e-6)
        flows = grid.interconnectors
        assert flows["VIC1->TAS1"] == pytest.approx(
            grid.regions["TAS1"].net_interchange_mw, abs=1e-6
        )
        assert flows["VIC1->NSW1"] - flows["NSW1->QLD1"] == pytest.approx(
            grid.regions["NSW1"].net_interchange_mw, abs=1e-6
        )
        if prev is not None:
            slow = np.isin(
                np.array(grid.unit_fueltech), ["coal_black", "coal_brown", "gas_ccgt", "gas_steam"]
            )
            limit = grid.ramp_mw_per_min * 5.0 + 1e-6
            # a surplus no ramp-limited cut can absorb drops thermal units faster (documented);
            # only the units that last resort moved may exceed their ramp
            within = (np.abs(out - prev) <= limit) | grid.ramp_forced
            assert np.all(within[slow])
        prev = out.copy()
        soc = grid.arrays.battery_soc_mwh
        storage = np.array([u.storage_mwh or 0.0 for u in grid.units])
        assert np.all(soc >= 0.0) and np.all(soc <= storage + 1e-9)


def test_solar_follows_the_sun_and_is_zero_at_night() -> None:
    solar = FacilityInfo(
        "SUN1",
        "Test Solar Farm",
        "NSW1",
        -33.9,
        151.2,
        "operating",
        [UnitInfo("SUN1_1", "solar_utility", "operating", 100.0, 0.0)],
    )
    coal = FacilityInfo(
        "COAL1",
        "Test Power Station",
        "NSW1",
        -32.4,
        150.9,
        "operating",
        [UnitInfo("COAL1_1", "coal_black", "operating", 2000.0, 0.9)],
    )
    grid = Grid([solar, coal], seed=1)
    by_local_hour = {}
    for when in run(grid, 288):
        by_local_hour[round(((when.hour + 10) % 24) + when.minute / 60, 2)] = (
            grid.arrays.unit_power_mw[0]
        )
    assert by_local_hour[0.0] == 0.0 and by_local_hour[3.0] == 0.0 and by_local_hour[22.0] == 0.0
    assert by_local_hour[12.0] > 50.0
    assert by_local_hour[12.0] > by_local_hour[8.0] > 0.0


def test_wind_is_autocorrelated() -> None:
    grid = Grid.generate(5, 200)
    wind = np.flatnonzero((np.array(grid.unit_fueltech) == "wind") & (grid.capacity_mw > 0))
    series = np.array(
        [grid.arrays.unit_power_mw[wind] / grid.capacity_mw[wind] for _ in run(grid, 200)]
    )
    lag1 = np.mean(
        [np.corrcoef(series[:-1, k], series[1:, k])[0, 1] for k in range(series.shape[1])]
    )
    assert lag1 > 0.8


def test_batteries_charge_under_the_sun_and_discharge_into_the_evening() -> None:
    grid = Grid.generate(11, 200)
    chg = np.flatnonzero(np.array(grid.unit_fueltech) == "battery_charging")
    dis = np.flatnonzero(np.array(grid.unit_fueltech) == "battery_discharging")
    assert chg.size and dis.size
    charged, discharged = 0.0, 0.0
    for when in run(grid, 288):
        local = (when.hour + 10) % 24
        if 10 <= local < 15:
            charged += grid.arrays.unit_power_mw[chg].sum()
            assert grid.arrays.unit_power_mw[dis].sum() == 0.0
        if 17 <= local < 21:
            discharged += grid.arrays.unit_power_mw[dis].sum()
    assert charged > 0 and discharged > 0


def test_price_rises_with_the_demand_supply_ratio() -> None:
    grid = Grid.generate(3, 100)
    grid.step(START, 300.0)
    out = grid.arrays.unit_power_mw.copy()
    base = np.array([grid.regions[r].demand_mw for r in NETWORK_REGIONS])
    prices = []
    for scale in (0.5, 0.8, 1.0, 1.2):
        grid.rng = np.random.default_rng(0)  # same noise for each scale
        grid._price(base * scale, out)
        prices.append(np.mean([grid.regions[r].price_aud_per_mwh for r in NETWORK_REGIONS]))
    assert prices == sorted(prices) and prices[-1] > 3 * prices[0]


def test_price_is_set_once_per_five_minute_interval() -> None:
    grid = Grid.generate(3, 60)
    seen = {}
    for _when in run(grid, 600, dt_s=1.0):
        seen.setdefault(grid.interval_start, set()).add(
            round(grid.regions["NSW1"].price_aud_per_mwh, 9)
        )
    assert len(seen) == 2 and all(len(p) == 1 for p in seen.values())
    assert all(start.minute % 5 == 0 and start.second == 0 for start in seen)


def test_emissions_are_output_times_factor_times_duration() -> None:
    grid = Grid.generate(8, 80)
    grid.step(START, 300.0)
    grid.step(START + timedelta(minutes=5), 300.0)
    factor = np.array([u.emissions_factor_t_per_mwh for u in grid.units])
    np.testing.assert_allclose(
        grid.arrays.unit_emissions_t, grid.arrays.unit_power_mw * factor * (300 / 3600)
    )
    fac = np.bincount(
        grid.unit_facility, weights=grid.arrays.unit_emissions_t, minlength=len(grid.facilities)
    )
    np.testing.assert_allclose(grid.arrays.facility_emissions_t, fac)


def test_same_seed_same_grid() -> None:
    a, b = Grid.generate(9, 50), Grid.generate(9, 50)
    assert [f.code for f in a.facilities] == [f.code for f in b.facilities]
    list(run(a, 20))
    list(run(b, 20))
    np.testing.assert_array_equal(a.arrays.unit_power_mw, b.arrays.unit_power_mw)


def test_generated_facilities_follow_the_openelectricity_model() -> None:
    grid = Grid.generate(4, 60)
    assert {f.network_region for f in grid.facilities} == set(NETWORK_REGIONS)
    for facility in grid.facilities:
        assert facility.units and all(u.fueltech_id in FUELTECHS for u in facility.units)
        assert all(u.capacity_registered_mw > 0 for u in facility.units)
    records = grid.to_openelectricity()
    assert set(records[0]) >= {"code", "name", "network_id", "network_region", "location", "units"}
    assert set(records[0]["units"][0]) >= {
        "code",
        "fueltech_id",
        "status_id",
        "capacity_registered",
        "emissions_factor_co2",
    }


def test_dataset_round_trip_through_an_openelectricity_response(tmp_path: Path) -> None:
    grid = Grid.generate(6, 30)
    path = tmp_path / "facilities.json"
    envelope = {"version": "4.0", "created_at": "2025-01-13T00:00:00+10:00"}
    path.write_bytes(orjson.dumps({**envelope, "data": grid.to_openelectricity()}))
    loaded = Grid.from_dataset(path)
    assert [(f.code, f.name, f.lat, f.lng, len(f.units)) for f in loaded.facilities] == [
        (f.code, f.name, f.lat, f.lng, len(f.units)) for f in grid.facilities
    ]
    list(run(loaded, 3))
