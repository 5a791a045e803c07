"""`energydash replay`: CSV rows → MQTT on an absolute schedule, nothing lost at QoS >= 1.

Pacing is absolute: message k is due at ``start + (ts_k - ts_0) / speed`` (or ``k / rate``), so
a slow publish never stretches the schedule; the lag behind it is reported instead. Backpressure
comes from paho's bounded in-flight window and a bounded out-queue: a publish the client refuses
(queue full, or not connected at QoS 0) is retried until it is taken, never dropped. At QoS >= 1
paho keeps each message until its PUBACK and re-sends unacknowledged ones after a reconnect, so a
broker that restarts mid-replay costs time, not messages; ``--verify`` proves it by subscribing
alongside and matching every message sent.

``connections`` > 1 opens that many publisher connections and shards rows between them by a
column (``facility_code`` when the file has one): the same facility always goes through the same
connection, so its rows stay in order; a grouped interval becomes one message per connection.
``latency`` adds a ``ReplayTrace`` (models/replay.py) to each JSON payload, which
`energydash record` turns into delivery latency, gaps and duplicates.
"""

from __future__ import annotations

import os
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from string import Template
from typing import Any, Literal

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

from energydash.config import Settings
from energydash.models.ingest import ReplayGroup
from energydash.models.replay import TRACE_KEY, ReplayTrace
from energydash.mqtt.replay_source import BadRow, CsvSource, Row
from energydash.mqtt.toolclient import (
    ToolConnectError,
    ToolConnection,
    connect,
    make_client,
    publish_properties,
)

PRESETS: dict[str, dict[str, Any]] = {
    # The converter's facility_metrics_wide.csv → the backend's facility ingest.
    "facility": {
        "topic": "{facility_root}/{{facility_code}}",
        "group_topic": "{facility_root}/all",
        "timestamp_column": "timestamp",
        "group": True,
        "types": {
            "power_mw": "float",
            "emissions_t": "float",
            "energy_mwh": "float",
            "market_value_aud": "float",
            "lat": "float",
            "lng": "float",
            "capacity_mw": "float",
            "facility_code": "str",
            "name": "str",
            "region": "str",
            "fueltech": "str",
            "network": "str",
        },
    },
    # The converter's market_metrics_wide.csv → the backend's market ingest.
    "market": {
        "topic": "{market_root}/{{network}}",
        "group_topic": None,
        "timestamp_column": "timestamp",
        "group": True,
        "types": {"network": "str", "region": "str"},
    },
}


class ReplayError(Exception):
    """A replay that cannot go on (bad option, bad row with --on-error fail, no broker)."""


@dataclass(kw_only=True)
class ReplayOptions(ToolConnection):
    """Replay options; the broker connection's fields are ToolConnection's."""

    path: Path
    topic: str
    timestamp_column: str | None = None
    group_topic: str | None = None
    group_by_timestamp: bool = False
    mode: Literal["speed", "max", "rate"] = "max"
    speed: float = 1.0
    rate: float = 0.0
    columns: list[str] | None = None
    types: dict[str, str] = field(default_factory=dict)
    payload_template: str | None = None
    qos: int = 1
    retain: bool = False
    loops: int = 1  # 0: forever
    rebase: bool = False
    max_inflight: int = 100
    queue_size: int = 10_000
    verify: bool = False
    verify_topic: str | None = None
    verify_wait_s: float = 10.0
    drain_timeout_s: float = 120.0
    on_error: Literal["skip", "fail"] = "skip"
    limit: int = 0  # stop after this many messages (0: no limit)
    connections: int = 1
    shard_column: str | None = None  # default: facility_code if the file has it, else the topic
    latency: bool = False
    dataset: str | None = None  # named in grouped payloads: the faces label the replay with it


