"""`energydash acquire` against a fake OpenElectricity API on loopback, through the real SDK."""

from __future__ import annotations

import asyncio
import csv
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from energydash.cli import main
from energydash.datasets.acquire import AcquireError, Acquirer, AcquireRequest
from energydash.datasets.convert import Converter

from .conftest import API_KEY
from .oe_server import OeServer


def _acquirer(server: OeServer, key: str = API_KEY, **kw: object) -> Acquirer:
    options = {"timeout_s": 1.0, "retries": 2, "backoff_s": 0.05}
    options.update(kw)
    return Acquirer(api_key=key, base_url=server.base_url, **options)  # type: ignore[arg-type]


def _request(out: Path) -> AcquireRequest:
    return AcquireRequest(
        out_dir=out,
        start=datetime.fromisoformat("2025-01-13T00:00:00"),
        end=datetime.fromisoformat("2025-01-13T06:00:00"),
    )


def test_acquire_writes_batches_of_at_most_30_that_convert_reads(
    oe_server: OeServer, tmp_path: Path
) -> None:
    summary = asyncio.run(_acquirer(oe_server).run(_request(tmp_path / "acq")))
    assert summary.facilities == 45 and summary.batches == 2 and summary.downloaded == 4
    batch_requests = [u for u in oe_server.requests if "/data/facilities/" in u]
    assert all(u.count("facility_code=") <= 30 for u in batch_requests)
    converted = Converter(tmp_path / "csv").convert(sorted((tmp_path / "acq").rglob("*.json")))
    assert converted.facilities == 45 and converted.unmapped_units == 0
    assert converted.facility_rows_wide == 45 * 72


def test_acquire_retries_a_500_and_a_timeout_mid_run_and_completes(
    oe_server: OeServer, tmp_path: Path
) -> None:
    oe_server.faults.extend([("/data/facilities/", "500"), ("/data/facilities/", "slow")])
    acquirer = _acquirer(oe_server)
    summary = asyncio.run(acquirer.run(_request(tmp_path / "acq")))
    assert summary.retries == 2
    assert len(list((tmp_path / "acq" / "facility_data").glob("batch-*.json"))) == 2


def test_acquire_resumes_skipping_batches_already_on_disk(
    oe_server: OeServer, tmp_path: Path
) -> None:
    out = tmp_path / "acq"
    oe_server.faults.extend([("/data/facilities/", "500")] * 3)  # batch 1: every attempt fails
    with pytest.raises(AcquireError, match="gave up after 3 attempts"):
        asyncio.run(_acquirer(oe_server).run(_request(out)))
    assert (
        not list((out / "facility_data").glob("*.json"))
        if (out / "facility_data").exists()
        else True
    )
    first = asyncio.run(_acquirer(oe_server).run(_request(out)))
    assert first.downloaded == 3 and first.skipped == 1  # facilities.json was kept
    before = len(oe_server.requests)
    again = asyncio.run(_acquirer(oe_server).run(_request(out)))
    assert again.downloaded == 0 and again.skipped == 4
    assert len(oe_server.requests) == before


