"""The dashboard's one upstream connection: a websockets client to the backend's ``/ws``.

Every browser tab is served from this single subscription (shared fan-out): the feed keeps the
latest frame of each topic plus short rolling histories, and wakes waiting tabs when something
new arrives. It holds no per-user state; what a tab shows lives in that tab's callback.
It reconnects by itself with a capped backoff, so a backend restart heals without the browser
noticing more than a "reconnecting" badge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from energydash.models.audit import AUDIT_TOPIC
from energydash.models.envelope import apply_update
from energydash.models.sources import SOURCES_TOPIC, is_grid_topic

log = logging.getLogger(__name__)

# Topics the dashboard renders; one upstream subscription covers every page of every tab.
UPSTREAM_TOPICS: tuple[str, ...] = (
    "pdu/+/summary",
    "pdu/+/outlets",
    "pdu/+/events",  # switch and breaker events: markers on the PDU page's charts
    "facilities",
    "market/+",
    AUDIT_TOPIC,
    "site/+",
    "site/+/devices",
    "cost/pdu/+",
    "alerts",
    "analytics/scores",
    "analytics/risk",
    "analytics/suggestions",
    "analytics/faults",
    "faults",
    SOURCES_TOPIC,
)

ConnectionState = Literal["connecting", "live", "reconnecting"]


def ws_url(base_url: str) -> str:
    """The backend's ``/ws`` URL from its HTTP base URL."""
    base = base_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://") + "/ws"
    if base.startswith("http://"):
        return "ws://" + base.removeprefix("http://") + "/ws"
    raise ValueError(f"backend_url must start with http:// or https://, got {base_url!r}")


@dataclass(frozen=True)
class Point:
    """One history sample of a topic: the frame's ISO timestamp and the values kept."""

    ts: str
    values: Any


@dataclass
class FeedStatus:
    """What the connection indicator shows."""

    state: ConnectionState
    age_s: float | None  # seconds since the last data frame; None before the first one
    reconnects: int
    last_error: str = ""


@dataclass
class _History:
    points: deque[Point] = field(default_factory=deque)


def _keep(topic: str, data: dict[str, Any]) -> Any:
    """The part of a frame worth keeping over time (small: charts of the last minutes)."""
    if topic.endswith("/summary"):
        return {
            "power_w": data.get("power_w"),
            "energy_kwh": data.get("energy_kwh"),
        }
    if topic.endswith("/outlets"):
        outlets = data.get("outlets") or {}
        return {"power_w": outlets.get("power_w"), "energy_kwh": outlets.get("energy_kwh")}
    if topic == "facilities":
        return {"power_mw": (data.get("facilities") or {}).get("power_mw")}
    if topic.startswith("market/"):
        return {"interval": data.get("interval"), "regions": data.get("regions")}
    if topic.startswith("site/") and topic.count("/") == 1:
        return {"net_grid_flow_w": data.get("net_grid_flow_w")}
    if topic == "analytics/scores":
        return data.get("score")
    return None


