"""Redfish events: engine events become registry messages, pushed to subscribers and SSE clients.

Each subscription has a bounded queue and one delivery task that POSTs to its Destination with
httpx, retrying ``DeliveryRetryAttempts`` times ``DeliveryRetryIntervalSeconds`` apart; a slow or
dead listener only ever delays its own queue (oldest events are dropped when it is full), never
a request or the engine. Every event also lands in the Manager's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator
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

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._running = True
        for sub in self.subscriptions.values():
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
        if to_log:
            self.log.append(record)
        for sub in self.subscriptions.values():
            if sub.wants(record):
                _put_dropping_oldest(sub.queue, record)
        for queue in self._sse:
            _put_dropping_oldest(queue, record)

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
        return sub

    def unsubscribe(self, sub_id: str) -> bool:
        sub = self.subscriptions.pop(sub_id, None)
        if sub is None:
            return False
        if sub.task is not None:
            sub.task.cancel()
        return True

    def _start_worker(self, sub: Subscription) -> None:
        if sub.task is None or sub.task.done():
            sub.task = asyncio.get_running_loop().create_task(
                self._deliver(sub), name=f"redfish-event-sub-{sub.id}"
            )

    async def _deliver(self, sub: Subscription) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=PUSH_TIMEOUT_S, verify=False)
        while True:
            record = await sub.queue.get()
            payload = event_payload([record], sub.context, sub.filters.include_origin)
            headers = {**sub.filters.http_headers, "Content-Type": "application/json"}
            for attempt in range(sub.retry_attempts + 1):
                try:
                    response = await self._client.post(
                        sub.destination, content=payload, headers=headers
                    )
                    if response.status_code < 300:
                        sub.delivered += 1
                        break
                    reason = f"HTTP {response.status_code}"
                except httpx.HTTPError as error:
                    reason = f"{type(error).__name__}: {error}"
                if attempt < sub.retry_attempts:
                    await asyncio.sleep(sub.retry_interval_s)
            else:
                sub.failed += 1
                log.warning(
                    "event %s to subscription %s (%s) not delivered after %d attempts: %s",
                    record.event_id,
                    sub.id,
                    sub.destination,
                    sub.retry_attempts + 1,
                    reason,
                )

    # ------------------------------------------------------------------ SSE
    async def sse_stream(self, keepalive_s: float = 15.0) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[EventRecord] = asyncio.Queue(maxsize=QUEUE_LIMIT)
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
                data = event_payload([record], "")
                yield b"id: " + record.event_id.encode() + b"\ndata: " + data + b"\n\n"
        finally:
            self._sse.discard(queue)

    @property
    def sse_clients(self) -> int:
        return len(self._sse)


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


def _put_dropping_oldest(queue: asyncio.Queue[EventRecord], record: EventRecord) -> None:
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(record)
