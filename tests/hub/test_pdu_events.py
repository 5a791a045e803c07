"""Topic pdu/{id}/events: the PDU's switch and breaker events, for the charts' markers."""

from __future__ import annotations

from collections.abc import Callable

from energydash.config import Settings
from energydash.hub import Hub
from energydash.hub.events import PduEventLog
from energydash.models.events import PduEventsData
from energydash.sim.commands import BreakerControl, OutletPower
from energydash.sim.engine import Engine


def _log(settings: Settings) -> tuple[Engine, Hub, Callable[[], None]]:
    """A fresh engine and hub with the event log attached; the third value stops it."""
    engine = Engine.from_settings(settings)
    hub = Hub(settings)
    return engine, hub, PduEventLog(engine, hub).attach()


def test_every_pdu_has_an_events_topic_from_the_start(settings: Settings) -> None:
    engine, hub, _ = _log(settings)
    for pdu in engine.fleet.pdus:
        data = PduEventsData.model_validate(hub.latest(f"pdu/{pdu.id}/events").data)
        assert data.pdu_id == pdu.id


def test_outlet_switch_and_breaker_open_appear_on_their_pdu_only(settings: Settings) -> None:
    engine, hub, _ = _log(settings)
    engine.execute(OutletPower("1", "A2", "Off"))
    engine.execute(BreakerControl("1", "B", "Off"))
    events = PduEventsData.model_validate(hub.latest("pdu/1/events").data).events
    kinds = [(e.kind, e.resource_id) for e in events]
    assert ("OutletPoweredOff", "A2") in kinds
    assert any(e.resource == "branch" and e.resource_id == "B" for e in events)
    assert PduEventsData.model_validate(hub.latest("pdu/2/events").data).events == []


def test_events_kept_per_pdu_are_bounded(settings: Settings) -> None:
    engine = Engine.from_settings(settings.model_copy(update={"pdu_events_kept": 3}))
    hub = Hub(settings)
    PduEventLog(engine, hub).attach()
    for _ in range(4):
        engine.execute(OutletPower("1", "A1", "Off"))
        engine.execute(OutletPower("1", "A1", "On"))
        engine.step(engine.fleet.outlet_info("1", "A1").power_on_delay_s + 1.0)
    events = PduEventsData.model_validate(hub.latest("pdu/1/events").data).events
    assert len(events) == 3
    assert events[-1].kind == "OutletPoweredOn"


def test_kept_events_survive_a_restart_of_the_backend(settings: Settings) -> None:
    engine, _, stop = _log(settings)
    engine.execute(OutletPower("1", "A2", "Off"))
    stop()  # the backend stops: the kept events are written
    _, hub, _ = _log(settings)  # a new run reads them back before any new event
    events = PduEventsData.model_validate(hub.latest("pdu/1/events").data).events
    assert ("OutletPoweredOff", "A2") in [(e.kind, e.resource_id) for e in events]


def test_an_unusable_events_file_is_left_alone_and_the_topics_start_empty(
    settings: Settings, caplog
) -> None:
    path = settings.state_dir / "pdu_events.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"1": [{"kind": "no timestamp"}]}')
    _, hub, _ = _log(settings)
    assert PduEventsData.model_validate(hub.latest("pdu/1/events").data).events == []
    assert "pdu_events.json" in caplog.text
    assert path.read_text() == '{"1": [{"kind": "no timestamp"}]}'
