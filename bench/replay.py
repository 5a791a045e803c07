"""Raw paho publish rate vs `energydash replay --max`, per row and grouped, on one local broker.

Input: a week of 500 facilities at 5-minute intervals (~1M rows, facility_metrics_wide.csv).
Prints: raw paho msg/s (the same payloads, QoS 1, max_inflight 100), replay --max per-row msg/s
on the first --rows rows (and its share of raw), and replay --max grouped over the whole week.
Run: .venv/bin/python bench/replay.py [--rows 200000] [--engine mosquitto|amqtt]
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
from _week import DEFAULT_DIR, week_csv
from energydash.mqtt.broker import BrokerProcess, choose_engine, free_port


def raw_paho(port: int, messages: list[tuple[str, bytes]]) -> float:
    """Pre-encoded messages published as fast as paho takes them; msg/s until all acked."""
    done = threading.Event()
    acked = [0]
    total = len(messages)

    def on_publish(*_a: object) -> None:
        acked[0] += 1
        if acked[0] >= total:
            done.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw")
    client.max_inflight_messages_set(100)
    # paho's message ids wrap at 65535: more outstanding than that and publish() refuses.
    client.max_queued_messages_set(10_000)
    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    time.sleep(0.2)
    started = time.perf_counter()
    for topic, payload in messages:
        while client.publish(topic, payload, 1).rc != paho.MQTT_ERR_SUCCESS:
            time.sleep(0.001)  # refused (queue full): retry, as any correct publisher must
    done.wait(600)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return total / elapsed


def replay(port: int, path: Path, *extra: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "energydash", "replay", str(path), "--preset", "facility",
         "--max", "-q", "--port", str(port), *extra],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return orjson.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    # A SIGTERM (e.g. from `timeout`) unwinds normally, so the broker child is stopped.
    signal.signal(signal.SIGTERM, lambda *_a: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--rows", type=int, default=200_000, help="rows for the per-row runs")
    parser.add_argument("--engine", default="auto", choices=("auto", "mosquitto", "amqtt"))
    args = parser.parse_args()
    path = week_csv(args.dir)
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
    with (
        tempfile.TemporaryDirectory() as tmp,
        BrokerProcess(engine, port=free_port(), broker_dir=Path(tmp), log_output=False) as broker,
    ):
        raw = raw_paho(broker.port, messages)
        print(
            f"[{engine}] raw paho publish (QoS 1, inflight 100): {raw:,.0f} msg/s "
            f"over {len(messages):,} messages"
        )
        per_row = replay(broker.port, path, "--per-row", "--limit", str(args.rows))
        share = per_row["messages_per_s"] / raw
        print(
            f"[{engine}] replay --max per row: {per_row['messages_per_s']:,.0f} msg/s over "
            f"{per_row['messages_sent']:,} messages = {share:.0%} of raw (target >= 80%)"
        )
        grouped = replay(broker.port, path)
        print(
            f"[{engine}] replay --max grouped: {grouped['rows_sent']:,} rows in "
            f"{grouped['messages_sent']:,} messages in {grouped['elapsed_s']:.1f} s "
            f"({grouped['rows_per_s']:,.0f} rows/s; target: the week in < 60 s)"
        )


if __name__ == "__main__":
    main()
