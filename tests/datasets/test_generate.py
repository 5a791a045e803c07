"""`energydash datasets generate`: SDK-valid, deterministic by seed, shipped sample in step."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest
from openelectricity.models.facilities import FacilityResponse
from openelectricity.models.timeseries import TimeSeriesResponse

from energydash.cli import main
from energydash.datasets.generate import generate
from energydash.geo.outlines import in_region

ROOT = Path(__file__).resolve().parents[2]
START = datetime.fromisoformat("2025-01-13T00:00:00+10:00")


def test_generated_files_validate_against_the_sdk_models(dataset: Path) -> None:
    facilities = FacilityResponse.model_validate_json((dataset / "facilities.json").read_bytes())
    data = TimeSeriesResponse.model_validate_json((dataset / "facility_data.json").read_bytes())
    market = TimeSeriesResponse.model_validate_json((dataset / "market.json").read_bytes())
    assert len(facilities.data) == 45
    assert {s.metric for s in data.data} == {"power", "emissions"}
    assert {s.metric for s in market.data} == {"price", "demand"}
    for facility in facilities.data:
        assert in_region(facility.network_region, facility.location.lat, facility.location.lng)
        assert all(u.capacity_registered and u.capacity_registered > 0 for u in facility.units)
    first = data.data[0].results[0].data
    assert len(first) == 72 and first[0].timestamp == START
    assert (first[1].timestamp - first[0].timestamp).total_seconds() == 300


def test_same_seed_gives_the_same_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        generate(tmp_path / name, seed=seed, facility_count=8, days=0.05, start=START)
    a, b, c = ((tmp_path / n / "facility_data.json").read_bytes() for n in "abc")
    assert a == b and a != c


def test_shipped_sample_is_small_and_its_csv_matches_a_fresh_conversion(
    tmp_path: Path, settings: object
) -> None:
    sample = ROOT / "data" / "sample"
    total = sum(p.stat().st_size for p in sample.rglob("*") if p.is_file())
    assert total < 2_000_000
    assert main(["convert", str(sample), "-o", str(tmp_path), "--format", "wide", "-q"]) == 0
    for name in ("facility_metrics_wide.csv", "market_metrics_wide.csv", "facilities.csv"):
        assert (tmp_path / name).read_bytes() == (sample / "csv" / name).read_bytes(), name
    with (sample / "csv" / "facility_metrics_wide.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 20 * 288


def test_cli_generate_rejects_bad_options(
    tmp_path: Path, settings: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["datasets", "generate", "-o", str(tmp_path), "--days", "0", "-q"]) == 2
    assert main(["datasets", "generate", "-o", str(tmp_path), "--start", "soon", "-q"]) == 2
    assert "--start" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_generated_batteries_have_a_bidirectional_unit_whose_power_is_the_net_of_its_twins(
    dataset: Path, tmp_path: Path
) -> None:
    facilities = FacilityResponse.model_validate_json((dataset / "facilities.json").read_bytes())
    batteries = [f for f in facilities.data if any(u.fueltech_id == "battery" for u in f.units)]
    assert batteries, "the 45-facility set has battery facilities"
    data = TimeSeriesResponse.model_validate_json((dataset / "facility_data.json").read_bytes())
    power = next(s for s in data.data if s.metric == "power")
    by_unit = {r.columns.unit_code: [p.value for p in r.data] for r in power.results}
    for facility in batteries:
        kinds = {str(u.fueltech_id): u for u in facility.units}
        assert kinds["battery"].dispatch_type == "BIDIRECTIONAL"
        net, dis, chg = (by_unit[kinds[k].code] for k in ("battery", "battery_discharging",
                                                           "battery_charging"))  # fmt: skip
        assert net == pytest.approx([d - c for d, c in zip(dis, chg, strict=True)], abs=1e-3)
