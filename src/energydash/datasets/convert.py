"""OpenElectricity JSON → CSV: facilities, units, facility metrics and market metrics.

Long forms are written while the input streams by; wide forms are accumulated in numpy arrays
indexed by (facility or region, interval), which stay small (500 facilities x a week of 5-minute
intervals is 8 MB per metric) however large the input. Every output is written to a temporary
file and renamed only when the whole conversion succeeded.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from openelectricity.models.facilities import Facility

from energydash.datasets.atomic import atomic_outputs
from energydash.datasets.reader import SeriesResult, read_document

Format = Literal["long", "wide", "both"]
TimeZone = Literal["keep", "utc"]

# Metric → wide column name (units in names); others keep "<metric>_<unit>".
WIDE_NAMES = {
    "power": "power_mw",
    "emissions": "emissions_t",
    "energy": "energy_mwh",
    "market_value": "market_value_aud",
    "price": "price_aud_per_mwh",
    "demand": "demand_mw",
    "demand_energy": "demand_energy_mwh",
    "curtailment": "curtailment_mw",
    "renewable_proportion": "renewable_proportion_pct",
}

FACILITY_COLUMNS = [
    "facility_code", "name", "network", "region", "lat", "lng",
    "fueltech", "status", "capacity_mw", "unit_count",
]  # fmt: skip
UNIT_COLUMNS = [
    "facility_code", "unit_code", "fueltech_id", "status_id", "dispatch_type",
    "capacity_registered_mw", "capacity_maximum_mw", "capacity_storage_mwh",
    "emissions_factor_t_per_mwh",
]  # fmt: skip


def wide_name(metric: str, unit: str) -> str:
    if metric in WIDE_NAMES:
        return WIDE_NAMES[metric]
    suffix = unit.lower().replace("/", "_per_").replace("%", "pct").replace("$", "aud")
    return f"{metric}_{suffix}" if suffix else metric


@dataclass
class ConvertSummary:
    files: int = 0
    facilities: int = 0
    units: int = 0
    series: int = 0
    points: int = 0
    facility_rows_long: int = 0
    facility_rows_wide: int = 0
    market_rows_long: int = 0
    market_rows_wide: int = 0
    unmapped_units: int = 0
    outputs: list[Path] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"converted {self.files} file(s): {self.facilities} facilities, {self.units} units, "
            f"{self.points} points -> {self.facility_rows_long} facility long / "
            f"{self.facility_rows_wide} wide rows, {self.market_rows_long} market long / "
            f"{self.market_rows_wide} wide rows in {len(self.outputs)} CSV files"
        )


class _Grid2D:
    """Values per (row key, timestamp), summed over units; grows as keys appear."""

    def __init__(self) -> None:
        self.rows: dict[Any, int] = {}
        self.times: dict[str, int] = {}
        self.columns: dict[str, np.ndarray] = {}
        self._shape = (16, 64)

    def _grow(self, rows: int, times: int) -> None:
        r, t = self._shape
        if rows <= r and times <= t:
            return
        while r < rows:
            r *= 2
        while t < times:
            t *= 2
        for name, old in self.columns.items():
            new = np.full((r, t), np.nan)
            new[: old.shape[0], : old.shape[1]] = old
            self.columns[name] = new
        self._shape = (r, t)

    def row(self, key: Any) -> int:
        index = self.rows.get(key)
        if index is None:
            index = self.rows[key] = len(self.rows)
            self._grow(len(self.rows), len(self.times))
        return index

    def add(self, column: str, row: int, times: list[int], values: list[float]) -> None:
        if column not in self.columns:
            self.columns[column] = np.full(self._shape, np.nan)
        target = self.columns[column]
        index = np.asarray(times, dtype=np.int64)
        vals = np.asarray(values, dtype=np.float64)
        current = target[row, index]
        target[row, index] = np.where(np.isnan(current), vals, current + vals)

    def time(self, stamp: str) -> int:
        index = self.times.get(stamp)
        if index is None:
            index = self.times[stamp] = len(self.times)
            self._grow(len(self.rows), len(self.times))
        return index


def _fmt(value: float) -> str:
    if value != value:  # NaN: no value
        return ""
    return repr(round(float(value), 6))


class Converter:
    """Converts a set of response files into CSVs in ``out_dir``."""

    def __init__(
        self,
        out_dir: Path,
        *,
        form: Format = "both",
        tz: TimeZone = "keep",
        metrics: Iterable[str] | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.out_dir = out_dir
        self.form = form
        self.tz = tz
        self.metrics = {m.strip() for m in metrics} if metrics else None
        self.on_progress = on_progress or (lambda _n: None)
        self.summary = ConvertSummary()
        self.facilities: dict[str, dict[str, Any]] = {}
        self.unit_rows: list[dict[str, Any]] = []
        self.unit_to_facility: dict[str, str] = {}
        self.metadata: list[dict[str, Any]] = []
        self._stamp_cache: dict[str, str] = {}
        self._facility_wide = _Grid2D()
        self._market_wide = _Grid2D()

    # ------------------------------------------------------------------ timestamps
    def _stamp(self, raw: str) -> str:
        cached = self._stamp_cache.get(raw)
        if cached is None:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            if self.tz == "utc":
                parsed = parsed.astimezone(UTC)
            cached = self._stamp_cache[raw] = parsed.isoformat()
        return cached

    # ------------------------------------------------------------------ facilities
    def _facility(self, facility: Facility) -> None:
        units = facility.units
        capacity = sum(u.capacity_registered or 0.0 for u in units)
        by_fueltech: Counter[str] = Counter()
        for unit in units:
            by_fueltech[str(unit.fueltech_id)] += unit.capacity_registered or 0.0
        statuses = Counter(str(u.status_id) for u in units)
        self.facilities[facility.code] = {
            "facility_code": facility.code,
            "name": facility.name,
            "network": facility.network_id,
            "region": facility.network_region,
            "lat": facility.location.lat if facility.location else "",
            "lng": facility.location.lng if facility.location else "",
            "fueltech": by_fueltech.most_common(1)[0][0] if by_fueltech else "",
            "status": statuses.most_common(1)[0][0] if statuses else "",
            "capacity_mw": round(capacity, 3),
            "unit_count": len(units),
        }
        for unit in units:
            self.unit_to_facility[unit.code] = facility.code
            self.unit_rows.append(
                {
                    "facility_code": facility.code,
                    "unit_code": unit.code,
                    "fueltech_id": str(unit.fueltech_id),
                    "status_id": str(unit.status_id),
                    "dispatch_type": unit.dispatch_type,
                    "capacity_registered_mw": unit.capacity_registered,
                    "capacity_maximum_mw": unit.capacity_maximum,
                    "capacity_storage_mwh": unit.capacity_storage,
                    "emissions_factor_t_per_mwh": unit.emissions_factor_co2,
                }
            )

    # ------------------------------------------------------------------ series
    def _series(self, result: SeriesResult, facility_long: Any, market_long: Any) -> None:
        header = result.header
        if self.metrics is not None and header.metric not in self.metrics:
            return
        self.summary.series += 1
        points = result.points
        self.summary.points += len(points)
        stamps = [self._stamp(p[0]) for p in points]
        values = [p[1] for p in points]
        column = wide_name(header.metric, header.unit)
        unit_code = result.columns.unit_code
        if unit_code is not None:
            facility = self.unit_to_facility.get(unit_code, "")
            if not facility:
                self.summary.unmapped_units += 1
            if facility_long is not None:
                metric = header.metric
                facility_long.writerows(
                    (facility, unit_code, metric, s, "" if v is None else v)
                    for s, v in zip(stamps, values, strict=True)
                )
                self.summary.facility_rows_long += len(points)
            if self.form != "long" and facility:
                self._wide(self._facility_wide, facility, column, stamps, values)
        else:
            region = result.columns.region or header.network
            if market_long is not None:
                market_long.writerows(
                    (header.network, region, header.metric, s, "" if v is None else v, header.unit)
                    for s, v in zip(stamps, values, strict=True)
                )
                self.summary.market_rows_long += len(points)
            if self.form != "long":
                self._wide(self._market_wide, (header.network, region), column, stamps, values)
        self._meta(result, column)

    def _wide(
        self, grid: _Grid2D, key: Any, column: str, stamps: list[str], values: list[Any]
    ) -> None:
        row = grid.row(key)
        keep = [(grid.time(s), v) for s, v in zip(stamps, values, strict=True) if v is not None]
        if keep:
            times, vals = zip(*keep, strict=True)
            grid.add(column, row, list(times), list(vals))

    def _meta(self, result: SeriesResult, column: str) -> None:
        header = result.header
        key = (str(header.path), header.index)
        if self.metadata and self.metadata[-1]["_key"] == key:
            self.metadata[-1]["series"] += 1
            return
        self.metadata.append(
            {
                "_key": key,
                "file": header.path.name,
                "kind": "facility" if result.columns.unit_code is not None else "market",
                "network": header.network,
                "metric": header.metric,
                "unit": header.unit,
                "column": column,
                "interval": header.interval,
                "timezone_offset": header.timezone_offset,
                "date_start": header.date_start.isoformat() if header.date_start else "",
                "date_end": header.date_end.isoformat() if header.date_end else "",
                "series": 1,
            }
        )

    # ------------------------------------------------------------------ run
    def convert(self, paths: list[Path]) -> ConvertSummary:
        # Facilities first, so unit codes map to facilities whatever the file order.
        documents = [(p, list(_peek_kinds(p))) for p in paths]
        ordered = sorted(documents, key=lambda d: 0 if d[1] == ["facilities"] else 1)
        with atomic_outputs() as outputs:
            long_wanted = self.form in ("long", "both")
            facility_long = market_long = None
            if long_wanted:
                facility_long = csv.writer(outputs.open(self.out_dir / "facility_metrics_long.csv"))
                facility_long.writerow(
                    ["facility_code", "unit_code", "metric", "timestamp", "value"]
                )
                market_long = csv.writer(outputs.open(self.out_dir / "market_metrics_long.csv"))
                market_long.writerow(["network", "region", "metric", "timestamp", "value", "unit"])
            for path, _kinds in ordered:
                for record in read_document(path):
                    if isinstance(record, Facility):
                        self._facility(record)
                    else:
                        self._series(record, facility_long, market_long)
                self.summary.files += 1
                self.on_progress(path.stat().st_size)
            self._write_tables(outputs)
            self.summary.outputs = outputs.commit()
        self.summary.facilities = len(self.facilities)
        self.summary.units = len(self.unit_rows)
        return self.summary

    def _write_tables(self, outputs: Any) -> None:
        def table(name: str, columns: list[str], rows: Iterable[dict[str, Any]]) -> int:
            writer = csv.DictWriter(
                outputs.open(self.out_dir / name), columns, extrasaction="ignore"
            )
            writer.writeheader()
            count = 0
            for row in rows:
                writer.writerow(row)
                count += 1
            return count

        table("facilities.csv", FACILITY_COLUMNS, self.facilities.values())
        table("facility_units.csv", UNIT_COLUMNS, self.unit_rows)
        meta_columns = [
            "file", "kind", "network", "metric", "unit", "column", "interval",
            "timezone_offset", "date_start", "date_end", "series",
        ]  # fmt: skip
        table("metadata.csv", meta_columns, self.metadata)
        if self.form == "long":
            return
        self.summary.facility_rows_wide = self._write_wide(
            outputs, "facility_metrics_wide.csv", self._facility_wide, facility=True
        )
        self.summary.market_rows_wide = self._write_wide(
            outputs, "market_metrics_wide.csv", self._market_wide, facility=False
        )

    def _write_wide(self, outputs: Any, name: str, grid: _Grid2D, *, facility: bool) -> int:
        metrics = sorted(
            grid.columns, key=lambda c: (c not in ("power_mw", "price_aud_per_mwh"), c)
        )
        attrs = ["lat", "lng", "region", "fueltech", "name", "network", "capacity_mw"]
        keys = ["facility_code"] if facility else ["network", "region"]
        writer = csv.writer(outputs.open(self.out_dir / name))
        writer.writerow(["timestamp", *keys, *metrics, *(attrs if facility else [])])
        order = sorted(grid.times, key=lambda s: datetime.fromisoformat(s))
        row_keys = sorted(grid.rows, key=str)
        count = 0
        for stamp in order:
            t = grid.times[stamp]
            for key in row_keys:
                r = grid.rows[key]
                vals = [grid.columns[m][r, t] for m in metrics]
                if all(v != v for v in vals):
                    continue
                head = [stamp, key] if facility else [stamp, *key]
                tail = []
                if facility:
                    info = self.facilities.get(key, {})
                    tail = [info.get(a, "") for a in attrs]
                writer.writerow([*head, *(_fmt(v) for v in vals), *tail])
                count += 1
        return count


def _peek_kinds(path: Path) -> list[str]:
    """'facilities' when the file name or its first element says so (cheap ordering hint)."""
    with path.open("rb") as handle:
        head = handle.read(65536)
    if b'"units"' in head and b'"results"' not in head:
        return ["facilities"]
    return ["series"]


def input_files(inputs: list[Path]) -> list[Path]:
    """JSON files named on the command line or found (recursively) in named directories."""
    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            files.extend(sorted(p for p in item.rglob("*.json") if p.is_file()))
        elif item.exists():
            files.append(item)
        else:
            raise FileNotFoundError(f"{item}: no such file or directory")
    if not files:
        raise FileNotFoundError(f"no JSON files in {', '.join(map(str, inputs))}")
    return files
