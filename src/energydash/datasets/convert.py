"""OpenElectricity JSON → CSV/Parquet: facilities, units, facility metrics and market metrics.

Long forms are written while the input streams by; wide forms are accumulated in numpy arrays
indexed by (facility or region, interval), which stay small (500 facilities x a week of 5-minute
intervals is 8 MB per metric) however large the input. Every output is written to a temporary
file and renamed only when the whole conversion succeeded.

Batteries. OpenElectricity lists one physical battery three times: a ``BIDIRECTIONAL`` unit
(fueltech ``battery``, net output: discharging positive, charging negative) and its split views
``battery_discharging`` (GENERATOR) and ``battery_charging`` (LOAD, charging as a positive
number). In a facility that has a bidirectional unit, the split views are *twins*: the facility's
value at an interval is the bidirectional unit's, and the twins count only at an interval where
no bidirectional unit of the facility reported. Every other ``LOAD`` unit (pumped hydro's
``pumps``, a twin standing in) counts negative in the flow metrics (power, energy,
market_value), so a facility's power is its net output. Capacity (``capacity_mw``) is the sum of
the GENERATOR and BIDIRECTIONAL units that are not twins: each physical battery once; LOAD units
go to ``load_capacity_mw``. The dominant fueltech is the one with the most ``capacity_mw``
(``battery_charging``/``battery_discharging`` count as ``battery``); a tie goes to the fueltech
that sorts first; a facility with only LOAD units is ranked by their capacity.
"""

from __future__ import annotations

import csv
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
from openelectricity.models.facilities import Facility, FacilityUnit
from openelectricity.types import DataMetric, MarketMetric

from energydash.datasets.atomic import atomic_outputs, remove_stale_temps
from energydash.datasets.reader import (
    FacilityRecord,
    NotApiJson,
    SeriesResult,
    envelopes,
    read_document,
)
from energydash.datasets.tables import FileType, Table, parse_time

Form = Literal["long", "wide", "both"]
Format = Form  # the name before file types existed
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
# Metrics whose LOAD units count negative in a facility's value (flows, not stocks).
FLOW_METRICS = frozenset({"power", "energy", "market_value"})
KNOWN_METRICS = sorted({m.value for m in DataMetric} | {m.value for m in MarketMetric})
BATTERY_TWINS = frozenset({"battery_charging", "battery_discharging"})

FACILITY_COLUMNS: list[tuple[str, Any]] = [
    ("facility_code", "str"), ("name", "str"), ("network", "str"), ("region", "str"),
    ("lat", "float"), ("lng", "float"), ("fueltech", "str"), ("status", "str"),
    ("capacity_mw", "float"), ("unit_count", "int"), ("fueltechs", "str"),
    ("load_capacity_mw", "float"), ("storage_mwh", "float"), ("description", "str"),
    ("npi_id", "str"), ("created_at", "ts"), ("updated_at", "ts"),
]  # fmt: skip
_DATE_FIELDS = (
    "commencement_date", "closure_date", "expected_operation_date", "expected_closure_date",
    "construction_start_date", "project_approval_date",
)  # fmt: skip
UNIT_COLUMNS: list[tuple[str, Any]] = [
    ("facility_code", "str"), ("unit_code", "str"), ("fueltech_id", "str"),
    ("status_id", "str"), ("dispatch_type", "str"), ("capacity_registered_mw", "float"),
    ("capacity_maximum_mw", "float"), ("capacity_storage_mwh", "float"),
    ("emissions_factor_t_per_mwh", "float"), ("facility_role", "str"),
    ("data_first_seen", "ts"), ("data_last_seen", "ts"),
    *(
        item
        for name in _DATE_FIELDS
        for item in ((name, "ts"), (f"{name}_specificity", "str"), (f"{name}_display", "str"))
    ),
    ("project_lodgement_date", "ts"), ("created_at", "ts"), ("updated_at", "ts"),
]  # fmt: skip
_UNIT_RENAMES = {
    "code": "unit_code", "capacity_registered": "capacity_registered_mw",
    "capacity_maximum": "capacity_maximum_mw", "capacity_storage": "capacity_storage_mwh",
    "emissions_factor_co2": "emissions_factor_t_per_mwh",
}  # fmt: skip
_FACILITY_RENAMES = {"code": "facility_code", "network_id": "network", "network_region": "region"}
META_COLUMNS: list[tuple[str, Any]] = [
    ("file", "str"), ("kind", "str"), ("network", "str"), ("metric", "str"), ("unit", "str"),
    ("column", "str"), ("interval", "str"), ("timezone_offset", "str"), ("series", "str"),
    ("facility_code", "str"), ("unit_code", "str"), ("region", "str"),
    ("date_start", "ts"), ("date_end", "ts"), ("first_timestamp", "ts"),
    ("last_timestamp", "ts"), ("points", "int"), ("null_points", "int"),
]  # fmt: skip
FACILITY_WIDE_ATTRS = ["lat", "lng", "region", "fueltech", "name", "network", "capacity_mw"]
MANIFEST = "convert_manifest.json"
# Output table → the group of input it comes from (a run writes only groups it has input for).
GROUPS = {
    "facilities": "facilities", "facility_units": "facilities",
    "facility_metrics_long": "facility", "facility_metrics_wide": "facility",
    "market_metrics_long": "market", "market_metrics_wide": "market",
}  # fmt: skip
_INTERVALS = {"5m": 300, "30m": 1800, "1h": 3600, "1d": 86400, "7d": 604800}


