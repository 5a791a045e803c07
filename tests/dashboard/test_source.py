"""Grid pages read one source: the simulator's or a replay's frames, labelled, never both."""

from __future__ import annotations

from datetime import timedelta, timezone

from energydash.dashboard.components.source import (
    grid_data,
    history_topic,
    market_topic,
    source_key,
    source_label,
    source_updates,
)
from energydash.dashboard.feed import BackendFeed

AEST = timezone(timedelta(hours=10))
REPLAYING = {
    "mode": "replay",
    "datasets": ["day.csv"],
    "topics": [{"topic": "facilities"}, {"topic": "market/NEM"}],
    "timeout_s": 15.0,
}
SIM = {"mode": "sim", "datasets": [], "topics": [], "timeout_s": 15.0}


def market(source: str, price: float) -> dict:
    regions = [{"region": "NSW1", "price_aud_per_mwh": price}]
    return {"network": "NEM", "interval": None, "regions": regions, "source": source}


def feed_with(source_state: dict, market_source: str) -> BackendFeed:
    feed = BackendFeed("http://127.0.0.1:1")
    feed.ingest("sources", "2026-12-01T00:00:00Z", source_state)
    feed.ingest("market/NEM", "2025-01-13T00:05:00Z", market(market_source, 91.0))
    return feed


def test_a_frame_from_the_other_source_is_not_shown() -> None:
    assert grid_data(feed_with(REPLAYING, "replay"), "market/NEM") is not None
    assert grid_data(feed_with(REPLAYING, "sim"), "market/NEM") is None  # a stale sim frame
    assert grid_data(feed_with(SIM, "replay"), "market/NEM") is None  # a replay just ended
    assert grid_data(feed_with(SIM, "sim"), "market/NEM") is not None


def test_the_label_names_the_dataset_and_its_own_time() -> None:
    label = source_label(feed_with(REPLAYING, "replay"), "market/NEM", AEST, "AEST")
    assert label == "Replay: day.csv · dataset time 2025-01-13 10:05:00 AEST"
    sim = source_label(feed_with(SIM, "sim"), "market/NEM", AEST, "AEST")
    assert sim == "Simulation · sim time 2025-01-13 10:05:00 AEST"
    assert "no data yet" in source_label(feed_with(REPLAYING, "sim"), "market/NEM", AEST, "AEST")


def test_a_replay_reads_its_own_market_topic_and_history() -> None:
    feed = feed_with({**REPLAYING, "topics": [{"topic": "market/WEM"}]}, "sim")
    feed.ingest("market/WEM", "2025-01-13T00:05:00Z", market("replay", 40.0))
    assert market_topic(feed, "NEM") == "market/WEM"
    assert history_topic(feed, "market/WEM") == "replay/market/WEM"
    assert market_topic(feed_with(SIM, "sim"), "NEM") == "market/NEM"
    assert history_topic(feed_with(SIM, "sim"), "market/NEM") == "market/NEM"


def test_a_rewound_replay_clock_restarts_the_feed_history_and_changes_the_page_key() -> None:
    feed = feed_with(REPLAYING, "replay")
    feed.ingest("market/NEM", "2025-01-13T00:10:00Z", market("replay", 92.0))
    key = source_key(feed, "market/NEM")
    assert len(feed.history("market/NEM")) == 2
    feed.ingest("market/NEM", "2025-01-13T00:00:00Z", market("replay", 90.0))  # a loop
    assert [p.ts for p in feed.history("market/NEM")] == ["2025-01-13T00:00:00Z"]
    assert source_key(feed, "market/NEM") != key


def test_the_feed_never_joins_two_sources_in_one_history() -> None:
    feed = feed_with(SIM, "sim")
    feed.ingest("market/NEM", "2025-01-13T00:10:00Z", market("replay", 92.0))
    assert [p.values["regions"][0]["price_aud_per_mwh"] for p in feed.history("market/NEM")] == [
        92.0
    ]


def test_a_page_reloads_only_once_the_new_sources_data_is_there() -> None:
    feed = feed_with(SIM, "sim")
    memo: dict = {}
    first = source_updates("market", feed, "market/NEM", AEST, "AEST", memo)
    assert any(isinstance(target, dict) for target, _ in first)  # the key the page drew
    feed.ingest("sources", "2026-12-01T00:00:01Z", REPLAYING)
    waiting = source_updates("market", feed, "market/NEM", AEST, "AEST", memo)
    assert not any(isinstance(target, dict) for target, _ in waiting)  # no replay frame yet
    feed.ingest("market/NEM", "2025-01-13T00:10:00Z", market("replay", 92.0))
    ready = source_updates("market", feed, "market/NEM", AEST, "AEST", memo)
    keys = [props["data"] for target, props in ready if isinstance(target, dict)]
    assert keys == [source_key(feed, "market/NEM")] and keys[0].startswith("replay|day.csv|")