def options_from_preset(name: str, settings: Settings, **overrides: Any) -> ReplayOptions:
    preset = PRESETS[name]
    roots = {
        "facility_root": settings.mqtt_facility_root.rstrip("/"),
        "market_root": settings.mqtt_market_root.rstrip("/"),
    }
    values: dict[str, Any] = {
        "topic": preset["topic"].format(**roots),
        "group_topic": preset["group_topic"].format(**roots) if preset["group_topic"] else None,
        "timestamp_column": preset["timestamp_column"],
        "group_by_timestamp": preset["group"],
        "types": dict(preset["types"]),
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ReplayOptions(**values)


@dataclass
class Stats:
    rows: int = 0
    messages: int = 0
    acked_by: list[int] = field(default_factory=lambda: [0])  # per publisher connection
    bad_rows: int = 0
    retries: int = 0
    reconnects: int = 0
    disconnects: int = 0
    max_lag_s: float = 0.0
    lag_s: float = 0.0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    loops_done: int = 0
    total_rows: int = 0
    first_error: str | None = None

    @property
    def acked(self) -> int:
        return sum(self.acked_by)

    @property
    def in_flight(self) -> int:
        return self.messages - self.acked

    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started


def _topic_renderer(template: str) -> Callable[[dict[str, str]], str]:
    if "{" not in template:
        return lambda _raw: template
    return lambda raw: template.format_map(raw)


def _topic_filter(template: str) -> str:
    """The subscription that covers every topic a template renders: its fixed prefix + '#'."""
    fixed = template.split("{", 1)[0]
    if fixed == template:
        return template
    return fixed.rsplit("/", 1)[0] + "/#" if "/" in fixed else "#"


class Verifier:
    """A second client subscribed alongside; matches received messages against sent ones.

    Its session is persistent while it runs, so a broker restart mid-replay loses nothing for
    it, and is wiped at both ends (``forget_session``): a run leaves no session and no queued
    messages on the broker. A run killed mid-way leaves one until the broker's
    ``persistent_client_expiration`` drops it.
    """

    def __init__(self, options: ReplayOptions, client_id: str) -> None:
        self.client_id = client_id
        self.options = options
        self.expected: Counter[int] = Counter()
        self.received = 0
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.topic = options.verify_topic or _topic_filter(options.topic)
        topics = {self.topic}
        if options.group_topic:
            topics.add(_topic_filter(options.group_topic))
        self.topics = sorted(topics)
        self.client = make_client(options, client_id, clean_session=False)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.qos = max(options.qos, 0)

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        if not rc.is_failure:
            client.subscribe([(t, self.qos) for t in self.topics])

    def forget_session(self) -> None:
        """Connect once with a clean session under our client id: the broker drops its state."""
        cleaner = make_client(self.options, self.client_id, clean_session=True)
        try:
            _connect(cleaner, self.options, "the verify subscriber's clean-up")
        finally:
            cleaner.disconnect()
            cleaner.loop_stop()

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        key = hash((message.topic, message.payload))
        with self.lock:
            self.received += 1
            self.expected[key] -= 1  # below zero: a duplicate (QoS 1 re-send) or a stranger

    def sent(self, topic: str, payload: bytes) -> None:
        key = hash((topic, payload))
        with self.lock:
            self.expected[key] += 1

    def lost(self) -> int:
        with self.lock:
            return sum(v for v in self.expected.values() if v > 0)

    def duplicates(self) -> int:
        with self.lock:
            return -sum(v for v in self.expected.values() if v < 0)


def _connect(client: paho.Client, options: ReplayOptions, what: str) -> None:
    try:
        connect(client, options, what)
    except ToolConnectError as error:
        raise ReplayError(str(error)) from None


class _Publisher:
    """One publisher connection: its client, its acknowledgements, its connected state."""

    def __init__(self, replayer: Replayer, index: int, client_id: str) -> None:
        options = replayer.o
        self.index = index
        self.client_id = client_id
        self.stats = replayer.stats
        self.client = make_client(options, client_id, clean_session=True)
        self.client.max_inflight_messages_set(options.max_inflight)
        self.client.max_queued_messages_set(options.queue_size)
        self.client.on_publish = self._on_publish
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.connected = threading.Event()
        self.connects = 0
        self.seq = 0

    def _on_publish(self, _c: Any, _u: Any, _mid: int, _rc: Any = None, _p: Any = None) -> None:
        self.stats.acked_by[self.index] += 1  # only this connection's thread writes this slot

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        if rc.is_failure:
            return
        self.connects += 1
        if self.connects > 1:
            self.stats.reconnects += 1
        self.connected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, _rc: Any, _p: Any = None) -> None:
        self.connected.clear()
        self.stats.disconnects += 1


