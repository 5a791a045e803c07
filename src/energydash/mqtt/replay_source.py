"""CSV rows for `energydash replay`: typed fields, parsed timestamps, groups per interval.

Column types are decided once per file (explicit ``--types``, a preset's, or inferred from the
first value seen) so the per-row work is one converter call per field: replay's whole budget per
row is a few microseconds next to paho's publish.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Converter = Callable[[str], Any]


class BadRow(ValueError):
    """A row that cannot be sent; the message starts with file:line."""


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _int(text: str) -> int:
    return int(text)


TYPES: dict[str, Converter] = {"int": _int, "float": float, "str": str, "bool": _bool}


def _infer(sample: str) -> str:
    for name in ("int", "float"):
        try:
            TYPES[name](sample)
            return name
        except ValueError:
            pass
    return "str"


def parse_types(spec: str | None) -> dict[str, str]:
    """``"power_mw:float,online:bool"`` → {column: type}."""
    out: dict[str, str] = {}
    for item in (spec or "").split(","):
        if not item.strip():
            continue
        name, _, kind = item.partition(":")
        kind = kind.strip() or "str"
        if kind not in TYPES:
            raise ValueError(f"--types {item!r}: type must be one of {', '.join(TYPES)}")
        out[name.strip()] = kind
    return out


_ts_cache: dict[str, datetime] = {}


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 (offset kept; naive means UTC) or epoch seconds/milliseconds."""
    cached = _ts_cache.get(text)
    if cached is not None:
        return cached
    raw = text.strip()
    try:
        number = float(raw)
    except ValueError:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
    else:
        value = datetime.fromtimestamp(number / 1000 if number > 1e11 else number, UTC)
    if len(_ts_cache) > 100_000:
        _ts_cache.clear()
    _ts_cache[text] = value
    return value


@dataclass(slots=True)
class Row:
    line: int
    fields: dict[str, Any]  # typed, selected columns (what the payload holds)
    raw: dict[str, str]  # every column as text (what topic templates use)
    ts: datetime | None
    ts_text: str | None


class CsvSource:
    """Typed rows of one CSV file; bad rows raise BadRow naming file:line."""

    def __init__(
        self,
        path: Path,
        *,
        timestamp_column: str | None,
        columns: list[str] | None = None,
        types: dict[str, str] | None = None,
    ) -> None:
        self.path = path
        self.timestamp_column = timestamp_column
        self.selected = columns
        self.types = dict(types or {})
        self._converters: dict[str, Converter] | None = None
        self.parquet = path.suffix.lower() == ".parquet"
        if self.parquet:
            self.header = _parquet_file(path).schema_arrow.names
        else:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                self.header = next(csv.reader(handle), None)
        if not self.header:
            raise ValueError(f"{path}:1: empty file, expected a header row")
        missing = [c for c in (columns or []) if c not in self.header]
        if timestamp_column and timestamp_column not in self.header:
            missing.append(timestamp_column)
        if missing:
            raise ValueError(
                f"{path}:1: no column {', '.join(map(repr, missing))}; "
                f"columns are {', '.join(self.header)}"
            )

    def count_rows(self) -> int:
        """Data rows (lines minus the header), counted fast for the ETA."""
        if self.parquet:
            return _parquet_file(self.path).metadata.num_rows
        lines = 0
        with self.path.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                lines += chunk.count(b"\n")
        return max(0, lines - 1)

    def _decide(self, raw: dict[str, str]) -> dict[str, Converter]:
        names = self.selected or self.header
        conv: dict[str, Converter] = {}
        for name in names:
            kind = self.types.get(name)
            if kind is None:
                if name == self.timestamp_column:
                    kind = "str"
                else:
                    sample = raw.get(name) or ""
                    kind = _infer(sample) if sample else None  # type: ignore[assignment]
                    if kind == "int":
                        kind = "float"  # 3 in one row, 3.5 in the next: keep numbers one type
            conv[name] = TYPES[kind] if kind else _auto
        return conv

    def rows(self) -> Iterator[Row | BadRow]:
        """Rows in file order; a bad row is yielded as a BadRow (the caller decides)."""
        path = self.path
        ts_col = self.timestamp_column
        width = len(self.header)
        header = self.header
        for line, cells in self._cells():
            if len(cells) != width:
                if not cells:
                    continue
                yield BadRow(f"{path}:{line}: {len(cells)} fields, the header has {width}")
                continue
            raw = dict(zip(header, cells, strict=True))
            conv = self._converters
            if conv is None:
                conv = self._converters = self._decide(raw)
            try:
                fields = {
                    name: (fn(raw[name]) if raw[name] != "" else None) for name, fn in conv.items()
                }
            except ValueError as error:
                bad = _which(conv, raw)
                yield BadRow(f"{path}:{line}: column {bad!r}: {error}")
                continue
            ts = ts_text = None
            if ts_col:
                ts_text = raw[ts_col]
                try:
                    ts = parse_timestamp(ts_text)
                except ValueError:
                    yield BadRow(f"{path}:{line}: column {ts_col!r}: not a timestamp: {ts_text!r}")
                    continue
            yield Row(line, fields, raw, ts, ts_text)

    def _cells(self) -> Iterator[tuple[int, list[str]]]:
        """(line, cells as text) of each data row: CSV lines, or Parquet rows as CSV would be."""
        if self.parquet:
            line = 1
            for batch in _parquet_file(self.path).iter_batches(batch_size=8192):
                for row in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                    line += 1
                    yield line, [_text(v) for v in row]
            return
        with self.path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            for cells in reader:
                yield reader.line_num, cells


def _parquet_file(path: Path) -> Any:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except Exception as error:  # pyarrow's errors have no common base worth naming
        raise ValueError(f"{path}: not a Parquet file: {error}") from None


def _text(value: Any) -> str:
    """A Parquet value as the converter's CSV has it (timestamps ISO 8601 with offset)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return "" if value != value else repr(value)
    return str(value)


def _auto(text: str) -> Any:
    """A column whose first value was empty: numbers where they parse, else text."""
    try:
        return float(text)
    except ValueError:
        return text


def _which(conv: dict[str, Converter], raw: dict[str, str]) -> str:
    for name, fn in conv.items():
        if raw[name] == "":
            continue
        try:
            fn(raw[name])
        except ValueError:
            return name
    return "?"
