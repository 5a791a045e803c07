"""Read OpenElectricity API responses, validated with the ``openelectricity`` SDK's models.

Facilities responses (``/facilities``) and time-series responses (``/data/facilities``,
``/data/network``, ``/market/network``) are both ``{"version", "created_at", "data": [...]}``.
The file is scanned incrementally (see ``jsonstream``): each facility, each series header and each
result set of a series is parsed and validated on its own, so memory follows the largest result
set, not the file. Deprecated 0.12 field names (``start``/``end``, ``network_region`` in columns)
are accepted because the SDK's models accept them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openelectricity.models.base import APIResponse
from openelectricity.models.facilities import Facility
from openelectricity.models.timeseries import (
    NetworkTimeSeries,
    TimeSeriesColumns,
    TimeSeriesResult,
)
from pydantic import ValidationError

from energydash.datasets.jsonstream import JsonScanner


class SchemaError(ValueError):
    """A document that is valid JSON but not an OpenElectricity response; names file and path."""

    def __init__(self, path: Path, json_path: str, reason: str) -> None:
        self.path, self.json_path, self.reason = path, json_path, reason
        super().__init__(f"{path}: {json_path}: {reason}")


def json_path(prefix: str, loc: tuple[Any, ...]) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out.lstrip(".") or "$"


def _validate(model: Any, value: Any, path: Path, prefix: str) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError as error:
        first = error.errors()[0]
        raise SchemaError(path, json_path(prefix, tuple(first["loc"])), first["msg"]) from None


@dataclass(slots=True)
class SeriesHeader:
    """One ``data[]`` element of a time-series response, without its results."""

    path: Path
    index: int
    network: str
    metric: str
    unit: str
    interval: str
    timezone_offset: str
    date_start: Any
    date_end: Any


@dataclass(slots=True)
class SeriesResult:
    """One result set: its grouping columns and its raw ``[timestamp, value]`` points."""

    header: SeriesHeader
    name: str
    columns: TimeSeriesColumns
    points: list[list[Any]]


def read_document(path: Path) -> Iterator[Facility | SeriesResult]:
    """Facilities and series results of one response file, in file order of ``data[]``."""
    with JsonScanner(path) as scanner:
        start = scanner.top()
        if scanner.byte(start) != ord("{"):
            raise SchemaError(
                path, "$", "expected an object with 'version', 'created_at' and 'data'"
            )
        top: dict[str, Any] = {}
        saw_data = False
        for key, value_start in scanner.iter_object(start):
            if key != "data":
                top[key] = scanner.value(value_start)
                continue
            saw_data = True
            if scanner.byte(value_start) != ord("["):
                raise SchemaError(path, "data", "must be a list")
            for index, el_start in enumerate(scanner.iter_array(value_start)):
                yield from _element(scanner, path, index, el_start)
        scanner.check_end(scanner.last_end)
        if not saw_data:
            raise SchemaError(path, "data", "field required")
        _validate(APIResponse[dict], {**top, "data": []}, path, "")


def _element(
    scanner: JsonScanner, path: Path, index: int, start: int
) -> Iterator[Facility | SeriesResult]:
    where = f"data[{index}]"
    if scanner.byte(start) != ord("{"):
        raise SchemaError(path, where, "must be an object")
    head: dict[str, Any] = {}
    spans: list[tuple[int, int]] | None = None
    for key, value_start in scanner.iter_object(start):
        if key == "results" and scanner.byte(value_start) == ord("["):
            spans = [scanner.span(r) for r in scanner.iter_array(value_start)]
        else:
            head[key] = scanner.value(value_start)
    if spans is None and "units" in head:
        yield _validate(Facility, head, path, where)
        return
    series = _validate(NetworkTimeSeries, {**head, "results": []}, path, where)
    header = SeriesHeader(
        path=path,
        index=index,
        network=series.network_code,
        metric=series.metric,
        unit=series.unit,
        interval=series.interval,
        timezone_offset=series.network_timezone_offset,
        date_start=series.date_start,
        date_end=series.date_end,
    )
    for number, (r_start, r_end) in enumerate(spans or []):
        raw = scanner.parse(r_start, r_end)
        result = _validate(TimeSeriesResult, raw, path, f"{where}.results[{number}]")
        yield SeriesResult(header, result.name, result.columns, raw["data"])