class Replayer:
    """One replay run; ``run()`` returns the summary dict (also printed as JSON by the CLI)."""

    def __init__(
        self,
        options: ReplayOptions,
        *,
        on_progress: Callable[[Stats], None] | None = None,
        progress_interval_s: float = 0.5,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.o = options
        self.stats = Stats()
        self.on_progress = on_progress
        self.progress_interval_s = progress_interval_s
        self.warn = warn or (lambda _m: None)
        self.source = CsvSource(
            options.path,
            timestamp_column=options.timestamp_column,
            columns=options.columns,
            types=options.types,
        )
        if options.group_by_timestamp and not options.timestamp_column:
            raise ReplayError("--group-by-timestamp needs a timestamp column (--timestamp-column)")
        if options.mode == "speed" and not options.timestamp_column:
            raise ReplayError("--speed needs a timestamp column; use --rate or --max without one")
        if options.group_by_timestamp and options.payload_template:
            raise ReplayError("--payload-template applies to single rows, not grouped messages")
        if options.qos not in (0, 1, 2):
            raise ReplayError(f"--qos must be 0, 1 or 2, got {options.qos}")
        for template in (options.topic, options.group_topic or ""):
            for name in _template_names(template):
                if name not in self.source.header:
                    raise ReplayError(
                        f"topic template {template!r}: no column {name!r} in {options.path}"
                    )
        self._topic = _topic_renderer(options.topic)
        self._group_topic = _topic_renderer(options.group_topic or options.topic)
        self._payload_template = (
            Template(options.payload_template) if options.payload_template else None
        )
        if not 1 <= options.connections <= 64:
            raise ReplayError(f"--connections must be 1..64, got {options.connections}")
        if options.latency and options.payload_template:
            raise ReplayError("--latency adds a trace to JSON payloads, not to --payload-template")
        if options.mqtt_version != "5" and (options.message_expiry_s or options.user_properties):
            raise ReplayError("--message-expiry and --user-property need --mqtt-version 5")
        shard = options.shard_column
        if shard is None and options.connections > 1 and "facility_code" in self.source.header:
            shard = "facility_code"
        if shard is not None and shard not in self.source.header:
            raise ReplayError(f"--shard-column: no column {shard!r} in {options.path}")
        self._shard_column = shard
        self._shards: dict[str, int] = {}
        self._properties = publish_properties(options)
        client_id = options.client_id or f"energydash-replay-{os.getpid()}"
        self.stats.acked_by = [0] * options.connections
        self.publishers = [
            _Publisher(self, i, client_id if options.connections == 1 else f"{client_id}-{i}")
            for i in range(options.connections)
        ]
        self.client = self.publishers[0].client
        self.verifier = Verifier(options, client_id + "-verify") if options.verify else None

    def _shard(self, raw: dict[str, str], topic: str) -> int:
        """The connection of a row: a stable hash of its shard column (or topic)."""
        n = self.o.connections
        if n == 1:
            return 0
        key = raw[self._shard_column] if self._shard_column else topic
        index = self._shards.get(key)
        if index is None:
            index = self._shards[key] = zlib.crc32(key.encode()) % n
        return index

    # ------------------------------------------------------------------ messages
    def _messages(self, pass_index: int) -> Iterator[tuple[str, Any, datetime | None, int, int]]:
        """(topic, payload, row timestamp, rows, connection) per message of one pass.

        The payload is bytes, or with ``latency`` the dict that gets its trace at send time.
        """
        o = self.o
        ts_col = o.timestamp_column
        shift: timedelta | None = None
        fail = o.on_error == "fail"
        dumps = (lambda d: d) if o.latency else orjson.dumps
        shard = self._shard

        def good_rows() -> Iterator[Row]:
            for item in self.source.rows():
                if isinstance(item, BadRow):
                    self.stats.bad_rows += 1
                    if self.stats.first_error is None:
                        self.stats.first_error = str(item)
                    if fail:
                        raise ReplayError(str(item))
                    if self.stats.bad_rows <= 5:
                        self.warn(f"skipped {item}")
                    continue
                yield item

        def rebased(row: Row) -> Any:
            nonlocal shift
            if shift is None:
                shift = datetime.now(UTC) - row.ts  # type: ignore[operator]
            return (row.ts + shift).isoformat()  # type: ignore[operator]

        rebase = o.rebase and ts_col is not None
        if not o.group_by_timestamp:
            topic_of = self._topic
            template = self._payload_template
            for row in good_rows():
                if rebase:
                    row.fields[ts_col] = rebased(row)  # type: ignore[index]
                if template is not None:
                    payload = template.safe_substitute(
                        {**row.raw, **({ts_col: row.fields[ts_col]} if rebase else {})}
                    ).encode()
                else:
                    payload = dumps(row.fields)
                topic = topic_of(row.raw)
                yield topic, payload, row.ts, 1, shard(row.raw, topic)
            return
        n = o.connections
        groups: list[list[dict[str, Any]]] = [[] for _ in range(n)]
        firsts: list[Row | None] = [None] * n
        group_key: str | None = None
        pending = 0
        group_topic = self._group_topic
        for row in good_rows():
            if row.ts_text != group_key and pending:
                yield from self._group_messages(groups, firsts, rebase, rebased)
                groups = [[] for _ in range(n)]
                firsts = [None] * n
                pending = 0
            group_key = row.ts_text
            index = shard(row.raw, group_topic(row.raw)) if n > 1 else 0
            if firsts[index] is None:
                firsts[index] = row
            fields = row.fields
            fields.pop(ts_col, None)  # type: ignore[arg-type]
            groups[index].append(fields)
            pending += 1
        if pending:
            yield from self._group_messages(groups, firsts, rebase, rebased)

    def _group_messages(
        self,
        groups: list[list[dict[str, Any]]],
        firsts: list[Row | None],
        rebase: bool,
        rebased: Callable[[Row], Any],
    ) -> Iterator[tuple[str, Any, datetime | None, int, int]]:
        stamp: Any = None
        for index, (group, first) in enumerate(zip(groups, firsts, strict=True)):
            if first is None:
                continue
            if stamp is None:
                stamp = rebased(first) if rebase else first.ts_text
            body: Any = ReplayGroup.model_construct(
                timestamp=stamp, dataset=self.o.dataset, rows=group
            ).wire()
            payload = body if self.o.latency else orjson.dumps(body)
            yield self._group_topic(first.raw), payload, first.ts, len(group), index

    # ------------------------------------------------------------------ publishing
    def _publish(self, topic: str, payload: bytes, publisher: _Publisher) -> None:
        client = publisher.client
        qos, retain = self.o.qos, self.o.retain
        properties = self._properties
        while True:
            info = client.publish(topic, payload, qos, retain, properties)
            rc = info.rc
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (
                rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos > 0
            ):
                return  # taken: paho holds it until acknowledged, across reconnects
            # Refused (queue full, or no connection at QoS 0): wait and retry, never drop.
            self.stats.retries += 1
            if rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
                publisher.connected.wait(0.5)
            else:
                time.sleep(0.001)

    def _traced(self, body: dict[str, Any], publisher: _Publisher) -> bytes:
        trace = ReplayTrace.now(publisher.client_id, publisher.seq)
        publisher.seq += 1
        return orjson.dumps({**body, TRACE_KEY: trace.wire()})

    def run(self) -> dict[str, Any]:
        o = self.o
        stats = self.stats
        if self.on_progress is not None:
            stats.total_rows = self.source.count_rows() * (o.loops or 1)
        if self.verifier is not None:
            self.verifier.forget_session()  # a stale session of a reused --client-id
            _connect(self.verifier.client, o, "the verify subscriber")
            time.sleep(0.2)  # let the SUBACK land before the first publish
        try:
            for publisher in self.publishers:
                what = "the replay publisher"
                if len(self.publishers) > 1:
                    what += f" {publisher.index + 1}/{len(self.publishers)}"
                _connect(publisher.client, o, what)
            self._run_passes()
            self._drain()
        finally:
            stats.finished = time.monotonic()
            verify = self._finish_verify()
            for publisher in self.publishers:
                publisher.client.disconnect()
                publisher.client.loop_stop()
        if self.on_progress is not None:
            self.on_progress(stats)
        return self.summary(verify)

    def _run_passes(self) -> None:
        o = self.o
        stats = self.stats
        pass_index = 0
        next_progress = time.monotonic() + self.progress_interval_s
        publish = self._publish
        verifier = self.verifier
        mode = o.mode
        while o.loops == 0 or pass_index < o.loops:
            start = time.monotonic()
            first_ts: datetime | None = None
            sent_this_pass = 0
            publishers = self.publishers
            traced = self.o.latency
            for topic, payload, ts, rows, index in self._messages(pass_index):
                if mode != "max":
                    if mode == "rate":
                        due = start + sent_this_pass / o.rate
                    else:
                        if first_ts is None:
                            first_ts = ts
                        due = start + (ts - first_ts).total_seconds() / o.speed  # type: ignore[operator]
                    now = time.monotonic()
                    if due > now:
                        time.sleep(due - now)
                        stats.lag_s = 0.0
                    else:
                        stats.lag_s = now - due
                        if stats.lag_s > stats.max_lag_s:
                            stats.max_lag_s = stats.lag_s
                publisher = publishers[index]
                if traced:
                    payload = self._traced(payload, publisher)
                if verifier is not None:
                    verifier.sent(topic, payload)
                publish(topic, payload, publisher)
                stats.messages += 1
                stats.rows += rows
                sent_this_pass += 1
                if self.on_progress is not None and not (stats.messages & 63):
                    now = time.monotonic()
                    if now >= next_progress:
                        next_progress = now + self.progress_interval_s
                        self.on_progress(stats)
                if o.limit and stats.messages >= o.limit:
                    return
            pass_index += 1
            stats.loops_done = pass_index
            if sent_this_pass == 0:
                return  # nothing valid in the file: looping would spin

    def _drain(self) -> None:
        """Wait for every QoS >= 1 message to be acknowledged (paho re-sends after reconnects)."""
        if self.o.qos == 0:
            return
        deadline = time.monotonic() + self.o.drain_timeout_s
        while self.stats.acked < self.stats.messages and time.monotonic() < deadline:
            if self.on_progress is not None:
                self.on_progress(self.stats)
            time.sleep(0.05)

    def _finish_verify(self) -> dict[str, Any] | None:
        verifier = self.verifier
        if verifier is None:
            return None
        deadline = time.monotonic() + self.o.verify_wait_s
        while verifier.lost() and time.monotonic() < deadline:
            time.sleep(0.05)
        verifier.client.disconnect()
        verifier.client.loop_stop()
        try:
            verifier.forget_session()
        except ReplayError as error:
            self.warn(f"the verify session could not be removed from the broker: {error}")
        return {
            "topics": verifier.topics,
            "sent": self.stats.messages,
            "received": verifier.received,
            "lost": verifier.lost(),
            "duplicates": verifier.duplicates(),
        }

    def summary(self, verify: dict[str, Any] | None = None) -> dict[str, Any]:
        s = self.stats
        elapsed = s.elapsed()
        out: dict[str, Any] = {
            "file": str(self.o.path),
            "messages_sent": s.messages,
            "messages_acked": s.acked if self.o.qos else None,
            "rows_sent": s.rows,
            "bad_rows": s.bad_rows,
            "first_bad_row": s.first_error,
            "retries": s.retries,
            "reconnects": s.reconnects,
            "loops": s.loops_done,
            "elapsed_s": round(elapsed, 3),
            "messages_per_s": round(s.messages / elapsed, 1) if elapsed else None,
            "rows_per_s": round(s.rows / elapsed, 1) if elapsed else None,
            "max_lag_s": round(s.max_lag_s, 3),
            "qos": self.o.qos,
            "grouped": self.o.group_by_timestamp,
            "connections": self.o.connections,
            "mqtt_version": self.o.mqtt_version,
            "latency": self.o.latency,
        }
        if verify is not None:
            out["verify"] = verify
        return out


def _template_names(template: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(template) if name]
