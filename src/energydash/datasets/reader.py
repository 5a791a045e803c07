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

from energydash.datasets.jsonstream import JsonScanner, JsonSyntaxError


class SchemaError(ValueError):
    """A document that is valid JSON but not an OpenElectricity response; names file and path."""

    def __init__(self, path: Path, json_path: str, reason: str) -> None:
        self.path, self.json_path, self.reason = path, json_path, reason
        super().__init__(f"{path}: {json_path}: {reason}")


class NotApiJson(ValueError):
    """Valid JSON holding no OpenElectricity response (a mapping file, notes): skippable."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"{path}: not an OpenElectricity API response: {reason}")


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
    date_start: Any = None
    date_end: Any = None


@dataclass(slots=True)
class FacilityRecord:
    """A facility validated by the SDK, with the raw object (fields the SDK does not model)."""

    facility: Facility
    raw: dict[str, Any]


@dataclass(slots=True)
class Envelope:
    """Where one API response sits in a file: the whole file, or one of a batch file's items."""

    path: Path
    start: int
    prefix: str  # JSON path of the response inside the file ("" when it is the file)
    kind: str  # "facilities", "series" or "empty" (from its first data[] element)


_OPEN = (ord("{"), ord("["))
_WRAP_DEPTH = 3  # {"batches": [{"batch": 1, "response": {...}}]} is as deep as wrappers go


def _join(prefix: str, key: str | int) -> str:
    return f"{prefix}[{key}]" if isinstance(key, int) else f"{prefix}.{key}".lstrip(".")


def _data_kind(scanner: JsonScanner, start: int) -> str:
    """Kind of a data[] array from its first element's keys, skipping the rest unparsed."""
    end = scanner.value_end(start)
    first = scanner.ws(start + 1)
    kind = "empty"
    if scanner.byte(first) == ord("{"):
        keys = {key for key, _ in scanner.iter_object(first)}
        kind = "facilities" if "units" in keys and "results" not in keys else "series"
    elif scanner.byte(first) != ord("]"):
        kind = "series"  # not objects: validation reports it
    scanner.consumed_end = end
    return kind


def _peek_kind(scanner: JsonScanner, data_start: int) -> str:
    """Kind of a data[] array from the first keys of its first element, reading no further."""
    first = scanner.ws(data_start + 1)
    if scanner.byte(first) == ord("]"):
        return "empty"
    if scanner.byte(first) != ord("{"):
        return "series"  # not objects: validation reports it
    for key, _ in scanner.iter_object(first):
        if key == "units":
            return "facilities"
        if key == "results":
            return "series"
    return "series"


def _top_envelope(scanner: JsonScanner, start: int) -> Envelope | None:
    """The file as one response, decided from its first keys (a 1 GB file is not scanned twice).

    None when the top-level object has neither ``version`` nor ``data``; the read pass checks
    the rest of the file.
    """
    is_envelope = False
    for key, value_start in scanner.iter_object(start):
        if key == "data":
            kind = (
                _peek_kind(scanner, value_start)
                if scanner.byte(value_start) == ord("[")
                else "series"
            )
            return Envelope(scanner.path, start, "", kind)
        if key == "version":
            is_envelope = True
    return Envelope(scanner.path, start, "", "empty") if is_envelope else None


def _scan(scanner: JsonScanner, start: int, prefix: str, depth: int) -> list[Envelope]:
    """API responses at ``start``: an envelope itself, or (a few levels deep) inside a wrapper."""
    path = scanner.path
    if scanner.byte(start) == ord("{"):
        keys: set[str] = set()
        kind = "empty"
        nested: list[Envelope] = []
        for key, value_start in scanner.iter_object(start):
            keys.add(key)
            first = scanner.byte(value_start)
            if key == "data" and first == ord("["):
                kind = _data_kind(scanner, value_start)
            elif depth < _WRAP_DEPTH and first in _OPEN:
                nested.extend(_scan(scanner, value_start, _join(prefix, key), depth + 1))
        if "data" in keys or "version" in keys:
            return [Envelope(path, start, prefix, kind)]
        return nested
    if scanner.byte(start) == ord("[") and depth < _WRAP_DEPTH:
        found: list[Envelope] = []
        for index, element in enumerate(scanner.iter_array(start)):
            if scanner.byte(element) in _OPEN:
                found.extend(_scan(scanner, element, _join(prefix, index), depth + 1))
        return found
    return []


