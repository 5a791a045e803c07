"""The electrical model's invariants, as properties over seeds, fleet shapes and tick lengths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from energydash.config import load_settings
from energydash.sim.commands import OutletPower
from energydash.sim.engine import Engine
from energydash.sim.pdu import Fleet

PROPERTY = hsettings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
INPUTS = st.sampled_from(["single_phase", "three_phase_wye", "three_phase_delta"])


def build(tmp: Path, **overrides: object) -> Engine:
    values: dict[str, object] = {
        "data_dir": tmp,
        "clock_mode": "stepped",
        "pdu_count": 4,
        "grid_facility_count": 0,
    }
    values.update(overrides)
    return Engine.from_settings(load_settings(**values), restore=False)


def assert_sums(fleet: Fleet) -> None:
    for pdu in fleet.pdus:
        total = fleet.pdu(pdu.id)
        main_sum = {
            name: 0.0 for name in ("power_w", "current_a", "apparent_va", "lifetime_energy_kwh")
        }
        for main in pdu.mains:
            reading = fleet.circuit(pdu.id, main.id)
            for name in main_sum:
                main_sum[name] += getattr(reading, name)
            for phase, ph in reading.phases.items():
                branches = [
                    b
                    for b in pdu.branches
                    if b.phases == [phase] and b.outlet_ids[0] in main.outlet_ids
                ]
                assert ph.power_w == pytest.approx(
                    sum(fleet.circuit(pdu.id, b.id).power_w for b in branches), rel=1e-9, abs=1e-9
                )
                assert ph.current_a == pytest.approx(
                    sum(fleet.circuit(pdu.id, b.id).current_a for b in branches), rel=1e-9, abs=1e-9
                )
        for name, value in main_sum.items():
            assert getattr(total, name) == pytest.approx(value, rel=1e-9, abs=1e-9)
        for branch in pdu.branches:
            reading = fleet.circuit(pdu.id, branch.id)
            outlets = [fleet.outlet(pdu.id, o) for o in branch.outlet_ids]
            assert reading.power_w == pytest.approx(
                sum(o.power_w for o in outlets), rel=1e-9, abs=1e-9
            )
            assert reading.current_a == pytest.approx(
                sum(o.current_a for o in outlets), rel=1e-9, abs=1e-9
            )
            assert reading.apparent_va == pytest.approx(
                sum(o.apparent_va for o in outlets), rel=1e-9, abs=1e-9
            )
            assert reading.reactive_var == pytest.approx(
                sum(o.reactive_var for o in outlets), rel=1e-9, abs=1e-9
            )
            assert reading.lifetime_energy_kwh == pytest.approx(
                sum(o.lifetime_energy_kwh for o in outlets), rel=1e-9, abs=1e-12
            )


@PROPERTY
@given(
    seed=st.integers(0, 2**32 - 1),
    input_type=INPUTS,
    mains=st.integers(1, 3),
    ticks=st.integers(1, 8),
)
def test_branch_main_and_pdu_sum_their_parts_exactly(
    tmp_path: Path, seed: int, input_type: str, mains: int, ticks: int
) -> None:
    voltage = 208.0 if input_type == "three_phase_delta" else 230.0
    engine = build(
        tmp_path,
        seed=seed,
        pdu_input=input_type,
        pdu_mains=mains,
        pdu_nominal_voltage_v=voltage,
        pdu_branches=6,
        pdu_outlets_per_branch=8,
    )
    for _ in range(ticks):
        engine.step(30.0)
    assert_sums(engine.fleet)


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), dt=st.floats(0.1, 600.0))
def test_power_equals_volts_times_amps_times_power_factor(
    tmp_path: Path, seed: int, dt: float
) -> None:
    engine = build(tmp_path, seed=seed)
    engine.step(dt)
    a = engine.fleet.arrays
    np.testing.assert_allclose(
        a.outlet_power_w,
        a.outlet_voltage_v * a.outlet_current_a * a.outlet_power_factor,
        rtol=1e-12,
        atol=1e-9,
    )
    np.testing.assert_allclose(
        a.outlet_apparent_va, a.outlet_voltage_v * a.outlet_current_a, rtol=1e-12, atol=1e-9
    )
    np.testing.assert_allclose(
        a.outlet_reactive_var**2,
        np.maximum(a.outlet_apparent_va**2 - a.outlet_power_w**2, 0),
        rtol=1e-9,
        atol=1e-6,
    )


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), hours=st.integers(0, 23))
def test_readings_stay_within_physical_bounds(tmp_path: Path, seed: int, hours: int) -> None:
    engine = build(tmp_path, seed=seed)
    engine.step(hours * 3600.0 + 1.0)
    for _ in range(3):
        engine.step(10.0)
    a, fleet = engine.fleet.arrays, engine.fleet
    nominal = fleet.settings.pdu_nominal_voltage_v
    assert np.all(np.abs(a.outlet_voltage_v / nominal - 1.0) < 0.06)
    assert np.all(a.outlet_power_w >= 0.0)
    assert np.all(a.outlet_power_w <= fleet.rated_power_w * 1.0 + 1e-9)
    assert np.all(
        (a.outlet_power_factor == 0.0)
        | ((a.outlet_power_factor > 0.5) & (a.outlet_power_factor <= 1.0))
    )
    assert np.all(a.outlet_current_a <= fleet.o_rating_a)
    assert abs(fleet.frequency_hz - 50.0) < 0.2
    for pdu in fleet.pdus:
        for branch in pdu.branches:
            assert (
                fleet.circuit(pdu.id, branch.id).current_a < branch.rating_a
            )  # designed within the breaker


@PROPERTY
@given(
    seed=st.integers(0, 2**32 - 1),
    dts=st.lists(st.floats(0.5, 900.0), min_size=2, max_size=12),
    off=st.sets(st.sampled_from(["A1", "A2", "B5", "C16"])),
)
def test_energy_never_decreases_even_when_outlets_switch_off(
    tmp_path: Path, seed: int, dts: list[float], off: set[str]
) -> None:
    engine = build(tmp_path, seed=seed, outlet_power_on_delay_s=0.0)
    previous = engine.fleet.lifetime_kwh.copy()
    for k, dt in enumerate(dts):
        if k == len(dts) // 2:
            for outlet_id in off:
                engine.execute(OutletPower("1", outlet_id, "Off"))
        engine.step(dt)
        current = engine.fleet.lifetime_kwh.copy()
        assert np.all(current >= previous)
        previous = current
    for outlet_id in off:
        reading = engine.fleet.outlet("1", outlet_id)
        assert reading.power_w == 0.0 and reading.current_a == 0.0
        assert reading.lifetime_energy_kwh == pytest.approx(
            previous[engine.fleet.outlet_info("1", outlet_id).index]
        )


def test_energy_integrates_power_over_the_actual_tick_duration(tmp_path: Path) -> None:
    engine = build(tmp_path)
    engine.step(1.0)
    before = engine.fleet.lifetime_kwh.copy()
    engine.step(123.0)
    power = engine.fleet.p.copy()
    np.testing.assert_allclose(
        engine.fleet.lifetime_kwh - before, power * 123.0 / 3.6e6, rtol=1e-12
    )


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1))
def test_same_seed_gives_the_same_numbers(tmp_path: Path, seed: int) -> None:
    runs = []
    for name in ("a", "b"):
        engine = build(tmp_path / name, seed=seed, grid_facility_count=15)
        for _ in range(5):
            engine.step(7.0)
        runs.append(
            (
                engine.fleet.arrays.outlet_power_w.copy(),
                engine.fleet.lifetime_kwh.copy(),
                engine.grid.arrays.unit_power_mw.copy(),
                [p.serial for p in engine.fleet.pdus],
            )
        )
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
    assert runs[0][3] == runs[1][3]


def test_different_seeds_give_different_fleets(tmp_path: Path) -> None:
    a = build(tmp_path / "a", seed=1)
    b = build(tmp_path / "b", seed=2)
    assert not np.array_equal(a.fleet.profile_code, b.fleet.profile_code)


def test_delta_line_currents_follow_from_leg_currents(tmp_path: Path) -> None:
    engine = build(
        tmp_path, pdu_input="three_phase_delta", pdu_nominal_voltage_v=208.0, pdu_frequency_hz=60
    )
    engine.step(10.0)
    main = engine.fleet.circuit("1", "AC1")
    assert set(main.phases) == {"L1L2", "L2L3", "L3L1"}
    legs = {k: v.current_a for k, v in main.phases.items()}
    # balanced legs give line currents of sqrt(3) x leg current; in general between the
    # difference and the sum of the two adjacent legs
    for line, (a, b) in {
        "L1": ("L1L2", "L3L1"),
        "L2": ("L2L3", "L1L2"),
        "L3": ("L3L1", "L2L3"),
    }.items():
        assert (
            abs(legs[a] - legs[b]) - 1e-9 <= main.line_current_a[line] <= legs[a] + legs[b] + 1e-9
        )
    assert engine.fleet.outlet("1", "A1").voltage_v == pytest.approx(208.0, rel=0.06)


def test_topology_is_schneider_style(engine: Engine) -> None:
    pdu = engine.fleet.pdus[0]
    assert (pdu.id, pdu.name, pdu.model) == ("1", "Rack PDU 1", "AP8886")
    assert [b.id for b in pdu.branches] == ["A", "B", "C"]
    assert [m.id for m in pdu.mains] == ["AC1"]
    assert pdu.outlets[0].id == "A1" and pdu.outlets[0].name == "Outlet A1"
    assert pdu.outlets[-1].id == "C16"
    assert [b.phases for b in pdu.branches] == [["L1"], ["L2"], ["L3"]]
    assert len(pdu.groups) == 6 and pdu.groups[0].outlet_ids == [f"A{k}" for k in range(1, 9)]
    s = engine.fleet.outlet_slice("2")
    assert (s.start, s.stop) == (48, 96)


def test_device_mix_spreads_over_profiles_with_servers_most(tmp_path: Path) -> None:
    engine = build(tmp_path, pdu_count=8)
    fleet = engine.fleet
    it = np.concatenate(
        [fleet.profile_code[fleet.outlet_slice(p.id)] for p in fleet.pdus if p.index % 4 != 3]
    )
    counts = np.bincount(it, minlength=8)
    assert counts[1] == counts.max()  # servers
    assert counts[0] > 0 and counts[2] > 0 and counts[3] > 0  # empty, storage, switches
    facility = fleet.profile_code[fleet.outlet_slice("4")]
    assert {4, 5, 6, 7} <= set(facility.tolist())  # HVAC, lighting, kitchen, production line shares
