"""Topics, latest snapshots and stored history (time range, tiers, CSV/Parquet export)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from energydash.api.deps import CallerDep, HubDep, SettingsDep
from energydash.api.errors import ApiError
from energydash.api.responses import OrjsonResponse
from energydash.history import HistoryStore
from energydash.hub.history import downsample
from energydash.hub.hub import iso

router = APIRouter(tags=["topics"])
MAX_POINTS = 100_000


@router.get("/topics", summary="Every topic with its sequence number and time")
async def list_topics(hub: HubDep) -> dict[str, Any]:
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


@router.get("/snapshots/{topic:path}", summary="Latest state of a topic (the /ws envelope)")
async def snapshot(topic: str, hub: HubDep) -> Response:
    state = hub.latest(topic)
    if state is None:
        raise ApiError(404, f"no topic {topic!r}; GET /api/v1/topics lists them", "topic")
    return Response(state.frame("snapshot"), media_type="application/json")


def _parse_time(value: str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(422, f"{name}: not an ISO 8601 time: {value!r}", name) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


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
    step_s: Annotated[float | None, Query(gt=0, description="Average into buckets")] = None,
    format: Annotated[Literal["json", "csv", "parquet"], Query()] = "json",
) -> Response:
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
    safe = topic.replace("/", "_")
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
            headers={"Content-Disposition": f'attachment; filename="{safe}.csv"'},
        )
    if format == "parquet":
        return Response(
            _parquet(times, names, columns),
            media_type="application/vnd.apache.parquet",
            headers={"Content-Disposition": f'attachment; filename="{safe}.parquet"'},
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