def test_wrong_key_gives_a_one_line_explanation_and_exit_2(
    oe_server: OeServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPENELECTRICITY_API_KEY", "wrong")
    monkeypatch.setenv("ENERGYDASH_OPENELECTRICITY_BASE_URL", oe_server.base_url)
    code = main(["acquire", "-o", str(tmp_path / "acq"), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "401" in err and "OPENELECTRICITY_API_KEY" in err


def test_missing_key_exits_2_without_a_request(
    settings: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["acquire", "-o", str(tmp_path / "acq"), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "OPENELECTRICITY_API_KEY" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "acq").exists()


def test_cli_acquire_downloads_with_the_key_from_the_environment(
    oe_server: OeServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPENELECTRICITY_API_KEY", API_KEY)
    monkeypatch.setenv("ENERGYDASH_OPENELECTRICITY_BASE_URL", oe_server.base_url)
    code = main(["acquire", "-o", str(tmp_path / "acq"), "-q", "--start", "2025-01-13T00:00:00"])
    assert code == 0
    assert "acquired 45 facilities in 2 batches" in capsys.readouterr().out


def test_requests_go_to_the_v4_paths_of_the_base_url(oe_server: OeServer, tmp_path: Path) -> None:
    asyncio.run(_acquirer(oe_server).run(_request(tmp_path / "acq")))
    paths = [u.split("127.0.0.1:", 1)[1].split("/", 1)[1] for u in oe_server.requests]
    assert paths and all(p.startswith("v4/") for p in paths), paths
    assert any(p.startswith("v4/facilities/") for p in paths)
    assert any(p.startswith("v4/data/facilities/NEM") for p in paths)
    assert any(p.startswith("v4/market/network/NEM") for p in paths)


@pytest.mark.parametrize("kind", ["truncated", "cut"])
def test_a_truncated_reply_is_retried_then_completes(
    oe_server: OeServer, tmp_path: Path, kind: str
) -> None:
    oe_server.faults.append(("/data/facilities/", kind))
    summary = asyncio.run(_acquirer(oe_server).run(_request(tmp_path / "acq")))
    assert summary.retries == 1 and summary.downloaded == 4


def test_a_reply_truncated_every_time_ends_in_one_line_naming_the_cause(
    oe_server: OeServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPENELECTRICITY_API_KEY", API_KEY)
    monkeypatch.setenv("ENERGYDASH_OPENELECTRICITY_BASE_URL", oe_server.base_url)
    monkeypatch.setenv("ENERGYDASH_ACQUIRE_BACKOFF_S", "0.01")
    oe_server.faults.extend([("/facilities/", "truncated")] * 2)
    code = main(["acquire", "-o", str(tmp_path / "acq"), "-q", "--retries", "1"])
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if "gave up" in line]
    assert code == 1 and len(errors) == 1
    assert "facilities: the reply is not valid JSON (truncated?)" in errors[0]
    assert "Traceback" not in captured.err and captured.out == ""


def test_the_sdk_debug_lines_go_to_the_log_file_not_stdout(
    oe_server: OeServer,
    tmp_path: Path,
    settings: object,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPENELECTRICITY_API_KEY", API_KEY)
    monkeypatch.setenv("ENERGYDASH_OPENELECTRICITY_BASE_URL", oe_server.base_url)
    monkeypatch.setenv("ENERGYDASH_LOG_LEVEL", "DEBUG")
    assert main(["acquire", "-o", str(tmp_path / "acq"), "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [captured.out.strip()]  # the summary line only
    assert captured.out.startswith("acquired 45 facilities")
    log = (settings.log_dir / "acquire.log").read_text()  # type: ignore[attr-defined]
    assert "openelectricity.client: Request parameters" in log


def test_acquired_files_keep_fields_the_sdk_does_not_model(dataset: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("facility_data.json", "market.json"):
        (source / name).write_bytes((dataset / name).read_bytes())
    facilities = orjson.loads((dataset / "facilities.json").read_bytes())
    for facility in facilities["data"]:
        facility["fueltech_group_hint"] = "mixed"
        facility["units"][0]["max_generation"] = 12.5
    (source / "facilities.json").write_bytes(orjson.dumps(facilities))
    with OeServer(source, API_KEY) as server:
        asyncio.run(_acquirer(server).run(_request(tmp_path / "acq")))
    saved = orjson.loads((tmp_path / "acq" / "facilities.json").read_bytes())
    assert saved["data"][0]["fueltech_group_hint"] == "mixed"
    assert saved["data"][0]["units"][0]["max_generation"] == 12.5
    Converter(tmp_path / "csv").convert(sorted((tmp_path / "acq").rglob("*.json")))
    with (tmp_path / "csv" / "facility_units.csv").open(newline="") as handle:
        assert "max_generation" in next(csv.reader(handle))
