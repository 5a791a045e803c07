"""Damaged state files: moved aside, named in the log and /health, the previous good copy used."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from energydash.config import Settings, load_settings
from energydash.sim import counters
from energydash.sim.commands import InjectFault, OutletPower
from energydash.sim.engine import Engine


def _two_saves(settings: Settings) -> tuple[Engine, bytes]:
    """A first save with outlet 1/A1 Off and a fault, then a second one: (engine, first bytes)."""
    engine = Engine.from_settings(settings)
    engine.step(60.0)
    engine.execute(OutletPower("1", "A1", "Off"))
    engine.execute(InjectFault("sensor_noisy", "2", "B2", {"sigma": 0.2}))
    engine.save_state()
    first = engine.state_file.read_bytes()
    engine.step(60.0)
    engine.save_state()
    return engine, first


def _truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _garbage(data: bytes) -> bytes:
    return b"\x00\xff" * 50


def _shape(change: Callable[[dict[str, Any]], Any]) -> Callable[[bytes], bytes]:
    def damage(data: bytes) -> bytes:
        payload = orjson.loads(data)
        replaced = change(payload)
        return orjson.dumps(payload if replaced is None else replaced)

    return damage


DAMAGE = {
    "truncated": _truncate,
    "not json": _garbage,
    "a list": _shape(lambda p: [1, 2, 3]),
    "outlets a number": _shape(lambda p: p.update(outlets=5)),
    "keys a number": _shape(lambda p: p["outlets"].update(key=7)),
    "counters strings": _shape(lambda p: p["outlets"].update(lifetime_kwh=["x"] * 96)),
    "branch state out of range": _shape(lambda p: p["branches"].update(state=[9] * 6)),
    "group without name": _shape(lambda p: p["groups"].update({"1": [{"id": "1"}]})),
    "faults a string": _shape(lambda p: p.update(faults="F1")),
    "integer beyond 64 bits": lambda data: data.replace(
        b'"fault_counter":1', b'"fault_counter":' + b"9" * 30
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_a_damaged_state_file_is_moved_aside_and_the_previous_good_copy_used(
    settings: Settings, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    first_engine, first = _two_saves(settings)
    path = first_engine.state_file
    previous = path.with_name("sim_state.prev.json")
    assert previous.read_bytes() == first
    bad = DAMAGE[damage](path.read_bytes())
    path.write_bytes(bad)

    with caplog.at_level(logging.ERROR):
        engine = Engine.from_settings(settings)
    (aside,) = path.parent.glob("sim_state.json.unreadable-*")
    assert aside.read_bytes() == bad  # kept for the operator, byte for byte
    assert str(aside) in caplog.text and str(path) in caplog.text
    assert engine.restored
    assert engine.fleet.outlet("1", "A1").power_state == "Off"  # from the previous good copy
    assert [(f.kind, f.pdu_id, f.target_id) for f in engine.faults.values()] == [
        ("sensor_noisy", "2", "B2")
    ]
    assert any(str(aside) in p for p in engine.state_problems)
    assert any("previous good copy" in p for p in engine.state_problems)
    engine.clear_state_problems()
    assert engine.state_problems == []


def test_both_copies_damaged_starts_fresh_but_keeps_the_mapped_counters(settings: Settings) -> None:
    first, _ = _two_saves(settings)
    counted = first.fleet.lifetime_kwh.copy()
    for name in ("sim_state.json", "sim_state.prev.json"):
        (settings.state_dir / name).write_bytes(b"{")
    engine = Engine.from_settings(settings)
    assert not engine.restored
    assert len(list(settings.state_dir.glob("*.unreadable-*"))) == 2
    assert len(engine.state_problems) == 2
    np.testing.assert_array_equal(engine.fleet.lifetime_kwh, counted)


def test_a_truncated_counter_file_is_moved_aside_and_the_state_file_used(
    settings: Settings,
) -> None:
    first, _ = _two_saves(settings)
    saved = first.fleet.lifetime_kwh.copy()
    path = settings.state_dir / counters.COUNTER_FILE
    path.write_bytes(path.read_bytes()[:40])
    engine = Engine.from_settings(settings)
    (aside,) = settings.state_dir.glob("counters.bin.unreadable-*")
    assert any(str(aside) in p for p in engine.state_problems)
    np.testing.assert_array_equal(engine.fleet.lifetime_kwh, saved)


def test_counters_are_written_through_to_the_mapped_file_every_tick(settings: Settings) -> None:
    engine = Engine.from_settings(settings)
    engine.step(120.0)
    keys, values = counters.read(engine.counter_file)
    assert keys[0] == "1/A1" and len(keys) == engine.fleet.n_outlets
    np.testing.assert_array_equal(values, engine.fleet.lifetime_kwh)  # no save was needed


def test_grid_battery_and_wind_state_survive_a_restart(settings: Settings) -> None:
    big = settings.model_copy(update={"grid_facility_count": 200})
    first = Engine.from_settings(big)
    for _ in range(30):
        first.step(300.0)
    first.save_state()
    saved = first.grid.state()
    restarted = Engine.from_settings(big).grid.state()  # one priming step after the restore
    fresh = Engine.from_settings(big, restore=False).grid.state()

    def distance(state: dict[str, Any], name: str) -> float:
        return float(np.abs(np.subtract(state[name], saved[name])).sum())

    for name in ("battery_soc_mwh", "wind_state", "wind_common"):
        assert distance(restarted, name) < distance(fresh, name) / 5, name


@hsettings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    where=st.sampled_from(
        ["outlets", "branches", "mains", "groups", "faults", "grid", "fleet", "circuit_baselines"]
    ),
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
        max_leaves=10,
    ),
)
def test_any_wrong_shape_never_stops_the_engine_from_starting(
    tmp_path_factory: pytest.TempPathFactory, where: str, value: Any
) -> None:
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("state"),
        clock_mode="stepped",
        pdu_count=2,
        grid_facility_count=5,
    )
    engine = Engine.from_settings(settings)
    engine.step(60.0)
    engine.save_state()
    payload = orjson.loads(engine.state_file.read_bytes())
    payload[where] = value
    data = json.dumps(payload).encode()  # stdlib: writes 2**70 and NaN as orjson never would
    engine.state_file.write_bytes(data)
    again = Engine.from_settings(settings)  # never raises
    again.step(1.0)
    assert np.all(again.fleet.lifetime_kwh >= 0)


def test_a_command_is_saved_soon_without_waiting_for_the_periodic_save(
    settings: Settings,
) -> None:
    import asyncio

    from energydash.sim.commands import SetDevice

    cfg = settings.model_copy(
        update={
            "clock_mode": "accelerated",
            "speed": 20.0,
            "state_save_interval_s": 3600.0,
            "state_save_after_change_s": 0.05,
        }
    )
    engine = Engine.from_settings(cfg)

    def saved_name() -> str | None:
        if not engine.state_file.exists():
            return None
        payload = orjson.loads(engine.state_file.read_bytes())
        index = payload["outlets"]["key"].index("1/A5")
        return payload["outlets"]["device_name"][index]

    async def main() -> str | None:
        task = asyncio.create_task(engine.run())
        await asyncio.sleep(0.2)
        engine.execute(SetDevice("1", "A5", "hvac", name="CRAC 7"))
        for _ in range(200):
            if saved_name() == "CRAC 7":
                break
            await asyncio.sleep(0.02)
        name = saved_name()
        engine.stop()
        await asyncio.wait_for(task, 5)
        return name

    assert asyncio.run(main()) == "CRAC 7"
