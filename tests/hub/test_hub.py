"""The hub: sequence numbers, shared frames, wildcard routing, history rings, snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pytest

from energydash.config import Settings
from energydash.hub import Hub, TopicState, matches, validate_pattern
from energydash.hub.history import SeriesRing, downsample
from energydash.hub.snapshots import SnapshotPublisher
from energydash.models import (
    DeviceData,
    Envelope,
    FacilitiesData,
    MarketData,
    PduOutletsData,
    PduSummaryData,
)
from energydash.sim.engine import Engine

T0 = datetime(2025, 1, 15, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.states: list[TopicState] = []

    def deliver(self, state: TopicState) -> None:
        self.states.append(state)


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("pdu/+/outlets", "pdu/12/outlets", True),
        ("pdu/+/outlets", "pdu/12/summary", False),
        ("pdu/#", "pdu/1/outlets", True),
        ("#", "facilities", True),
        ("pdu/+", "pdu/1/outlets", False),
        ("market/NEM", "market/NEM", True),
        ("market/+/x", "market/NEM", False),
    ],
)
def test_wildcards_follow_mqtt_rules(pattern: str, topic: str, expected: bool) -> None:
    assert matches(pattern, topic) is expected


def test_invalid_patterns_are_explained() -> None:
    assert validate_pattern("pdu/#/x") and validate_pattern("pdu/a+") and validate_pattern("")
    assert validate_pattern("pdu/+/outlets") is None


def test_seq_grows_per_topic_and_frames_are_encoded_once(settings: Settings) -> None:
    hub = Hub(settings)
    first = hub.publish("a", {"x": 1}, ts=T0)
    second = hub.publish("a", {"x": float("nan")}, ts=T0 + timedelta(seconds=1))
    other = hub.publish("b", {"x": 3}, ts=T0)
    assert (first.seq, second.seq, other.seq) == (1, 2, 1)
    assert second.frame("update") is second.frame("update")  # the same object for every client
    frame = orjson.loads(second.frame("update"))
    assert frame == {
        "type": "update",
        "topic": "a",
        "seq": 2,
        "ts": "2025-01-15T00:00:01Z",
        "data": {"x": None},
    }  # NaN (sensor dropout) is null on the wire
    Envelope.model_validate(orjson.loads(second.frame("snapshot")))


def test_subscribers_get_current_state_and_topics_that_appear_later(settings: Settings) -> None:
    hub = Hub(settings)
    hub.publish("pdu/1/outlets", {}, ts=T0)
    recorder = Recorder()
    fresh = hub.subscribe(recorder, ["pdu/+/outlets"])
    assert [s.topic for s in fresh] == ["pdu/1/outlets"]
    hub.publish("pdu/2/outlets", {}, ts=T0)
    hub.publish("pdu/2/summary", {}, ts=T0)
    assert [s.topic for s in recorder.states] == ["pdu/2/outlets"]
    hub.unsubscribe(recorder, ["pdu/+/outlets"])
    hub.publish("pdu/2/outlets", {}, ts=T0)
    assert len(recorder.states) == 1


def test_history_keeps_one_point_per_resolution_bucket_and_stays_bounded() -> None:
    ring = SeriesRing(length=10, resolution_s=5.0)
    for second in range(100):
        ring.record(T0 + timedelta(seconds=second), {"p": float(second)})
    times, columns = ring.window(["p"], None, None)
    assert times.size == 10  # bounded: the last 10 buckets of 5 s
    assert columns["p"].tolist() == [54.0, 59.0, 64.0, 69.0, 74.0, 79.0, 84.0, 89.0, 94.0, 99.0]
    assert np.all(np.diff(times) > 0)
    start = (T0 + timedelta(seconds=80)).timestamp()
    times, columns = ring.window(["p"], start, None)
    assert columns["p"].tolist() == [84.0, 89.0, 94.0, 99.0]


def test_downsample_averages_each_bucket() -> None:
    times = np.array([0.0, 1.0, 2.0, 10.0, 11.0])
    _, columns = downsample(times, {"p": np.array([1.0, 2.0, np.nan, 10.0, 20.0])}, 10.0)
    assert columns["p"].tolist() == [1.5, 15.0]


def test_engine_snapshots_match_the_wire_models(settings: Settings) -> None:
    engine = Engine.from_settings(settings, restore=False)
    hub = Hub(settings)
    publisher = SnapshotPublisher(engine, hub)
    publisher.attach()
    engine.step()
    outlets = PduOutletsData.model_validate(hub.latest("pdu/1/outlets").data)
    assert len(outlets.outlets.id) == len(outlets.outlets.power_w) == 48
    summary = PduSummaryData.model_validate(hub.latest("pdu/1/summary").data)
    assert summary.outlets_total == 48
    assert summary.power_w == pytest.approx(
        sum(p for p in outlets.outlets.power_w if p is not None), rel=0.05
    )
    FacilitiesData.model_validate(hub.latest("facilities").data)
    market = MarketData.model_validate(hub.latest("market/NEM").data)
    assert {r.region for r in market.regions} >= {"NSW1", "VIC1"}
    device_topic = next(t for t in hub.topics() if t.startswith("devices/"))
    device = DeviceData.model_validate(hub.latest(device_topic).data)
    assert device_topic == f"devices/{device.pdu_id}-{device.outlet_id}"
