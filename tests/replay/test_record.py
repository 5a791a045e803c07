"""`energydash record` against a real mosquitto: replay a dataset, record it, compare the files."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import orjson
import paho.mqtt.client as paho
import pyarrow.parquet as pq
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from energydash.config import Settings
from energydash.mqtt.broker import BrokerProcess
from energydash.mqtt.record import Recorder, RecordOptions
from energydash.mqtt.replay import Replayer, options_from_preset
from energydash.mqtt.replay_progress import ReplayProgress

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "csv" / "facility_metrics_wide.csv"
INTERVALS = 24
FACILITIES = 20

pytestmark = pytest.mark.mosquitto


def _first_intervals(path: Path, intervals: int = INTERVALS) -> Path:
    """The sample's first ``intervals`` intervals (20 facilities each)."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[: 1 + intervals * FACILITIES]), encoding="utf-8")
    return path


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _record(broker: BrokerProcess, out: Path, **kw: object) -> tuple[Recorder, threading.Thread]:
    options = RecordOptions(
        out=out, topics=["energydash/facilities/#"], port=broker.port, idle_s=5.0, **kw
    )  # type: ignore[arg-type]
    recorder = Recorder(options)
    result: dict[str, object] = {}
    thread = threading.Thread(target=lambda: result.update(recorder.run()), daemon=True)
    thread.start()
    assert recorder.ready.wait(10), "the recorder got no SUBACK"
    recorder.result = result  # type: ignore[attr-defined]
    return recorder, thread


@pytest.mark.parametrize(
    ("preset", "name", "topic", "per_interval"),
    [
        ("facility", "facility_metrics_wide.csv", "energydash/facilities/#", FACILITIES),
        ("market", "market_metrics_wide.csv", "energydash/market/#", 5),
    ],
)
def test_recording_a_replay_gives_the_replayed_csv_back_row_by_row(
    mosquitto_broker: BrokerProcess,
    settings: Settings,
    tmp_path: Path,
    preset: str,
    name: str,
    topic: str,
    per_interval: int,
) -> None:
    lines = (SAMPLE.parent / name).read_text(encoding="utf-8").splitlines(keepends=True)
    source = tmp_path / name
    source.write_text("".join(lines[: 1 + INTERVALS * per_interval]), encoding="utf-8")
    recorder = Recorder(
        RecordOptions(
            out=tmp_path / "recorded.csv", topics=[topic], port=mosquitto_broker.port,
            count=INTERVALS, idle_s=5.0,
        )
    )  # fmt: skip
    result: dict[str, object] = {}
    thread = threading.Thread(target=lambda: result.update(recorder.run()), daemon=True)
    thread.start()
    assert recorder.ready.wait(10), "the recorder got no SUBACK"
    options = options_from_preset(preset, settings, path=source, port=mosquitto_broker.port)
    sent = Replayer(options).run()
    thread.join(30)
    assert sent["messages_sent"] == INTERVALS and result["stopped_by"] == "count"
    original, recorded = _rows(source), _rows(tmp_path / "recorded.csv")
    assert recorded[0] == original[0]
    assert len(recorded) == len(original) == 1 + INTERVALS * per_interval
    for number, (want, got) in enumerate(zip(original, recorded, strict=True)):
        assert got == want, f"row {number}"


def test_four_connections_with_latency_lose_nothing_and_report_latency_gaps_duplicates(
    mosquitto_broker: BrokerProcess, settings: Settings, tmp_path: Path
) -> None:
    source = _first_intervals(tmp_path / "wide.csv")
    recorder, thread = _record(mosquitto_broker, tmp_path / "recorded.csv")
    options = options_from_preset(
        "facility",
        settings,
        path=source,
        port=mosquitto_broker.port,
        connections=4,
        latency=True,
    )
    sent = Replayer(options).run()
    deadline = time.monotonic() + 20
    while recorder.messages < sent["messages_sent"] and time.monotonic() < deadline:
        time.sleep(0.02)
    recorder.stop("test")
    thread.join(30)
    summary = recorder.result  # type: ignore[attr-defined]
    assert summary["messages"] == sent["messages_sent"] > INTERVALS  # groups split per shard
    assert summary["streams"] == 4 and summary["gaps"] == 0 and summary["duplicates"] == 0
    latency = summary["latency"]
    assert latency["messages"] == sent["messages_sent"]
    assert 0 <= latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    original, recorded = _rows(source), _rows(tmp_path / "recorded.csv")
    assert recorded[0] == original[0]
    assert sorted(recorded[1:]) == sorted(original[1:])


