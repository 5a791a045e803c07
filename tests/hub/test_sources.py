"""A replay takes the grid over: the simulator stops publishing it, the faces see only the
dataset (source, name, own time, own history), and the simulator returns after the timeout."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson

from energydash.config import Settings
from energydash.hub import Hub
from energydash.hub.snapshots import SnapshotPublisher
from energydash.models.ingest import dataset_of
from energydash.models.sources import SourcesData
from energydash.models.topics import FacilitiesData, MarketData
from energydash.mqtt.ingest import MqttIngest
from energydash.sim.engine import Engine

FACILITIES = "energydash/facilities/all"
MARKET = "energydash/market/NEM"


def _stack(settings: Settings, **overrides: Any) -> tuple[Engine, Hub, MqttIngest]:
    cfg = settings.model_copy(update=overrides)
    engine = Engine.from_settings(cfg, restore=False)
    hub = Hub(cfg)
    SnapshotPublisher(engine, hub).attach()
    return engine, hub, MqttIngest(cfg, hub, engine)


def _facility_group(stamp: str, power: float = 10.0, dataset: str = "day.csv") -> bytes:
    rows = [
        {"facility_code": "RPL1", "region": "NSW1", "fueltech": "wind", "power_mw": power},
        {"facility_code": "RPL2", "region": "NSW1", "fueltech": "solar_utility", "power_mw": 5},
        {"facility_code": "RPL3", "region": "QLD1", "fueltech": "coal_black", "power_mw": 300},
    ]
    return orjson.dumps({"timestamp": stamp, "dataset": dataset, "rows": rows})


def _market_group(stamp: str, dataset: str = "market.csv") -> bytes:
    rows = [
        {"network": "NEM", "region": "NSW1", "price_aud_per_mwh": 91.5, "demand_mw": 7000},
        {"network": "NEM", "region": "QLD1", "price_aud_per_mwh": 55.0, "demand_mw": 5000},
    ]
    return orjson.dumps({"timestamp": stamp, "dataset": dataset, "rows": rows})


def _sources(hub: Hub) -> SourcesData:
    return SourcesData.model_validate(hub.latest("sources").data)


def test_simulator_leaves_the_whole_grid_to_a_replay_and_takes_it_back_after_the_timeout(
    settings: Settings,
) -> None:
    engine, hub, ingest = _stack(settings, replay_timeout_s=5.0)
    engine.step()
    assert _sources(hub).mode == "sim"
    simulated = FacilitiesData.model_validate(hub.latest("facilities").data)
    assert simulated.source == "sim" and len(simulated.facilities.code) == 20

    ingest.handle(FACILITIES, _facility_group("2025-01-13T10:00:00+10:00"))
    ingest.flush()
    for _ in range(3):
        engine.step()  # the simulator ticks on, but no longer into the grid topics
    sources = _sources(hub)
    assert sources.mode == "replay" and sources.datasets == ["day.csv"]
    assert {t.topic for t in sources.topics} == {"facilities", "market/NEM"}
    facilities = FacilitiesData.model_validate(hub.latest("facilities").data)
    assert facilities.source == "replay" and facilities.dataset == "day.csv"
    assert facilities.facilities.code == ["RPL1", "RPL2", "RPL3"]
    assert hub.latest("facilities").ts == datetime(2025, 1, 13, 0, 0, tzinfo=UTC)
    # only facilities were replayed: the market shows their generation, no simulated price
    market = MarketData.model_validate(hub.latest("market/NEM").data)
    assert market.source == "replay" and market.generation_from == "facilities"
    nsw = next(r for r in market.regions if r.region == "NSW1")
    assert nsw.generation_mw == 15.0 and nsw.price_aud_per_mwh is None
    assert nsw.generation_by_fueltech_mw == {"wind": 10.0, "solar_utility": 5.0}
    assert {r.region for r in market.regions} == {"NSW1", "QLD1"}  # not the sim's 5 regions

    released = hub.sources.expire(now=time.monotonic() + 5.0)
    assert set(released) == {"facilities", "market/NEM"}
    assert _sources(hub).mode == "sim" and _sources(hub).topics == []
    engine.step()
    back = FacilitiesData.model_validate(hub.latest("facilities").data)
    assert back.source == "sim" and len(back.facilities.code) == 20
    assert MarketData.model_validate(hub.latest("market/NEM").data).source == "sim"


def test_a_replay_heard_within_the_timeout_keeps_the_grid(settings: Settings) -> None:
    engine, hub, ingest = _stack(settings, replay_timeout_s=5.0)
    ingest.handle(MARKET, _market_group("2025-01-13T10:00:00+10:00"))
    ingest.flush()
    assert hub.sources.expire(now=time.monotonic() + 4.0) == []
    engine.step()
    market = MarketData.model_validate(hub.latest("market/NEM").data)
    assert market.source == "replay" and market.dataset == "market.csv"
    assert [r.price_aud_per_mwh for r in market.regions] == [91.5, 55.0]
    assert hub.sources.takeovers == 1


def test_market_rows_keep_their_generation_and_add_the_facilities_mix(
    settings: Settings,
) -> None:
    _, hub, ingest = _stack(settings)
    ingest.handle(MARKET, _market_group("2025-01-13T10:05:00+10:00"))
    ingest.handle(FACILITIES, _facility_group("2025-01-13T10:05:00+10:00"))
    ingest.flush()
    market = MarketData.model_validate(hub.latest("market/NEM").data)
    qld = next(r for r in market.regions if r.region == "QLD1")
    assert (qld.price_aud_per_mwh, qld.demand_mw, qld.generation_mw) == (55.0, 5000, 300)
    assert qld.generation_by_fueltech_mw == {"coal_black": 300}
    assert market.dataset == "market.csv"
    assert _sources(hub).datasets == ["day.csv", "market.csv"]


def test_replayed_history_is_kept_apart_from_the_simulators(settings: Settings) -> None:
    engine, hub, ingest = _stack(settings)
    engine.step()
    ingest.handle(FACILITIES, _facility_group("2025-01-13T10:00:00+10:00"))
    ingest.flush()
    engine.step()
    sim_ring = hub.history("facilities")
    replay_ring = hub.history("replay/facilities")
    assert sim_ring is not None and replay_ring is not None
    assert not any(name.startswith("RPL") for name in sim_ring.series)
    assert {"RPL1.power_mw", "RPL3.power_mw"} <= set(replay_ring.series)
    assert hub.history("replay/market/NEM") is not None
    assert next(t for t in _sources(hub).topics if t.topic == "facilities").history_topic == (
        "replay/facilities"
    )


def test_a_loop_that_rewinds_dataset_time_restarts_the_replays_past(settings: Settings) -> None:
    _, hub, ingest = _stack(settings)
    for stamp, power in (("10:00", 1.0), ("10:05", 2.0), ("10:10", 3.0), ("10:00", 4.0)):
        ingest.handle(FACILITIES, _facility_group(f"2025-01-13T{stamp}:00+10:00", power))
        ingest.flush()
    ring = hub.history("replay/facilities")
    times, columns = ring.window(["RPL1.power_mw"], None, None)
    assert times.tolist() == [datetime(2025, 1, 13, 0, 0, tzinfo=UTC).timestamp()]
    assert columns["RPL1.power_mw"].tolist() == [4.0]
    assert hub.latest("facilities").ts == datetime(2025, 1, 13, 0, 0, tzinfo=UTC)


def test_a_new_replay_session_starts_its_own_ring(settings: Settings) -> None:
    _, hub, ingest = _stack(settings, replay_timeout_s=5.0)
    ingest.handle(FACILITIES, _facility_group("2025-01-13T10:00:00+10:00", dataset="a.csv"))
    ingest.flush()
    hub.sources.expire(now=time.monotonic() + 5.0)
    ingest.handle(FACILITIES, _facility_group("2025-06-01T10:00:00+10:00", dataset="b.csv"))
    ingest.flush()
    times, _ = hub.history("replay/facilities").window(["RPL1.power_mw"], None, None)
    assert times.tolist() == [datetime(2025, 6, 1, 0, 0, tzinfo=UTC).timestamp()]
    assert _sources(hub).datasets == ["b.csv"] and hub.sources.takeovers == 2


def test_dataset_names_are_bounded_and_optional() -> None:
    assert dataset_of({"dataset": " day.csv ", "rows": []}) == "day.csv"
    assert dataset_of({"dataset": "x" * 201, "rows": []}) is None
    assert dataset_of({"dataset": 5, "rows": []}) is None
    assert dataset_of({"rows": []}) is None
    assert dataset_of([{"power_mw": 1}]) is None


def test_rows_without_a_dataset_name_still_take_over_unnamed(settings: Settings) -> None:
    _, hub, ingest = _stack(settings)
    ingest.handle("energydash/facilities/RPL9", orjson.dumps({"power_mw": 3.0}))
    ingest.flush()
    sources = _sources(hub)
    assert sources.mode == "replay" and sources.datasets == []
    assert FacilitiesData.model_validate(hub.latest("facilities").data).dataset is None


def test_a_rewound_replay_leaves_only_its_new_pass_in_the_stored_history(
    settings: Settings,
) -> None:
    from energydash.history import open_store

    _, hub, ingest = _stack(settings)
    store = open_store(settings)
    assert store is not None
    store.start()
    hub.store = store
    try:
        for stamp in ("10:00", "10:05", "10:10", "10:00", "10:05"):
            ingest.handle(FACILITIES, _facility_group(f"2025-01-13T{stamp}:00+10:00"))
            ingest.flush()
        answer = store.query("replay/facilities", ["RPL1.power_mw"], None, None)
        first = datetime(2025, 1, 13, 0, 0, tzinfo=UTC).timestamp()
        assert answer.times.tolist() == [first, first + 300]  # not 10:10 of the earlier pass
        assert "RPL1.power_mw" not in store.series("facilities")
    finally:
        store.close()


def test_the_next_replay_does_not_inherit_the_last_ones_facilities(settings: Settings) -> None:
    _, hub, ingest = _stack(settings, replay_timeout_s=5.0)
    ingest.handle(FACILITIES, _facility_group("2025-01-13T10:00:00+10:00", dataset="a.csv"))
    ingest.flush()
    hub.sources.expire(now=time.monotonic() + 5.0)  # a's replay went silent
    rows = [{"code": "NEW1", "power_mw": 1}]
    other = {"timestamp": "2025-06-01T10:00:00+10:00", "dataset": "c.csv", "rows": rows}
    ingest.handle(FACILITIES, orjson.dumps(other))
    ingest.flush()
    assert hub.latest("facilities").data["facilities"]["code"] == ["NEW1"]
    # another dataset while one runs replaces its table too
    ingest.handle(FACILITIES, _facility_group("2025-01-13T10:05:00+10:00", dataset="b.csv"))
    ingest.flush()
    facilities = FacilitiesData.model_validate(hub.latest("facilities").data)
    assert facilities.facilities.code == ["RPL1", "RPL2", "RPL3"] and facilities.dataset == "b.csv"
    market = MarketData.model_validate(hub.latest("market/NEM").data)
    assert {r.region for r in market.regions} == {"NSW1", "QLD1"}


def test_another_market_dataset_replaces_the_regions_of_the_last(settings: Settings) -> None:
    _, hub, ingest = _stack(settings)
    ingest.handle(MARKET, _market_group("2025-01-13T10:00:00+10:00", dataset="one.csv"))
    ingest.flush()
    row = {"network": "NEM", "region": "TAS1", "price_aud_per_mwh": 30.0}
    group = {"timestamp": "2025-02-01T10:00:00+10:00", "dataset": "two.csv", "rows": [row]}
    ingest.handle(MARKET, orjson.dumps(group))
    ingest.flush()
    market = MarketData.model_validate(hub.latest("market/NEM").data)
    assert [r.region for r in market.regions] == ["TAS1"] and market.dataset == "two.csv"
