"""The hub: latest state per topic with a sequence number, subscribers by pattern, history.

Everything runs on the server's event loop (MQTT hands messages over with
``call_soon_threadsafe``), so there are no locks. Each publish encodes its data with orjson
once; the update and snapshot frames are built from those bytes and shared by every client.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from energydash.config import Settings
from energydash.hub import series
from energydash.hub.history import SeriesRing
from energydash.hub.message import Message
from energydash.hub.sources import TopicSources, history_topic
from energydash.hub.topics import is_pattern, matches
from energydash.models.envelope import update_data

if TYPE_CHECKING:
    from energydash.history import HistoryStore

log = logging.getLogger(__name__)


def iso(ts: datetime) -> str:
    """ISO 8601 UTC with a Z, the one timestamp form on the wire."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


class TopicState:
    """The latest message of a topic; frames are encoded on first use and then shared.

    ``base`` is the data of the seq before, held only while the update frame (a delta
    against it, ``update_data``) may still be built: the hub drops it after the fan-out.
    """

    __slots__ = (
        "_data_bytes",
        "_messages",
        "base",
        "data",
        "seq",
        "source",
        "topic",
        "ts",
        "wall",
    )

    def __init__(
        self, topic: str, seq: int, ts: datetime, data: Any, source: str, base: Any = None
    ) -> None:
        self.topic = topic
        self.base = base
        self.seq = seq
        self.ts = ts
        self.data = data
        self.source = source
        self.wall = time.monotonic()
        self._data_bytes: bytes | None = None
        self._messages: dict[str, Message] = {}

    @property
    def data_bytes(self) -> bytes:
        if self._data_bytes is None:
            self._data_bytes = orjson.dumps(self.data, option=orjson.OPT_SERIALIZE_NUMPY)
        return self._data_bytes

    def message(self, kind: str) -> Message:
        """The envelope, encoded once and shared; ``kind`` is "update" or "snapshot"."""
        message = self._messages.get(kind)
        if message is None:
            head = orjson.dumps(
                {"type": kind, "topic": self.topic, "seq": self.seq, "ts": iso(self.ts)}
            )
            body = self.data_bytes
            if kind == "update" and self.base is not None:
                delta = update_data(self.topic, self.base, self.data)
                if delta is not self.data:
                    body = orjson.dumps(delta, option=orjson.OPT_SERIALIZE_NUMPY)
            message = Message(head[:-1] + b',"data":' + body + b"}")
            self._messages[kind] = message
        return message

    def frame(self, kind: str) -> str:
        """The envelope as JSON text; ``kind`` is "update" or "snapshot"."""
        return self.message(kind).text

    def envelope(self, kind: str = "snapshot") -> dict[str, Any]:
        """A complete envelope (``data`` is the full state, whatever ``kind``)."""
        return {
            "type": kind,
            "topic": self.topic,
            "seq": self.seq,
            "ts": iso(self.ts),
            "data": self.data,
        }


class Subscriber(Protocol):
    """Receives topic states; must not block (the WebSocket client only enqueues)."""

    def deliver(self, state: TopicState) -> None: ...


Listener = Callable[[TopicState], None]


