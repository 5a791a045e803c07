"""`energydash convert`: SDK-validated input, long/wide CSV, clear errors and no partial output."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
import pytest

from energydash.cli import main
from energydash.datasets.convert import Converter
from energydash.datasets.jsonstream import JsonSyntaxError
from energydash.datasets.reader import SchemaError


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _inputs(dataset: Path) -> list[Path]:
    return [dataset / n for n in ("facilities.json", "facility_data.json", "market.json")]


def test_wide_facility_power_is_the_sum_of_its_units_long_rows(
    dataset: Path, tmp_path: Path
) -> None:
    Converter(tmp_path).convert(_inputs(dataset))
    long_rows = _rows(tmp_path / "facility_metrics_long.csv")
    wide = _rows(tmp_path / "facility_metrics_wide.csv")
    units = _rows(tmp_path / "facility_units.csv")
    generators_only = sorted(
        code for code in {u["facility_code"] for u in units}
        if all(u["dispatch_type"] == "GENERATOR" for u in units if u["facility_code"] == code)
    )  # fmt: skip
    multi = next(c for c in generators_only if sum(u["facility_code"] == c for u in units) > 1)
    stamp = wide[0]["timestamp"]
    expected = sum(
        float(r["value"]) for r in long_rows
        if r["facility_code"] == multi and r["metric"] == "power" and r["timestamp"] == stamp
    )  # fmt: skip
    row = next(r for r in wide if r["facility_code"] == multi and r["timestamp"] == stamp)
    assert float(row["power_mw"]) == pytest.approx(expected, abs=1e-3)
    assert row["region"] and row["lat"] and row["fueltech"]
    assert len(wide) == 45 * 72
    assert [r["timestamp"] for r in wide] == sorted(r["timestamp"] for r in wide)


def test_market_wide_has_price_and_demand_per_region_and_interval(
    dataset: Path, tmp_path: Path
) -> None:
    Converter(tmp_path).convert(_inputs(dataset))
    market = _rows(tmp_path / "market_metrics_wide.csv")
    assert len(market) == 5 * 72
    assert {r["region"] for r in market} == {"NSW1", "QLD1", "VIC1", "SA1", "TAS1"}
    assert all(r["price_aud_per_mwh"] and float(r["demand_mw"]) > 0 for r in market)
    meta = _rows(tmp_path / "metadata.csv")
    assert {(m["metric"], m["unit"]) for m in meta} >= {("power", "MW"), ("price", "$/MWh")}


def test_utc_option_converts_the_network_offset(dataset: Path, tmp_path: Path) -> None:
    Converter(tmp_path, tz="utc", form="wide").convert(_inputs(dataset))
    first = _rows(tmp_path / "market_metrics_wide.csv")[0]["timestamp"]
    assert first == "2025-01-12T14:00:00+00:00"
    assert not (tmp_path / "market_metrics_long.csv").exists()


def test_metric_filter_keeps_only_named_metrics(dataset: Path, tmp_path: Path) -> None:
    Converter(tmp_path, metrics=["power"]).convert(_inputs(dataset))
    assert {r["metric"] for r in _rows(tmp_path / "facility_metrics_long.csv")} == {"power"}
    assert not (tmp_path / "market_metrics_long.csv").exists()  # no market input: no table


def test_deprecated_field_names_are_accepted(tmp_path: Path) -> None:
    doc = {
        "version": "4", "created_at": "2025-01-01T00:00:00Z",
        "data": [{
            "network_code": "NEM", "metric": "price", "unit": "$/MWh", "interval": "5m",
            "start": "2025-01-01T00:00:00+10:00", "end": "2025-01-01T00:05:00+10:00",
            "groupings": ["network_region"], "network_timezone_offset": "+10:00",
            "results": [{
                "name": "price_SA1", "date_start": "2025-01-01T00:00:00+10:00",
                "date_end": "2025-01-01T00:05:00+10:00", "columns": {"network_region": "SA1"},
                "data": [["2025-01-01T00:00:00+10:00", 88.5], ["2025-01-01T00:05:00+10:00", 90.0]],
            }],
        }],
    }  # fmt: skip
    (tmp_path / "old.json").write_bytes(orjson.dumps(doc))
    Converter(tmp_path / "out").convert([tmp_path / "old.json"])
    rows = _rows(tmp_path / "out" / "market_metrics_wide.csv")
    assert [(r["region"], r["price_aud_per_mwh"]) for r in rows] == [
        ("SA1", "88.5"),
        ("SA1", "90.0"),
    ]
    assert _rows(tmp_path / "out" / "metadata.csv")[0]["date_start"] == "2025-01-01T00:00:00+10:00"


def test_invalid_json_names_file_line_and_column_and_leaves_no_csv(
    dataset: Path, tmp_path: Path
) -> None:
    text = (dataset / "market.json").read_text().splitlines()
    text[2] = text[2].replace("],", "]],", 1) if "]," in text[2] else text[2] + "}"
    broken = tmp_path / "broken.json"
    broken.write_text("\n".join(text))
    out = tmp_path / "out"
    with pytest.raises(JsonSyntaxError) as caught:
        Converter(out).convert([dataset / "facilities.json", broken])
    assert caught.value.line == 3 and caught.value.column > 1
    assert str(caught.value).startswith(f"{broken}:3:")
    assert not out.exists() or not any(out.iterdir())


def test_schema_violation_names_the_json_path(dataset: Path, tmp_path: Path) -> None:
    doc = orjson.loads((dataset / "facility_data.json").read_bytes())
    doc["data"][1]["results"][4]["data"][7][1] = "lots"
    bad = tmp_path / "bad.json"
    bad.write_bytes(orjson.dumps(doc))
    with pytest.raises(SchemaError) as caught:
        Converter(tmp_path / "out").convert([bad])
    assert caught.value.json_path == "data[1].results[4].data[7][1]"
    assert not (tmp_path / "out" / "facility_metrics_long.csv").exists()


def test_facility_without_required_field_is_a_schema_error(dataset: Path, tmp_path: Path) -> None:
    doc = orjson.loads((dataset / "facilities.json").read_bytes())
    del doc["data"][3]["units"][0]["dispatch_type"]
    bad = tmp_path / "facilities.json"
    bad.write_bytes(orjson.dumps(doc))
    with pytest.raises(SchemaError, match=r"data\[3\]\.units\[0\]\.dispatch_type"):
        Converter(tmp_path / "out").convert([bad])


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ("", "1:1"),
        ('{"version": "4",\n  "data": [{"code": "X", "units": [1', "2:"),
        ('{"data": []} extra', "1:14"),
    ],
)
def test_truncated_or_trailing_input_is_reported_with_its_place(
    tmp_path: Path, content: str, where: str
) -> None:
    bad = tmp_path / "x.json"
    bad.write_text(content)
    with pytest.raises(JsonSyntaxError, match=f"x.json:{where}"):
        Converter(tmp_path / "out").convert([bad])


def test_existing_outputs_survive_a_failed_conversion(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    Converter(out).convert(_inputs(dataset))
    before = (out / "facilities.csv").read_bytes()
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "4", "created_at": "2025-01-01T00:00:00Z", "data": [{"units": 3}]}')
    with pytest.raises(SchemaError):
        Converter(out).convert([dataset / "facilities.json", bad])
    assert (out / "facilities.csv").read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_cli_convert_prints_a_summary_and_exits_1_on_bad_input(
    dataset: Path, tmp_path: Path, settings: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["convert", str(dataset), "-o", str(tmp_path / "out"), "-q"]) == 0
    assert "converted 3 file(s): 45 facilities" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  nope\n}")
    assert main(["convert", str(bad), "-o", str(tmp_path / "out2"), "-q"]) == 1
    assert f"{bad}:2:3: invalid JSON" in capsys.readouterr().err