class BackendFeed:
    """Latest state and recent history of the backend's topics, from one ``/ws`` client."""

    def __init__(
        self,
        base_url: str,
        *,
        history_points: int = 900,
        reconnect_max_s: float = 5.0,
        token: str | None = None,
        topics: Iterable[str] = UPSTREAM_TOPICS,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.url = ws_url(base_url)
        # The service read token: ReadOnly rights, shared by every tab (no user's identity);
        # it rides in a header, never in the URL that logs show.
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.ssl_context = ssl_context if self.url.startswith("wss://") else None
        self.topics = tuple(topics)
        self.history_points = history_points
        self.reconnect_max_s = reconnect_max_s
        self._lock = threading.Lock()  # layouts read from worker threads
        self._latest: dict[str, dict[str, Any]] = {}
        self._history: dict[str, _History] = {}
        self._version = 0
        self._day_base: dict[str, tuple[str, float]] = {}
        # Per grid topic: who fed its kept history (source, dataset) and how often it restarted.
        self._origin: dict[str, tuple[Any, Any]] = {}
        self._epoch: dict[str, int] = {}
        self._state: ConnectionState = "connecting"
        self._last_data_monotonic: float | None = None
        self._reconnects = 0
        self._last_error = ""
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self.last_ts: str | None = None  # newest frame time seen (benchmarks: update-to-paint)
        self.bytes_received = 0
        self.frames_received = 0

    # --- lifecycle -------------------------------------------------------------------
    def ensure_started(self) -> None:
        """Start the client on the running loop once (the first tab to connect starts it)."""
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._loop is loop:
            return
        self._loop = loop
        self._changed = asyncio.Event()
        self._task = loop.create_task(self._run(), name="energydash-dashboard-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _run(self) -> None:
        import websockets

        delay_s = 0.25
        while True:
            try:
                async with websockets.connect(
                    self.url,
                    additional_headers=self._headers,
                    max_size=64 * 1024 * 1024,
                    open_timeout=5,
                    ping_interval=20,
                    ssl=self.ssl_context,
                ) as socket:
                    await socket.send(
                        orjson.dumps({"op": "subscribe", "topics": list(self.topics)}).decode()
                    )
                    delay_s = 0.25
                    self._state = "live"
                    self._last_error = ""
                    log.info("dashboard feed connected to %s", self.url)
                    self._wake()
                    async for raw in socket:
                        self._receive(raw)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._last_error = f"{type(error).__name__}: {error}"
                log.warning("dashboard feed lost %s (%s); retrying", self.url, self._last_error)
            if self._state == "live":
                self._reconnects += 1
            self._state = "reconnecting"
            self._wake()
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, self.reconnect_max_s)

    def _receive(self, raw: str | bytes) -> None:
        self.bytes_received += len(raw)
        self.frames_received += 1
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.warning("dashboard feed: frame is not JSON, skipped")
            return
        kind = message.get("type")
        if kind in ("snapshot", "update"):
            topic, data = message["topic"], message.get("data")
            if kind == "update":  # its unchanged table columns come from the state held
                held = self._latest.get(topic)
                data = apply_update(topic, held["data"] if held else None, data)
            self.ingest(topic, message.get("ts") or _now_iso(), data)
        elif kind == "error":
            self._last_error = str(message.get("reason", ""))
            log.warning("backend /ws error: %s", self._last_error)

    def ingest(self, topic: str, ts: str, data: Any) -> None:
        """Record one topic frame (the client calls this; tests and benches may too)."""
        if not isinstance(data, dict):
            return
        kept = _keep(topic, data)
        with self._lock:
            previous = self._latest.get(topic)
            self._latest[topic] = {"ts": ts, "data": data}
            if is_grid_topic(topic):  # its history never mixes two sources
                self._restart_if_new_origin(topic, ts, data, previous)
            if kept is not None:
                history = self._history.setdefault(topic, _History())
                history.points.append(Point(ts, kept))
                while len(history.points) > self.history_points:
                    history.points.popleft()
            if topic.endswith("/summary") and isinstance(data.get("energy_kwh"), int | float):
                self._track_day(topic, ts, float(data["energy_kwh"]))
            self._version += 1
            self.last_ts = ts
        self._last_data_monotonic = time.monotonic()
        self._wake()

    def _restart_if_new_origin(
        self, topic: str, ts: str, data: dict[str, Any], previous: dict[str, Any] | None
    ) -> None:
        """Drop the kept history of ``topic`` when its source or dataset changes, or when a
        replay's dataset time rewinds (a loop): one chart never joins two clocks."""
        origin = (data.get("source", "sim"), data.get("dataset"))
        rewound = (
            origin[0] == "replay"
            and previous is not None
            and _before(ts, str(previous.get("ts") or ""))
        )
        if self._origin.get(topic, origin) != origin or rewound:
            self._history.pop(topic, None)
            self._epoch[topic] = self._epoch.get(topic, 0) + 1
        self._origin[topic] = origin

    def epoch(self, topic: str) -> int:
        """How often ``topic``'s history restarted (new source, dataset or a rewind)."""
        with self._lock:
            return self._epoch.get(topic, 0)

    def _track_day(self, topic: str, ts: str, energy_kwh: float) -> None:
        day = ts[:10]
        base = self._day_base.get(topic)
        if base is None or base[0] != day or energy_kwh < base[1]:  # new day or meter reset
            self._day_base[topic] = (day, energy_kwh)

    def energy_today_kwh(self, topic: str) -> float | None:
        """Energy since the first reading of this UTC day (or since the meter was reset)."""
        with self._lock:
            base = self._day_base.get(topic)
            frame = self._latest.get(topic)
        if base is None or frame is None:
            return None
        energy = frame["data"].get("energy_kwh")
        return None if energy is None else max(float(energy) - base[1], 0.0)

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()

    # --- reading ---------------------------------------------------------------------
    @property
    def version(self) -> int:
        """Grows by one with every frame; a tab compares it with what it last rendered."""
        return self._version

    async def wait_for_change(self, seen_version: int, timeout_s: float) -> bool:
        """Wait until the version moves past ``seen_version`` or the timeout ends."""
        if self._version != seen_version:
            return True
        if self._changed is None:
            await asyncio.sleep(timeout_s)
            return self._version != seen_version
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        return self._version != seen_version

    def latest(self, topic: str) -> dict[str, Any] | None:
        """The last data of ``topic`` (None before its first frame)."""
        with self._lock:
            frame = self._latest.get(topic)
        return None if frame is None else frame["data"]

    def latest_ts(self, topic: str) -> str | None:
        with self._lock:
            frame = self._latest.get(topic)
        return None if frame is None else frame["ts"]

    def topics_matching(self, prefix: str, suffix: str = "") -> list[str]:
        with self._lock:
            names = list(self._latest)
        return sorted(t for t in names if t.startswith(prefix) and t.endswith(suffix))

    def pdu_ids(self) -> list[str]:
        """PDU ids seen so far, in numeric order when they are numbers."""
        ids = {t.split("/")[1] for t in self.topics_matching("pdu/", "/outlets")}
        return sorted(ids, key=lambda i: (0, int(i), "") if i.isdigit() else (1, 0, i))

    def market_topics(self) -> list[str]:
        return self.topics_matching("market/")

    def history(self, topic: str, last: int | None = None) -> list[Point]:
        """The rolling history of ``topic``, oldest first."""
        with self._lock:
            history = self._history.get(topic)
            if history is None:
                return []
            points = list(history.points)
        return points if last is None else points[-last:]

    def status(self) -> FeedStatus:
        """Connection state and data age; the badge calls data older than a threshold stale."""
        age = (
            None
            if self._last_data_monotonic is None
            else time.monotonic() - self._last_data_monotonic
        )
        state = "connecting" if self._state == "live" and age is None else self._state
        return FeedStatus(state, age, self._reconnects, self._last_error)


def _before(ts: str, other: str) -> bool:
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")) < datetime.fromisoformat(
            other.replace("Z", "+00:00")
        )
    except ValueError:
        return False


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
