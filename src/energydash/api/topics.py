"""Topics, latest snapshots and stored history (time range, tiers, CSV/Parquet export)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from energydash.api.deps import CallerDep, HubDep, SettingsDep, caller_of
from energydash.api.errors import ApiError
from energydash.api.responses import OrjsonResponse
from energydash.history import HistoryStore
from energydash.hub.history import downsample
from energydash.hub.hub import iso

router = APIRouter(tags=["topics"])
MAX_POINTS = 100_000
MAX_SERIES = 2_000
MIN_STEP_S = 0.001
MAX_STEP_S = 10 * 365 * 86_400.0  # ten years


@router.get("/topics", summary="Every topic with its sequence number and time")
async def list_topics(hub: HubDep, _: CallerDep) -> dict[str, Any]:
    rows = []
    for topic in hub.topics():
        state = hub.latest(topic)
        assert state is not None
        ring = hub.history(topic)
        rows.append(
            {
                "topic": topic,
                "seq": state.seq,
                "ts": iso(state.ts),
                "source": state.source,
                "series": sorted(ring.series) if ring else [],
            }
        )
    return {"topics": rows}


def guard_site_topic(request: Request, topic: str) -> None:
    """A site's topics are its owner's (and Administrators'): 404 for anyone else, as on
    /api/v1/sites, so the generic topic routes do not show what the site routes hide."""
    if not topic.startswith("site/"):
        return
    from energydash.api.sites import can_see_topic

    caller = caller_of(request)
    engine = request.app.state.engine
    if caller is None or engine is None or not can_see_topic(caller, topic, engine):
        raise ApiError(404, f"no topic {topic!r}; GET /api/v1/topics lists them", "topic")


@router.get("/snapshots/{topic:path}", summary="Latest state of a topic (the /ws envelope)")
async def snapshot(topic: str, hub: HubDep, request: Request, _: CallerDep) -> Response:
    guard_site_topic(request, topic)
    state = hub.latest(topic)
    if state is None:
        raise ApiError(404, f"no topic {topic!r}; GET /api/v1/topics lists them", "topic")
    return Response(state.frame("snapshot"), media_type="application/json")


def content_disposition(topic: str, suffix: str = ".csv") -> str:
    """An attachment header for any topic: headers are Latin-1, ids may be any Unicode.

    An ASCII ``filename`` for old clients and the exact name in RFC 6266 ``filename*``.
    """
    name = topic.replace("/", "_") + suffix
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _parse_time(value: str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(422, f"{name}: not an ISO 8601 time: {value!r}", name) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.timestamp()
    except (OverflowError, ValueError):
        raise ApiError(422, f"{name}: out of range: {value!r}", name) from None


@router.get(
    "/history/{topic:path}", summary="Stored history of a topic's series; JSON, CSV or Parquet"
)
async def history(
    topic: str,
    request: Request,
    _caller: CallerDep,
    hub: HubDep,
    settings: SettingsDep,
    series: Annotated[
        list[str] | None,
        Query(description="Series names (repeat or comma-separate); all when omitted."),
    ] = None,
    start: Annotated[str | None, Query(description="ISO 8601, inclusive")] = None,
    end: Annotated[str | None, Query(description="ISO 8601, inclusive")] = None,
    step_s: Annotated[
        float | None,
        Query(
            ge=MIN_STEP_S,
            le=MAX_STEP_S,
            allow_inf_nan=False,
            description=f"Average into buckets of {MIN_STEP_S:g} to {MAX_STEP_S:g} seconds",
        ),
    ] = None,
    format: Annotated[Literal["json", "csv", "parquet"], Query()] = "json",
) -> Response:
    guard_site_topic(request, topic)
    store: HistoryStore | None = request.app.state.history_store
    ring = hub.history(topic)
    known = (
        await asyncio.to_thread(store.series, topic)
        if store
        else sorted(ring.series if ring else [])
    )
    if not known:
        if hub.latest(topic) is None:
            raise ApiError(404, f"no topic {topic!r}; GET /api/v1/topics lists them", "topic")
        raise ApiError(404, f"topic {topic!r} keeps no history", "topic")
    names = [n.strip() for item in (series or []) for n in item.split(",") if n.strip()]
    if len(names) > MAX_SERIES:
        raise ApiError(422, f"series: at most {MAX_SERIES} names, got {len(names)}", "series")
    if not names:
        names = sorted(known)
    known_set = set(known)
    unknown = [n for n in names if n not in known_set]
    if unknown:
        raise ApiError(
            422,
            f"series: unknown {unknown[:5]} for {topic!r}; known: {sorted(known)[:20]}",
            "series",
        )
    start_s, end_s = _parse_time(start, "start"), _parse_time(end, "end")
    if start_s is not None and end_s is not None and end_s < start_s:
        raise ApiError(422, "end: before start", "end")
    if store is not None:
        answer = await asyncio.to_thread(
            store.query,
            topic,
            names,
            start_s,
            end_s,
            step_s=step_s,
            max_rows=settings.history_query_max_rows,
        )
        times, columns, tier = answer.times, answer.columns, answer.tier.name
        resolution_s = answer.tier.step_s or None
    else:
        assert ring is not None
        times, columns = ring.window(names, start_s, end_s)
        if step_s is not None:
            times, columns = downsample(times, columns, step_s)
        tier, resolution_s = "memory", ring.resolution_s
    if times.size * max(len(names), 1) > MAX_POINTS * 10:
        raise ApiError(
            422, "too many points; narrow the range, the series or raise step_s", "step_s"
        )
    stamps = [iso(datetime.fromtimestamp(t, UTC)) for t in times.tolist()]
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["timestamp", *names])
        matrix = (
            np.column_stack([columns[n] for n in names]) if names else np.zeros((len(stamps), 0))
        )
        for stamp, row in zip(stamps, matrix.tolist(), strict=True):
            writer.writerow([stamp, *("" if v != v else repr(round(v, 6)) for v in row)])
        return Response(
            buffer.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": content_disposition(topic)},
        )
    if format == "parquet":
        return Response(
            _parquet(times, names, columns),
            media_type="application/vnd.apache.parquet",
            headers={"Content-Disposition": content_disposition(topic, ".parquet")},
        )
    return OrjsonResponse(
        {
            "topic": topic,
            "tier": tier,
            "resolution_s": resolution_s,
            "step_s": step_s,
            "timestamps": stamps,
            "series": {n: columns[n].tolist() for n in names},  # orjson writes NaN as null
        }
    )


def _parquet(times: np.ndarray, names: list[str], columns: dict[str, np.ndarray]) -> bytes:
    """One Parquet file: a UTC ``timestamp`` column and one float64 column per series."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    stamps = pa.array((times * 1000).astype("int64"), type=pa.timestamp("ms", tz="UTC"))
    table = pa.table({"timestamp": stamps, **{n: pa.array(columns[n]) for n in names}})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()
