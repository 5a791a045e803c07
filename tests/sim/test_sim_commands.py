"""Every command through Engine.execute: what it does, and that a refused one changes nothing."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from energydash.sim.commands import (
    BreakerControl,
    CircuitPower,
    CommandError,
    CreateGroup,
    DeleteGroup,
    GroupPower,
    OutletPower,
    RemoveDevice,
    ResetMetrics,
    SetDevice,
    SetDeviceOnline,
    SetOutletEnabled,
    SetPowerOnDelay,
)
from energydash.sim.engine import Engine


def fleet_state(engine: Engine) -> tuple:
    f = engine.fleet
    return (
        f.relay_on.copy(),
        f.pending_on_at.copy(),
        f.power_enabled.copy(),
        f.baseline_kwh.copy(),
        f.b_state.copy(),
        f.m_state.copy(),
        f.profile_code.copy(),
        f.rated_power_w.copy(),
        copy.deepcopy([p.groups for p in f.pdus]),
        dict(f.circuit_baselines),
    )


def assert_unchanged(before: tuple, after: tuple) -> None:
    for a, b in zip(before, after, strict=True):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (OutletPower("9", "A1", "Off"), "pdu_id"),
        (OutletPower("1", "Z9", "Off"), "outlet_id"),
        (OutletPower("1", "A1", "Explode"), "action"),
        (GroupPower("1", "99", "On"), "group_id"),
        (CircuitPower("1", "Q", "Off"), "circuit_id"),
        (BreakerControl("1", "A", "Trip"), "action"),
        (BreakerControl("1", "AC7", "On"), "circuit_id"),
        (ResetMetrics("1", "rack"), "kind"),
        (ResetMetrics("1", "outlet", "Z1"), "outlet_id"),
        (ResetMetrics("1", "outlet"), "target_id"),
        (ResetMetrics("1", "main", "AC9"), "target_id"),
        (CreateGroup("1", "", ["A1"]), "name"),
        (CreateGroup("1", "Web", []), "outlet_ids"),
        (CreateGroup("1", "Web", ["A1", "Z1"]), "outlet_ids"),
        (CreateGroup("1", "Web", ["A1", "A1"]), "outlet_ids"),
        (CreateGroup("1", "Web", ["A1"], group_id="1"), "group_id"),
        (DeleteGroup("1", "77"), "group_id"),
        (SetDevice("1", "A1", "toaster"), "profile"),
        (SetDevice("1", "A1", "server", rated_power_w=1e6), "rated_power_w"),
        (SetDevice("1", "A1", "server", rated_power_w=-5), "rated_power_w"),
        (SetOutletEnabled("1", "A1", "yes"), "enabled"),  # type: ignore[arg-type]
        (SetDeviceOnline("1", "A1", 1), "online"),  # type: ignore[arg-type]
    ],
)
def test_invalid_command_is_refused_naming_the_field_and_changes_nothing(
    engine: Engine, command: object, field: str
) -> None:
    engine.step()
    before = fleet_state(engine)
    with pytest.raises(CommandError) as caught:
        engine.execute(command)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert str(caught.value)
    assert_unchanged(before, fleet_state(engine))


def test_unknown_command_type_is_refused(engine: Engine) -> None:
    with pytest.raises(CommandError):
        engine.execute("reboot everything")  # type: ignore[arg-type]


def test_outlet_on_honours_the_power_on_delay(engine: Engine) -> None:
    events = []
    engine.on_event(events.append)
    engine.execute(OutletPower("1", "A3", "Off"))
    engine.step(1.0)
    assert engine.fleet.outlet("1", "A3").power_state == "Off"
    result = engine.execute(OutletPower("1", "A3", "On"))
    assert result.ok and "delay" in result.message
    assert engine.fleet.outlet("1", "A3").power_state == "PoweringOn"
    engine.step(1.0)
    assert engine.fleet.outlet("1", "A3").power_state == "PoweringOn"
    engine.step(1.0)  # the default delay is 2 s
    assert engine.fleet.outlet("1", "A3").power_state == "On"
    assert [e.kind for e in events if e.resource_id == "A3"] == [
        "OutletPoweredOff",
        "OutletPoweredOn",
    ]


def test_power_cycle_is_off_for_the_cycle_delay_then_on(engine: Engine) -> None:
    engine.execute(OutletPower("1", "A4", "PowerCycle"))
    assert engine.fleet.outlet("1", "A4").power_state == "PoweringOn"
    assert engine.fleet.outlet("1", "A4").power_w == 0.0
    for _ in range(4):
        engine.step(1.0)
        assert engine.fleet.arrays.outlet_on[engine.fleet.outlet_info("1", "A4").index] == np.False_
    engine.step(1.0)  # power_cycle_delay_s = 5
    assert engine.fleet.outlet("1", "A4").power_state == "On"


def test_group_power_switches_every_member(engine: Engine) -> None:
    engine.execute(GroupPower("2", "1", "Off"))
    assert engine.fleet.group("2", "1").power_state == "Off"
    assert engine.fleet.group("2", "1").power_w == 0.0
    assert engine.fleet.group("2", "2").power_state == "On"


def test_circuit_power_switches_every_outlet_of_the_branch(engine: Engine) -> None:
    engine.step()
    engine.execute(CircuitPower("1", "C", "Off"))
    engine.step()
    assert engine.fleet.circuit("1", "C").power_w == 0.0
    assert engine.fleet.circuit("1", "C").breaker_state == "Normal"
    assert all(engine.fleet.outlet("1", f"C{k}").power_state == "Off" for k in range(1, 17))


def test_disabled_outlet_refuses_power_control(engine: Engine) -> None:
    engine.execute(SetOutletEnabled("1", "A1", False))
    assert engine.fleet.outlet("1", "A1").power_enabled is False
    with pytest.raises(CommandError) as caught:
        engine.execute(OutletPower("1", "A1", "Off"))
    assert caught.value.field == "power_enabled"
    assert engine.fleet.outlet("1", "A1").power_state == "On"
    with pytest.raises(CommandError):  # a group including it is refused as a whole
        engine.execute(GroupPower("1", "1", "Off"))
    assert engine.fleet.outlet("1", "A2").power_state == "On"
    engine.execute(SetOutletEnabled("1", "A1", True))
    engine.execute(OutletPower("1", "A1", "Off"))
    assert engine.fleet.outlet("1", "A1").power_state == "Off"


@pytest.mark.parametrize(
    ("kind", "target"),
    [("outlet", "A2"), ("branch", "A"), ("main", "AC1"), ("group", "1"), ("pdu", None)],
)
def test_reset_metrics_zeroes_energy_and_keeps_lifetime(
    engine: Engine, kind: str, target: str | None
) -> None:
    engine.execute(SetDevice("1", "A2", "storage", rated_power_w=400))
    for _ in range(5):
        engine.step(60.0)
    read = {
        "outlet": lambda: engine.fleet.outlet("1", "A2"),
        "branch": lambda: engine.fleet.circuit("1", "A"),
        "main": lambda: engine.fleet.circuit("1", "AC1"),
        "group": lambda: engine.fleet.group("1", "1"),
        "pdu": lambda: engine.fleet.pdu("1"),
    }[kind]
    lifetime = read().lifetime_energy_kwh
    assert read().energy_kwh == pytest.approx(lifetime) and lifetime > 0
    engine.execute(ResetMetrics("1", kind, target))
    after = read()
    assert after.energy_kwh == pytest.approx(0.0, abs=1e-12)
    assert after.lifetime_energy_kwh == pytest.approx(lifetime)
    assert after.sensor_reset_time == engine.clock.now()
    engine.step(60.0)
    later = read()
    assert later.energy_kwh > 0
    assert later.lifetime_energy_kwh - later.energy_kwh == pytest.approx(lifetime)
    if kind == "pdu":  # the PDU reset covers every counter of the PDU
        assert engine.fleet.outlet("1", "C16").sensor_reset_time is not None
        assert engine.fleet.circuit("1", "B").sensor_reset_time is not None
    other = engine.fleet.pdu("2")
    assert other.energy_kwh == pytest.approx(other.lifetime_energy_kwh)


def test_groups_are_created_and_deleted(engine: Engine) -> None:
    events = []
    engine.on_event(events.append)
    result = engine.execute(CreateGroup("1", "Web tier", ["A1", "B1", "C1"]))
    assert result.group_id == "7"
    info = engine.fleet.group_info("1", "7")
    assert info.user_created and info.outlet_ids == ["A1", "B1", "C1"]
    engine.execute(GroupPower("1", "7", "Off"))
    assert [engine.fleet.outlet("1", o).power_state for o in ("A1", "B1", "C1", "A2")] == [
        "Off",
        "Off",
        "Off",
        "On",
    ]
    named = engine.execute(CreateGroup("1", "Storage", ["A5"], group_id="storage"))
    assert named.group_id == "storage"
    engine.execute(DeleteGroup("1", "7"))
    with pytest.raises(KeyError):
        engine.fleet.group_info("1", "7")
    assert [e.kind for e in events if e.kind.startswith("Group")] == [
        "GroupCreated",
        "GroupCreated",
        "GroupDeleted",
    ]


def test_set_device_plugs_a_profile_in_and_remove_device_empties_the_outlet(engine: Engine) -> None:
    engine.execute(SetDevice("2", "B7", "kitchen_appliance", name="Kettle", rated_power_w=2000))
    device = engine.fleet.outlet("2", "B7").device
    assert device is not None and (device.name, device.profile, device.rated_power_w) == (
        "Kettle",
        "kitchen_appliance",
        2000.0,
    )
    engine.execute(SetDevice("2", "B7", "led_lighting"))
    assert engine.fleet.outlet("2", "B7").device.profile == "led_lighting"  # type: ignore[union-attr]
    engine.execute(RemoveDevice("2", "B7"))
    engine.step()
    reading = engine.fleet.outlet("2", "B7")
    assert reading.device is None and reading.power_w == 0.0 and reading.power_state == "On"


def test_offline_device_draws_nothing_on_a_live_outlet(engine: Engine) -> None:
    engine.execute(SetDevice("1", "A6", "server", rated_power_w=400))
    engine.step()
    assert engine.fleet.outlet("1", "A6").power_w > 0
    engine.execute(SetDeviceOnline("1", "A6", False))
    engine.step()
    reading = engine.fleet.outlet("1", "A6")
    assert reading.power_w == 0.0 and reading.device.online is False  # type: ignore[union-attr]
    assert reading.power_state == "On"
    with pytest.raises(CommandError):
        engine.execute(SetDeviceOnline("1", "A6", "no"))  # type: ignore[arg-type]


def test_commands_take_effect_in_readings_before_the_next_tick(engine: Engine) -> None:
    engine.step()
    assert engine.fleet.circuit("1", "A").power_w > 0
    engine.execute(BreakerControl("1", "A", "Off"))
    assert engine.fleet.circuit("1", "A").power_w == 0.0
    assert engine.fleet.circuit("1", "A").breaker_state == "Off"


def test_power_on_delay_is_configurable_per_outlet_and_survives_restart(engine: Engine) -> None:
    engine.execute(SetPowerOnDelay("1", "B2", 10))
    assert engine.fleet.outlet_info("1", "B2").power_on_delay_s == 10.0
    engine.execute(OutletPower("1", "B2", "Off"))
    engine.execute(OutletPower("1", "B3", "Off"))
    engine.execute(GroupPower("1", "3", "On"))  # group 3 is B1..B8
    engine.step(2.0)
    assert engine.fleet.outlet("1", "B3").power_state == "On"
    assert engine.fleet.outlet("1", "B2").power_state == "PoweringOn"
    engine.step(8.0)
    assert engine.fleet.outlet("1", "B2").power_state == "On"
    for bad in (-1, 7200, "soon", True):
        with pytest.raises(CommandError) as caught:
            engine.execute(SetPowerOnDelay("1", "B2", bad))  # type: ignore[arg-type]
        assert caught.value.field == "delay_s"
    engine.save_state()
    restored = Engine.from_settings(engine.settings)
    assert restored.fleet.outlet_info("1", "B2").power_on_delay_s == 10.0
    assert restored.fleet.outlet_info("1", "B3").power_on_delay_s == 2.0


def test_pending_power_ons_are_counted_exactly_through_overlapping_switches(engine: Engine) -> None:
    """The fleet counts outlets waiting for their power-on delay where commands write (not by
    scanning the fleet); overlapping groups, circuits, repeats and Off during the wait must
    leave it equal to a recount, and every outlet still comes on once its delay is over."""
    fleet = engine.fleet
    pdu = fleet.pdus[0].id
    for k, outlet in enumerate(fleet.pdus[0].outlets):
        engine.execute(SetPowerOnDelay(pdu, outlet.id, float(1 + k % 5)))
    engine.execute(CreateGroup(pdu, "left", ["A1", "A2", "A3", "B1"], group_id="g1"))
    engine.execute(CreateGroup(pdu, "overlap", ["A2", "A3", "A4", "B1"], group_id="g2"))
    rng = np.random.default_rng(7)
    commands = [
        lambda a: GroupPower(pdu, "g1", a),
        lambda a: GroupPower(pdu, "g2", a),
        lambda a: CircuitPower(pdu, "A", a),
        lambda a: OutletPower(pdu, "A2", a),
        lambda a: OutletPower(pdu, "B1", a),
    ]

    def recount() -> int:
        return int(np.count_nonzero(~np.isnan(fleet.pending_on_at)))

    waited = 0
    for _ in range(200):
        command = commands[int(rng.integers(len(commands)))]
        engine.execute(command("On" if rng.random() < 0.6 else "Off"))
        assert fleet._pending_count == recount()
        waited = max(waited, recount())
        if rng.random() < 0.2:
            engine.step(1.0)  # some delays run out
            assert fleet._pending_count == recount()
    assert waited > 0  # the sequence did leave outlets waiting
    engine.execute(CircuitPower(pdu, "A", "On"))
    engine.step(10.0)  # longer than every delay
    assert fleet._pending_count == recount() == 0
    a_outlets = [o.index for o in fleet.pdus[0].outlets if o.branch_id == "A"]
    assert fleet.relay_on[a_outlets].all()