def test_a_lost_message_shows_as_a_gap_and_a_resent_one_as_a_duplicate(
    mosquitto_broker: BrokerProcess, tmp_path: Path
) -> None:
    recorder, thread = _record(mosquitto_broker, tmp_path / "r.csv", count=4)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="test-gaps")
    client.connect(mosquitto_broker.host, mosquitto_broker.port)
    client.loop_start()
    for seq in (0, 1, 3, 3):  # 2 never sent, 3 twice
        trace = {"stream": "s", "seq": seq, "sent_at": "2026-01-01T00:00:00+00:00"}
        client.publish("energydash/facilities/X", orjson.dumps({"v": seq, "replay": trace}), 1)
    thread.join(20)
    client.disconnect()
    client.loop_stop()
    summary = recorder.result  # type: ignore[attr-defined]
    assert (summary["gaps"], summary["duplicates"]) == (1, 1)
    assert _rows(tmp_path / "r.csv") == [["v"], ["0"], ["1"], ["3"], ["3"]]


def test_parquet_recording_has_typed_columns_and_the_timestamps_offset(
    mosquitto_broker: BrokerProcess, settings: Settings, tmp_path: Path
) -> None:
    source = _first_intervals(tmp_path / "wide.csv", 3)
    out = tmp_path / "recorded.parquet"
    _recorder, thread = _record(mosquitto_broker, out, count=3, file_type="parquet")
    Replayer(
        options_from_preset("facility", settings, path=source, port=mosquitto_broker.port)
    ).run()
    thread.join(30)
    table = pq.read_table(out)
    assert table.num_rows == 3 * FACILITIES
    assert str(table.schema.field("timestamp").type) == "timestamp[ms, tz=+10:00]"
    assert str(table.schema.field("power_mw").type) == "double"
    assert str(table.schema.field("facility_code").type) == "string"
    assert table.column_names == _rows(source)[0]


def test_mqtt5_replay_sends_message_expiry_and_user_properties_and_record_reads_it(
    mosquitto_broker: BrokerProcess, settings: Settings, tmp_path: Path
) -> None:
    got: list[paho.MQTTMessage] = []
    ready = threading.Event()
    sub = paho.Client(CallbackAPIVersion.VERSION2, client_id="test-v5", protocol=paho.MQTTv5)
    sub.on_connect = lambda c, *_a: c.subscribe("energydash/facilities/#", 1)
    sub.on_subscribe = lambda *_a: ready.set()
    sub.on_message = lambda _c, _u, m: got.append(m)
    sub.connect(mosquitto_broker.host, mosquitto_broker.port)
    sub.loop_start()
    assert ready.wait(10)
    source = _first_intervals(tmp_path / "wide.csv", 2)
    _recorder, thread = _record(mosquitto_broker, tmp_path / "r.csv", count=2, mqtt_version="5")
    options = options_from_preset(
        "facility",
        settings,
        path=source,
        port=mosquitto_broker.port,
        mqtt_version="5",
        message_expiry_s=600,
        user_properties=[("source", "energydash-test")],
    )
    Replayer(options).run()
    thread.join(20)
    deadline = time.monotonic() + 10
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    sub.disconnect()
    sub.loop_stop()
    props = got[0].properties
    assert 0 < props.MessageExpiryInterval <= 600  # type: ignore[union-attr]
    assert props.UserProperty == [("source", "energydash-test")]  # type: ignore[union-attr]
    assert len(_rows(tmp_path / "r.csv")) == 1 + 2 * FACILITIES


def test_connections_shard_rows_by_facility_the_same_way_every_run(
    mosquitto_broker: BrokerProcess, settings: Settings, tmp_path: Path
) -> None:
    source = _first_intervals(tmp_path / "wide.csv", 2)
    mappings = []
    for run in range(2):
        streams: dict[str, set[str]] = defaultdict(set)
        done = threading.Event()
        sub = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-shard-{run}")
        sub.on_connect = lambda c, *_a: c.subscribe("energydash/facilities/#", 1)
        sub.on_subscribe = lambda *_a, d=done: d.set()

        def on_message(_c: object, _u: object, m: paho.MQTTMessage, s: dict = streams) -> None:
            body = orjson.loads(m.payload)
            s[body["facility_code"]].add(body["replay"]["stream"].rsplit("-", 1)[1])

        sub.on_message = on_message
        sub.connect(mosquitto_broker.host, mosquitto_broker.port)
        sub.loop_start()
        assert done.wait(10)
        options = options_from_preset(
            "facility",
            settings,
            path=source,
            port=mosquitto_broker.port,
            group_by_timestamp=False,
            connections=3,
            latency=True,
            client_id=f"shard-test-{run}",
        )
        sent = Replayer(options).run()
        deadline = time.monotonic() + 10
        while sum(len(v) for v in streams.values()) < FACILITIES and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)  # a stray second stream for a facility would land by now
        sub.disconnect()
        sub.loop_stop()
        assert sent["messages_sent"] == 2 * FACILITIES
        assert all(len(v) == 1 for v in streams.values()), dict(streams)
        assert len({next(iter(v)) for v in streams.values()}) == 3  # every connection used
        mappings.append({k: next(iter(v)) for k, v in streams.items()})
    assert mappings[0] == mappings[1]


