"""Generated facilities are credible: inside their own region's outline, real names, statuses."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from energydash.geo.outlines import REGION_CENTRES, in_region, region_of
from energydash.geo.places import PLACE_MARGIN_DEG, PLACES, usable_places
from energydash.sim.grid import NETWORK_REGIONS, STATUSES, Grid

FLEETS = [(0, 120), (1, 20), (7, 500), (42, 20), (3, 2000)]


@pytest.mark.parametrize(("seed", "count"), FLEETS)
def test_every_generated_facility_lies_inside_its_own_region_off_the_edge(
    seed: int, count: int
) -> None:
    grid = Grid.generate(seed, count)
    for f in grid.facilities:
        assert in_region(f.network_region, f.lat, f.lng, PLACE_MARGIN_DEG), (f.code, f.lat, f.lng)
        assert region_of(f.lat, f.lng) == f.network_region, f.code


@pytest.mark.parametrize(("seed", "count"), FLEETS)
def test_generated_names_are_unique_and_start_with_a_town_of_the_region(
    seed: int, count: int
) -> None:
    grid = Grid.generate(seed, count)
    names = Counter(f.name for f in grid.facilities)
    assert max(names.values()) == 1, names.most_common(3)
    assert len({f.code for f in grid.facilities}) == count
    for f in grid.facilities:
        towns = [p.name for p in PLACES[f.network_region]]
        assert any(f.name.startswith(f"{t} ") for t in towns), f.name


def test_kinds_go_to_towns_that_suit_them() -> None:
    grid = Grid.generate(5, 400)
    for f in grid.facilities:
        tech = f.units[0].fueltech_id
        if tech == "coal_brown":
            assert f.name.split(" Power Station")[0] in {"Morwell", "Traralgon", "Moe", "Yallourn"}
        if tech == "hydro" and f.network_region == "NSW1":
            town = f.name.split(" Hydro Scheme")[0]
            assert town in {"Tumut", "Talbingo", "Khancoban", "Jindabyne", "Cooma"}


def test_same_seed_places_the_same_fleet_and_another_seed_another() -> None:
    a, b, c = Grid.generate(9, 80), Grid.generate(9, 80), Grid.generate(10, 80)
    where = [(f.name, f.lat, f.lng) for f in a.facilities]
    assert where == [(f.name, f.lat, f.lng) for f in b.facilities]
    assert where != [(f.name, f.lat, f.lng) for f in c.facilities]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_fleet_of_twenty_or_more_has_every_status(seed: int) -> None:
    grid = Grid.generate(seed, 20)
    assert {f.status for f in grid.facilities} == set(STATUSES)


def test_committed_and_retired_facilities_produce_nothing_all_day() -> None:
    grid = Grid.generate(0, 120)
    idle = [i for i, f in enumerate(grid.facilities) if f.status != "operating"]
    assert idle
    start = datetime(2025, 1, 15, tzinfo=UTC)
    for k in range(96):
        grid.step(start + timedelta(minutes=15 * k), 900.0)
        assert np.all(grid.arrays.facility_power_mw[idle] == 0.0)
        assert np.all(grid.arrays.facility_emissions_t[idle] == 0.0)


def test_every_place_and_region_centre_lies_in_its_region() -> None:
    for region in NETWORK_REGIONS:
        assert len(usable_places(region)) >= 20, region
        assert usable_places(region) == PLACES[region]  # no town listed that cannot be used
        assert in_region(region, *REGION_CENTRES[region], margin_deg=0.5)
