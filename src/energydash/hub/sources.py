"""Who feeds the grid topics: the simulator, or a replayed dataset arriving over MQTT ingest.

A replay takes over the whole grid view, not single topics: while any of ``facilities`` or
``market/{network}`` is fed by ingest, the simulator publishes neither its facilities nor its
market, so no page can show a replayed facility table beside a simulated price. The takeover
ends when ingest has been silent for ``replay_timeout_s`` (wall time); the next tick of the
simulator publishes its own grid again. Changes are announced on the ``sources`` topic
(``models.sources.SourcesData``).

A replayed topic's history is recorded under ``replay/{topic}``: dataset time runs on its own
(a sped-up replay runs ahead of the clock, a loop rewinds it), so mixing it into the
simulator's series would put two clocks on one axis.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from energydash.models.sources import (
    MAX_DATASET_NAME,
    REPLAY_HISTORY_PREFIX,
    SOURCES_TOPIC,
    ReplayedTopic,
    SourcesData,
)

if TYPE_CHECKING:
    from energydash.hub.hub import Hub


def history_topic(topic: str, source: str) -> str:
    """The series a state of ``topic`` from ``source`` is recorded under."""
    return REPLAY_HISTORY_PREFIX + topic if source == "replay" else topic


@dataclass
class _Claim:
    dataset: str | None
    started_at: datetime
    heard: float  # monotonic


class TopicSources:
    """The replayed grid topics and their datasets; the simulator asks before publishing."""

    def __init__(self, hub: Hub, timeout_s: float) -> None:
        self.hub = hub
        self.timeout_s = timeout_s
        self._claims: dict[str, _Claim] = {}
        self._on_release: list[Callable[[list[str]], None]] = []
        self.takeovers = 0  # times a replay took the grid over (metrics, tests)

    def on_release(self, callback: Callable[[list[str]], None]) -> None:
        """Call ``callback(topics)`` when a replay lets go of topics (ingest forgets its rows,
        so the next replay does not start from the last one's table)."""
        self._on_release.append(callback)

    def claim(self, topic: str, dataset: str | None, now: float | None = None) -> None:
        """Ingest is about to publish replayed rows into ``topic``."""
        now = time.monotonic() if now is None else now
        self.expire(now)
        dataset = dataset[:MAX_DATASET_NAME] if dataset else None
        claim = self._claims.get(topic)
        if claim is not None and (dataset is None or claim.dataset == dataset):
            claim.heard = now
            return
        if not self._claims:
            self.takeovers += 1
        self._claims[topic] = _Claim(dataset, datetime.now(UTC), now)
        # a new replay session starts its own past: the rings of an earlier one go
        self.hub.drop_history(history_topic(topic, "replay"))
        self.announce()

    def expire(self, now: float | None = None) -> list[str]:
        """Let go of topics silent for ``timeout_s``; the topics released."""
        now = time.monotonic() if now is None else now
        gone = [t for t, c in self._claims.items() if now - c.heard >= self.timeout_s]
        for topic in gone:
            del self._claims[topic]
        if gone:
            for callback in tuple(self._on_release):
                callback(gone)
            self.announce()
        return gone

    @property
    def replaying(self) -> bool:
        """True while any grid topic is fed by a replay heard within the timeout."""
        now = time.monotonic()
        return any(now - c.heard < self.timeout_s for c in self._claims.values())

    def state(self) -> SourcesData:
        topics = [
            ReplayedTopic(
                topic=topic,
                dataset=claim.dataset,
                history_topic=history_topic(topic, "replay"),
                started_at=claim.started_at,
            )
            for topic, claim in sorted(self._claims.items())
        ]
        datasets = sorted({c.dataset for c in self._claims.values() if c.dataset})
        return SourcesData(
            mode="replay" if topics else "sim",
            datasets=datasets,
            topics=topics,
            timeout_s=self.timeout_s,
        )

    def announce(self) -> None:
        self.hub.publish(SOURCES_TOPIC, self.state().model_dump(mode="json"), source="hub")
