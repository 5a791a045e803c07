"""Replay throughput (per row and grouped, 1 and 4 connections) next to raw paho, and latency.

On generated facilities at 5-minute intervals (default 200 x 2 days, 115,200 wide rows), against
one local broker: raw paho publish msg/s with 1 and 4 connections on pre-encoded messages;
`replay --max` per-row msg/s over the first --rows rows and grouped (one message per interval and
connection) over the first --intervals intervals, each with 1 and 4 connections; then delivery
latency p50/p99 as `energydash record` measures it from `replay --latency`, paced at --rate msg/s
per row and unpaced grouped.
Run: .venv/bin/python bench/replay.py [--rows 50000] [--intervals 288] [--rate 2000]
"""

from __future__ import annotations

import argparse
import csv
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).parent))
from _week import dataset_dir, week_csv
from energydash.mqtt.broker import BrokerProcess, choose_engine
from energydash.mqtt.record import Recorder, RecordOptions
from energydash.net import free_port


def raw_paho(port: int, messages: list[tuple[str, bytes]], connections: int) -> float:
    """Pre-encoded messages published as fast as paho takes them; msg/s until all acked."""
    shards = [messages[i::connections] for i in range(connections)]
    done = [threading.Event() for _ in shards]
    clients = []
    for index, shard in enumerate(shards):
        acked = [0]

        def on_publish(
            *_a: object, acked: list = acked, n: int = len(shard), i: int = index
        ) -> None:
            acked[0] += 1
            if acked[0] >= n:
                done[i].set()

        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-raw-{index}")
        client.max_inflight_messages_set(100)
        # paho's message ids wrap at 65535: more outstanding than that and publish() refuses.
        client.max_queued_messages_set(10_000)
        client.on_publish = on_publish
        client.connect("127.0.0.1", port)
        client.loop_start()
        clients.append(client)
    time.sleep(0.2)

    def publish(client: paho.Client, shard: list[tuple[str, bytes]]) -> None:
        for topic, payload in shard:
            while client.publish(topic, payload, 1).rc != paho.MQTT_ERR_SUCCESS:
                time.sleep(0.001)  # refused (queue full): retry, as any correct publisher must

    started = time.perf_counter()
    threads = [
        threading.Thread(target=publish, args=(c, s)) for c, s in zip(clients, shards, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for event in done:
        event.wait(600)
    elapsed = time.perf_counter() - started
    for client in clients:
        client.disconnect()
        client.loop_stop()
    return len(messages) / elapsed


def replay(port: int, path: Path, *extra: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "energydash", "replay", str(path), "--preset", "facility",
         "-q", "--port", str(port), *extra],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return orjson.loads(result.stdout.strip().splitlines()[-1])


def latency(port: int, path: Path, tmp: Path, *extra: str) -> dict:
    """Record while replaying with --latency; the recorder's latency summary."""
    recorder = Recorder(
        RecordOptions(out=tmp / "latency.csv", topics=["energydash/facilities/#"], port=port)
    )
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(recorder.run()))
    thread.start()
    recorder.ready.wait(10)
    sent = replay(port, path, "--latency", *extra)
    deadline = time.monotonic() + 60
    while recorder.messages < sent["messages_sent"] and time.monotonic() < deadline:
        time.sleep(0.05)
    recorder.stop("bench")
    thread.join()
    return {**result, "sent": sent}


def main() -> None:
    # A SIGTERM (e.g. from `timeout`) unwinds normally, so the broker child is stopped.
    signal.signal(signal.SIGTERM, lambda *_a: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facilities", type=int, default=200)
    parser.add_argument("--days", type=float, default=2.0)
    parser.add_argument("--rows", type=int, default=50_000, help="rows for the per-row runs")
    parser.add_argument("--intervals", type=int, default=288, help="intervals for grouped runs")
    parser.add_argument("--rate", type=float, default=2000.0, help="msg/s of the latency run")
    parser.add_argument("--engine", default="auto", choices=("auto", "mosquitto", "amqtt"))
    args = parser.parse_args()
    path = week_csv(dataset_dir(args.facilities, args.days), args.facilities, args.days)
    messages = []
    with path.open(newline="") as handle:
        for i, row in enumerate(csv.DictReader(handle)):
            if i >= args.rows:
                break
            payload = {
                k: (
                    float(v)
                    if k in ("power_mw", "emissions_t", "lat", "lng", "capacity_mw") and v
                    else v
                )
                for k, v in row.items()
            }
            messages.append(
                (f"energydash/facilities/{row['facility_code']}", orjson.dumps(payload))
            )
    engine = choose_engine(args.engine)
    print(
        f"[{engine}] input: {args.facilities} facilities x {args.days:g} days; per-row runs "
        f"{len(messages):,} rows, grouped runs {args.intervals} intervals "
        f"({args.intervals * args.facilities:,} rows); QoS 1, inflight 100 per connection"
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        BrokerProcess(engine, port=free_port(), broker_dir=Path(tmp), log_output=False) as broker,
    ):
        for n in (1, 4):
            raw = raw_paho(broker.port, messages, n)
            per_row = replay(
                broker.port, path, "--max", "--per-row", "--limit", str(args.rows),
                "--connections", str(n),
            )  # fmt: skip
            grouped = replay(
                broker.port, path, "--max", "--limit", str(args.intervals * n),
                "--connections", str(n),
            )  # fmt: skip
            print(
                f"[{engine}] {n} connection(s): raw paho {raw:,.0f} msg/s | replay per row "
                f"{per_row['messages_per_s']:,.0f} msg/s ({per_row['messages_per_s'] / raw:.0%} "
                f"of raw) | replay grouped {grouped['messages_per_s']:,.0f} msg/s = "
                f"{grouped['rows_per_s']:,.0f} rows/s ({grouped['messages_sent']:,} messages)"
            )
        paced = latency(
            broker.port, path, Path(tmp), "--per-row", "--rate", str(args.rate),
            "--limit", str(min(args.rows, int(args.rate * 10))),
        )  # fmt: skip
        unpaced = latency(
            broker.port, path, Path(tmp), "--max", "--connections", "4",
            "--limit", str(args.intervals * 4),
        )  # fmt: skip
        for name, result in (
            (f"per row at {args.rate:,.0f} msg/s, 1 connection", paced),
            ("grouped at --max, 4 connections", unpaced),
        ):
            lat = result["latency"] or {}
            print(
                f"[{engine}] delivery latency {name}: p50 {lat.get('p50_ms', 0):.2f} ms, "
                f"p99 {lat.get('p99_ms', 0):.2f} ms over {result['messages']:,} messages "
                f"({result['gaps']} gaps, {result['duplicates']} duplicates)"
            )


if __name__ == "__main__":
    main()