class ConvertError(ValueError):
    """A conversion refused before anything was written; ``exit_code`` 2 (options, outputs)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def wide_name(metric: str, unit: str) -> str:
    if metric in WIDE_NAMES:
        return WIDE_NAMES[metric]
    suffix = unit.lower().replace("/", "_per_").replace("%", "pct").replace("$", "aud")
    return f"{metric}_{suffix}" if suffix else metric


def check_metrics(names: Iterable[str]) -> set[str]:
    """The ``--metrics`` names, or ConvertError listing the known ones."""
    wanted = {n.strip() for n in names if n.strip()}
    unknown = sorted(wanted - set(KNOWN_METRICS))
    if unknown:
        raise ConvertError(
            f"--metrics: unknown {', '.join(map(repr, unknown))}; known: {', '.join(KNOWN_METRICS)}"
        )
    return wanted


def grid_step_s(grid: str) -> int | None:
    """Seconds of a ``--grid`` duration (``5m``, ``1h``), None for ``data``/``regular``."""
    if grid in ("data", "regular"):
        return None
    if grid not in _INTERVALS:
        raise ConvertError(f"--grid: {grid!r} is not one of data, regular, {', '.join(_INTERVALS)}")
    return _INTERVALS[grid]


@dataclass
class ConvertSummary:
    files: int = 0
    skipped_files: list[str] = field(default_factory=list)
    facilities: int = 0
    units: int = 0
    series: int = 0
    points: int = 0
    facility_rows_long: int = 0
    facility_rows_wide: int = 0
    market_rows_long: int = 0
    market_rows_wide: int = 0
    unmapped_units: int = 0
    stale_temps_removed: int = 0
    outputs: list[Path] = field(default_factory=list)

    def line(self) -> str:
        kinds = sorted({p.suffix.lstrip(".").upper() for p in self.outputs}) or ["no"]
        skipped = f", {len(self.skipped_files)} skipped" if self.skipped_files else ""
        return (
            f"converted {self.files} file(s){skipped}: {self.facilities} facilities, "
            f"{self.units} units, {self.points} points -> {self.facility_rows_long} facility "
            f"long / {self.facility_rows_wide} wide rows, {self.market_rows_long} market long / "
            f"{self.market_rows_wide} wide rows in {len(self.outputs)} "
            f"{'/'.join(kinds)} files"
        )


class _Grid2D:
    """Values per (row key, timestamp) and column, summed over units; grows as keys appear."""

    def __init__(self) -> None:
        self.rows: dict[Any, int] = {}
        self.times: dict[str, int] = {}
        self.columns: dict[tuple[str, str], np.ndarray] = {}
        self.intervals: set[str] = set()
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

    def time(self, stamp: str) -> int:
        index = self.times.get(stamp)
        if index is None:
            index = self.times[stamp] = len(self.times)
            self._grow(len(self.rows), len(self.times))
        return index

    def add(self, key: tuple[str, str], row: int, times: list[int], values: list[float]) -> None:
        if key not in self.columns:
            self.columns[key] = np.full(self._shape, np.nan)
        target = self.columns[key]
        index = np.asarray(times, dtype=np.int64)
        vals = np.asarray(values, dtype=np.float64)
        current = target[row, index]
        target[row, index] = np.where(np.isnan(current), vals, current + vals)

    def metric_columns(self) -> list[str]:
        names = {name for name, _ in self.columns}
        return sorted(names, key=lambda c: (c not in ("power_mw", "price_aud_per_mwh"), c))

    def values(self, column: str) -> np.ndarray:
        """Facility values: units + bidirectional batteries, twins where no battery reported."""
        main = self.columns.get((column, "main"))
        twin = self.columns.get((column, "twin"))
        seen = self.columns.get((column, "bidi"))
        if twin is None:
            assert main is not None
            return main
        if seen is not None:
            twin = np.where(np.isnan(seen), twin, np.nan)
        if main is None:
            return twin
        both = np.isnan(main) & np.isnan(twin)
        return np.where(both, np.nan, np.nan_to_num(main) + np.nan_to_num(twin))


def _fmt(value: float) -> float | None:
    if value != value:  # NaN: no value
        return None
    return round(float(value), 6)


def _iso(value: Any) -> str | None:
    """A datetime as ISO 8601 with its offset (naive: UTC), passing None through."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return str(value)


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return value


