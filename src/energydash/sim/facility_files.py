"""A user's OpenElectricity facilities, read into the grid's facilities (``GRID_FACILITIES``).

Two shapes are read, the two the data tools produce:

- an OpenElectricity ``/facilities`` response (``facilities.json`` of ``energydash acquire`` or
  ``energydash datasets generate``), validated by the SDK's models through ``datasets.reader``;
- the output of ``energydash convert``: ``facilities.csv`` and ``facility_units.csv`` (or their
  ``.parquet`` twins) in one folder.

The path is that file or the folder holding it. Each facility keeps its code, name, region,
coordinates and units (code, fueltech, status, registered capacity, storage, CO2 factor).
A battery listed as OpenElectricity lists one (a ``BIDIRECTIONAL`` ``battery`` unit beside its
``battery_charging`` and ``battery_discharging`` twins) is simulated by its twins; a lone
bidirectional unit becomes a twin pair of its capacity (``<code>`` discharges, ``<code>_CHG``
charges). Fueltechs the simulator has no model of are simulated as the closest one it has
(``SIMULATED_AS``); units that are no plant (imports, exports, interconnectors, aggregators) and
facilities of other networks (WEM) are left out and counted. Anything else that does not fit
raises DatasetError naming the file and the line (CSV), row (Parquet) or JSON path.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from energydash.datasets.jsonstream import JsonSyntaxError
from energydash.datasets.reader import FacilityRecord, NotApiJson, SchemaError, read_document
from energydash.geo.outlines import REGION_CENTRES
from energydash.sim.grid import (
    FUELTECHS,
    NETWORK_REGIONS,
    DatasetError,
    FacilityInfo,
    UnitInfo,
    facility_status,
)

FACILITY_TABLE = "facilities"
UNIT_TABLE = "facility_units"
SIMULATED_AS = {
    "solar": "solar_utility",
    "solar_thermal": "solar_utility",
    "wind_offshore": "wind",
    "nuclear": "coal_black",
    "other": "gas_recip",
}
NOT_PLANT = frozenset({"imports", "exports", "interconnector", "aggregator_vpp", "aggregator_dr"})
UNIT_STATUSES = ("operating", "committed", "retired")
MAX_CAPACITY_MW = 100_000.0  # no unit is larger; a bigger number is a unit mistake (kW?)


@dataclass(slots=True)
class RawUnit:
    where: str
    code: str
    fueltech: str
    status: str
    dispatch_type: str
    capacity_mw: float | None
    storage_mwh: float | None
    emissions_t_per_mwh: float | None


@dataclass(slots=True)
class RawFacility:
    where: str
    code: str
    name: str
    network: str
    region: str
    lat: float | None
    lng: float | None
    units: list[RawUnit] = field(default_factory=list)


@dataclass(slots=True)
class LoadedFacilities:
    facilities: list[FacilityInfo]
    skipped_facilities: int = 0  # of other networks
    skipped_units: int = 0  # no plant
    simulated_as: dict[str, str] = field(default_factory=dict)  # fueltech -> the model used

    def line(self, path: Path) -> str:
        units = sum(len(f.units) for f in self.facilities)
        text = f"{path}: {len(self.facilities)} facilities, {units} units"
        if self.skipped_facilities:
            text += f"; {self.skipped_facilities} facilities of other networks left out"
        if self.skipped_units:
            text += f"; {self.skipped_units} non-plant units left out"
        if self.simulated_as:
            pairs = ", ".join(f"{a} as {b}" for a, b in sorted(self.simulated_as.items()))
            text += f"; simulated {pairs}"
        return text


def load(path: Path, *, max_facilities: int) -> LoadedFacilities:
    """Read ``path`` (a file or a folder, see the module docstring) into grid facilities."""
    path = Path(path)
    raw = list(_raw_facilities(path))
    if not raw:
        raise DatasetError(f"{path}: no facilities (expected an OpenElectricity /facilities list)")
    out = LoadedFacilities([])
    seen_codes: dict[str, str] = {}
    seen_units: dict[str, str] = {}
    for record in raw:
        if record.network != "NEM":
            out.skipped_facilities += 1
            continue
        if record.code in seen_codes:
            raise DatasetError(
                f"{record.where}: facility code {record.code!r} repeats {seen_codes[record.code]}"
            )
        seen_codes[record.code] = record.where
        facility = _facility(record, out)
        for unit in facility.units:
            if unit.code in seen_units:
                raise DatasetError(
                    f"{record.where}: unit code {unit.code!r} repeats {seen_units[unit.code]}"
                )
            seen_units[unit.code] = record.where
        out.facilities.append(facility)
        if len(out.facilities) > max_facilities:
            raise DatasetError(
                f"{record.where}: more than {max_facilities} facilities "
                "(ENERGYDASH_GRID_FACILITIES_MAX)"
            )
    if not out.facilities:
        raise DatasetError(f"{path}: no facilities of the NEM")
    return out


def _facility(record: RawFacility, out: LoadedFacilities) -> FacilityInfo:
    if record.region not in NETWORK_REGIONS:
        raise DatasetError(
            f"{record.where} ({record.code}): network_region {record.region!r} "
            f"is not one of {', '.join(NETWORK_REGIONS)}"
        )
    lat, lng = record.lat, record.lng
    if lat is None or lng is None:
        lat, lng = REGION_CENTRES[record.region]
    elif not (-90.0 <= lat <= 90.0 and -180.0 <= lng <= 180.0):
        raise DatasetError(f"{record.where} ({record.code}): location ({lat}, {lng}) is no place")
    twins = {u.fueltech for u in record.units} >= {"battery_charging", "battery_discharging"}
    units: list[UnitInfo] = []
    for raw in record.units:
        where = f"{raw.where} ({record.code} unit {raw.code})"
        if raw.status not in UNIT_STATUSES:
            raise DatasetError(
                f"{where}: status_id {raw.status!r} is not one of {', '.join(UNIT_STATUSES)}"
            )
        capacity = raw.capacity_mw or 0.0
        if not (math.isfinite(capacity) and 0.0 <= capacity <= MAX_CAPACITY_MW):
            raise DatasetError(f"{where}: capacity {capacity} MW is outside 0..{MAX_CAPACITY_MW:g}")
        tech = raw.fueltech
        if tech in NOT_PLANT:
            out.skipped_units += 1
            continue
        if tech == "battery":
            if twins:
                continue  # the net of its twins, which are simulated
            halves = ((raw.code, "battery_discharging"), (f"{raw.code}_CHG", "battery_charging"))
            for code, half in halves:
                units.append(UnitInfo(code, half, raw.status, capacity, 0.0, raw.storage_mwh))
            continue
        if tech not in FUELTECHS:
            if tech not in SIMULATED_AS:
                raise DatasetError(f"{where}: unknown fueltech_id {tech!r}")
            out.simulated_as[tech] = SIMULATED_AS[tech]
            tech = SIMULATED_AS[tech]
        factor = raw.emissions_t_per_mwh
        if factor is None:
            factor = FUELTECHS[tech].emissions_t_per_mwh
        elif not (math.isfinite(factor) and 0.0 <= factor <= 5.0):
            raise DatasetError(f"{where}: emissions factor {factor} t/MWh is outside 0..5")
        units.append(UnitInfo(raw.code, tech, raw.status, capacity, factor, raw.storage_mwh))
    return FacilityInfo(
        code=record.code,
        name=record.name or record.code,
        network_region=record.region,
        lat=float(lat),
        lng=float(lng),
        status=facility_status(units),
        units=units,
        network_id="NEM",
    )


# ---------------------------------------------------------------------------- the two shapes
def _raw_facilities(path: Path) -> Iterator[RawFacility]:
    if path.is_dir():
        for name in ("facilities.json",):
            if (path / name).is_file():
                yield from _from_json(path / name)
                return
        for suffix in (".csv", ".parquet"):
            if (path / f"{FACILITY_TABLE}{suffix}").is_file():
                yield from _from_tables(path / f"{FACILITY_TABLE}{suffix}")
                return
        raise DatasetError(
            f"{path}: no facilities.json, facilities.csv or facilities.parquet in this folder"
        )
    if not path.is_file():
        raise DatasetError(f"{path}: no such facilities file or folder")
    if path.suffix.lower() == ".json":
        yield from _from_json(path)
    elif path.suffix.lower() in (".csv", ".parquet"):
        yield from _from_tables(path)
    else:
        raise DatasetError(f"{path}: expected a .json response or convert's .csv/.parquet tables")


def _from_json(path: Path) -> Iterator[RawFacility]:
    try:
        for index, record in enumerate(read_document(path, ("facilities",))):
            if not isinstance(record, FacilityRecord):
                raise DatasetError(f"{path}: holds time series, not a /facilities response")
            f = record.facility
            where = f"{path}: data[{index}]"
            yield RawFacility(
                where=where,
                code=f.code,
                name=f.name,
                network=str(f.network_id),
                region=f.network_region,
                lat=f.location.lat if f.location else None,
                lng=f.location.lng if f.location else None,
                units=[
                    RawUnit(
                        where=f"{where}.units[{k}]",
                        code=u.code,
                        fueltech=str(u.fueltech_id),
                        status=str(u.status_id),
                        dispatch_type=u.dispatch_type,
                        capacity_mw=u.capacity_registered
                        if u.capacity_registered is not None
                        else u.capacity_maximum,
                        storage_mwh=u.capacity_storage,
                        emissions_t_per_mwh=u.emissions_factor_co2,
                    )
                    for k, u in enumerate(f.units)
                ],
            )
    except (SchemaError, NotApiJson, JsonSyntaxError) as error:
        raise DatasetError(str(error)) from None
    except OSError as error:
        raise DatasetError(f"{path}: cannot read: {error.strerror or error}") from None


def _rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(place, row) of a CSV (``file:line``) or Parquet (``file: row n``) table."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except (OSError, ValueError) as error:
            raise DatasetError(f"{path}: not a readable Parquet table: {error}") from None
        for n, row in enumerate(table.to_pylist(), start=1):
            yield f"{path}: row {n}", row
        return
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                yield f"{path}:{line}", row
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not UTF-8 text") from None


def _text(where: str, row: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = row.get(name)
    if value is None or value == "":
        if required:
            raise DatasetError(f"{where}: field {name!r} is missing or empty")
        return ""
    return str(value)


def _number(where: str, row: dict[str, Any], name: str) -> float | None:
    value = row.get(name)
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: field {name!r}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise DatasetError(f"{where}: field {name!r}: {value!r} is not a finite number")
    return number


def _from_tables(facilities_path: Path) -> Iterator[RawFacility]:
    units_path = facilities_path.with_name(f"{UNIT_TABLE}{facilities_path.suffix}")
    if not units_path.is_file():
        raise DatasetError(
            f"{facilities_path}: {units_path.name} is missing beside it "
            "(energydash convert writes both tables)"
        )
    by_code: dict[str, RawFacility] = {}
    for where, row in _rows(facilities_path):
        code = _text(where, row, "facility_code")
        if code in by_code:
            raise DatasetError(f"{where}: facility code {code!r} repeats {by_code[code].where}")
        by_code[code] = RawFacility(
            where=where,
            code=code,
            name=_text(where, row, "name", required=False) or code,
            network=_text(where, row, "network", required=False) or "NEM",
            region=_text(where, row, "region"),
            lat=_number(where, row, "lat"),
            lng=_number(where, row, "lng"),
        )
    for where, row in _rows(units_path):
        code = _text(where, row, "facility_code")
        facility = by_code.get(code)
        if facility is None:
            raise DatasetError(f"{where}: facility_code {code!r} is not in {facilities_path.name}")
        facility.units.append(
            RawUnit(
                where=where,
                code=_text(where, row, "unit_code"),
                fueltech=_text(where, row, "fueltech_id"),
                status=_text(where, row, "status_id"),
                dispatch_type=_text(where, row, "dispatch_type", required=False) or "GENERATOR",
                capacity_mw=_first(
                    _number(where, row, "capacity_registered_mw"),
                    _number(where, row, "capacity_maximum_mw"),
                ),
                storage_mwh=_number(where, row, "capacity_storage_mwh"),
                emissions_t_per_mwh=_number(where, row, "emissions_factor_t_per_mwh"),
            )
        )
    yield from by_code.values()


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)