def envelopes(path: Path) -> list[Envelope]:
    """Every API response in a file: the file itself, or the items of a batch file.

    A batch file is a list of responses, or an object whose members are responses or lists of
    them (``{"responses": [...]}``, ``{"batch": 3, "response": {...}}``). JSON with no response
    at all raises NotApiJson, which the converter reports and skips.
    """
    with JsonScanner(path) as scanner:
        start = scanner.top()
        first = scanner.byte(start)
        if first == ord("{"):
            try:
                top = _top_envelope(scanner, start)
            except JsonSyntaxError:
                top = Envelope(path, start, "", "unknown")  # the read pass names the place
            if top is not None:
                return [top]
        try:
            found = _scan(scanner, start, "", 0)
            end = scanner.consumed_end if first in _OPEN else scanner.value_end(start)
        except JsonSyntaxError:
            if first != ord("{"):
                raise
            # Broken inside: reading it as one response reports the place where parsing
            # fails (the skipping scan above only sees where the brackets stop matching).
            return [Envelope(path, start, "", "unknown")]
        scanner.check_end(end if end is not None else scanner.value_end(start))
    if found:
        return found
    if first == ord("{"):
        with JsonScanner(path) as scanner:
            keys = [key for key, _ in scanner.iter_object(scanner.top())]
        shown = ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "")
        reason = f"an object without 'version' and 'data' (keys: {shown or 'none'})"
    elif first == ord("["):
        reason = "a list that holds no API response"
    else:
        reason = "a single JSON value, not an object"
    raise NotApiJson(path, reason)


def read_document(
    path: Path, kinds: tuple[str, ...] | None = None
) -> Iterator[FacilityRecord | SeriesResult]:
    """Facility records and series results of a file's responses, in file order.

    ``kinds`` limits the responses read (``("facilities",)`` reads only facility lists).
    """
    found = envelopes(path)
    with JsonScanner(path) as scanner:
        for envelope in found:
            if kinds is None or envelope.kind in kinds or envelope.kind in ("unknown", "empty"):
                yield from _read_envelope(scanner, envelope)


def _read_envelope(
    scanner: JsonScanner, envelope: Envelope
) -> Iterator[FacilityRecord | SeriesResult]:
    path, prefix = envelope.path, envelope.prefix
    start = envelope.start
    if scanner.byte(start) != ord("{"):
        raise SchemaError(
            path, prefix or "$", "expected an object with 'version', 'created_at' and 'data'"
        )
    top: dict[str, Any] = {}
    saw_data = False
    for key, value_start in scanner.iter_object(start):
        if key != "data":
            top[key] = scanner.value(value_start)
            continue
        saw_data = True
        if scanner.byte(value_start) != ord("["):
            raise SchemaError(path, _join(prefix, "data"), "must be a list")
        for index, el_start in enumerate(scanner.iter_array(value_start)):
            yield from _element(scanner, path, prefix, index, el_start)
    if not prefix:  # the response is the file: nothing may follow it
        scanner.check_end(scanner.last_end)
    if not saw_data:
        raise SchemaError(path, _join(prefix, "data"), "field required")
    _validate(APIResponse[dict], {**top, "data": []}, path, prefix)


def _element(
    scanner: JsonScanner, path: Path, prefix: str, index: int, start: int
) -> Iterator[FacilityRecord | SeriesResult]:
    where = _join(_join(prefix, "data"), index)
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
        yield FacilityRecord(_validate(Facility, head, path, where), head)
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
        yield SeriesResult(
            header, result.name, result.columns, raw["data"], result.date_start, result.date_end
        )
