"""Replay takes over the grid pages: only the dataset, labelled, on its own clock.

Real parts: a mosquitto broker, `energydash serve` with MQTT ingest, `energydash dashboard`,
headless Chromium, and `energydash replay` of the shipped sample (as `./start_all.sh --replay`
runs it: looping at 300x). While it runs, Overview, Market and Map show the dataset's values
alone under a "Replay: <dataset> · dataset time ..." label, with dataset timestamps on the axes;
after it stops (ENERGYDASH_REPLAY_TIMEOUT_S of silence) they show the simulator again. A short
looping replay shows the dataset time rewinding on screen (issue 11's fix, as the page shows it).
"""

from __future__ import annotations

import csv
import os
import subprocess
from collections.abc import Iterator
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import httpx
import pytest
from processes import ENERGYDASH, Service, backend, dashboard

from browser import console_errors, graph_data, text, wait_until
from energydash.mqtt.broker import BrokerProcess, find_mosquitto
from energydash.net import free_port

pytestmark = [pytest.mark.browser, pytest.mark.mosquitto, pytest.mark.slow]

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "csv"
FACILITY_CSV = SAMPLE / "facility_metrics_wide.csv"
MARKET_CSV = SAMPLE / "market_metrics_wide.csv"
LABEL = "Replay: facility_metrics_wide.csv + market_metrics_wide.csv · dataset time "
TIMEOUT_S = 6
LOCAL = "%Y-%m-%d %H:%M:%S"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed")
    with BrokerProcess(
        "mosquitto", port=free_port(), broker_dir=tmp_path_factory.mktemp("broker")
    ) as started:
        yield started


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, broker: BrokerProcess
) -> Iterator[tuple[Service, Service]]:
    """The usual stack (60 simulated facilities), its backend ingesting the broker's topics."""
    workdir = tmp_path_factory.mktemp("replay-stack")
    server = backend(
        workdir,
        ENERGYDASH_MQTT_INGEST="true",
        ENERGYDASH_MQTT_HOST="127.0.0.1",
        ENERGYDASH_MQTT_PORT=str(broker.port),
        ENERGYDASH_MQTT_INGEST_FLUSH_S="0.25",
        ENERGYDASH_REPLAY_TIMEOUT_S=str(TIMEOUT_S),
    ).start()
    web = dashboard(workdir, server).start()
    try:
        yield server, web
    finally:
        web.stop()
        server.stop()


