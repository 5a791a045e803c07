"""ENERGYDASH_GRID_FACILITIES: the grid simulates a user's OpenElectricity facilities."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest

from energydash.cli import main
from energydash.config import Settings
from energydash.hub.snapshots import facilities as facilities_topic
from energydash.models.topics import FacilitiesData
from energydash.sim.engine import Engine
from energydash.sim.grid import DatasetError, Grid

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "facilities.json"


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped sample's facilities as `energydash convert` writes them (CSV and Parquet)."""
    out = tmp_path_factory.mktemp("facilities")
    assert main(["convert", str(SAMPLE), "-o", str(out), "--format", "long,csv,parquet", "-q"]) == 0
    assert (out / "facilities.csv").exists() and (out / "facility_units.parquet").exists()
    return out


def _sample() -> list[dict]:  # type: ignore[type-arg]
    return orjson.loads(SAMPLE.read_bytes())["data"]


def _signature(grid: Grid) -> list[tuple[object, list[object]]]:
    return [
        (
            (f.code, f.name, f.network_region, f.lat, f.lng, f.status),
            [(u.code, u.fueltech_id, u.status, u.capacity_registered_mw) for u in f.units],
        )
        for f in grid.facilities
    ]


def test_an_acquired_facilities_response_keeps_codes_names_places_and_units() -> None:
    grid = Grid.from_dataset(SAMPLE)
    records = _sample()
    assert [f.code for f in grid.facilities] == [r["code"] for r in records]
    for facility, record in zip(grid.facilities, records, strict=True):
        assert (facility.name, facility.network_region) == (
            record["name"],
            record["network_region"],
        )
        assert (facility.lat, facility.lng) == (
            record["location"]["lat"],
            record["location"]["lng"],
        )
        # the bidirectional battery unit is the net of its twins; the twins are simulated
        expected = [u for u in record["units"] if u["fueltech_id"] != "battery"]
        assert [(u.code, u.fueltech_id, u.capacity_registered_mw) for u in facility.units] == [
            (u["code"], u["fueltech_id"], u["capacity_registered"]) for u in expected
        ]


@pytest.mark.parametrize("target", ["folder", "facilities.csv", "facilities.parquet"])
def test_convert_output_loads_the_same_facilities_as_the_response(
    converted: Path, target: str
) -> None:
    path = converted if target == "folder" else converted / target
    assert _signature(Grid.from_dataset(path)) == _signature(Grid.from_dataset(SAMPLE))


def test_a_lone_bidirectional_battery_becomes_a_charging_and_a_discharging_unit(
    tmp_path: Path,
) -> None:
    record = {
        "code": "BESS1",
        "name": "Lone Battery",
        "network_id": "NEM",
        "network_region": "SA1",
        "location": {"lat": -33.2, "lng": 138.6},
        "units": [
            {
                "code": "BESS1_1",
                "fueltech_id": "battery",
                "status_id": "operating",
                "capacity_registered": 100.0,
                "capacity_storage": 200.0,
                "dispatch_type": "BIDIRECTIONAL",
            }
        ],
    }
    path = tmp_path / "facilities.json"
    path.write_bytes(orjson.dumps({"version": "4", "created_at": "2025-01-01", "data": [record]}))
    grid = Grid.from_dataset(path)
    assert [(u.code, u.fueltech_id) for u in grid.units] == [
        ("BESS1_1", "battery_discharging"),
        ("BESS1_1_CHG", "battery_charging"),
    ]


def test_the_engine_simulates_the_dataset_named_by_the_setting(
    settings: Settings, converted: Path
) -> None:
    engine = Engine.from_settings(settings.model_copy(update={"grid_facilities": converted}))
    start = datetime(2025, 1, 15, 2, tzinfo=UTC)  # noon in the NEM
    for k in range(6):
        engine.grid.step(start + timedelta(minutes=5 * k), 300.0)
    data = FacilitiesData.model_validate(facilities_topic(engine))
    codes = [r["code"] for r in _sample()]
    assert data.facilities.code == codes
    twins = {u["code"] for r in _sample() for u in r["units"] if u["fueltech_id"] != "battery"}
    assert data.units is not None and set(data.units.code) == twins
    power = np.array(data.facilities.power_mw)
    status = np.array(data.facilities.status)
    assert power[status == "operating"].sum() > 0
    assert np.all(power[status != "operating"] == 0.0)