def _normal_fueltech(fueltech: str) -> str:
    return "battery" if fueltech in BATTERY_TWINS else fueltech


@dataclass(slots=True)
class _UnitInfo:
    facility: str
    role: str  # "net" (generator, bidirectional), "load" (counts negative), "twin"
    bidirectional: bool
    load: bool


def unit_roles(units: list[FacilityUnit]) -> dict[str, str]:
    """Each unit's role in its facility's values: ``net``, ``load`` or ``twin`` (see above)."""
    has_bidi = any(u.dispatch_type == "BIDIRECTIONAL" for u in units)
    roles = {}
    for unit in units:
        if has_bidi and str(unit.fueltech_id) in BATTERY_TWINS:
            roles[unit.code] = "twin"
        elif unit.dispatch_type == "LOAD":
            roles[unit.code] = "load"
        else:
            roles[unit.code] = "net"
    return roles


def facility_summary(units: list[FacilityUnit]) -> dict[str, Any]:
    """Capacity, load capacity, storage and the dominant fueltech by the rule above."""
    roles = unit_roles(units)
    generating: Counter[str] = Counter()
    loads: Counter[str] = Counter()
    capacity = load_capacity = storage = 0.0
    for unit in units:
        role = roles[unit.code]
        fueltech = _normal_fueltech(str(unit.fueltech_id))
        registered = unit.capacity_registered or 0.0
        if role == "net":
            capacity += registered
            storage += unit.capacity_storage or 0.0
            generating[fueltech] += registered
        elif role == "load":
            load_capacity += registered
            loads[fueltech] += registered
    ranked = generating or loads
    dominant = min(ranked, key=lambda f: (-ranked[f], f)) if ranked else ""
    statuses = Counter(str(u.status_id) for u in units)
    order = {"operating": 0, "committed": 1, "retired": 2}
    status = min(statuses, key=lambda s: (-statuses[s], order.get(s, 3), s)) if statuses else ""
    return {
        "fueltech": dominant,
        "fueltechs": ";".join(sorted({_normal_fueltech(str(u.fueltech_id)) for u in units})),
        "status": status,
        "capacity_mw": round(capacity, 3),
        "load_capacity_mw": round(load_capacity, 3),
        "storage_mwh": round(storage, 3),
        "unit_count": len(units),
    }


