"""Sample datasets in OpenElectricity's response shapes, from the grid simulator.

``facilities.json`` is what ``/facilities`` returns; ``facility_data.json`` what
``/data/facilities/NEM`` returns (power and emissions per unit); ``market.json`` what
``/market/network/NEM`` returns (price and demand per region). Timestamps carry the network's
offset (+10:00), as the API's do. The same seed gives the same bytes.

A battery is listed as OpenElectricity lists one: the simulator's charging (LOAD) and
discharging (GENERATOR) units plus a ``BIDIRECTIONAL`` unit (fueltech ``battery``, ``<code>_BESS``)
whose power is their net (discharging minus charging), so the converter's rule of counting a
battery once is exercised by every generated dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import orjson

from energydash.datasets.atomic import atomic_outputs
from energydash.sim.grid import NETWORK_REGIONS, Grid

NETWORK_OFFSET = timezone(timedelta(hours=10))
VERSION = "4.0.0-energydash"


@dataclass
class GenerateSummary:
    facilities: int
    units: int
    intervals: int
    points: int
    files: list[Path]

    def line(self) -> str:
        return (
            f"generated {self.facilities} facilities, {self.units} units, {self.intervals} "
            f"intervals, {self.points} points in {len(self.files)} files"
        )


def _envelope_head(created_at: datetime) -> bytes:
    return (
        b'{"version":"' + VERSION.encode() + b'","created_at":"'
        + created_at.isoformat().encode() + b'","success":true,"error":null,"data":['
    )  # fmt: skip


def _series_head(
    metric: str, unit: str, start: datetime, end: datetime, groupings: list[str]
) -> bytes:
    head = {
        "network_code": "NEM",
        "metric": metric,
        "unit": unit,
        "interval": "5m",
        "date_start": start.isoformat(),
        "date_end": end.isoformat(),
        "groupings": groupings,
    }
    return orjson.dumps(head)[:-1] + b',"results":['


def _series_tail() -> bytes:
    return b'],"network_timezone_offset":"+10:00"}'


def _points(stamps: list[str], values: np.ndarray) -> list[list[object]]:
    return [[s, round(float(v), 4)] for s, v in zip(stamps, values, strict=True)]


def generate(
    out_dir: Path,
    *,
    seed: int,
    facility_count: int,
    days: float,
    start: datetime,
    interval_min: int = 5,
    on_progress: Callable[[int, int], None] | None = None,
) -> GenerateSummary:
    """Run the grid over the range and write the three response files atomically."""
    if start.tzinfo is None:
        start = start.replace(tzinfo=NETWORK_OFFSET)
    start = start.astimezone(NETWORK_OFFSET)
    step_s = interval_min * 60
    intervals = round(days * 86400 / step_s)
    grid = Grid.generate(seed=seed, facility_count=facility_count, network="NEM")
    unit_codes = [u.code for f in grid.facilities for u in f.units]
    order = np.concatenate([grid.unit_slice(i) for i in range(len(grid.facilities))])
    records = grid.to_openelectricity()
    # (bidirectional code, discharging column, charging column) per battery facility
    batteries: list[tuple[str, int, int]] = []
    for record in records:
        codes = {u["fueltech_id"]: u for u in record["units"]}
        dis, chg = codes.get("battery_discharging"), codes.get("battery_charging")
        if dis is None or chg is None:
            continue
        bidirectional = {
            **dis,
            "code": f"{record['code']}_BESS",
            "fueltech_id": "battery",
            "dispatch_type": "BIDIRECTIONAL",
        }
        record["units"].insert(0, bidirectional)
        batteries.append(
            (bidirectional["code"], unit_codes.index(dis["code"]), unit_codes.index(chg["code"]))
        )
    n_units = len(order)
    power = np.zeros((intervals, n_units), dtype=np.float32)
    emissions = np.zeros((intervals, n_units), dtype=np.float32)
    regions = list(NETWORK_REGIONS)
    price = np.zeros((intervals, len(regions)))
    demand = np.zeros((intervals, len(regions)))
    stamps: list[str] = []
    for i in range(intervals):
        now = start + timedelta(seconds=i * step_s)
        grid.step(now, float(step_s))
        stamps.append(now.isoformat())
        power[i] = grid.arrays.unit_power_mw[order]
        emissions[i] = grid.arrays.unit_emissions_t[order]
        for r, region in enumerate(regions):
            state = grid.regions[region]
            price[i, r] = state.price_aud_per_mwh
            demand[i, r] = state.demand_mw
        if on_progress and (i % 50 == 0 or i == intervals - 1):
            on_progress(i + 1, intervals)
    end = start + timedelta(seconds=(intervals - 1) * step_s)
    created = start + timedelta(seconds=intervals * step_s)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_outputs() as outputs:
        facilities = {
            "version": VERSION,
            "created_at": created.isoformat(),
            "success": True,
            "error": None,
            "data": records,
            "total_records": len(grid.facilities),
        }
        outputs.open(out_dir / "facilities.json", "wb").write(
            orjson.dumps(facilities, option=orjson.OPT_INDENT_2)
        )
        handle = outputs.open(out_dir / "facility_data.json", "wb")
        handle.write(_envelope_head(created))
        for m, (metric, unit, values) in enumerate(
            (("power", "MW", power), ("emissions", "t", emissions))
        ):
            if m:
                handle.write(b",")
            handle.write(_series_head(metric, unit, start, end, []))
            series = [(code, values[:, u]) for u, code in enumerate(unit_codes)]
            for code, dis, chg in batteries:
                # power is signed (discharging positive); emissions add up
                net = (
                    values[:, dis] - values[:, chg]
                    if metric == "power"
                    else values[:, dis] + values[:, chg]
                )
                series.append((code, net))
            for number, (code, column) in enumerate(series):
                if number:
                    handle.write(b",\n")
                result = {
                    "name": f"{metric}_{code}",
                    "date_start": start.isoformat(),
                    "date_end": end.isoformat(),
                    "columns": {"unit_code": code},
                    "data": _points(stamps, column),
                }
                handle.write(orjson.dumps(result))
            handle.write(_series_tail())
        handle.write(b"]}\n")
        handle = outputs.open(out_dir / "market.json", "wb")
        handle.write(_envelope_head(created))
        for m, (metric, unit, values) in enumerate(
            (("price", "$/MWh", price), ("demand", "MW", demand))
        ):
            if m:
                handle.write(b",")
            handle.write(_series_head(metric, unit, start, end, ["network_region"]))
            for r, region in enumerate(regions):
                if r:
                    handle.write(b",\n")
                result = {
                    "name": f"{metric}_{region}",
                    "date_start": start.isoformat(),
                    "date_end": end.isoformat(),
                    "columns": {"region": region},
                    "data": _points(stamps, values[:, r]),
                }
                handle.write(orjson.dumps(result))
            handle.write(_series_tail())
        handle.write(b"]}\n")
        files = outputs.commit()
    n_units += len(batteries)
    return GenerateSummary(
        facilities=len(grid.facilities),
        units=n_units,
        intervals=intervals,
        points=intervals * (2 * n_units + 2 * len(regions)),
        files=files,
    )