def _write_tables(folder: Path, facilities: list[list[str]], units: list[list[str]]) -> Path:
    folder.mkdir()
    with (folder / "facilities.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["facility_code", "name", "network", "region", "lat", "lng"])
        writer.writerows(facilities)
    with (folder / "facility_units.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["facility_code", "unit_code", "fueltech_id", "status_id", "capacity_registered_mw"]
        )
        writer.writerows(units)
    return folder


GOOD_FACILITY = ["F1", "One", "NEM", "NSW1", "-33.0", "149.0"]
GOOD_UNIT = ["F1", "F1_1", "wind", "operating", "100"]


@pytest.mark.parametrize(
    ("facilities", "units", "message"),
    [
        ([GOOD_FACILITY, ["F2", "Two", "NEM", "NSW1", "north", "149"]], [GOOD_UNIT],
         r"facilities\.csv:3: field 'lat': 'north' is not a number"),
        ([["F1", "One", "NEM", "WA1", "-33", "149"]], [GOOD_UNIT],
         r"facilities\.csv:2 \(F1\): network_region 'WA1'"),
        ([GOOD_FACILITY], [GOOD_UNIT, ["F1", "F1_2", "fusion", "operating", "5"]],
         r"facility_units\.csv:3 \(F1 unit F1_2\): unknown fueltech_id 'fusion'"),
        ([GOOD_FACILITY], [["F1", "F1_1", "wind", "mothballed", "5"]],
         r"facility_units\.csv:2 \(F1 unit F1_1\): status_id 'mothballed'"),
        ([GOOD_FACILITY], [["F9", "F9_1", "wind", "operating", "5"]],
         r"facility_units\.csv:2: facility_code 'F9' is not in facilities\.csv"),
        ([GOOD_FACILITY, GOOD_FACILITY], [GOOD_UNIT],
         r"facilities\.csv:3: facility code 'F1' repeats .*facilities\.csv:2"),
        ([GOOD_FACILITY], [["F1", "F1_1", "wind", "operating", "-5"]],
         r"facility_units\.csv:2 \(F1 unit F1_1\): capacity -5\.0 MW"),
        ([["", "One", "NEM", "NSW1", "-33", "149"]], [],
         r"facilities\.csv:2: field 'facility_code' is missing"),
    ],
)  # fmt: skip
def test_a_bad_table_names_the_file_line_and_field(
    tmp_path: Path, facilities: list[list[str]], units: list[list[str]], message: str
) -> None:
    folder = _write_tables(tmp_path / "set", facilities, units)
    with pytest.raises(DatasetError, match=message):
        Grid.from_dataset(folder)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{broken", "facilities.json"),
        (b'{"version": "4", "created_at": "x", "data": 5}', "no facilities"),
        (
            b'{"version": "4", "created_at": "x", "data": [{"code": "X", "name": "X", '
            b'"network_id": "NEM", "network_region": "SA1", "units": [{"code": "X1", '
            b'"fueltech_id": "wind", "status_id": "dreaming", "dispatch_type": "GENERATOR"}]}]}',
            r"data\[0\]\.units\[0\]\.status_id",
        ),
    ],
)
def test_a_bad_response_names_the_file_and_the_json_path(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "facilities.json"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=message) as caught:
        Grid.from_dataset(path)
    assert str(path) in str(caught.value)


def test_a_missing_units_table_is_named(tmp_path: Path) -> None:
    folder = _write_tables(tmp_path / "set", [GOOD_FACILITY], [GOOD_UNIT])
    (folder / "facility_units.csv").unlink()
    with pytest.raises(DatasetError, match=r"facility_units\.csv is missing"):
        Grid.from_dataset(folder / "facilities.csv")


def test_serve_with_a_bad_dataset_exits_non_zero_naming_the_place(tmp_path: Path) -> None:
    folder = _write_tables(
        tmp_path / "set", [["F1", "One", "NEM", "NSW1", "-33", "east"]], [GOOD_UNIT]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGYDASH_")}
    env.update(
        ENERGYDASH_DATA_DIR=str(tmp_path / "data"),
        ENERGYDASH_LOG_DIR=str(tmp_path / "logs"),
        ENERGYDASH_PDU_COUNT="1",
        ENERGYDASH_GRID_FACILITIES=str(folder),
    )
    result = subprocess.run(
        [sys.executable, "-m", "energydash", "serve", "--port", "1", "--no-mqtt"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "ENERGYDASH_GRID_FACILITIES" in result.stderr
    assert "facilities.csv:2: field 'lng': 'east' is not a number" in result.stderr
