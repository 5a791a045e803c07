"""The SQLite history store: tiers, retention, bounds, restarts; and /api/v1/history over it."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from energydash.app import create_app
from energydash.config import Settings
from energydash.history import Tier
from energydash.history.sqlite import SqliteHistoryStore

T0 = 1_800_000_000.0  # a minute boundary (2027-01-15T08:00:00Z)
TIERS = (Tier(0.0, 3600.0), Tier(60.0, 86400.0), Tier(300.0, 7 * 86400.0), Tier(1800.0, 1e9))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteHistoryStore]:
    history = SqliteHistoryStore(tmp_path / "history.sqlite3", TIERS, flush_s=60.0)
    history.start()
    yield history
    history.close()


def feed(store: SqliteHistoryStore, seconds: int, start: float = T0) -> None:
    for i in range(seconds):
        store.record("pdu/1/summary", start + i, {"power_w": float(i), "energy_kwh": i / 10})


def test_values_survive_closing_and_reopening_the_store(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    first = SqliteHistoryStore(path, TIERS)
    first.start()
    feed(first, 120)
    first.close()
    again = SqliteHistoryStore(path, TIERS)
    again.start()
    try:
        answer = again.query("pdu/1/summary", ["power_w"], T0, T0 + 119)
        assert answer.tier.name == "raw"
        assert answer.times.tolist() == [T0 + i for i in range(120)]
        assert answer.columns["power_w"].tolist() == [float(i) for i in range(120)]
        assert again.series("pdu/1/summary") == ["power_w", "energy_kwh"]
    finally:
        again.close()


def test_one_minute_tier_holds_each_minutes_mean(store: SqliteHistoryStore) -> None:
    feed(store, 180)  # three whole minutes, then the next message closes the third
    store.record("pdu/1/summary", T0 + 180, {"power_w": 0.0})
    answer = store.query("pdu/1/summary", ["power_w"], T0, T0 + 179, step_s=60)
    assert answer.tier.name == "60s"
    assert answer.times.tolist() == [T0, T0 + 60, T0 + 120]
    assert answer.columns["power_w"].tolist() == [29.5, 89.5, 149.5]


def test_a_range_too_long_for_raw_rows_reads_a_coarser_tier(store: SqliteHistoryStore) -> None:
    feed(store, 1200)
    store.record("pdu/1/summary", T0 + 1200, {"power_w": 0.0})
    answer = store.query("pdu/1/summary", ["power_w"], T0, T0 + 1199, max_rows=100)
    assert answer.tier.name == "60s"
    assert answer.times.size == 20
    raw = store.query("pdu/1/summary", ["power_w"], T0 + 1100, T0 + 1199, max_rows=100)
    assert raw.tier.name == "raw" and raw.times.size == 100


def test_retention_drops_old_raw_rows_but_keeps_their_minutes(
    store: SqliteHistoryStore,
) -> None:
    feed(store, 7200)  # two hours; raw keeps one
    store.prune()
    raw = store.query("pdu/1/summary", ["power_w"], T0, T0 + 600, step_s=1)
    assert raw.times.size == 0 or raw.tier.name != "raw"  # the raw hour is gone
    minutes = store.query("pdu/1/summary", ["power_w"], T0, T0 + 600, step_s=60)
    assert minutes.tier.name == "60s" and minutes.times[0] == T0
    recent = store.query("pdu/1/summary", ["power_w"], T0 + 7000, None, step_s=1)
    assert recent.tier.name == "raw" and recent.times[-1] == T0 + 7199


def test_a_series_appearing_later_is_empty_before_it_appeared(store: SqliteHistoryStore) -> None:
    store.record("devices/x", T0, {"power_w": 1.0})
    store.record("devices/x", T0 + 1, {"power_w": 2.0, "energy_kwh": 5.0})
    answer = store.query("devices/x", ["power_w", "energy_kwh"], None, None)
    assert answer.columns["power_w"].tolist() == [1.0, 2.0]
    energy = answer.columns["energy_kwh"].tolist()
    assert energy[0] != energy[0] and energy[1] == 5.0  # NaN, then the value


def test_the_write_queue_is_bounded_and_counts_what_it_dropped(tmp_path: Path) -> None:
    history = SqliteHistoryStore(tmp_path / "h.sqlite3", TIERS, queue_max=1000)
    feed(history, 1500)  # not started: nothing is written yet, so the queue overflows
    assert history.stats()["queued"] == 1000 and history.dropped == 500
    history.start()
    try:
        answer = history.query("pdu/1/summary", ["power_w"], None, None)
        assert answer.times[0] == T0 + 500 and answer.times.size == 1000
    finally:
        history.close()


def test_a_file_that_is_not_a_database_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(RuntimeError, match=r"history\.sqlite3"):
        SqliteHistoryStore(path, TIERS).start()


def _client(settings: Settings) -> TestClient:
    cfg = settings.model_copy(update={"mqtt_ingest": False, "mqtt_publish": False})
    return TestClient(create_app(cfg))


def test_backend_restart_keeps_the_past_in_api_history(settings: Settings) -> None:
    auth = (settings.redfish_user, settings.redfish_password.get_secret_value())
    with _client(settings) as client:
        for _ in range(20):
            client.portal.call(client.app.state.engine.step)
        before = client.get(
            "/api/v1/history/pdu/1/summary", params={"series": "energy_kwh"}, auth=auth
        ).json()
    assert len(before["timestamps"]) >= 20
    with _client(settings) as client:  # a new backend on the same data directory
        after = client.get(
            "/api/v1/history/pdu/1/summary",
            params={"series": "energy_kwh", "end": before["timestamps"][-1]},
            auth=auth,
        ).json()
        # The stepped test clock starts again at its start time, so the new backend records
        # that first instant anew; everything after it is the first backend's, from disk.
        assert after["timestamps"] == before["timestamps"]
        assert after["series"]["energy_kwh"][1:] == before["series"]["energy_kwh"][1:]
        assert after["tier"] == "raw"
        energy = after["series"]["energy_kwh"][1:]
        assert all(b >= a for a, b in itertools.pairwise(energy))
        table = pq.read_table(
            io.BytesIO(
                client.get(
                    "/api/v1/history/pdu/1/summary",
                    params={"series": "power_w,energy_kwh", "format": "parquet"},
                    auth=auth,
                ).content
            )
        )
    assert table.column_names == ["timestamp", "power_w", "energy_kwh"]
    assert table.num_rows >= 20
    assert str(table.schema.field("timestamp").type) == "timestamp[ms, tz=UTC]"
