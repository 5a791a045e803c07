"""`energydash convert` on the real API's shapes: batteries, loads, columns, grid, outputs."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from openelectricity.models.facilities import Facility, FacilityUnit

from energydash.cli import main
from energydash.datasets.convert import Converter, ConvertError
from energydash.datasets.reader import NotApiJson

from . import oe_shapes as oe


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, doc: object) -> Path:
    path.write_bytes(orjson.dumps(doc))
    return path


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """facilities.json, facility_data.json and market.json of oe_shapes in one folder."""
    folder = tmp_path / "export"
    folder.mkdir()
    _write(folder / "facilities.json", oe.facilities_response())
    _write(folder / "facility_data.json", oe.facility_data_response())
    _write(folder / "market.json", oe.market_response())
    return folder


def _power(out: Path) -> dict[str, list[float | None]]:
    got: dict[str, list[float | None]] = {}
    for row in _rows(out / "facility_metrics_wide.csv"):
        value = row["power_mw"]
        got.setdefault(row["facility_code"], []).append(float(value) if value else None)
    return got


def test_facility_power_counts_each_battery_once_and_loads_negative(
    export: Path, tmp_path: Path
) -> None:
    Converter(tmp_path / "out").convert(sorted(export.glob("*.json")))
    assert _power(tmp_path / "out") == oe.EXPECTED_POWER


def test_battery_facility_power_equals_the_sum_of_its_bidirectional_units(
    export: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    Converter(out).convert(sorted(export.glob("*.json")))
    units = _rows(out / "facility_units.csv")
    bidirectional = {u["unit_code"] for u in units if u["dispatch_type"] == "BIDIRECTIONAL"}
    sums: dict[tuple[str, str], float] = {}
    for row in _rows(out / "facility_metrics_long.csv"):
        if row["unit_code"] in bidirectional and row["value"]:
            key = (row["facility_code"], row["timestamp"])
            sums[key] = sums.get(key, 0.0) + float(row["value"])
    wide = {
        (r["facility_code"], r["timestamp"]): r for r in _rows(out / "facility_metrics_wide.csv")
    }
    assert len(sums) == 3  # HPR1 reported at three of the four intervals
    for key, total in sums.items():
        assert float(wide[key]["power_mw"]) == pytest.approx(total)


def test_capacity_counts_each_physical_battery_once_and_the_fueltech_rule_is_deterministic(
    export: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    Converter(out).convert([export / "facilities.json"])
    facilities = {r["facility_code"]: r for r in _rows(out / "facilities.csv")}
    hornsdale, tumut, mixed = facilities["HORNSDALE"], facilities["TUMUT3"], facilities["MIXED"]
    assert (hornsdale["capacity_mw"], hornsdale["storage_mwh"]) == ("150.0", "194.0")
    assert hornsdale["load_capacity_mw"] == "0.0" and hornsdale["fueltech"] == "battery"
    assert (tumut["capacity_mw"], tumut["load_capacity_mw"], tumut["fueltech"]) == (
        "500.0",
        "200.0",
        "hydro",
    )
    # wind 100 MW and solar 100 MW tie: the fueltech that sorts first wins, every time.
    assert (mixed["capacity_mw"], mixed["fueltech"]) == ("250.0", "solar_utility")
    assert mixed["fueltechs"] == "battery;solar_utility;wind"


def test_facility_units_keeps_every_unit_every_api_field_and_dates_with_offsets(
    export: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    Converter(out).convert([export / "facilities.json"])
    units = _rows(out / "facility_units.csv")
    assert len(units) == sum(len(f["units"]) for f in oe.FACILITIES)
    roles = {u["unit_code"]: (u["dispatch_type"], u["facility_role"]) for u in units}
    assert roles["HPR1"] == ("BIDIRECTIONAL", "net")
    assert roles["HPRG1"] == ("GENERATOR", "twin") and roles["HPRL1"] == ("LOAD", "twin")
    assert roles["SNOWYP"] == ("LOAD", "load") and roles["MIXBL1"] == ("LOAD", "load")
    header = set(units[0])
    renamed = {"code": "unit_code", "capacity_registered": "capacity_registered_mw",
               "capacity_maximum": "capacity_maximum_mw",
               "capacity_storage": "capacity_storage_mwh",
               "emissions_factor_co2": "emissions_factor_t_per_mwh"}  # fmt: skip
    assert {renamed.get(f, f) for f in FacilityUnit.model_fields} <= header
    first = units[0]
    assert first["commencement_date"] == "2017-12-01T00:00:00+10:00"
    assert first["data_last_seen"] == "2025-01-20T09:55:00+10:00"
    assert first["commencement_date_display"] == "Dec 2017"
    facilities = _rows(out / "facilities.csv")
    assert {"description", "npi_id", "created_at", "updated_at"} <= set(facilities[0])
    assert set(Facility.model_fields) - {"code", "network_id", "network_region", "location",
                                         "units"} <= set(facilities[0])  # fmt: skip
    assert facilities[0]["created_at"] == "2023-01-31T12:00:00+00:00"
    assert facilities[0]["fueltech_group_hint"] == "mixed"  # not in the SDK's model: kept


def test_metadata_has_the_first_and_last_timestamp_of_each_series(
    export: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    Converter(out).convert(sorted(export.glob("*.json")))
    meta = _rows(out / "metadata.csv")
    assert len(meta) == len(oe.POWER) + 2
    hpr = next(m for m in meta if m["unit_code"] == "HPR1")
    assert (hpr["first_timestamp"], hpr["last_timestamp"]) == (oe.STAMPS[0], oe.STAMPS[-1])
    assert hpr["date_start"] == oe.STAMPS[0] and hpr["facility_code"] == "HORNSDALE"
    assert (hpr["points"], hpr["null_points"]) == ("4", "1")


def test_wide_tables_keep_an_interval_where_every_value_is_null(
    export: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    Converter(out).convert([export / "market.json"])
    rows = _rows(out / "market_metrics_wide.csv")
    assert [r["timestamp"] for r in rows] == [s for s in oe.STAMPS for _ in range(2)]
    assert [r["price_aud_per_mwh"] for r in rows if r["timestamp"] == oe.STAMPS[2]] == ["", ""]


def test_regular_grid_fills_intervals_missing_from_the_input(tmp_path: Path) -> None:
    stamps = [oe.STAMPS[0], oe.STAMPS[3]]  # 15 minutes apart, nothing in between
    doc = oe.market_response(stamps + stamps)  # padded: results index stamps by position
    for result in doc["data"][0]["results"]:
        result["data"] = [[s, 60.0] for s in stamps]
    market = _write(tmp_path / "market.json", doc)
    Converter(tmp_path / "data", grid="data").convert([market])
    Converter(tmp_path / "regular", grid="regular").convert([market])
    assert len(_rows(tmp_path / "data" / "market_metrics_wide.csv")) == 2 * 2
    regular = _rows(tmp_path / "regular" / "market_metrics_wide.csv")
    assert sorted({r["timestamp"] for r in regular}) == oe.STAMPS
    assert [r["price_aud_per_mwh"] for r in regular if r["timestamp"] == oe.STAMPS[1]] == ["", ""]


def test_outputs_use_lf_line_endings(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    Converter(out).convert(sorted(export.glob("*.json")))
    for path in out.glob("*.csv"):
        assert b"\r" not in path.read_bytes(), path.name


def test_parquet_tables_have_typed_columns_and_keep_the_offset(
    export: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    Converter(out, file_types=("csv", "parquet")).convert(sorted(export.glob("*.json")))
    wide = pq.read_table(out / "facility_metrics_wide.parquet")
    assert str(wide.schema.field("timestamp").type) == "timestamp[ms, tz=+10:00]"
    assert str(wide.schema.field("power_mw").type) == "double"
    assert wide.num_rows == len(_rows(out / "facility_metrics_wide.csv"))
    first = wide.column("timestamp")[0].as_py()
    assert first.isoformat() == oe.STAMPS[0]
    units = pq.read_table(out / "facility_units.parquet")
    assert str(units.schema.field("capacity_registered_mw").type) == "double"
    assert str(units.schema.field("commencement_date").type).startswith("timestamp[ms, tz=")
    long = pq.read_table(out / "facility_metrics_long.parquet").to_pylist()
    assert sum(r["value"] is None for r in long) == 1


def test_converting_one_file_at_a_time_keeps_and_uses_the_other_tables(
    export: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    for name in ("facilities.json", "facility_data.json", "market.json"):
        Converter(out).convert([export / name])
    assert len(_rows(out / "facilities.csv")) == 3
    assert _power(out) == oe.EXPECTED_POWER  # units mapped through the earlier facility_units
    wide = _rows(out / "facility_metrics_wide.csv")
    assert wide[0]["region"] and wide[0]["fueltech"]
    assert len(_rows(out / "market_metrics_wide.csv")) == 8
    assert {m["kind"] for m in _rows(out / "metadata.csv")} == {"facility", "market"}


def test_converting_other_inputs_into_the_same_tables_refuses_and_changes_nothing(
    export: Path, tmp_path: Path, settings: object, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    batch1 = _write(tmp_path / "batch-1.json", oe.facility_data_response(["HORNSDALE"]))
    batch2 = _write(tmp_path / "batch-2.json", oe.facility_data_response(["TUMUT3"]))
    Converter(out).convert([export / "facilities.json", batch1])
    before = (out / "facility_metrics_wide.csv").read_bytes()
    with pytest.raises(ConvertError, match=r"batch-1\.json, which this run does not read"):
        Converter(out).convert([batch2])
    assert (out / "facility_metrics_wide.csv").read_bytes() == before
    code = main(["convert", str(batch2), "-o", str(out), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "--replace" in err and len(err.strip().splitlines()) == 1
    assert main(["convert", str(batch2), "-o", str(out), "-q", "--replace"]) == 0
    assert set(_power(out)) == {"TUMUT3"}


def test_an_unknown_metric_is_an_error_listing_the_known_ones(
    export: Path, tmp_path: Path, settings: object, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["convert", str(export), "-o", str(tmp_path / "out"), "--metrics", "powr", "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "'powr'" in err and "power" in err and "price" in err
    assert not (tmp_path / "out").exists()


def test_non_api_json_is_skipped_with_one_line_and_strict_makes_it_an_error(
    export: Path, tmp_path: Path, settings: object, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping = _write(export / "duid_map.json", {"HPR1": "HORNSDALE", "HPRG1": "HORNSDALE"})
    out = tmp_path / "out"
    assert main(["convert", str(export), "-o", str(out), "-q"]) == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if "duid_map.json" in line]
    assert len(lines) == 1 and "not an OpenElectricity API response" in lines[0]
    assert "keys: HPR1, HPRG1" in lines[0]
    assert "1 skipped" in captured.out and _power(out) == oe.EXPECTED_POWER
    code = main(["convert", str(export), "-o", str(tmp_path / "strict"), "-q", "--strict"])
    assert code == 1 and str(mapping) in capsys.readouterr().err
    with pytest.raises(NotApiJson):
        Converter(tmp_path / "x", strict=True).convert([mapping])


@pytest.mark.parametrize(
    "wrap",
    [
        lambda responses: responses,
        lambda responses: {"responses": responses},
        lambda responses: {
            "batches": [{"batch": i, "response": r} for i, r in enumerate(responses)]
        },
    ],
    ids=["list", "object-of-list", "items-with-response"],
)
def test_batch_files_wrapping_api_responses_are_understood(tmp_path: Path, wrap: object) -> None:
    responses = [
        oe.facilities_response(),
        oe.facility_data_response(["HORNSDALE"]),
        oe.facility_data_response(["TUMUT3", "MIXED"]),
    ]
    batch = _write(tmp_path / "batch.json", wrap(responses))  # type: ignore[operator]
    Converter(tmp_path / "out").convert([batch])
    assert _power(tmp_path / "out") == oe.EXPECTED_POWER


def test_a_utf8_byte_order_mark_is_accepted(export: Path, tmp_path: Path) -> None:
    for path in export.glob("*.json"):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    Converter(tmp_path / "out").convert(sorted(export.glob("*.json")))
    assert _power(tmp_path / "out") == oe.EXPECTED_POWER


def test_temp_files_of_a_killed_run_are_removed_at_the_next_run(
    export: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    dead = out / ".facility_metrics_long.csv.99999999.k3j2.tmp"  # no such pid
    dead.write_bytes(b"x" * 1000)
    live = out / f".facilities.csv.{os.getppid()}.a1b2.tmp"  # a run still writing
    live.write_bytes(b"y")
    summary = Converter(out).convert(sorted(export.glob("*.json")))
    assert not dead.exists() and live.exists()
    assert summary.stale_temps_removed == 1
