"""The shipped sample replayed by `energydash replay` lands in the hub, as the dashboard sees it."""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from energydash.app import BackgroundServer, create_app
from energydash.config import Settings
from energydash.mqtt.broker import BrokerProcess
from energydash.sim.engine import Engine

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "csv"


@pytest.fixture
def backend(settings: Settings, amqtt_broker: BrokerProcess) -> Iterator[BackgroundServer]:
    cfg = settings.model_copy(
        update={"mqtt_port": amqtt_broker.port, "mqtt_publish": False, "mqtt_ingest_flush_s": 0.05}
    )
    app = create_app(cfg, engine=Engine.from_settings(cfg, restore=False))
    with BackgroundServer(app, port=cfg.port) as server:
        deadline = time.monotonic() + 10
        while not app.state.mqtt_ingest.link.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        yield server


def replay(preset: str, path: Path, port: int) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "energydash",
            "replay",
            str(path),
            "--preset",
            preset,
            "--max",
            "--port",
            str(port),
            "--limit",
            "400",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_replayed_sample_csvs_feed_facilities_and_market(
    backend: BackgroundServer, amqtt_broker: BrokerProcess
) -> None:
    if not (SAMPLE / "facility_metrics_wide.csv").exists():
        pytest.skip("sample CSVs not generated")
    with (SAMPLE / "facility_metrics_wide.csv").open() as handle:
        rows = list(csv.DictReader(handle))[:400]
    replay("facility", SAMPLE / "facility_metrics_wide.csv", amqtt_broker.port)
    replay("market", SAMPLE / "market_metrics_wide.csv", amqtt_broker.port)
    ingest = backend.app.state.mqtt_ingest
    codes = {row["facility_code"] for row in rows}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        body = httpx.get(
            f"{backend.url}/api/v1/snapshots/facilities", headers=backend.reader_headers
        ).json()
        if set(body["data"]["facilities"]["code"]) == codes:
            break
        time.sleep(0.1)
    assert set(body["data"]["facilities"]["code"]) == codes
    assert ingest.malformed == 0
    last = rows[-1]
    index = body["data"]["facilities"]["code"].index(last["facility_code"])
    assert body["data"]["facilities"]["region"][index] == last["region"]
    market = httpx.get(
        f"{backend.url}/api/v1/snapshots/market/NEM", headers=backend.reader_headers
    ).json()["data"]
    assert market["regions"] and all(r["price_aud_per_mwh"] is not None for r in market["regions"])