def test_sigterm_stops_the_recorder_which_writes_everything_and_prints_its_summary(
    mosquitto_broker: BrokerProcess, tmp_path: Path
) -> None:
    out = tmp_path / "r.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "energydash", "record", "--topic", "t/#", "-o", str(out),
         "--port", str(mosquitto_broker.port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "ENERGYDASH_DATA_DIR": str(tmp_path / "data")},
    )  # fmt: skip
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="test-sigterm")
    client.connect(mosquitto_broker.host, mosquitto_broker.port)
    client.loop_start()
    deadline = time.monotonic() + 20
    sent = 0
    spills: list[Path] = []
    while time.monotonic() < deadline:
        client.publish("t/a", orjson.dumps({"n": sent}), 1).wait_for_publish(5)
        sent += 1
        spills = [p for p in tmp_path.iterdir() if p.name.startswith(".r.csv.")]
        if spills and spills[0].stat().st_size > 0 and sent >= 5:
            break
        time.sleep(0.05)
    assert spills, "the recorder never received a message"
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=30)
    client.disconnect()
    client.loop_stop()
    summary = orjson.loads(stdout.strip().splitlines()[-1])
    assert proc.returncode == 0 and summary["stopped_by"] == "signal"
    rows = _rows(out)
    assert rows[0] == ["n"] and len(rows) - 1 == summary["rows"] == summary["messages"] >= 1
    numbers = [int(r[0]) for r in rows[1:]]  # from the first one sent after it subscribed
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert "recorded" in stderr and not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_one_final_line_elsewhere(
    mosquitto_broker: BrokerProcess,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # a terminal wide enough for every column
    source = _first_intervals(tmp_path / "wide.csv", 4)
    outputs = {}
    for name, stream in (("tty", _Terminal()), ("log", io.StringIO())):
        progress = ReplayProgress(stream)
        options = options_from_preset("facility", settings, path=source, port=mosquitto_broker.port)
        Replayer(options, on_progress=progress.update, progress_interval_s=0.0).run()
        progress.close()
        outputs[name] = stream.getvalue()
    assert "━" in outputs["tty"] and "80/80" in outputs["tty"]
    lines = outputs["log"].splitlines()
    assert len(lines) == 1 and lines[0].startswith("replay: 4 msgs (80 rows) acked 4")


def test_a_recording_where_nothing_arrived_writes_no_file(
    mosquitto_broker: BrokerProcess, tmp_path: Path
) -> None:
    out = tmp_path / "nothing.parquet"
    recorder = Recorder(
        RecordOptions(
            out=out, topics=["nobody/#"], port=mosquitto_broker.port, duration_s=0.3,
            file_type="parquet",
        )
    )  # fmt: skip
    summary = recorder.run()
    assert summary["stopped_by"] == "duration" and summary["messages"] == 0
    assert summary["file"] is None and not list(tmp_path.iterdir())


def test_a_parquet_table_replays_like_its_csv_and_records_back_to_it(
    mosquitto_broker: BrokerProcess, settings: Settings, tmp_path: Path
) -> None:
    from energydash.datasets.convert import Converter

    sample = SAMPLE.parent.parent
    out = tmp_path / "converted"
    inputs = [sample / n for n in ("facilities.json", "facility_data.json")]
    Converter(out, form="wide", file_types=("csv", "parquet")).convert(inputs)
    recorder, thread = _record(mosquitto_broker, tmp_path / "recorded.csv", count=288)
    options = options_from_preset(
        "facility", settings, path=out / "facility_metrics_wide.parquet", port=mosquitto_broker.port
    )
    sent = Replayer(options).run()
    thread.join(30)
    assert sent["rows_sent"] == 288 * FACILITIES and recorder.result["messages"] == 288  # type: ignore[attr-defined]
    assert _rows(tmp_path / "recorded.csv") == _rows(out / "facility_metrics_wide.csv")
