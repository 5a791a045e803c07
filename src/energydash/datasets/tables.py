"""Output tables of the converter and the recorder: CSV (LF line endings) and/or Parquet.

A table is declared once with typed columns; rows go to every requested file type. CSV cells are
text (empty for a missing value); Parquet columns carry the type (float64, int64, string, bool,
timestamp with the offset of the data kept as the column's time zone), written in row groups so
a long table never sits in memory whole. Files are opened through ``AtomicOutputs``: they appear
only when the whole run commits.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from energydash.datasets.atomic import AtomicOutputs

ColumnType = Literal["str", "float", "int", "bool", "ts"]
FileType = Literal["csv", "parquet"]
FILE_TYPES: tuple[FileType, ...] = ("csv", "parquet")

_ROW_GROUP = 65_536


def csv_writer(handle: Any) -> Any:
    """The one CSV dialect of the data tools: comma, minimal quoting, LF line endings."""
    return csv.writer(handle, lineterminator="\n")


def parse_time(text: str) -> datetime:
    """ISO 8601 with its offset; naive means UTC (as everywhere in the project)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _offset_name(value: datetime) -> str:
    offset = value.utcoffset()
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if value != value else value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class _ParquetSink:
    def __init__(self, handle: Any, columns: Sequence[tuple[str, ColumnType]]) -> None:
        self.handle = handle
        self.columns = list(columns)
        self.buffer: list[list[Any]] = [[] for _ in self.columns]
        self.writer: Any = None
        self.time_zones: dict[str, str] = {}

    def add(self, row: Sequence[Any]) -> None:
        for cell, value in zip(self.buffer, row, strict=True):
            cell.append(value)
        if len(self.buffer[0]) >= _ROW_GROUP:
            self.flush()

    def _array(self, name: str, kind: ColumnType, values: list[Any]) -> Any:
        import pyarrow as pa

        if kind == "ts":
            stamps = [
                None if v in (None, "") else (v if isinstance(v, datetime) else parse_time(v))
                for v in values
            ]
            if name not in self.time_zones:
                first = next((s for s in stamps if s is not None), None)
                if first is None:
                    return pa.array([None] * len(values), pa.timestamp("ms", tz="UTC"))
                self.time_zones[name] = _offset_name(first)
            return pa.array(stamps, pa.timestamp("ms", tz=self.time_zones[name]))
        if kind == "float":
            return pa.array([None if v in (None, "") else float(v) for v in values], pa.float64())
        if kind == "int":
            return pa.array([None if v in (None, "") else int(v) for v in values], pa.int64())
        if kind == "bool":
            return pa.array([None if v in (None, "") else bool(v) for v in values], pa.bool_())
        return pa.array([None if v is None else str(v) for v in values], pa.string())

    def flush(self, final: bool = False) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self.columns or (not self.buffer[0] and not (final and self.writer is None)):
            return
        arrays = [
            self._array(name, kind, values)
            for (name, kind), values in zip(self.columns, self.buffer, strict=True)
        ]
        table = pa.Table.from_arrays(arrays, names=[n for n, _ in self.columns])
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.handle, table.schema, compression="zstd")
        elif table.schema != self.writer.schema:
            # A timestamp column whose first row group was all empty: cast to the first schema.
            table = table.cast(self.writer.schema)
        self.writer.write_table(table)
        self.buffer = [[] for _ in self.columns]

    def close(self) -> None:
        if self.handle.closed:  # discarded before the commit
            return
        self.flush(final=True)
        if self.writer is not None:
            self.writer.close()


class Table:
    """One output table written to ``<name>.csv`` and/or ``<name>.parquet``."""

    def __init__(
        self,
        outputs: AtomicOutputs,
        out_dir: Path,
        name: str,
        columns: Sequence[tuple[str, ColumnType]],
        file_types: Iterable[FileType],
    ) -> None:
        self.names = [n for n, _ in columns]
        self.rows = 0
        self._csv: Any = None
        self._parquet: _ParquetSink | None = None
        types = set(file_types)
        if "csv" in types:
            self._csv = csv_writer(outputs.open(out_dir / f"{name}.csv"))
            self._csv.writerow(self.names)
        if "parquet" in types:
            handle = outputs.open(out_dir / f"{name}.parquet", "wb")
            self._parquet = _ParquetSink(handle, columns)
            outputs.before_commit(self._parquet.close)

    def write(self, row: Sequence[Any]) -> None:
        """One row of str, int, float (not NaN) or None: the hot path of the long tables."""
        self.rows += 1
        if self._csv is not None:
            self._csv.writerow(row)  # the csv module writes None as an empty cell
        if self._parquet is not None:
            self._parquet.add(row)

    def write_many(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.write(row)

    def write_dicts(self, rows: Iterable[dict[str, Any]]) -> None:
        """Rows by column name; any value (NaN, datetime) is made a proper cell."""
        names = self.names
        for row in rows:
            self.write([_csv_cell(row.get(n)) for n in names])
