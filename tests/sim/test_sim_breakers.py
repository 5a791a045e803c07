"""Branch breakers trip on an inverse-time curve and stay open until reset."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from energydash.config import Settings
from energydash.sim import breakers
from energydash.sim.commands import BreakerControl, ClearFault, InjectFault
from energydash.sim.engine import Engine


def seconds_to_trip(multiple: float, dt_s: float = 1.0, limit_s: float = 7200.0) -> float:
    heat = np.zeros(1)
    elapsed = 0.0
    while elapsed < limit_s:
        elapsed += dt_s
        if breakers.advance_thermal(heat, np.array([multiple]), dt_s)[0]:
            return elapsed
    return float("inf")


def test_at_1_13_times_rating_a_breaker_never_trips_within_an_hour() -> None:
    assert seconds_to_trip(1.13, dt_s=5.0, limit_s=3600.0) == float("inf")


def test_at_1_45_times_rating_a_breaker_trips_within_an_hour() -> None:
    assert seconds_to_trip(1.45, dt_s=5.0, limit_s=3600.0) < 3600.0


def test_type_c_band_2_55_times_trips_between_1_and_60_seconds() -> None:
    assert 1.0 < seconds_to_trip(2.55, dt_s=0.5) <= 60.0


def test_magnetic_band_trips_within_one_tick() -> None:
    assert seconds_to_trip(5.0, dt_s=1.0) == 1.0


@hsettings(max_examples=50, deadline=None)
@given(a=st.floats(1.14, 20.0), b=st.floats(1.14, 20.0))
def test_higher_overload_trips_no_later(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert breakers.trip_time_s(high) <= breakers.trip_time_s(low)


@hsettings(max_examples=30, deadline=None)
@given(multiple=st.floats(0.0, 1.13))
def test_no_current_up_to_1_13_times_ever_accumulates_a_trip(multiple: float) -> None:
    heat = np.zeros(1)
    for _ in range(100):
        assert not breakers.advance_thermal(heat, np.array([multiple]), 60.0)[0]


def test_thermal_memory_cools_when_the_overload_goes_away() -> None:
    heat = np.zeros(1)
    breakers.advance_thermal(heat, np.array([1.45]), 600.0)
    warm = heat[0]
    breakers.advance_thermal(heat, np.array([0.5]), 600.0)
    assert 0 < heat[0] < warm


def test_overloaded_branch_trips_and_its_outlets_lose_power_until_reset(engine: Engine) -> None:
    events = []
    engine.on_event(events.append)
    result = engine.execute(InjectFault("branch_overload", "1", "B", {"multiple": 2.0}))
    expected = float(breakers.trip_time_s(2.0))
    elapsed = 0.0
    while engine.fleet.circuit("1", "B").breaker_state == "Normal":
        engine.step(1.0)
        elapsed += 1.0
        assert elapsed < 2 * expected + 5
    assert elapsed == pytest.approx(expected, abs=2.0)
    assert any(e.kind == "BreakerTripped" and e.resource_id == "B" for e in events)
    branch = engine.fleet.circuit("1", "B")
    assert branch.health == "Critical" and branch.power_w == 0.0
    lifetime = engine.fleet.lifetime_kwh.copy()
    engine.execute(ClearFault(result.fault_id))
    for _ in range(3):
        engine.step(5.0)
    assert engine.fleet.circuit("1", "B").power_w == 0.0  # still dark: nobody reset it
    assert all(engine.fleet.outlet("1", f"B{k}").power_w == 0.0 for k in range(1, 17))
    assert all(engine.fleet.outlet("1", f"B{k}").health == "Warning" for k in range(1, 17))
    assert np.all(engine.fleet.lifetime_kwh >= lifetime)
    engine.execute(BreakerControl("1", "B", "On"))
    assert any(e.kind == "BreakerReset" for e in events)
    engine.step(1.0)
    branch = engine.fleet.circuit("1", "B")
    assert branch.breaker_state == "Normal" and branch.power_w > 0.0 and branch.health == "OK"


def test_an_opened_main_darkens_every_branch_it_feeds(engine: Engine) -> None:
    engine.execute(BreakerControl("1", "AC1", "Off"))
    engine.step()
    assert engine.fleet.pdu("1").power_w == 0.0
    assert engine.fleet.circuit("1", "AC1").breaker_state == "Off"
    assert engine.fleet.pdu("2").power_w > 0.0
    engine.execute(BreakerControl("1", "AC1", "On"))
    engine.step()
    assert engine.fleet.pdu("1").power_w > 0.0


def test_a_mains_input_warns_when_a_phase_nears_its_rating(settings: Settings) -> None:
    small_mains = settings.model_copy(update={"pdu_main_rating_a": 4.0})
    engine = Engine.from_settings(small_mains)
    engine.step(60.0)
    main = engine.fleet.circuit("1", "AC1")
    assert main.health in ("Warning", "Critical")
    assert any("AC1" in reason and "rating" in reason for reason in main.health_reasons)
    assert (
        engine.fleet.circuit("1", "AC1").breaker_state == "Normal"
    )  # mains never trip by themselves


@hsettings(max_examples=12, deadline=None)
@given(multiple=st.floats(1.2, 4.5))
def test_an_overloaded_branch_trips_when_its_curve_says(multiple: float) -> None:
    import tempfile

    from energydash.config import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.from_settings(
            load_settings(data_dir=tmp, clock_mode="stepped", pdu_count=1, grid_facility_count=0)
        )
        engine.execute(InjectFault("branch_overload", "1", "A", {"multiple": multiple}))
        expected = float(breakers.trip_time_s(multiple))
        dt = max(1.0, expected / 100.0)
        elapsed = 0.0
        while engine.fleet.circuit("1", "A").breaker_state == "Normal" and elapsed < 3 * expected:
            engine.step(dt)
            elapsed += dt
        assert engine.fleet.circuit("1", "A").breaker_state == "Tripped"
        assert elapsed == pytest.approx(expected, abs=dt + 1e-6)
        assert engine.fleet.circuit("1", "B").breaker_state == "Normal"


def test_threshold_crossings_raise_events_with_their_severity(engine: Engine) -> None:
    events = []
    engine.on_event(events.append)
    engine.execute(InjectFault("branch_overload", "2", "A", {"multiple": 0.9}))
    engine.step(1.0)
    crossed = [e for e in events if e.kind == "ThresholdCrossed" and e.pdu_id == "2"]
    assert [(e.resource, e.resource_id, e.severity) for e in crossed] == [
        ("branch", "A", "Warning")
    ]
    assert "Branch Circuit A" in crossed[0].message


def test_fleet_arrays_are_updated_in_place(engine: Engine) -> None:
    power = engine.fleet.arrays.outlet_power_w
    before = power.copy()
    engine.step(3600.0)
    assert power is engine.fleet.arrays.outlet_power_w
    assert not np.array_equal(before, power)