class Replay:
    """`energydash replay CSV --preset P --loop --speed 300` as a subprocess."""

    def __init__(self, csv_path: Path, preset: str, broker: BrokerProcess, workdir: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGYDASH_")}
        env["ENERGYDASH_DATA_DIR"] = str(workdir / "data")
        self.log = workdir / f"replay-{preset}-{csv_path.stem}.out"
        args = ["replay", str(csv_path), "--preset", preset, "--loop", "--speed", "300", "-q"]
        self.process = subprocess.Popen(
            [*ENERGYDASH, *args, "--port", str(broker.port)],
            cwd=workdir,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def dataset_prices(path: Path) -> list[float]:
    with path.open() as handle:
        return sorted(float(row["price_aud_per_mwh"]) for row in csv.DictReader(handle))


def in_dataset(value: float, prices: list[float]) -> bool:
    # stored history is float32: a price comes back within a cent of the dataset's
    return any(abs(value - p) < 0.01 for p in prices)


def label_time(driver, page: str) -> datetime | None:
    shown = text(driver, f"{page}-source") or ""
    if "dataset time " not in shown:
        return None
    stamp = shown.split("dataset time ", 1)[1].rsplit(" ", 1)[0]
    return datetime.strptime(stamp, LOCAL)


def open_page(driver, base: str, path: str, page: str, starts: str) -> str:
    driver.get(base + path)
    return wait_until(
        lambda: (shown := text(driver, f"{page}-source") or "").startswith(starts) and shown,
        timeout_s=40,
    )


def price_values(driver, graph: str) -> list[float]:
    traces = graph_data(driver, graph) or []
    return [y for trace in traces for y in trace.get("y") or [] if y is not None]


def test_replay_takes_over_every_grid_page_and_the_simulator_returns_after_it(
    stack, operator, broker, tmp_path: Path, screenshot
) -> None:
    server, web = stack
    driver = operator
    prices = dataset_prices(MARKET_CSV)
    assert open_page(driver, web.url, "/market", "market", "Simulation · sim time ")
    wait_until(lambda: price_values(driver, "market-price"), timeout_s=30)
    assert not all(in_dataset(p, prices) for p in price_values(driver, "market-price"))

    replays = [
        Replay(MARKET_CSV, "market", broker, tmp_path),
        Replay(FACILITY_CSV, "facility", broker, tmp_path),
    ]
    try:
        # Overview: the grid figures are the dataset's, labelled, generation from its facilities
        open_page(driver, web.url, "/", "overview", LABEL)

        def dataset_bars() -> list[float]:
            bars = price_values(driver, "ov-price-chart")
            return bars if bars and all(in_dataset(p, prices) for p in bars) else []

        assert len(wait_until(dataset_bars, timeout_s=20)) == 5
        assert (text(driver, "ov-generation") or "0 MW") != "0 MW"
        mix = graph_data(driver, "ov-mix-chart") or [{}]
        assert mix[0].get("x"), "the mix of the replayed facilities is shown"

        # Market: only dataset prices, on the dataset's 5-minute clock
        open_page(driver, web.url, "/market", "market", LABEL)

        def dataset_chart() -> list[list[str]]:
            traces = graph_data(driver, "market-price") or []
            xs = [t.get("x") or [] for t in traces]
            return xs if traces and all(len(x) >= 3 for x in xs) else []

        xs = wait_until(dataset_chart, timeout_s=40)
        values = price_values(driver, "market-price")
        assert values and all(in_dataset(p, prices) for p in values), values[:10]
        for x in xs:
            steps = [
                (datetime.strptime(b, LOCAL) - datetime.strptime(a, LOCAL)).total_seconds()
                for a, b in pairwise(x)
            ]
            # dataset rows are 5 minutes apart (the simulator ticks every second); the loaded
            # past is stamped with the start of its 5 s bucket, live points with their own time
            assert steps and all(s >= 295 and abs(s - 300 * round(s / 300)) <= 5 for s in steps)
        shown = label_time(driver, "market")
        assert shown is not None and datetime.strptime(xs[0][-1], LOCAL) <= shown
        assert price_values(driver, "market-mix"), "generation mix from the replayed facilities"
        screenshot("replay-market")

        # Map: the 20 facilities of the dataset, not the simulator's 60
        open_page(driver, web.url, "/map", "map", LABEL)
        wait_until(lambda: text(driver, "map-count") == "20 of 20 facilities shown", timeout_s=20)
        sources = httpx.get(
            f"{server.url}/api/v1/snapshots/sources", auth=_reader(server), timeout=10
        ).json()["data"]
        assert sources["mode"] == "replay"
        assert sources["datasets"] == ["facility_metrics_wide.csv", "market_metrics_wide.csv"]
    finally:
        for replay in replays:
            replay.stop()

    # The replay is silent: after the timeout each page shows the simulator again, labelled
    wait_until(lambda: text(driver, "map-count") == "60 of 60 facilities shown", timeout_s=40)
    assert (text(driver, "map-source") or "").startswith("Simulation · sim time ")
    open_page(driver, web.url, "/market", "market", "Simulation · sim time ")
    wait_until(lambda: price_values(driver, "market-price"), timeout_s=30)
    assert not all(in_dataset(p, prices) for p in price_values(driver, "market-price"))
    open_page(driver, web.url, "/", "overview", "Simulation · sim time ")
    assert console_errors(driver) == []


def test_a_looping_replay_rewinds_the_dataset_time_on_screen(
    stack, operator, broker, tmp_path: Path
) -> None:
    _, web = stack
    driver = operator
    short = tmp_path / "market_ten_intervals.csv"
    with MARKET_CSV.open() as handle:
        lines = handle.readlines()
    short.write_text("".join(lines[: 1 + 5 * 10]))  # 10 intervals of 5 regions: ~9 s a pass
    replay = Replay(short, "market", broker, tmp_path)
    try:
        open_page(driver, web.url, "/market", "market", "Replay: market_ten_intervals.csv")
        seen: list[datetime] = []

        def rewound() -> bool:
            shown = label_time(driver, "market")
            if shown is not None and (not seen or shown != seen[-1]):
                seen.append(shown)
            return any(b < a for a, b in pairwise(seen))

        wait_until(rewound, timeout_s=60, every_s=0.25)

        # after the rewind the chart holds only this pass: nothing later than the label's time
        def chart_follows_label() -> bool:
            shown = label_time(driver, "market")
            traces = graph_data(driver, "market-price") or []
            xs = [datetime.strptime(x, LOCAL) for t in traces for x in t.get("x") or []]
            return (
                bool(shown and xs) and max(xs) <= shown and (shown - min(xs)).total_seconds() < 3600
            )

        wait_until(chart_follows_label, timeout_s=30)
    finally:
        replay.stop()


def _reader(server: Service) -> tuple[str, str]:
    from processes import ACCOUNTS

    return ACCOUNTS["ReadOnly"]
