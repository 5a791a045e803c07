"""Configuration commands are on disk when they return; a slow older save never wins."""

from __future__ import annotations

import orjson

from energydash.config import Settings
from energydash.sim import state
from energydash.sim.commands import OutletPower, SetDevice, SetRestorePolicy
from energydash.sim.engine import Engine


def test_a_restore_policy_is_saved_when_set_and_restored(settings: Settings) -> None:
    first = Engine.from_settings(settings)
    first.execute(SetRestorePolicy("2", "B4", "AlwaysOff"))  # no save_state(), no run()
    second = Engine.from_settings(settings)
    index = second.fleet.outlet_info("2", "B4").index
    assert second.restored
    assert int(second.fleet.restore_policy[index]) == 1  # AlwaysOff
    assert int(second.fleet.restore_policy[index + 1]) == 2  # the others keep LastState


def test_a_device_name_is_on_disk_before_the_command_returns(settings: Settings) -> None:
    engine = Engine.from_settings(settings)
    engine.execute(SetDevice("1", "A3", "server", "db primary", 400.0))
    saved = orjson.loads(engine.state_file.read_bytes())["outlets"]
    assert saved["device_name"][saved["key"].index("1/A3")] == "db primary"


def test_switching_is_not_saved_on_every_command(settings: Settings) -> None:
    engine = Engine.from_settings(settings)
    engine.execute(OutletPower("1", "A1", "Off"))  # at 1,000/s: saved soon after, not each
    assert not engine.state_file.exists()


def test_an_older_snapshot_written_late_does_not_replace_a_newer_one(settings: Settings) -> None:
    engine = Engine.from_settings(settings)
    taken = state.snapshot_time()
    older = engine._payload()  # the periodic save's snapshot, its write still pending
    engine.execute(SetRestorePolicy("1", "A1", "AlwaysOn"))  # saves a newer one meanwhile
    state.save(engine.state_file, older, taken_ns=taken)
    saved = orjson.loads(engine.state_file.read_bytes())["outlets"]
    assert saved["restore_policy"][saved["key"].index("1/A1")] == "AlwaysOn"


def test_a_state_file_without_restore_policies_still_restores(settings: Settings) -> None:
    first = Engine.from_settings(settings)
    first.execute(SetDevice("1", "A2", "server", "older file", 300.0))
    body = orjson.loads(first.state_file.read_bytes())
    del body["outlets"]["restore_policy"]  # as saved before restore policies were kept
    first.state_file.write_bytes(orjson.dumps(body))
    second = Engine.from_settings(settings)
    assert second.restored and not second.state_problems
    assert second.fleet.device_names[second.fleet.outlet_info("1", "A2").index] == "older file"
