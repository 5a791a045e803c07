"""Each injectable fault: visible in health, with the behaviour it names, and cleared cleanly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from energydash.config import load_settings
from energydash.sim.commands import (
    ClearFault,
    CommandError,
    InjectFault,
    OutletPower,
    SetDevice,
)
from energydash.sim.engine import Engine
from energydash.sim.faults import parse_fault_spec


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    """Known devices on the outlets the tests break."""
    for outlet_id in ("A1", "A2", "A3"):
        engine.execute(SetDevice("1", outlet_id, "server", rated_power_w=300))
    engine.step()
    return engine


def test_stuck_sensor_keeps_reporting_the_same_values(loaded: Engine) -> None:
    result = loaded.execute(InjectFault("sensor_stuck", "1", "A1"))
    frozen = loaded.fleet.outlet("1", "A1")
    assert frozen.health == "Warning" and any("stuck" in r for r in frozen.health_reasons)
    for _ in range(5):
        loaded.step(120.0)
    later = loaded.fleet.outlet("1", "A1")
    assert (later.power_w, later.voltage_v, later.lifetime_energy_kwh) == (
        frozen.power_w,
        frozen.voltage_v,
        frozen.lifetime_energy_kwh,
    )
    assert loaded.fleet.outlet("1", "A2").voltage_v != frozen.voltage_v
    loaded.execute(ClearFault(result.fault_id))
    cleared = loaded.fleet.outlet("1", "A1")
    assert cleared.health == "OK" and cleared.lifetime_energy_kwh > frozen.lifetime_energy_kwh  # type: ignore[operator]


def test_sensor_dropout_reads_none_and_is_critical(loaded: Engine) -> None:
    loaded.execute(InjectFault("sensor_dropout", "1", "A2"))
    loaded.step()
    reading = loaded.fleet.outlet("1", "A2")
    assert reading.power_w is None and reading.energy_kwh is None and reading.current_a is None
    assert reading.health == "Critical"
    k = loaded.fleet.outlet_info("1", "A2").index
    assert np.isnan(loaded.fleet.arrays.outlet_power_w[k])
    assert loaded.fleet.circuit("1", "A").power_w > 0  # the branch meter still measures


def test_noisy_sensor_varies_but_keeps_w_equal_v_i_pf(loaded: Engine) -> None:
    loaded.execute(InjectFault("sensor_noisy", "1", "A3", {"sigma": 0.2}))
    k = loaded.fleet.outlet_info("1", "A3").index
    ratios = []
    for _ in range(10):
        loaded.step(1.0)
        a = loaded.fleet.arrays
        ratios.append(a.outlet_power_w[k] / loaded.fleet.p[k])
        assert a.outlet_power_w[k] == pytest.approx(
            a.outlet_voltage_v[k] * a.outlet_current_a[k] * a.outlet_power_factor[k]
        )
    assert np.std(ratios) > 0.05
    assert loaded.fleet.outlet("1", "A3").health == "Warning"


def test_failed_relay_refuses_commands_and_keeps_its_state(loaded: Engine) -> None:
    loaded.execute(InjectFault("relay_failure", "1", "A1"))
    assert loaded.fleet.outlet("1", "A1").health == "Critical"
    for action in ("Off", "PowerCycle"):
        with pytest.raises(CommandError, match="relay"):
            loaded.execute(OutletPower("1", "A1", action))
        assert loaded.fleet.outlet("1", "A1").power_state == "On"


def test_branch_overload_is_visible_then_trips(loaded: Engine) -> None:
    loaded.execute(InjectFault("overload", "1", "A", {"multiple": 1.6}))
    loaded.step(1.0)
    branch = loaded.fleet.circuit("1", "A")
    assert branch.current_a == pytest.approx(1.6 * 16.0)
    assert branch.health == "Critical" and any("overload" in r for r in branch.health_reasons)
    for _ in range(60):
        loaded.step(60.0)
    assert loaded.fleet.circuit("1", "A").breaker_state == "Tripped"


def test_comm_loss_blanks_the_pdu_and_refuses_its_commands(loaded: Engine) -> None:
    result = loaded.execute(InjectFault("comm_loss", "1"))
    loaded.step()
    pdu = loaded.fleet.pdu("1")
    assert pdu.comm_ok is False and pdu.health == "Critical" and pdu.power_w is None
    assert loaded.fleet.outlet("1", "B2").power_w is None
    assert loaded.fleet.outlet("1", "B2").health == "Critical"
    assert loaded.fleet.circuit("1", "B").current_a is None
    assert np.all(np.isnan(loaded.fleet.arrays.outlet_power_w[loaded.fleet.outlet_slice("1")]))
    assert loaded.fleet.pdu("2").comm_ok is True
    with pytest.raises(CommandError, match="not responding"):
        loaded.execute(OutletPower("1", "A1", "Off"))
    lifetime = loaded.fleet.lifetime_kwh.copy()
    loaded.step(60.0)
    assert np.all(loaded.fleet.lifetime_kwh >= lifetime)  # the PDU keeps metering meanwhile
    loaded.execute(ClearFault(result.fault_id))
    assert loaded.fleet.pdu("1").power_w is not None


def test_fault_events_and_bad_fault_requests(loaded: Engine) -> None:
    events = []
    loaded.on_event(events.append)
    result = loaded.execute(InjectFault("sensor_stuck", "1", "A1"))
    with pytest.raises(CommandError, match="already active"):
        loaded.execute(InjectFault("sensor_stuck", "1", "A1"))
    loaded.execute(ClearFault(result.fault_id))
    assert [e.kind for e in events] == ["FaultInjected", "FaultCleared"]
    for bad, field in [
        (InjectFault("gremlins", "1", "A1"), "kind"),
        (InjectFault("sensor_stuck", "9", "A1"), "pdu_id"),
        (InjectFault("sensor_stuck", "1"), "target_id"),
        (InjectFault("branch_overload", "1", "Q"), "target_id"),
        (InjectFault("branch_overload", "1", "A", {"multiple": "lots"}), "params.multiple"),
        (InjectFault("sensor_noisy", "1", "A1", {"sigma": 5}), "params.sigma"),
    ]:
        with pytest.raises(CommandError) as caught:
            loaded.execute(bad)
        assert caught.value.field == field
    with pytest.raises(CommandError):
        loaded.execute(ClearFault("F999"))
    assert loaded.faults == {}


def test_faults_from_settings_are_active_at_start(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        clock_mode="stepped",
        pdu_count=2,
        grid_facility_count=0,
        faults="sensor_stuck:1/A3; overload:2/B:1.8 ;comm_loss:2",
    )
    engine = Engine.from_settings(settings)
    kinds = sorted((f.kind, f.pdu_id, f.target_id) for f in engine.faults.values())
    assert kinds == [
        ("branch_overload", "2", "B"),
        ("comm_loss", "2", None),
        ("sensor_stuck", "1", "A3"),
    ]
    assert engine.faults["F2"].params["multiple"] == 1.8


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("sensor_stuck", "entry 1"),
        ("sensor_stuck:1/A3;overload:2/B:lots", "entry 2"),
    ],
)
def test_bad_fault_spec_names_the_entry(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fault_spec(spec)


def test_fault_setting_naming_an_unknown_outlet_fails_at_start(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path, clock_mode="stepped", pdu_count=1, faults="stuck:1/Z9"
    )
    with pytest.raises(ValueError, match=r"ENERGYDASH_FAULTS.*Z9"):
        Engine.from_settings(settings)
