"""Each load profile has the documented shape."""

from __future__ import annotations

import numpy as np
import pytest

from energydash.sim import profiles
from energydash.sim.profiles import PROFILE_CODE, ProfileState, demand_fraction


def fraction(
    profile: str, hour: float, weekday: int = 2, day_of_year: int = 15, count: int = 400
) -> np.ndarray:
    """Demand fractions of ``count`` outlets of one profile at a local time, spread over a cycle."""
    rng = np.random.default_rng(1)
    state = ProfileState(count, rng)
    out = np.zeros(count)
    index = {PROFILE_CODE[profile]: np.arange(count)}
    return demand_fraction(index, state, 1_736_900_000.0, hour, weekday, out, day_of_year)


@pytest.mark.parametrize("profile", [p for p in profiles.PROFILES if p != "empty"])
def test_every_profile_stays_within_its_rating(profile: str) -> None:
    for hour in range(24):
        values = fraction(profile, hour + 0.5, weekday=hour % 7)
        assert np.all(values >= 0.0) and np.all(values <= 1.0)


def test_servers_are_busier_in_the_afternoon_than_before_dawn_but_never_idle_to_zero() -> None:
    assert fraction("server", 16).mean() > fraction("server", 4).mean() + 0.1
    assert fraction("server", 4).min() >= 0.45


def test_network_switches_and_storage_barely_vary() -> None:
    for profile in ("network_switch", "storage"):
        assert abs(fraction(profile, 16).mean() - fraction(profile, 4).mean()) < 0.06


def test_hvac_compressors_cycle_more_on_a_summer_afternoon_than_a_winter_night() -> None:
    summer_afternoon = fraction("hvac", 15, day_of_year=15)
    winter_night = fraction("hvac", 3, day_of_year=196)
    assert np.all((summer_afternoon < 0.2) | (summer_afternoon > 0.9))  # compressor or fans
    assert (summer_afternoon > 0.5).mean() > (winter_night > 0.5).mean() + 0.3


def test_lighting_follows_its_weekday_schedule() -> None:
    assert np.all(fraction("led_lighting", 12, weekday=1) > 0.95)
    assert np.all(fraction("led_lighting", 22, weekday=1) < 0.11)
    assert np.all(fraction("led_lighting", 12, weekday=6) < 0.11)


def test_kitchen_appliances_run_more_at_meal_times() -> None:
    assert (fraction("kitchen_appliance", 12.5) > 0.5).mean() > (
        fraction("kitchen_appliance", 15.5) > 0.5
    ).mean() + 0.25


def test_production_line_runs_in_shifts_with_breaks_and_stands_by_at_weekends() -> None:
    assert fraction("production_line", 8).mean() == pytest.approx(0.85, abs=0.05)
    assert fraction("production_line", 10.2).mean() == pytest.approx(0.30, abs=0.03)
    assert fraction("production_line", 23).mean() == pytest.approx(0.08, abs=0.01)
    assert fraction("production_line", 8, weekday=5).mean() == pytest.approx(0.08, abs=0.01)