class Converter:
    """Converts a set of response files into tables in ``out_dir``."""

    def __init__(
        self,
        out_dir: Path,
        *,
        form: Form = "both",
        tz: TimeZone = "keep",
        metrics: Iterable[str] | None = None,
        file_types: Iterable[FileType] = ("csv",),
        grid: str = "data",
        strict: bool = False,
        replace: bool = False,
        on_progress: Callable[[int], None] | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.out_dir = out_dir
        self.form = form
        self.tz = tz
        self.metrics = check_metrics(metrics) if metrics is not None else None
        self.file_types = tuple(dict.fromkeys(file_types))
        self.grid = grid
        self.grid_step_s = grid_step_s(grid)
        self.strict = strict
        self.replace = replace
        self.on_progress = on_progress or (lambda _n: None)
        self.warn = warn or (lambda m: print(f"energydash convert: {m}", file=sys.stderr))
        self.summary = ConvertSummary()
        self.facilities: dict[str, dict[str, Any]] = {}
        self.unit_rows: list[dict[str, Any]] = []
        self.units: dict[str, _UnitInfo] = {}
        self.metadata: list[dict[str, Any]] = []
        self._stamp_cache: dict[str, str] = {}
        self._facility_wide = _Grid2D()
        self._market_wide = _Grid2D()
        self._extra_facility: dict[str, None] = {}
        self._extra_unit: dict[str, None] = {}
        self._facility_records = 0

    # ------------------------------------------------------------------ timestamps
    def _stamp(self, raw: str) -> str:
        cached = self._stamp_cache.get(raw)
        if cached is None:
            parsed = parse_time(raw)
            if self.tz == "utc":
                parsed = parsed.astimezone(UTC)
            cached = self._stamp_cache[raw] = parsed.isoformat()
        return cached

    def _date(self, value: Any) -> str | None:
        if value is None:
            return None
        text = _iso(value)
        return self._stamp(text) if text else None

    # ------------------------------------------------------------------ facilities
    def _facility(self, record: FacilityRecord) -> None:
        facility: Facility = record.facility
        raw = record.raw
        units = facility.units
        roles = unit_roles(units)
        row: dict[str, Any] = {
            "facility_code": facility.code,
            "name": facility.name,
            "network": facility.network_id,
            "region": facility.network_region,
            "lat": facility.location.lat if facility.location else None,
            "lng": facility.location.lng if facility.location else None,
            "description": facility.description,
            "npi_id": facility.npi_id,
            "created_at": self._date(facility.created_at),
            "updated_at": self._date(facility.updated_at),
            **facility_summary(units),
        }
        for key, value in raw.items():
            if key not in Facility.model_fields:
                self._extra_facility[key] = None
                row[key] = _cell(value)
        self.facilities[facility.code] = row
        self._facility_records += 1
        raw_units = raw.get("units") or []
        for number, unit in enumerate(units):
            has_bidi = unit.dispatch_type == "BIDIRECTIONAL"
            self.units[unit.code] = _UnitInfo(
                facility.code, roles[unit.code], has_bidi, unit.dispatch_type == "LOAD"
            )
            unit_row: dict[str, Any] = {"facility_code": facility.code}
            for name in FacilityUnit.model_fields:
                value = getattr(unit, name)
                if isinstance(value, datetime):
                    value = self._date(value)
                elif hasattr(value, "value"):
                    value = value.value
                unit_row[_UNIT_RENAMES.get(name, name)] = value
            unit_row["facility_role"] = roles[unit.code]
            extra = raw_units[number] if number < len(raw_units) else {}
            for key, value in extra.items():
                if key not in FacilityUnit.model_fields:
                    self._extra_unit[key] = None
                    unit_row[key] = _cell(value)
            self.unit_rows.append(unit_row)

    def _load_known_facilities(self) -> None:
        """Units and facility attributes from an earlier conversion into the same folder."""
        units_csv = self.out_dir / "facility_units.csv"
        facilities_csv = self.out_dir / "facilities.csv"
        if not units_csv.exists():
            return
        with units_csv.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                role = row.get("facility_role") or (
                    "load" if row.get("dispatch_type") == "LOAD" else "net"
                )
                self.units[row["unit_code"]] = _UnitInfo(
                    row["facility_code"],
                    role,
                    row.get("dispatch_type") == "BIDIRECTIONAL",
                    row.get("dispatch_type") == "LOAD",
                )
        if facilities_csv.exists():
            with facilities_csv.open(newline="", encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    self.facilities[row["facility_code"]] = {
                        k: (v if v != "" else None) for k, v in row.items()
                    }

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
        facility = region = ""
        if unit_code is not None:
            info = self.units.get(unit_code)
            facility = info.facility if info else ""
            if not info:
                self.summary.unmapped_units += 1
            if facility_long is not None:
                metric = header.metric
                facility_long.write_many(
                    (facility, unit_code, metric, s, v) for s, v in zip(stamps, values, strict=True)
                )
                self.summary.facility_rows_long += len(points)
            if self.form != "long" and info:
                channel = "twin" if info.role == "twin" else "main"
                if info.load and header.metric in FLOW_METRICS:
                    values = [None if v is None else -abs(v) for v in values]
                grid = self._facility_wide
                self._wide(grid, facility, (column, channel), stamps, values, header.interval)
                if info.bidirectional:
                    seen = [None if v is None else 1.0 for v in values]
                    self._wide(grid, facility, (column, "bidi"), stamps, seen, header.interval)
        else:
            region = result.columns.region or header.network
            if market_long is not None:
                market_long.write_many(
                    (header.network, region, header.metric, s, v, header.unit)
                    for s, v in zip(stamps, values, strict=True)
                )
                self.summary.market_rows_long += len(points)
            if self.form != "long":
                key = (header.network, region)
                self._wide(
                    self._market_wide, key, (column, "main"), stamps, values, header.interval
                )
        self._meta(result, column, stamps, values, facility, region)

    def _wide(
        self,
        grid: _Grid2D,
        key: Any,
        column: tuple[str, str],
        stamps: list[str],
        values: list[Any],
        interval: str,
    ) -> None:
        row = grid.row(key)
        grid.intervals.add(interval)
        # Every stamp joins the grid, a null one too: an interval where all is null stays a row.
        times = [grid.time(s) for s in stamps]
        keep = [(t, v) for t, v in zip(times, values, strict=True) if v is not None]
        if keep:
            index, vals = zip(*keep, strict=True)
            grid.add(column, row, list(index), list(vals))
        elif column not in grid.columns:
            grid.add(column, row, [], [])

    def _meta(
        self,
        result: SeriesResult,
        column: str,
        stamps: list[str],
        values: list[Any],
        facility: str,
        region: str,
    ) -> None:
        header = result.header
        ordered = sorted(stamps, key=parse_time) if stamps else []
        self.metadata.append(
            {
                "_path": header.path,
                "file": header.path.name,
                "kind": "facility" if result.columns.unit_code is not None else "market",
                "network": header.network,
                "metric": header.metric,
                "unit": header.unit,
                "column": column,
                "interval": header.interval,
                "timezone_offset": header.timezone_offset,
                "series": result.name,
                "facility_code": facility or None,
                "unit_code": result.columns.unit_code,
                "region": region or None,
                "date_start": self._date(result.date_start or header.date_start),
                "date_end": self._date(result.date_end or header.date_end),
                "first_timestamp": ordered[0] if ordered else None,
                "last_timestamp": ordered[-1] if ordered else None,
                "points": len(values),
                "null_points": sum(v is None for v in values),
            }
        )

    # ------------------------------------------------------------------ outputs in the folder
    def _manifest(self) -> dict[str, list[str]]:
        path = self.out_dir / MANIFEST
        if not path.exists():
            return {}
        try:
            data = orjson.loads(path.read_bytes())
            return {str(k): list(v) for k, v in data.get("tables", {}).items()}
        except (orjson.JSONDecodeError, AttributeError, TypeError):
            return {}

    def _source_name(self, path: Path) -> str:
        return os.path.relpath(path.resolve(), self.out_dir.resolve())

    def _check_outputs(self, groups: dict[str, list[Path]]) -> None:
        """Refuse to replace a table made from inputs this run does not read."""
        if self.replace:
            return
        manifest = self._manifest()
        for table, group in GROUPS.items():
            sources = groups.get(group)
            if not sources:
                continue
            mine = {self._source_name(p) for p in sources}
            theirs = [s for s in manifest.get(table, []) if s not in mine]
            exists = any((self.out_dir / f"{table}.{t}").exists() for t in ("csv", "parquet"))
            if exists and theirs:
                shown = ", ".join(theirs[:3]) + (", ..." if len(theirs) > 3 else "")
                raise ConvertError(
                    f"{self.out_dir / table}.*: holds data converted from {shown}, which this "
                    "run does not read, and would be replaced; convert all the inputs in one run "
                    "(a folder is searched recursively), choose another -o, or pass --replace"
                )

    # ------------------------------------------------------------------ run
    def convert(self, paths: list[Path]) -> ConvertSummary:
        removed = remove_stale_temps(self.out_dir)
        self.summary.stale_temps_removed = len(removed)
        documents: list[tuple[Path, set[str]]] = []
        for path in paths:
            try:
                kinds = {e.kind for e in envelopes(path)}
            except NotApiJson as error:
                if self.strict:
                    raise
                self.warn(f"skipped {error.path}: not an OpenElectricity API response: "
                          f"{error.reason}")  # fmt: skip
                self.summary.skipped_files.append(str(path))
                self.on_progress(path.stat().st_size)
                continue
            documents.append((path, kinds))
        facility_files = [p for p, k in documents if "facilities" in k]
        series_files = [p for p, k in documents if k & {"series", "unknown", "empty"}]
        if not facility_files:
            self._load_known_facilities()
        with atomic_outputs() as outputs:
            # Facilities first (every file), so unit codes map to facilities whatever the order.
            for path in facility_files:
                for record in read_document(path, ("facilities",)):
                    assert isinstance(record, FacilityRecord)
                    self._facility(record)
            long_wanted = self.form in ("long", "both")
            facility_long = market_long = None
            if long_wanted and series_files:
                facility_long = self._table(outputs, "facility_metrics_long", [
                    ("facility_code", "str"), ("unit_code", "str"), ("metric", "str"),
                    ("timestamp", "ts"), ("value", "float"),
                ])  # fmt: skip
                market_long = self._table(outputs, "market_metrics_long", [
                    ("network", "str"), ("region", "str"), ("metric", "str"),
                    ("timestamp", "ts"), ("value", "float"), ("unit", "str"),
                ])  # fmt: skip
            for path in series_files:
                for record in read_document(path, ("series",)):
                    if isinstance(record, FacilityRecord):  # a file too broken to classify
                        self._facility(record)
                    else:
                        self._series(record, facility_long, market_long)
            for path, _kinds in documents:
                self.summary.files += 1
                self.on_progress(path.stat().st_size)
            groups = self._groups(facility_files, series_files)
            self._check_outputs(groups)
            if facility_long is not None and "facility" not in groups:
                outputs.discard(self.out_dir / "facility_metrics_long")
            if market_long is not None and "market" not in groups:
                outputs.discard(self.out_dir / "market_metrics_long")
            self._write_tables(outputs, groups)
            self._write_manifest(outputs, groups)
            self.summary.outputs = [p for p in outputs.commit() if p.name != MANIFEST]
        self.summary.facilities = self._facility_records
        self.summary.units = len(self.unit_rows)
        return self.summary

    def _groups(self, facility_files: list[Path], series_files: list[Path]) -> dict[str, list]:
        groups: dict[str, list[Path]] = {}
        if facility_files:
            groups["facilities"] = facility_files
        for kind in ("facility", "market"):
            files = {m["_path"] for m in self.metadata if m["kind"] == kind}
            if files:
                groups[kind] = [p for p in series_files if p in files]
        return groups

    def _table(self, outputs: Any, name: str, columns: list[tuple[str, Any]]) -> Table:
        return Table(outputs, self.out_dir, name, columns, self.file_types)

    def _write_manifest(self, outputs: Any, groups: dict[str, list[Path]]) -> None:
        tables = self._manifest()
        for table, group in GROUPS.items():
            written = any(p.parent == self.out_dir and p.stem == table for p in outputs.pending())
            if group in groups and written:
                tables[table] = sorted({self._source_name(p) for p in groups[group]})
        handle = outputs.open(self.out_dir / MANIFEST, "wb")
        handle.write(orjson.dumps({"tables": tables}, option=orjson.OPT_INDENT_2) + b"\n")

    def _write_tables(self, outputs: Any, groups: dict[str, list[Path]]) -> None:
        if "facilities" in groups:
            extra_f = [(k, "str") for k in self._extra_facility]
            self._table(outputs, "facilities", FACILITY_COLUMNS + extra_f).write_dicts(
                self.facilities.values()
            )
            extra_u = [(k, "str") for k in self._extra_unit]
            self._table(outputs, "facility_units", UNIT_COLUMNS + extra_u).write_dicts(
                self.unit_rows
            )
        if groups.get("facility") or groups.get("market"):
            self._write_metadata(outputs)
        if self.form == "long":
            return
        if "facility" in groups:
            self.summary.facility_rows_wide = self._write_wide(
                outputs, "facility_metrics_wide", self._facility_wide, facility=True
            )
        if "market" in groups:
            self.summary.market_rows_wide = self._write_wide(
                outputs, "market_metrics_wide", self._market_wide, facility=False
            )

    def _write_metadata(self, outputs: Any) -> None:
        """This run's series, plus an earlier run's rows of the kinds this run did not read."""
        rows = list(self.metadata)
        mine = {m["kind"] for m in rows}
        earlier = self.out_dir / "metadata.csv"
        if earlier.exists():
            with earlier.open(newline="", encoding="utf-8") as handle:
                kept = [r for r in csv.DictReader(handle) if r.get("kind") not in mine]
            rows = [{k: (v if v != "" else None) for k, v in r.items()} for r in kept] + rows
        self._table(outputs, "metadata", META_COLUMNS).write_dicts(rows)

    def _grid_times(self, grid: _Grid2D) -> list[str]:
        order = sorted(grid.times, key=parse_time)
        if self.grid == "data" or not order:
            return order
        step_s = self.grid_step_s
        if step_s is None:
            steps = [_INTERVALS.get(i) for i in grid.intervals]
            if not steps or None in steps:
                raise ConvertError(
                    f"--grid regular: the data's interval ({', '.join(sorted(grid.intervals))}) "
                    f"is not a fixed step; use --grid data or one of {', '.join(_INTERVALS)}"
                )
            step_s = min(s for s in steps if s is not None)
        first, last = parse_time(order[0]), parse_time(order[-1])
        step = timedelta(seconds=step_s)
        stamps = []
        now = first
        while now <= last:
            stamp = now.isoformat()
            stamps.append(stamp)
            grid.time(stamp)
            now += step
        # Stamps of the data off the regular step (a 30-minute series in a 5-minute grid: none).
        return sorted(set(stamps) | set(order), key=parse_time)

    def _write_wide(self, outputs: Any, name: str, grid: _Grid2D, *, facility: bool) -> int:
        order = self._grid_times(grid)
        metrics = grid.metric_columns()
        values = {m: grid.values(m) for m in metrics}
        keys = ["facility_code"] if facility else ["network", "region"]
        attrs = FACILITY_WIDE_ATTRS if facility else []
        columns = [("timestamp", "ts"), *((k, "str") for k in keys)]
        columns += [(m, "float") for m in metrics]
        columns += [(a, "float" if a in ("lat", "lng", "capacity_mw") else "str") for a in attrs]
        table = self._table(outputs, name, columns)
        row_keys = sorted(grid.rows, key=str)
        tails = {k: [self.facilities.get(k, {}).get(a) for a in attrs] for k in row_keys}
        for stamp in order:
            t = grid.times[stamp]
            for key in row_keys:
                r = grid.rows[key]
                head = [stamp, key] if facility else [stamp, *key]
                cells = [_fmt(values[m][r, t]) for m in metrics]
                table.write([*head, *cells, *(tails[key] if facility else [])])
        return table.rows


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
    files = [p for p in files if p.name != MANIFEST]
    if not files:
        raise FileNotFoundError(f"no JSON files in {', '.join(map(str, inputs))}")
    return files
