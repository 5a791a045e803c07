"""Every MQTT payload family is bounded: a refusal is counted, never raised, and changes nothing.

The parsing and bookkeeping under test is ``MqttIngest.handle`` / ``MqttPublisher.handle``,
the functions the broker link calls for each message; the broker itself is exercised by the
memory tests (tests/app/test_memory_bounds.py).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from energydash.config import Settings
from energydash.hub import Hub
from energydash.mqtt.ingest import MqttIngest
from energydash.mqtt.publish import MqttPublisher
from energydash.sim.engine import Engine

ROOTS = {
    "facility": "energydash/facilities/BAYSW",
    "facilities/all": "energydash/facilities/all",
    "market": "energydash/market/NEM/price",
    "device": "energy/devices/rack9-X1/data",
}


def _ingest(settings: Settings, **overrides: Any) -> tuple[MqttIngest, Hub]:
    cfg = settings.model_copy(update=overrides)
    hub = Hub(cfg)
    engine = Engine.from_settings(cfg, restore=False)
    return MqttIngest(cfg, hub, engine), hub


def _state(ingest: MqttIngest, hub: Hub) -> Any:
    ingest.flush()
    return (
        copy.deepcopy(ingest.facilities),
        copy.deepcopy(ingest.market),
        ingest.facility_ts,
        dict(ingest.market_ts),
        hub.topics(),
        list(ingest._devices),
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=15,
)
row_like = st.dictionaries(
    st.sampled_from(
        ["facility_code", "code", "power_mw", "timestamp", "region", "network", "value",
         "price_aud_per_mwh", "metric", "power_w", "energy_kwh", "online", "name", "rows"]
    ),
    json_values | st.sampled_from(["2025-01-15T00:00:00Z", "NSW1", "NEM", 12.5]),
    max_size=6,
)  # fmt: skip


def _encode(value: Any) -> bytes:
    import json

    return json.dumps(value).encode()  # stdlib: NaN, 2**70, as a careless sender would


@hsettings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    family=st.sampled_from(list(ROOTS)),
    payload=st.one_of(
        json_values.map(_encode),
        row_like.map(_encode),
        st.lists(row_like, max_size=3).map(_encode),
        st.binary(max_size=40),
    ),
)
def test_any_ingest_payload_is_counted_never_raised_and_a_refusal_changes_nothing(
    settings: Settings, family: str, payload: bytes
) -> None:
    ingest, hub = _ingest(settings)
    before = _state(ingest, hub)
    counts = (ingest.accepted, ingest.malformed)
    ingest.handle(ROOTS[family], payload)
    after = _state(ingest, hub)
    assert (ingest.accepted, ingest.malformed) != counts  # counted one way or the other
    if ingest.malformed > counts[1]:
        assert after == before


@hsettings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=st.one_of(json_values.map(_encode), st.binary(max_size=40)))
def test_any_device_command_payload_is_acknowledged_never_raised(
    settings: Settings, payload: bytes
) -> None:
    engine = Engine.from_settings(settings, restore=False)
    publisher = MqttPublisher(settings, Hub(settings), engine)
    fingerprint = orjson.dumps(engine._payload()["outlets"], option=orjson.OPT_SERIALIZE_NUMPY)
    publisher.handle("energy/devices/1-A1/commands", payload)
    ack = publisher._last_command["1-A1"]
    if not ack["ok"]:
        after = orjson.dumps(engine._payload()["outlets"], option=orjson.OPT_SERIALIZE_NUMPY)
        assert after == fingerprint
        assert ack["message"]


def test_an_oversized_payload_is_counted_and_dropped_before_parsing(settings: Settings) -> None:
    ingest, hub = _ingest(settings, mqtt_max_payload_bytes=4096)
    before = _state(ingest, hub)
    ingest.handle(ROOTS["facility"], b"{" * 5000)  # not even JSON: it is never parsed
    assert (ingest.oversized, ingest.malformed, ingest.accepted) == (1, 1, 0)
    assert _state(ingest, hub) == before
    assert ingest.stats()["oversized"] == 1


def test_a_facility_row_without_code_on_the_all_topic_is_malformed(settings: Settings) -> None:
    ingest, _ = _ingest(settings)
    ingest.handle(ROOTS["facilities/all"], orjson.dumps({"power_mw": 5.0}))
    assert (ingest.malformed, ingest.accepted) == (1, 0)
    assert "all" not in ingest.facilities
    ingest.handle(ROOTS["facilities/all"], orjson.dumps({"facility_code": "X1", "power_mw": 5}))
    assert list(ingest.facilities) == ["X1"]


def test_the_backends_own_device_echo_is_not_counted_as_accepted(settings: Settings) -> None:
    ingest, _ = _ingest(settings)
    ingest.handle("energy/devices/1-A1/data", orjson.dumps({"power_w": 10.0}))  # simulated
    ingest.handle("energy/devices/rack9-X1/data", orjson.dumps({"power_w": 10.0}))  # another's
    assert (ingest.accepted, ingest.echoes) == (1, 1)


def test_replayed_time_follows_the_rows_and_a_loop_rewinds_it(settings: Settings) -> None:
    ingest, hub = _ingest(settings)
    for stamp in ("2025-01-15T10:00:00+10:00", "2025-01-15T10:05:00+10:00"):
        ingest.handle(ROOTS["facility"], orjson.dumps({"power_mw": 1.0, "timestamp": stamp}))
        ingest.handle(
            ROOTS["market"], orjson.dumps({"region": "NSW1", "value": 50, "timestamp": stamp})
        )
    ingest.flush()
    assert hub.latest("facilities").ts == datetime(2025, 1, 15, 0, 5, tzinfo=UTC)
    loop = "2025-01-15T10:00:00+10:00"  # the replay loops back to its first row
    ingest.handle(ROOTS["facility"], orjson.dumps({"power_mw": 2.0, "timestamp": loop}))
    ingest.handle(ROOTS["market"], orjson.dumps({"region": "NSW1", "value": 60, "timestamp": loop}))
    ingest.flush()
    assert hub.latest("facilities").ts == datetime(2025, 1, 15, 0, 0, tzinfo=UTC)
    assert hub.latest("market/NEM").ts == datetime(2025, 1, 15, 0, 0, tzinfo=UTC)
    assert hub.latest("facilities").data["interval"] == "2025-01-15T00:00:00Z"


def test_facility_and_region_counts_are_bounded(settings: Settings) -> None:
    ingest, _ = _ingest(settings, ingest_max_facilities=3, ingest_max_market_regions=2)
    rows = [{"facility_code": f"F{k}", "power_mw": 1.0} for k in range(4)]
    ingest.handle(ROOTS["facilities/all"], orjson.dumps(rows))
    assert ingest.facilities == {} and ingest.malformed == 1  # all or nothing
    ingest.handle(ROOTS["facilities/all"], orjson.dumps(rows[:3]))
    ingest.handle(ROOTS["facilities/all"], orjson.dumps(rows[:3]))  # known codes still update
    assert len(ingest.facilities) == 3 and ingest.accepted == 2
    for region in ("NSW1", "VIC1", "QLD1"):
        ingest.handle(ROOTS["market"], orjson.dumps({"region": region, "value": 1.0}))
    assert sorted(ingest.market["NEM"]) == ["NSW1", "VIC1"] and ingest.malformed == 2


def test_ingested_devices_are_bounded_least_recent_first_and_expire_when_silent(
    settings: Settings,
) -> None:
    ingest, hub = _ingest(settings, ingest_max_devices=3, ingest_device_ttl_s=60.0)
    for name in ("g1", "g2", "g3"):
        ingest.handle(f"energy/devices/{name}/data", orjson.dumps({"power_w": 1.0}))
    ingest.handle("energy/devices/g1/data", orjson.dumps({"power_w": 2.0}))  # g1 heard again
    ingest.handle("energy/devices/g4/data", orjson.dumps({"power_w": 1.0}))
    assert [t for t in hub.topics() if t.startswith("devices/g")] == [
        "devices/g1",
        "devices/g3",
        "devices/g4",
    ]
    assert hub.history("devices/g2") is None and ingest.devices_evicted == 1
    import time

    assert ingest.expire_devices(time.monotonic() + 61.0) == 3
    assert not [t for t in hub.topics() if t.startswith("devices/g")]
    assert ingest.stats()["devices_expired"] == 3


@pytest.mark.parametrize("count", [1, 2])
def test_history_rings_grow_as_data_arrives(settings: Settings, count: int) -> None:
    hub = Hub(settings)
    for k in range(count):
        hub.publish(
            "devices/x", {"power_w": float(k)}, ts=datetime(2025, 1, 1, 0, 0, 10 * k, tzinfo=UTC)
        )
    ring = hub.history("devices/x")
    assert ring is not None and ring.capacity < settings.history_length
    assert ring.times.size == ring.capacity
