"""Outlet and PDU names given by users: checked, shown by the snapshots, kept across a restart."""

from __future__ import annotations

import orjson
import pytest

from energydash.config import Settings
from energydash.hub import Hub
from energydash.hub.snapshots import SnapshotPublisher
from energydash.sim.commands import MAX_OUTLET_NAME, CommandError, RenameOutlet, RenamePdu
from energydash.sim.engine import Engine


def test_renamed_outlet_shows_its_name_in_the_outlets_topic(settings: Settings) -> None:
    engine = Engine.from_settings(settings)
    engine.execute(RenameOutlet("1", "A3", "  db-primary  "))
    hub = Hub(settings)
    SnapshotPublisher(engine, hub).publish()
    outlets = hub.latest("pdu/1/outlets").data["outlets"]
    assert outlets["name"][outlets["id"].index("A3")] == "db-primary"


@pytest.mark.parametrize(
    ("name", "field"),
    [("", "name"), ("   ", "name"), ("x" * (MAX_OUTLET_NAME + 1), "name"), ("a\nb", "name")],
)
def test_bad_outlet_name_is_refused_and_nothing_changes(
    settings: Settings, name: str, field: str
) -> None:
    engine = Engine.from_settings(settings)
    before = engine.fleet.outlet_info("1", "A3").name
    with pytest.raises(CommandError) as refused:
        engine.execute(RenameOutlet("1", "A3", name))
    assert refused.value.field == field
    assert engine.fleet.outlet_info("1", "A3").name == before


def test_unknown_outlet_rename_names_the_outlet(settings: Settings) -> None:
    engine = Engine.from_settings(settings)
    with pytest.raises(CommandError) as refused:
        engine.execute(RenameOutlet("1", "Z99", "nope"))
    assert refused.value.field == "outlet_id"


def test_outlet_name_survives_a_restart(settings: Settings) -> None:
    first = Engine.from_settings(settings)
    first.execute(RenameOutlet("2", "B1", "CRAC feed"))
    first.save_state()
    second = Engine.from_settings(settings)
    assert second.restored
    assert second.fleet.outlet_info("2", "B1").name == "CRAC feed"
    assert second.fleet.outlet_info("2", "B2").name == first.fleet.outlet_info("2", "B2").name


def test_state_file_without_outlet_names_restores_the_default_names(settings: Settings) -> None:
    """Files written before outlet names were saved still restore (names stay the default)."""
    first = Engine.from_settings(settings)
    default = first.fleet.outlet_info("1", "A1").name
    first.execute(RenameOutlet("1", "A1", "renamed"))
    first.save_state()
    payload = orjson.loads(first.state_file.read_bytes())
    del payload["outlets"]["name"]
    first.state_file.write_bytes(orjson.dumps(payload))
    second = Engine.from_settings(settings)
    assert second.restored
    assert second.fleet.outlet_info("1", "A1").name == default


def test_state_file_with_a_bad_outlet_name_is_refused(settings: Settings) -> None:
    first = Engine.from_settings(settings)
    first.save_state()
    payload = orjson.loads(first.state_file.read_bytes())
    payload["outlets"]["name"][0] = ""
    first.state_file.write_bytes(orjson.dumps(payload))
    previous = first.state_file.with_name("sim_state.prev.json")
    previous.unlink(missing_ok=True)
    second = Engine.from_settings(settings)
    assert not second.restored
    assert any("outlets.name" in problem for problem in second.state_problems)


def test_renamed_pdu_shows_its_name_and_survives_a_restart(settings: Settings) -> None:
    first = Engine.from_settings(settings)
    first.execute(RenamePdu("2", "Rack 7 feed A"))
    hub = Hub(settings)
    SnapshotPublisher(first, hub).publish()
    assert hub.latest("pdu/2/outlets").data["name"] == "Rack 7 feed A"
    assert hub.latest("pdu/2/summary").data["name"] == "Rack 7 feed A"
    first.save_state()
    second = Engine.from_settings(settings)
    assert second.restored
    assert second.fleet.pdu_info("2").name == "Rack 7 feed A"
    assert second.fleet.pdu_info("1").name == first.fleet.pdu_info("1").name


def test_bad_pdu_name_is_refused_and_nothing_changes(settings: Settings) -> None:
    engine = Engine.from_settings(settings)
    before = engine.fleet.pdu_info("1").name
    with pytest.raises(CommandError) as refused:
        engine.execute(RenamePdu("1", " \t "))
    assert refused.value.field == "name"
    assert engine.fleet.pdu_info("1").name == before