class Hub:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._topics: dict[str, TopicState] = {}
        self._patterns: dict[Subscriber, set[str]] = {}
        self._routes: dict[str, set[Subscriber]] = {}
        self._history: dict[str, SeriesRing] = {}
        # The stored history (energydash.history) gets the same values as the rings.
        self.store: HistoryStore | None = None
        self._listeners: list[Listener] = []
        self._flushers: list[Callable[[], None]] = []
        self.published_total = 0
        self.delivered_total = 0
        # Which grid topics a replay feeds; announced on the ``sources`` topic from the start.
        self.sources = TopicSources(self, settings.replay_timeout_s)
        self.sources.announce()

    # ------------------------------------------------------------------ publishing
    def publish(
        self, topic: str, data: Any, *, ts: datetime | None = None, source: str = "sim"
    ) -> TopicState:
        """Replace the state of ``topic`` with ``data`` (its full state) and fan it out."""
        ts = ts or datetime.now(UTC)
        previous = self._topics.get(topic)
        state = TopicState(
            topic,
            (previous.seq + 1) if previous else 1,
            ts,
            data,
            source,
            previous.data if previous else None,
        )
        self._topics[topic] = state
        if previous is None:
            self._route_new_topic(topic)
        self._record_history(state)
        self.published_total += 1
        subscribers = tuple(self._routes.get(topic, ()))
        for subscriber in subscribers:
            subscriber.deliver(state)
        self.delivered_total += len(subscribers)
        state.base = None  # the update frame is built (or never will be): free the old data
        for listener in tuple(self._listeners):
            try:
                listener(state)
            except Exception:  # a broken listener must not stop the fan-out
                log.exception("hub listener failed on %s", topic)
        return state

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after every publish (MQTT publisher, metrics)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def add_flusher(self, flusher: Callable[[], None]) -> Callable[[], None]:
        """Call ``flusher`` on ``flush()`` (the WebSocket fan-out hands out what it holds)."""
        self._flushers.append(flusher)
        return lambda: self._flushers.remove(flusher) if flusher in self._flushers else None

    def flush(self) -> None:
        """Subscribers send what they were given now rather than at the end of the loop
        turn: a tick's first topics reach clients while the rest are still being built."""
        for flusher in tuple(self._flushers):
            try:
                flusher()
            except Exception:  # a broken face must not stop the tick
                log.exception("hub flusher failed")

    def _record_history(self, state: TopicState) -> None:
        values = series.extract(
            state.topic, state.data, max_scores=self.settings.history_scores_max_series
        )
        if not values:
            return
        key = history_topic(state.topic, state.source)  # a replay's past is kept apart
        ring = self._history.get(key)
        if ring is not None and state.source == "replay" and ring.before_last(state.ts):
            self.drop_history(key)  # a looping replay rewound its dataset time: new past
            ring = None
        if ring is None:
            ring = SeriesRing(self.settings.history_length, self.settings.history_resolution_s)
            self._history[key] = ring
        ring.record(state.ts, values)
        if self.store is not None:
            self.store.record(key, state.ts.timestamp(), values)

    # ------------------------------------------------------------------ reading
    def latest(self, topic: str) -> TopicState | None:
        return self._topics.get(topic)

    def topics(self) -> list[str]:
        return sorted(self._topics)

    def matching(self, pattern: str) -> list[TopicState]:
        if not is_pattern(pattern):
            state = self._topics.get(pattern)
            return [state] if state else []
        return [s for t, s in sorted(self._topics.items()) if matches(pattern, t)]

    def drop(self, topic: str) -> None:
        """Forget a topic that no longer exists (a device unplugged); its history goes too."""
        self._topics.pop(topic, None)
        self._routes.pop(topic, None)
        self._history.pop(topic, None)

    def drop_history(self, topic: str) -> None:
        """Forget the past of a series, in memory and stored (a replay starting over)."""
        self._history.pop(topic, None)
        if self.store is not None:
            self.store.forget(topic)

    def history(self, topic: str) -> SeriesRing | None:
        return self._history.get(topic)

    # ------------------------------------------------------------------ subscribing
    def subscribe(self, subscriber: Subscriber, patterns: Iterable[str]) -> list[TopicState]:
        """Add patterns; returns the current states newly routed to the subscriber."""
        own = self._patterns.setdefault(subscriber, set())
        fresh: list[TopicState] = []
        for pattern in patterns:
            if pattern in own:
                continue
            own.add(pattern)
            for state in self.matching(pattern):
                routed = self._routes.setdefault(state.topic, set())
                if subscriber not in routed:
                    routed.add(subscriber)
                    fresh.append(state)
            if not is_pattern(pattern):
                # a topic not published yet: route it when it first appears
                continue
        return fresh

    def unsubscribe(self, subscriber: Subscriber, patterns: Iterable[str]) -> None:
        own = self._patterns.get(subscriber)
        if not own:
            return
        own.difference_update(patterns)
        for topic, routed in self._routes.items():
            if subscriber in routed and not any(matches(p, topic) for p in own):
                routed.discard(subscriber)

    def patterns_of(self, subscriber: Subscriber) -> frozenset[str]:
        return frozenset(self._patterns.get(subscriber, ()))

    def has_patterns(self, subscriber: Subscriber) -> bool:
        return bool(self._patterns.get(subscriber))

    def remove(self, subscriber: Subscriber) -> None:
        self._patterns.pop(subscriber, None)
        for routed in self._routes.values():
            routed.discard(subscriber)

    def subscribed_topics(self, subscriber: Subscriber) -> list[TopicState]:
        """Current states of every topic routed to ``subscriber`` (for a resync)."""
        return [
            self._topics[topic]
            for topic, routed in self._routes.items()
            if subscriber in routed and topic in self._topics
        ]

    def _route_new_topic(self, topic: str) -> None:
        routed = self._routes.setdefault(topic, set())
        for subscriber, patterns in self._patterns.items():
            if any(matches(p, topic) for p in patterns):
                routed.add(subscriber)

    @property
    def subscriber_count(self) -> int:
        return len(self._patterns)
