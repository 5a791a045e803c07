"""Anomaly scores in history: one series per scored sensor, bounded by the store's setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from energydash.config import Settings
from energydash.history import open_store
from energydash.hub import Hub
from energydash.hub.series import extract
from energydash.models.alerts import ScoresData

T0 = datetime(2027, 1, 15, 8, tzinfo=UTC)
SENSORS = ["hvac-01/discharge_temp_c", "motor-01/bearing_temp_c", "pdu-1-probe/temperature_c"]


def scores(values: list[float]) -> dict:
    return ScoresData(series=SENSORS, score=values).model_dump()


def test_scores_extract_one_value_per_scored_series() -> None:
    values = extract("analytics/scores", scores([0.2, 1.4, 0.35]))
    assert values == {
        "hvac-01/discharge_temp_c": 0.2,
        "motor-01/bearing_temp_c": 1.4,
        "pdu-1-probe/temperature_c": 0.35,
    }


def test_scores_extract_keeps_only_the_first_max_scores_series() -> None:
    values = extract("analytics/scores", scores([0.2, 1.4, 0.35]), max_scores=2)
    assert list(values) == SENSORS[:2]
    assert extract("analytics/scores", scores([0.2, 1.4, 0.35]), max_scores=0) == {}


def test_scores_extract_ignores_what_is_not_a_number() -> None:
    data = {"series": ["a", "b", 7], "score": [True, "x", 1.0]}
    assert extract("analytics/scores", data) == {"a": None, "b": None}


def test_hub_stores_scores_history_bounded_by_the_setting(settings: Settings) -> None:
    bounded = settings.model_copy(update={"history_scores_max_series": 2})
    store = open_store(bounded)
    assert store is not None
    store.start()
    hub = Hub(bounded)
    hub.store = store
    try:
        for k in range(3):
            ts = T0 + timedelta(seconds=10 * k)
            hub.publish("analytics/scores", scores([0.1 * k, 1.0 + k, 9.0]), ts=ts)
        assert store.series("analytics/scores") == SENSORS[:2]
        answer = store.query("analytics/scores", SENSORS[:2], None, None)
        assert answer.times.tolist() == [
            (T0 + timedelta(seconds=10 * k)).timestamp() for k in range(3)
        ]
        assert answer.columns["motor-01/bearing_temp_c"].tolist() == [1.0, 2.0, 3.0]
        ring = hub.history("analytics/scores")
        assert ring is not None and sorted(ring.series) == sorted(SENSORS[:2])
    finally:
        store.close()
