from energydash.sim.commands import OutletPower
from energydash.sim.engine import Engine


def test_engine_ticks_and_switches_an_outlet_off(engine: Engine) -> None:
    for _ in range(5):
        engine.step()
    assert engine.tick_count == 5
    engine.execute(OutletPower("1", "A1", "Off"))
    reading = engine.fleet.outlet("1", "A1")
    assert reading.power_state == "Off"
    assert reading.power_w == 0.0
