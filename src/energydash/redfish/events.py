"""Redfish events: engine events become registry messages, pushed to subscribers and SSE clients.

Each subscription has a bounded queue and one delivery task that POSTs to its Destination with
httpx, retrying ``DeliveryRetryAttempts`` times ``DeliveryRetryIntervalSeconds`` apart; a slow or
dead listener only ever delays its own queue (oldest events are dropped when it is full), never
a request or the engine. Every event also lands in the Manager's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from energydash.redfish import registries
from energydash.redfish.render import iso, pdu_uri
from energydash.sim.events import SimEvent

log = logging.getLogger(__name__)

QUEUE_LIMIT = 1000
LOG_LIMIT = 2000
PUSH_TIMEOUT_S = 5.0

RESOURCE_FAMILY = {
    "outlet": ("Outlets", "Outlet"),
    "branch": ("Branches", "Circuit"),
    "main": ("Mains", "Circuit"),
    "group": ("OutletGroups", "OutletGroup"),
}


@dataclass(slots=True)
class EventRecord:
    """One event as Redfish shows it (Event.Events[] entry) plus its resource type for filters."""

    event_id: str
    timestamp: datetime
    message: dict[str, Any]
    origin: str | None
    resource_type: str | None

    def entry(self, member_id: int = 0, include_origin: bool = True) -> dict[str, Any]:
        body = {
            "MemberId": str(member_id),
            "EventType": "Alert" if self.message["MessageSeverity"] != "OK" else "StatusChange",
            "EventId": self.event_id,
            "EventTimestamp": iso(self.timestamp),
            "MessageId": self.message["MessageId"],
            "Message": self.message["Message"],
            "MessageArgs": self.message["MessageArgs"],
            "MessageSeverity": self.message["MessageSeverity"],
        }
        if self.origin and include_origin:
            body["OriginOfCondition"] = {"@odata.id": self.origin}
        return body

    @property
    def prefix(self) -> str:
        return self.message["MessageId"].split(".", 1)[0]


@dataclass(slots=True)
class Subscription:
    id: str
    destination: str
    context: str
    registry_prefixes: list[str]
    resource_types: list[str]
    owner: str
    retry_attempts: int
    retry_interval_s: int
    queue: asyncio.Queue[EventRecord] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_LIMIT)
    )
    task: asyncio.Task[None] | None = None
    delivered: int = 0
    failed: int = 0
    filters: EventFilters = field(default_factory=lambda: EventFilters())
    retry_policy: str = "TerminateAfterRetries"  # or SuspendRetries, RetryForever
    suspended: bool = False
    protocol: str = "Redfish"  # "SSE": an open event stream, fed through ``sse_queue``
    sse_queue: asyncio.Queue[EventRecord | None] | None = None
    resumed: asyncio.Event = field(default_factory=asyncio.Event)

    def wants(self, record: EventRecord) -> bool:
        if self.registry_prefixes and record.prefix not in self.registry_prefixes:
            return False
        if self.resource_types and record.resource_type not in self.resource_types:
            return False
        return self.filters.wants(record)


@dataclass(slots=True)
class EventFilters:
    """The EventDestination filters beyond prefixes and types (EventService advertises them)."""

    exclude_registry_prefixes: list[str] = field(default_factory=list)
    exclude_message_ids: list[str] = field(default_factory=list)
    origin_resources: list[str] = field(default_factory=list)
    subordinate_resources: bool = False
    include_origin: bool = True
    http_headers: dict[str, str] = field(default_factory=dict)

    def wants(self, record: EventRecord) -> bool:
        if record.prefix in self.exclude_registry_prefixes:
            return False
        message_id = record.message["MessageId"]
        key = f"{record.prefix}.{message_id.rsplit('.', 1)[-1]}"
        if message_id in self.exclude_message_ids or key in self.exclude_message_ids:
            return False
        if not self.origin_resources:
            return True
        origin = record.origin or ""
        return any(
            origin == uri or (self.subordinate_resources and origin.startswith(uri + "/"))
            for uri in self.origin_resources
        )


def message_for(event: SimEvent) -> tuple[str, str, list[str]]:
    """(registry prefix, message key, args) of the registry message that tells an engine event."""
    name = _resource_label(event)
    kind = event.kind
    if kind in ("OutletPoweredOn", "OutletPoweredOff", "CircuitPoweredOn", "CircuitPoweredOff"):
        return "Power", kind, [name]
    if kind in ("BreakerTripped", "BreakerReset"):
        return "Power", kind, [name]
    if kind == "ThresholdCrossed":
        value = event.args[1] if len(event.args) > 1 else "0"
        key = {"Critical": "CurrentCritical", "Warning": "CurrentWarning"}.get(
            event.severity, "CurrentNormal"
        )
        return "Power", key, [name, value]
    if kind == "FaultInjected":
        return "ResourceEvent", "ResourceErrorsDetected", [name, event.message]
    if kind == "FaultCleared":
        return "ResourceEvent", "ResourceErrorsCorrected", [name, event.message]
    if kind == "GroupCreated":
        return "ResourceEvent", "ResourceCreated", []
    if kind == "GroupDeleted":
        return "ResourceEvent", "ResourceRemoved", []
    return "ResourceEvent", "ResourceChanged", []


def _resource_label(event: SimEvent) -> str:
    label = {
        "outlet": "Outlet",
        "branch": "Branch",
        "main": "Mains",
        "group": "Outlet group",
    }.get(event.resource, "PDU")
    if event.resource == "pdu":
        return f"Rack PDU {event.pdu_id}"
    return f"PDU {event.pdu_id} {label} {event.resource_id}"


def origin_for(event: SimEvent) -> tuple[str, str]:
    base = pdu_uri(event.pdu_id)
    if event.resource in RESOURCE_FAMILY:
        family, resource_type = RESOURCE_FAMILY[event.resource]
        if event.kind == "GroupDeleted":  # the group is gone: its PDU is the origin
            return base, "OutletGroup"
        return f"{base}/{family}/{event.resource_id}", resource_type
    return base, "PowerDistribution"


class EventHub:
    """Subscriptions, SSE listeners and the Manager log; fed by ``publish``."""

    def __init__(self, retry_attempts: int, retry_interval_s: int) -> None:
        self.retry_attempts = retry_attempts
        self.retry_interval_s = retry_interval_s
        self.subscriptions: dict[str, Subscription] = {}
        self.log: deque[EventRecord] = deque(maxlen=LOG_LIMIT)
        self._sse: set[asyncio.Queue[EventRecord]] = set()
        self._ids = itertools.count(1)
        self._sub_ids = itertools.count(1)
        self._client: httpx.AsyncClient | None = None
        self._running = False
        self.on_change: Callable[[], None] | None = None  # persistence hook (RedfishService)
        # the per-PDU endpoints take the fleet's SensorEvents about their PDU (endpoints.py)
        self.forward: Callable[[EventRecord], None] | None = None
        # device profiles: an origin as the PDU's profile names it (redfish.profiles)
        self.shape_origin: Callable[[str], str] | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._running = True
        for sub in self.subscriptions.values():
            if sub.protocol != "SSE":
                self._start_worker(sub)

    async def stop(self) -> None:
        self._running = False
        for queue in list(self._sse):
            _put_dropping_oldest(queue, None)  # type: ignore[arg-type]  # ends the stream
        tasks = [s.task for s in self.subscriptions.values() if s.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for sub in self.subscriptions.values():
            sub.task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # ------------------------------------------------------------------ publishing
    def publish_engine_event(self, event: SimEvent) -> EventRecord:
        prefix, key, args = message_for(event)
        origin, resource_type = origin_for(event)
        return self.publish(prefix, key, args, origin, resource_type, event.timestamp)

    def publish(
        self,
        prefix: str,
        key: str,
        args: list[str],
        origin: str | None = None,
        resource_type: str | None = None,
        timestamp: datetime | None = None,
        text: str | None = None,
        to_log: bool = True,
    ) -> EventRecord:
        msg = registries.message(prefix, key, *args)
        if text:
            msg["Message"] = text
        record = EventRecord(
            str(next(self._ids)), timestamp or datetime.now(UTC), msg, origin, resource_type
        )
        self.fan_out(record, to_log)
        return record

    def fan_out(self, record: EventRecord, to_log: bool = True) -> None:
        if self.shape_origin is not None and record.origin:
            record.origin = self.shape_origin(record.origin)
        if to_log:
            self.log.append(record)
        for sub in self.subscriptions.values():
            if sub.protocol == "SSE":
                continue  # fed below, through the stream's own queue
            if sub.wants(record):
                _put_dropping_oldest(sub.queue, record)
        for queue in self._sse:
            _put_dropping_oldest(queue, record)
        if self.forward is not None:
            self.forward(record)

    def log_only(self, message: dict[str, Any], origin: str | None = None) -> EventRecord:
        record = EventRecord(str(next(self._ids)), datetime.now(UTC), message, origin, None)
        self.log.append(record)
        return record

    def next_event_id(self) -> str:
        return str(next(self._ids))

    # ------------------------------------------------------------------ subscriptions
    def subscribe(
        self,
        destination: str,
        context: str,
        registry_prefixes: list[str],
        resource_types: list[str],
        owner: str,
        retry_attempts: int | None = None,
        retry_interval_s: int | None = None,
    ) -> Subscription:
        sub = Subscription(
            str(next(self._sub_ids)),
            destination,
            context,
            registry_prefixes,
            resource_types,
            owner,
            self.retry_attempts if retry_attempts is None else retry_attempts,
            self.retry_interval_s if retry_interval_s is None else retry_interval_s,
        )
        self.subscriptions[sub.id] = sub
        if self._running:
            self._start_worker(sub)
        self.changed()
        return sub

    def unsubscribe(self, sub_id: str) -> bool:
        sub = self.subscriptions.pop(sub_id, None)
        if sub is None:
            return False
        if sub.task is not None and sub.task is not asyncio.current_task():
            sub.task.cancel()
        if sub.sse_queue is not None:
            _put_dropping_oldest(sub.sse_queue, None)  # type: ignore[arg-type]  # ends the stream
        self.changed()
        return True

    def set_retry(self, attempts: int | None = None, interval_s: int | None = None) -> None:
        """EventService DeliveryRetry* changed: every existing subscription follows."""
        if attempts is not None:
            self.retry_attempts = attempts
        if interval_s is not None:
            self.retry_interval_s = interval_s
        for sub in self.subscriptions.values():
            sub.retry_attempts = self.retry_attempts
            sub.retry_interval_s = self.retry_interval_s
        self.changed()

    def suspend(self, sub: Subscription) -> None:
        sub.suspended = True
        sub.resumed.clear()
        self.changed()

    def resume(self, sub: Subscription) -> None:
        sub.suspended = False
        sub.resumed.set()
        self.changed()

    # ------------------------------------------------------------------ persistence hook
    def changed(self) -> None:
        """A subscription was added, removed or edited: let the owner save them."""
        if self.on_change is not None:
            self.on_change()

    def saved(self) -> list[dict[str, Any]]:
        """The push subscriptions as plain rows: their settings (retry policy, filters,
        suspended), not their queues or counters. SSE streams end with their connection."""
        return [
            {name: getattr(sub, name) for name in _SAVED_FIELDS}
            for sub in self.subscriptions.values()
            if sub.sse_queue is None
        ]

    def restore(self, rows: list[dict[str, Any]]) -> int:
        """Recreate saved subscriptions (before ``start``); unknown keys are ignored."""
        for row in rows:
            fields = {k: row[k] for k in _SAVED_FIELDS if k in row}
            if isinstance(fields.get("filters"), dict):
                fields["filters"] = EventFilters(**fields["filters"])
            sub = Subscription(**fields)
            if sub.suspended:
                sub.resumed.clear()
            self.subscriptions[sub.id] = sub
        if self.subscriptions:
            top = max(int(i) for i in self.subscriptions if i.isdigit())
            self._sub_ids = itertools.count(top + 1)
        return len(rows)

    def _start_worker(self, sub: Subscription) -> None:
        if sub.task is None or sub.task.done():
            sub.task = asyncio.get_running_loop().create_task(
                self._deliver(sub), name=f"redfish-event-sub-{sub.id}"
            )

    async def _deliver(self, sub: Subscription) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=PUSH_TIMEOUT_S, verify=False)
        while True:
            if sub.suspended:  # events queue up (bounded) until ResumeSubscription
                await sub.resumed.wait()
            record = await sub.queue.get()
            if await self._push(sub, record):
                continue
            sub.failed += 1
            log.warning(
                "event %s to subscription %s (%s) not delivered after %d attempts; policy %s",
                record.event_id,
                sub.id,
                sub.destination,
                sub.retry_attempts + 1,
                sub.retry_policy,
            )
            if sub.retry_policy == "TerminateAfterRetries":
                self.unsubscribe(sub.id)  # DSP0266: the service deletes the subscription
                return
            if sub.retry_policy == "SuspendRetries":
                self.suspend(sub)
                _put_front(sub.queue, record)  # delivered first on resume

    async def _push(self, sub: Subscription, record: EventRecord) -> bool:
        """POST one event, retrying as the subscription says; True when delivered."""
        assert self._client is not None
        payload = event_payload([record], sub.context, sub.filters.include_origin)
        headers = {**sub.filters.http_headers, "Content-Type": "application/json"}
        attempt = 0
        while True:
            try:
                response = await self._client.post(
                    sub.destination, content=payload, headers=headers
                )
                if response.status_code < 300:
                    sub.delivered += 1
                    return True
            except httpx.HTTPError:
                pass
            attempt += 1
            if sub.retry_policy != "RetryForever" and attempt > sub.retry_attempts:
                return False
            await asyncio.sleep(sub.retry_interval_s)

    # ------------------------------------------------------------------ SSE
    def open_sse(self, owner: str, filters: EventFilters | None = None) -> Subscription:
        """The EventDestination of a new SSE stream (listed until the stream closes)."""
        sub = Subscription(str(next(self._sub_ids)), "", "", [], [], owner, 0, 0, protocol="SSE")
        sub.sse_queue = asyncio.Queue(maxsize=QUEUE_LIMIT)
        if filters is not None:
            sub.filters = filters
        self.subscriptions[sub.id] = sub
        return sub

    async def sse_stream(
        self, keepalive_s: float = 15.0, sub: Subscription | None = None
    ) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[EventRecord] = (
            sub.sse_queue if sub is not None and sub.sse_queue is not None
            else asyncio.Queue(maxsize=QUEUE_LIMIT)
        )  # type: ignore[assignment]  # fmt: skip
        self._sse.add(queue)
        try:
            yield b": EnergyDash Redfish event stream\n\n"
            while True:
                try:
                    record = await asyncio.wait_for(queue.get(), timeout=keepalive_s)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                if record is None:
                    return
                if sub is not None and not sub.wants(record):
                    continue
                include = sub.filters.include_origin if sub is not None else True
                data = event_payload([record], "", include)
                yield b"id: " + record.event_id.encode() + b"\ndata: " + data + b"\n\n"
        finally:
            self._sse.discard(queue)
            if sub is not None:
                self.subscriptions.pop(sub.id, None)  # the stream closed: so did its destination

    @property
    def sse_clients(self) -> int:
        return len(self._sse)


_SAVED_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(Subscription)
    if f.name not in ("queue", "task", "delivered", "failed", "sse_queue", "resumed")
)


def event_payload(records: list[EventRecord], context: str, include_origin: bool = True) -> bytes:
    first = records[0]
    body = {
        "@odata.type": "#Event.v1_7_0.Event",
        "Id": first.event_id,
        "Name": "EnergyDash Redfish Event",
        "Context": context,
        "Events": [r.entry(n, include_origin) for n, r in enumerate(records)],
    }
    return orjson.dumps(body)


def _put_front(queue: asyncio.Queue[EventRecord], record: EventRecord) -> None:
    """Put an event back at the head (a suspended subscription delivers it first on resume)."""
    rest = []
    while not queue.empty():
        rest.append(queue.get_nowait())
    for item in [record, *rest][: queue.maxsize or None]:
        queue.put_nowait(item)


def _put_dropping_oldest(queue: asyncio.Queue[EventRecord], record: EventRecord) -> None:
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(record)
