"""The engine's events, per PDU, as the hub topic ``pdu/{pdu_id}/events`` (``PduEventsData``).

Events arrive one by one (a group switch raises dozens at once, a command storm thousands a
second), so each PDU's topic is published once per ``command_refresh_s`` with what came in
meanwhile, not once per event. The kept events are written to ``<state_dir>/pdu_events.json``
when the backend stops and read back when it starts, so the charts' past keeps its markers
across a restart (a crash loses those since the last start).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError

from energydash.models.events import PduEvent, PduEventsData, pdu_events_topic
from energydash.sim.events import SimEvent

if TYPE_CHECKING:
    from energydash.hub import Hub
    from energydash.sim.engine import Engine

log = logging.getLogger(__name__)
EVENTS_FILE = "pdu_events.json"
MAX_FILE_BYTES = 64 * 1024 * 1024  # far above 10,000 PDUs x 200 events; a bigger file is not ours


class PduEventLog:
    def __init__(self, engine: Engine, hub: Hub) -> None:
        self.engine = engine
        self.hub = hub
        self.kept = engine.settings.pdu_events_kept
        self._events: dict[str, deque[dict[str, Any]]] = {}
        self._dirty: set[str] = set()
        self._pending = False
        self.path = Path(engine.settings.state_dir) / EVENTS_FILE

    def attach(self) -> Callable[[], None]:
        """Follow the engine's events; every PDU's topic exists from the start, holding the
        events saved by the last run (if any)."""
        saved = self._load()
        for pdu in self.engine.fleet.pdus:
            self._events[pdu.id] = deque(saved.get(pdu.id, []), maxlen=self.kept)
            self._dirty.add(pdu.id)
        self.publish()
        detach = self.engine.on_event(self.add)

        def stop() -> None:
            detach()
            self.save()

        return stop

    def _load(self) -> dict[str, list[dict[str, Any]]]:
        """The saved events per PDU; an unusable file is named in the log and left alone."""
        try:
            if not self.path.exists():
                return {}
            if self.path.stat().st_size > MAX_FILE_BYTES:
                raise ValueError(f"larger than {MAX_FILE_BYTES} bytes")
            raw = orjson.loads(self.path.read_bytes())
            if not isinstance(raw, dict):
                raise ValueError("not an object of PDU id to events")
            return {
                str(pdu_id): [
                    e.model_dump(mode="json")
                    for e in PduEventsData.model_validate(
                        {"pdu_id": pdu_id, "events": events}
                    ).events[-self.kept :]
                ]
                for pdu_id, events in raw.items()
            }
        except (OSError, ValueError, ValidationError) as error:
            log.warning("chart markers of the last run not restored: %s: %s", self.path, error)
            return {}

    def save(self) -> None:
        """Write the kept events atomically (temporary file, fsync, replace)."""
        payload = {pdu_id: list(events) for pdu_id, events in self._events.items() if events}
        tmp: str | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{EVENTS_FILE}.", dir=self.path.parent)
            with os.fdopen(fd, "wb") as handle:
                handle.write(orjson.dumps(payload))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError as error:
            log.warning("chart markers not saved to %s: %s", self.path, error)
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)

    def add(self, event: SimEvent) -> None:
        record = PduEvent(
            ts=event.timestamp,
            kind=event.kind,
            resource=event.resource,
            resource_id=event.resource_id,
            message=event.message[:500],
            severity=event.severity,
        ).model_dump(mode="json")
        self._events.setdefault(event.pdu_id, deque(maxlen=self.kept)).append(record)
        self._dirty.add(event.pdu_id)
        if self._pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a stepped engine driven by a test: publish at once
            self.publish()
            return
        self._pending = True
        loop.call_later(self.engine.settings.command_refresh_s, self.publish)

    def publish(self) -> None:
        self._pending = False
        dirty, self._dirty = self._dirty, set()
        for pdu_id in sorted(dirty):
            # Each record was built through PduEvent when it came in; validating the whole
            # list again on every publish would cost a command storm ~0.8 ms per PDU.
            data = PduEventsData.model_construct(
                pdu_id=pdu_id, events=list(self._events.get(pdu_id) or ())
            )
            self.hub.publish(
                pdu_events_topic(pdu_id), {"pdu_id": data.pdu_id, "events": data.events}
            )
