"""The time range a page's charts show: preset or custom, live-follow or fixed, and a timezone.

It lives in the page's URL (``?range=6h&live=1&tz=AEST``, or ``range=custom&from=...&to=...``),
so a reload or a shared link shows the same window. Charts load the range from the backend's
stored history and, when live, keep following the feed at the same step. Times are drawn in
the chosen zone: AEST (UTC+10, the NEM's market time all year), ACST (UTC+9:30, South
Australia's standard time) or UTC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode

PRESETS: dict[str, int] = {
    "5m": 300,
    "1h": 3600,
    "6h": 6 * 3600,
    "24h": 86400,
    "7d": 7 * 86400,
    "30d": 30 * 86400,
}
PRESET_LABELS = {"5m": "5 m", "1h": "1 h", "6h": "6 h", "24h": "24 h", "7d": "7 d", "30d": "30 d"}
ZONES: dict[str, timezone] = {
    "AEST": timezone(timedelta(hours=10), "AEST"),
    "ACST": timezone(timedelta(hours=9, minutes=30), "ACST"),
    "UTC": UTC,
}
ZONE_LABELS = {"AEST": "AEST (NEM time)", "ACST": "ACST (SA)", "UTC": "UTC"}
DEFAULT_PRESET = "1h"
DEFAULT_ZONE = "AEST"
MAX_SPAN_S = 10 * 366 * 86400  # a custom range cannot ask for more than the store keeps
CHART_POINTS = 720  # points a chart loads for any range (Grafana-like "max data points")
NICE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class TimeRange:
    preset: str  # a PRESETS key or "custom"
    live: bool
    zone: str  # a ZONES key
    start: datetime | None = None  # custom only (UTC)
    end: datetime | None = None  # custom only (UTC); None: up to now

    @property
    def tz(self) -> timezone:
        return ZONES[self.zone]

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """The UTC window this range shows at ``now``."""
        if self.preset == "custom" and self.start is not None:
            end = self.end if self.end is not None else now
            return self.start, max(end, self.start + timedelta(seconds=1))
        return now - timedelta(seconds=PRESETS[self.preset]), now

    def step_s(self, now: datetime) -> float:
        """Seconds per chart point: the window in about ``CHART_POINTS`` points, a nice step."""
        start, end = self.bounds(now)
        raw = (end - start).total_seconds() / CHART_POINTS
        return float(next((s for s in NICE_STEPS if s >= raw), NICE_STEPS[-1]))

    def query(self) -> dict[str, str]:
        params = {"range": self.preset, "live": "1" if self.live else "0", "tz": self.zone}
        if self.preset == "custom" and self.start is not None:
            params["from"] = self.start.astimezone(self.tz).strftime("%Y-%m-%dT%H:%M")
            if self.end is not None:
                params["to"] = self.end.astimezone(self.tz).strftime("%Y-%m-%dT%H:%M")
        return params


def _local_time(value: str | None, zone: timezone) -> datetime | None:
    """``2026-12-01T10:00`` (wall time in ``zone``) or an ISO time with an offset, as UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def from_query(query: dict[str, Any]) -> TimeRange:
    """The range of a page's query parameters; anything unknown falls back to the default."""
    zone = str(query.get("tz") or DEFAULT_ZONE)
    zone = zone if zone in ZONES else DEFAULT_ZONE
    preset = str(query.get("range") or DEFAULT_PRESET)
    live = str(query.get("live", "1")) != "0"
    if preset == "custom":
        start = _local_time(query.get("from"), ZONES[zone])
        end = _local_time(query.get("to"), ZONES[zone])
        if start is None or (end is not None and not start < end):
            return TimeRange(DEFAULT_PRESET, live, zone)
        if end is not None and (end - start).total_seconds() > MAX_SPAN_S:
            start = end - timedelta(seconds=MAX_SPAN_S)
        # A range that ends in the past is fixed; one without an end can follow live.
        return TimeRange("custom", live and end is None, zone, start, end)
    if preset not in PRESETS:
        preset = DEFAULT_PRESET
    return TimeRange(preset, live, zone)


def with_range(search: str | None, time_range: TimeRange) -> str:
    """``search`` (``?a=b``) with the range's parameters replaced, other parameters kept."""
    kept = [
        (k, v)
        for k, v in parse_qsl((search or "").lstrip("?"))
        if k not in ("range", "live", "tz", "from", "to")
    ]
    return "?" + urlencode(kept + list(time_range.query().items()))


def local(ts: str | datetime, zone: timezone) -> str:
    """A UTC ISO time (``...Z``) as wall time in ``zone``, the string the charts plot."""
    at = ts if isinstance(ts, datetime) else datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone).strftime(LOCAL_FORMAT)


def parse_utc(ts: str) -> datetime:
    at = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def data_now(ts: str | None) -> datetime:
    """The data's clock from a frame's time (a replayed or sped-up clock sets it); else now."""
    try:
        return parse_utc(ts) if ts else datetime.now(UTC)
    except ValueError:
        return datetime.now(UTC)


def due(time_range: TimeRange, last: str | None, ts: str) -> bool:
    """Whether a live chart whose newest point is at ``last`` takes the frame at ``ts``: one
    point per step of the range, like the loaded past; a fixed range takes none."""
    if not time_range.live:
        return False
    if last is None:
        return True
    at = parse_utc(ts)
    return (at - parse_utc(last)).total_seconds() >= time_range.step_s(at) - 0.5


def day_start(now: datetime, zone: timezone) -> datetime:
    """Midnight of ``now``'s day in ``zone``, as UTC ("today" in the chosen timezone)."""
    wall = now.astimezone(zone)
    return wall.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def axis_title(zone: str) -> str:
    offset = ZONES[zone].utcoffset(None) or timedelta(0)
    hours = offset.total_seconds() / 3600
    text = f"UTC+{hours:g}" if hours else "UTC"
    return f"Time ({zone})" if zone == "UTC" else f"Time ({zone}, {text})"


def points_for(time_range: TimeRange, now: datetime) -> int:
    """How many points a chart keeps while it follows live (the window at its step)."""
    start, end = time_range.bounds(now)
    return max(2, math.ceil((end - start).total_seconds() / time_range.step_s(now)) + 1)
