"""State persistence: counters, outlet and breaker states continue across a restart."""

from __future__ import annotations

import asyncio
import os

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from energydash.config import Settings, load_settings
from energydash.sim.commands import (
    BreakerControl,
    CreateGroup,
    InjectFault,
    OutletPower,
    ResetMetrics,
    SetDevice,
    SetOutletEnabled,
)
from energydash.sim.engine import Engine


@hsettings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**31),
    before=st.integers(1, 20),
    after=st.integers(1, 20),
    off=st.sampled_from(["A1", "B3", "C16"]),
)
def test_energy_continues_across_a_restart(
    tmp_path_factory: pytest.TempPathFactory, seed: int, before: int, after: int, off: str
) -> None:
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("state"),
        clock_mode="stepped",
        pdu_count=2,
        grid_facility_count=0,
        seed=seed,
    )
    first = Engine.from_settings(settings)
    for _ in range(before):
        first.step(30.0)
    first.execute(OutletPower("1", off, "Off"))
    first.save_state()
    saved = first.fleet.lifetime_kwh.copy()

    second = Engine.from_settings(settings)
    assert second.restored
    np.testing.assert_array_equal(second.fleet.lifetime_kwh, saved)
    assert second.fleet.outlet("1", off).power_state == "Off"
    for _ in range(after):
        second.step(30.0)
    assert np.all(second.fleet.lifetime_kwh >= saved)
    assert second.fleet.pdu("2").lifetime_energy_kwh > float(
        saved[second.fleet.outlet_slice("2")].sum()
    )


def test_restart_keeps_breakers_groups_devices_and_resets(settings: Settings) -> None:
    first = Engine.from_settings(settings)
    first.step(60.0)
    first.execute(BreakerControl("1", "B", "Off"))
    first.execute(InjectFault("overload", "2", "C", {"multiple": 6.0}))
    first.step(1.0)
    assert first.fleet.circuit("2", "C").breaker_state == "Tripped"
    first.execute(CreateGroup("1", "Web", ["A1", "A2"]))
    first.execute(SetDevice("1", "A5", "hvac", name="CRAC 1", rated_power_w=1500))
    first.execute(SetOutletEnabled("2", "A1", False))
    first.step(60.0)
    first.execute(ResetMetrics("1", "branch", "A"))
    first.save_state()

    second = Engine.from_settings(settings)
    assert second.restored
    assert second.fleet.circuit("1", "B").breaker_state == "Off"
    assert second.fleet.circuit("2", "C").breaker_state == "Tripped"
    assert [(f.id, f.kind, f.pdu_id, f.target_id) for f in second.faults.values()] == [
        ("F1", "branch_overload", "2", "C")
    ]
    assert second.fleet.group_info("1", "7").name == "Web"
    device = second.fleet.outlet("1", "A5").device
    assert device is not None and (device.name, device.profile) == ("CRAC 1", "hvac")
    assert second.fleet.outlet("2", "A1").power_enabled is False
    branch = second.fleet.circuit("1", "A")
    assert branch.energy_kwh == pytest.approx(0.0, abs=1e-12)
    assert branch.sensor_reset_time is not None


def test_state_is_written_atomically(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine.from_settings(settings)
    engine.step(60.0)
    engine.save_state()
    good = engine.state_file.read_bytes()
    engine.step(60.0)

    def crash(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        engine.save_state()
    assert engine.state_file.read_bytes() == good  # the previous state is intact
    assert not [p.name for p in engine.state_file.parent.iterdir() if p.name.endswith(".tmp")]


def test_unreadable_state_is_moved_aside_and_the_engine_starts_fresh(settings: Settings) -> None:
    path = settings.state_dir / "sim_state.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    engine = Engine.from_settings(settings)
    assert not engine.restored
    assert float(engine.fleet.lifetime_kwh.sum()) == 0.0
    (aside,) = settings.state_dir.glob("sim_state.json.unreadable-*")
    assert aside.read_text() == "{not json"
    assert not path.exists()
    assert str(aside) in engine.state_problems[0]


def test_state_with_a_bad_counter_is_refused_but_the_mapped_counters_survive(
    settings: Settings,
) -> None:
    first = Engine.from_settings(settings)
    first.step(60.0)
    first.execute(OutletPower("1", "A1", "Off"))
    first.save_state()
    counted = first.fleet.lifetime_kwh.copy()
    payload = orjson.loads(first.state_file.read_bytes())
    payload["outlets"]["lifetime_kwh"][3] = -1.0
    first.state_file.write_bytes(orjson.dumps(payload))
    second = Engine.from_settings(settings)
    assert not second.restored
    assert second.fleet.outlet("1", "A1").power_state == "On"  # nothing of the bad file applied
    assert "energy counters must be numbers >= 0" in second.state_problems[0]
    np.testing.assert_array_equal(second.fleet.lifetime_kwh, counted)


def test_a_different_fleet_size_keeps_the_state_of_pdus_that_still_exist(
    settings: Settings,
) -> None:
    first = Engine.from_settings(settings.model_copy(update={"pdu_count": 3}))
    first.step(600.0)
    first.execute(OutletPower("2", "B4", "Off"))
    first.save_state()
    kept = first.fleet.lifetime_kwh[: 2 * first.fleet._outlets_per_pdu].copy()
    assert kept.sum() > 0

    smaller = Engine.from_settings(settings)  # 2 PDUs
    assert smaller.restored
    np.testing.assert_array_equal(smaller.fleet.lifetime_kwh, kept)
    assert smaller.fleet.outlet("2", "B4").power_state == "Off"
    smaller.save_state()

    bigger = Engine.from_settings(settings.model_copy(update={"pdu_count": 4}))
    n = bigger.fleet._outlets_per_pdu
    np.testing.assert_array_equal(bigger.fleet.lifetime_kwh[: 2 * n], kept)
    assert float(bigger.fleet.lifetime_kwh[2 * n :].max()) == 0.0  # PDUs 3 and 4 start fresh
    assert bigger.fleet.outlet("2", "B4").power_state == "Off"


def test_run_saves_state_when_stopped(settings: Settings) -> None:
    engine = Engine.from_settings(settings)
    engine.step(60.0)

    async def main() -> None:
        task = asyncio.create_task(engine.run())
        await asyncio.sleep(0.05)
        assert engine.running
        engine.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    assert not engine.running
    payload = orjson.loads(engine.state_file.read_bytes())
    assert payload["outlets"]["lifetime_kwh"] == pytest.approx(engine.fleet.lifetime_kwh.tolist())


def test_run_saves_state_periodically_while_ticking(settings: Settings) -> None:
    fast = settings.model_copy(
        update={"clock_mode": "accelerated", "speed": 100.0, "state_save_interval_s": 0.05}
    )
    engine = Engine.from_settings(fast)

    async def main() -> None:
        task = asyncio.create_task(engine.run())
        for _ in range(300):
            await asyncio.sleep(0.01)
            if engine.state_file.exists() and engine.tick_count > 3:
                break
        assert engine.state_file.exists(), "no periodic save while running"
        engine.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    assert Engine.from_settings(fast).restored
