"""Clock modes and the engine's run loop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from energydash.config import Settings
from energydash.sim.clock import Clock
from energydash.sim.engine import Engine


class FakeWall:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_stepped_clock_moves_only_when_advanced() -> None:
    start = datetime(2025, 1, 15, tzinfo=UTC)
    clock = Clock("stepped", start=start)
    assert clock.now() == start
    clock.advance(90)
    assert clock.now() == start + timedelta(seconds=90)
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_accelerated_clock_runs_speed_times_wall_time_and_freezes_while_paused() -> None:
    wall = FakeWall()
    start = datetime(2025, 6, 1, tzinfo=UTC)
    clock = Clock("accelerated", speed=60, start=start, wall=wall)
    wall.t += 10
    assert clock.now() == start + timedelta(minutes=10)
    clock.pause()
    wall.t += 100
    assert clock.now() == start + timedelta(minutes=10)
    clock.resume()
    wall.t += 1
    assert clock.now() == start + timedelta(minutes=11)
    clock.set_speed(3600)
    wall.t += 1
    assert clock.now() == start + timedelta(minutes=11, hours=1)


def test_realtime_clock_follows_the_wall_clock() -> None:
    clock = Clock("realtime")
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 1.0
    assert clock.speed == 1.0


def test_bad_clock_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        Clock("warp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="speed"):
        Clock("accelerated", speed=0)


def test_stepped_engine_starts_at_the_configured_time_and_steps_exactly(engine: Engine) -> None:
    assert engine.clock.now() == engine.settings.sim_start_time
    engine.step(2.5)
    engine.step()
    assert engine.clock.now() == engine.settings.sim_start_time + timedelta(seconds=3.5)
    assert engine.tick_count == 2
    with pytest.raises(ValueError):
        engine.step(0)


def test_accelerated_engine_ticks_by_itself_pauses_and_stops(settings: Settings) -> None:
    fast = settings.model_copy(
        update={"clock_mode": "accelerated", "speed": 600.0, "max_tick_rate_hz": 50.0}
    )
    engine = Engine.from_settings(fast)
    ticks: list[int] = []
    unsubscribe = engine.on_tick(lambda e: ticks.append(e.tick_count))
    start = engine.clock.now()

    async def main() -> None:
        task = asyncio.create_task(engine.run())
        while len(ticks) < 5:
            await asyncio.sleep(0.01)
        engine.pause()
        await asyncio.sleep(0.05)
        paused_at = len(ticks)
        await asyncio.sleep(0.1)
        assert len(ticks) == paused_at
        assert not engine.running
        engine.resume()
        while len(ticks) < paused_at + 3:
            await asyncio.sleep(0.01)
        engine.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    unsubscribe()
    assert ticks == list(range(1, len(ticks) + 1))
    elapsed = (engine.clock.now() - start).total_seconds()
    assert elapsed > 5 * settings.tick_s  # accelerated: many sim seconds per wall second
    assert engine.fleet.lifetime_kwh.sum() > 0


def test_a_failing_tick_callback_does_not_stop_the_engine(engine: Engine) -> None:
    calls: list[int] = []

    def broken(_engine: Engine) -> None:
        raise RuntimeError("subscriber bug")

    engine.on_tick(broken)
    unsubscribe = engine.on_tick(lambda e: calls.append(e.tick_count))
    engine.step()
    unsubscribe()
    engine.step()
    assert calls == [1]


def test_set_speed_turns_a_realtime_clock_into_an_accelerated_one() -> None:
    wall = FakeWall()
    clock = Clock("realtime", wall=wall)
    before = clock.now()
    clock.set_speed(100.0)
    wall.t += 2.0
    assert clock.mode == "accelerated" and clock.speed == 100.0
    assert (clock.now() - before).total_seconds() == pytest.approx(200.0, abs=1.0)


def test_an_engine_without_pdus_still_runs_the_grid(settings: Settings) -> None:
    engine = Engine.from_settings(settings.model_copy(update={"pdu_count": 0}))
    engine.step(300.0)
    assert engine.fleet.pdus == [] and engine.fleet.arrays.outlet_power_w.size == 0
    assert sum(r.demand_mw for r in engine.grid.regions.values()) > 0
    engine.save_state()
