"""Achieved tick rate and lag of a real backend with MQTT publishing on, next to compute time.

Run: ``.venv/bin/python bench/tick_rate.py [--pdus 200 1000] [--seconds S]``. For each fleet
size it starts mosquitto and `energydash serve` (realtime clock, 1 Hz, MQTT publishing on) as
subprocesses, lets it warm up, then samples ``/metrics`` for S seconds and prints: ticks per
second achieved, the real tick period and the lag behind the clock (``/metrics``), the engine's
compute time per tick and the snapshot build time, and what the MQTT face shed (telemetry
dropped because the broker backlog was over ENERGYDASH_MQTT_OUTBOUND_QUEUE_LIMIT) and the
snapshot builder (PDUs whose device topics waited for a later tick, over the build budget).
Meanwhile a client sends ``GET /api/v1/simulation`` every 10 ms on one keep-alive connection
and the p99 and max of its answer times are printed: what a tick's work holds the event loop
back shows there (a tick build runs in slices, ``energydash.hub.slices``).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from energydash.mqtt.broker import BrokerProcess
from energydash.net import free_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from processes import admin_auth, backend  # noqa: E402

ADMIN = admin_auth()  # generated for this run by the test helpers


def metrics(url: str) -> dict[str, float]:
    text = httpx.get(url + "/metrics", auth=ADMIN, timeout=30).text
    out = {}
    for name, value in re.findall(r"^(energydash_[a-z_]+) (\S+)$", text, re.MULTILINE):
        with contextlib.suppress(ValueError):  # NaN before two ticks is "nan": kept as NaN
            out[name] = float(value)
    return out


def run(pdus: int, seconds: float, console: Console) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        broker = BrokerProcess("mosquitto", port=free_port(), broker_dir=Path(tmp) / "broker")
        with broker:
            with console.status(f"starting a backend with {pdus} PDUs"):
                svc = backend(
                    Path(tmp),
                    pdus=pdus,
                    facilities=120,
                    ENERGYDASH_MQTT_PUBLISH="true",
                    ENERGYDASH_MQTT_INGEST="false",
                    ENERGYDASH_MQTT_PORT=str(broker.port),
                ).start(timeout_s=300)
            try:
                time.sleep(5)  # warm up: connect, first ticks
                first = metrics(svc.url)
                started = time.monotonic()
                tick_ms, build_ms, lags, periods, answers = [], [], [], [], []
                with httpx.Client(base_url=svc.url, auth=ADMIN, timeout=30) as client:
                    while time.monotonic() - started < seconds:
                        second = time.monotonic() + 1.0
                        while time.monotonic() < second:
                            sent_at = time.perf_counter()
                            client.get("/api/v1/simulation").raise_for_status()
                            answers.append((time.perf_counter() - sent_at) * 1000.0)
                            time.sleep(0.01)
                        sample = metrics(svc.url)
                        tick_ms.append(sample.get("energydash_engine_tick_ms", 0.0))
                        build_ms.append(sample.get("energydash_snapshot_build_ms", 0.0))
                        lags.append(sample.get("energydash_engine_lag_seconds", 0.0))
                        period = sample.get("energydash_engine_tick_period_seconds", float("nan"))
                        if period == period:
                            periods.append(period)
                last = metrics(svc.url)
                elapsed = time.monotonic() - started
            finally:
                svc.stop()
    ticks = last["energydash_engine_ticks_total"] - first["energydash_engine_ticks_total"]
    dropped = last.get("energydash_mqtt_publisher_telemetry_dropped", 0.0) - first.get(
        "energydash_mqtt_publisher_telemetry_dropped", 0.0
    )
    sent = last.get("energydash_mqtt_publisher_telemetry", 0.0) - first.get(
        "energydash_mqtt_publisher_telemetry", 0.0
    )
    device = last.get("energydash_mqtt_publisher_device_data", 0.0) - first.get(
        "energydash_mqtt_publisher_device_data", 0.0
    )
    deferred = last.get("energydash_snapshot_device_pdus_deferred_total", 0.0) - first.get(
        "energydash_snapshot_device_pdus_deferred_total", 0.0
    )
    pdus_deferred = last.get("energydash_snapshot_pdus_deferred_total", 0.0) - first.get(
        "energydash_snapshot_pdus_deferred_total", 0.0
    )
    return [
        f"{pdus} ({pdus * 48:,} outlets)",
        f"{ticks / elapsed:.2f}",
        f"{statistics.median(periods):.2f}" if periods else "-",
        f"{max(lags):.1f}",
        f"{statistics.median(tick_ms):.1f}",
        f"{statistics.median(build_ms):.0f}",
        f"{(sent + device) / elapsed:,.0f}",
        f"{dropped / elapsed:,.0f}",
        f"{pdus_deferred / max(ticks, 1):,.0f}",
        f"{deferred / max(ticks, 1):,.0f}",
        f"{statistics.quantiles(answers, n=100)[98]:.0f} / {max(answers):.0f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdus", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    console = Console(width=180)
    table = Table(title="realtime backend, 1 Hz due, MQTT publishing on")
    for column in (
        "PDUs",
        "ticks/s",
        "period s",
        "max lag s",
        "tick compute ms",
        "snapshot build ms",
        "MQTT msgs/s",
        "MQTT shed/s",
        "PDUs deferred/tick",
        "device PDUs deferred/tick",
        "GET p99 / max ms",
    ):
        table.add_column(column, justify="right")
    for pdus in args.pdus:
        table.add_row(*run(pdus, args.seconds, console))
    console.print(table)


if __name__ == "__main__":
    main()
