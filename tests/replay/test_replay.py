"""`energydash replay` end to end through real brokers (amqtt and mosquitto) into a subscriber."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from energydash.cli import main
from energydash.config import Settings
from energydash.mqtt.broker import BrokerProcess
from energydash.mqtt.replay import Replayer, ReplayError, ReplayOptions, options_from_preset
from energydash.net import free_port

from .conftest import write_csv

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "csv"


def _facility_csv(path: Path, intervals: int = 12, facilities: int = 5) -> Path:
    start = datetime(2025, 1, 13, tzinfo=UTC)
    rows = [
        f"{(start + timedelta(minutes=5 * i)).isoformat()},F{f},{i * 10 + f}.5,{f}.25,NSW1"
        for i in range(intervals)
        for f in range(facilities)
    ]
    return write_csv(path, "timestamp,facility_code,power_mw,emissions_t,region", rows)


def test_facility_preset_sends_one_message_per_interval_with_typed_rows(
    mqtt_broker: BrokerProcess, subscribe: object, settings: Settings, tmp_path: Path
) -> None:
    sub = subscribe("energydash/facilities/#")  # type: ignore[operator]
    options = options_from_preset(
        "facility", settings, path=_facility_csv(tmp_path / "f.csv"), port=mqtt_broker.port
    )
    summary = Replayer(options).run()
    got = sub.wait_for(12)
    assert summary["messages_sent"] == 12 and summary["rows_sent"] == 60
    assert summary["messages_acked"] == 12
    topic, payload = got[0]
    assert topic == "energydash/facilities/all"
    assert payload == {
        "timestamp": "2025-01-13T00:00:00+00:00",
        "rows": [
            {
                "facility_code": f"F{f}",
                "power_mw": f + 0.5,
                "emissions_t": f + 0.25,
                "region": "NSW1",
            }
            for f in range(5)
        ],
    }
    assert [p["timestamp"] for _, p in got] == sorted(p["timestamp"] for _, p in got)  # type: ignore[index]


def test_per_row_topic_template_column_selection_and_types(
    mqtt_broker: BrokerProcess, subscribe: object, tmp_path: Path
) -> None:
    sub = subscribe("site/#")  # type: ignore[operator]
    path = write_csv(
        tmp_path / "d.csv",
        "ts,device,power_w,online,note",
        ["1736726400,a1,5,1,x", "1736726401,b2,7,0,y"],
    )
    options = ReplayOptions(
        path=path,
        topic="site/{device}/data",
        timestamp_column="ts",
        columns=["device", "power_w", "online"],
        types={"online": "bool", "power_w": "int"},
        port=mqtt_broker.port,
    )
    assert Replayer(options).run()["messages_sent"] == 2
    got = sorted(sub.wait_for(2))
    assert got == [
        ("site/a1/data", {"device": "a1", "power_w": 5, "online": True}),
        ("site/b2/data", {"device": "b2", "power_w": 7, "online": False}),
    ]


def test_payload_template_sends_text(
    mqtt_broker: BrokerProcess, subscribe: object, tmp_path: Path
) -> None:
    sub = subscribe("t/#")  # type: ignore[operator]
    path = write_csv(tmp_path / "d.csv", "id,v", ["x,1", "y,2"])
    options = ReplayOptions(
        path=path, topic="t/{id}", payload_template="v=$v", port=mqtt_broker.port, qos=0
    )
    Replayer(options).run()
    assert sorted(sub.wait_for(2)) == [("t/x", "v=1"), ("t/y", "v=2")]


def test_bad_rows_are_skipped_with_file_line_and_counted(
    mqtt_broker: BrokerProcess, subscribe: object, tmp_path: Path
) -> None:
    sub = subscribe("b/#")  # type: ignore[operator]
    path = write_csv(
        tmp_path / "bad.csv",
        "timestamp,id,value",
        [
            "2025-01-01T00:00:00Z,a,1",
            "not-a-time,b,2",
            "2025-01-01T00:00:02Z,c",
            "2025-01-01T00:00:03Z,d,4",
        ],
    )
    warnings: list[str] = []
    options = ReplayOptions(
        path=path, topic="b/{id}", timestamp_column="timestamp", port=mqtt_broker.port
    )
    summary = Replayer(options, warn=warnings.append).run()
    assert summary["bad_rows"] == 2 and summary["messages_sent"] == 2
    assert summary["first_bad_row"].startswith(f"{path}:3: column 'timestamp'")
    assert any(f"{path}:4: 2 fields" in w for w in warnings)
    assert sorted(t for t, _ in sub.wait_for(2)) == ["b/a", "b/d"]
    with pytest.raises(ReplayError, match=f"{path}:3:"):
        Replayer(ReplayOptions(**{**options.__dict__, "on_error": "fail"})).run()


def test_speed_paces_on_an_absolute_schedule_and_reports_lag(
    mqtt_broker: BrokerProcess, tmp_path: Path
) -> None:
    rows = [f"2025-01-01T00:00:{s:02d}Z,{s}" for s in range(0, 40, 10)]  # 30 s of data
    path = write_csv(tmp_path / "s.csv", "timestamp,v", rows)
    options = ReplayOptions(
        path=path,
        topic="s",
        timestamp_column="timestamp",
        mode="speed",
        speed=60.0,
        port=mqtt_broker.port,
    )
    started = time.monotonic()
    summary = Replayer(options).run()
    # 30 s of data at 60x is due over 0.5 s: replay cannot finish before the schedule does.
    assert time.monotonic() - started >= 0.5
    assert summary["messages_sent"] == 4 and summary["max_lag_s"] >= 0


def test_loop_rebases_timestamps_to_now(
    mqtt_broker: BrokerProcess, subscribe: object, tmp_path: Path
) -> None:
    sub = subscribe("l/#")  # type: ignore[operator]
    path = write_csv(
        tmp_path / "l.csv", "timestamp,v", ["2020-01-01T00:00:00Z,1", "2020-01-01T00:05:00Z,2"]
    )
    options = ReplayOptions(
        path=path,
        topic="l/x",
        timestamp_column="timestamp",
        loops=2,
        rebase=True,
        port=mqtt_broker.port,
    )
    before = datetime.now(UTC)
    summary = Replayer(options).run()
    got = sub.wait_for(4)
    assert summary["loops"] == 2 and len(got) == 4
    stamps = [datetime.fromisoformat(p["timestamp"]) for _, p in got]  # type: ignore[index]
    assert all(s >= before - timedelta(seconds=1) for s in stamps)
    assert stamps[1] - stamps[0] == timedelta(minutes=5)


def test_verify_reports_nothing_lost_for_the_shipped_market_sample(
    mqtt_broker: BrokerProcess, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "replay",
            str(SAMPLE / "market_metrics_wide.csv"),
            "--preset",
            "market",
            "--max",
            "--verify",
            "-q",
            "--port",
            str(mqtt_broker.port),
        ]
    )
    summary = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0
    assert summary["verify"]["sent"] == 288 and summary["verify"]["lost"] == 0
    assert summary["rows_sent"] == 1440


def test_unreachable_broker_is_a_one_line_error(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "x.csv", "a", ["1"])
    code = main(["replay", str(path), "--topic", "x", "--port", str(free_port()), "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot reach the MQTT broker" in err and "energydash broker" in err


def test_topic_template_with_an_unknown_column_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", "a,b", ["1,2"])
    with pytest.raises(ReplayError, match="no column 'c'"):
        Replayer(ReplayOptions(path=path, topic="x/{c}"))


@pytest.mark.mosquitto
@pytest.mark.slow
def test_broker_restart_mid_replay_loses_nothing_at_qos1(
    mosquitto_broker: BrokerProcess, tmp_path: Path
) -> None:
    path = _facility_csv(tmp_path / "f.csv", intervals=400, facilities=2)
    options = ReplayOptions(
        path=path,
        topic="r/{facility_code}",
        timestamp_column="timestamp",
        mode="rate",
        rate=250.0,
        qos=1,
        port=mosquitto_broker.port,
        verify=True,
        verify_wait_s=20.0,
        client_id="replay-restart-test",
    )
    replayer = Replayer(options)
    result: dict[str, object] = {}
    thread = threading.Thread(target=lambda: result.update(replayer.run()))
    thread.start()
    while replayer.stats.messages < 200:
        time.sleep(0.01)
    mosquitto_broker.restart()
    thread.join(90)
    assert not thread.is_alive()
    assert result["messages_sent"] == 800
    assert result["reconnects"] >= 1  # type: ignore[operator]
    assert result["verify"]["lost"] == 0, result  # type: ignore[index]
    assert result["messages_acked"] >= 800  # type: ignore[operator]


@pytest.mark.mosquitto
def test_verify_with_four_connections_and_mqtt5_reports_nothing_lost(
    mosquitto_broker: BrokerProcess, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["replay", str(SAMPLE / "facility_metrics_wide.csv"), "--preset", "facility", "--max",
         "--verify", "-q", "--port", str(mosquitto_broker.port), "--connections", "4",
         "--mqtt-version", "5", "--limit", "200"]
    )  # fmt: skip
    summary = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and summary["connections"] == 4 and summary["mqtt_version"] == "5"
    assert summary["verify"]["sent"] == 200 and summary["verify"]["lost"] == 0
    assert summary["rows_sent"] < 200 * 20  # an interval's 20 rows are split over 4 messages


def test_mqtt5_only_options_without_mqtt5_and_bad_user_properties_are_refused(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = str(SAMPLE / "market_metrics_wide.csv")
    assert main(["replay", csv_path, "--preset", "market", "--user-property", "novalue"]) == 2
    assert "expected key=value" in capsys.readouterr().err
    assert main(["replay", csv_path, "--preset", "market", "--message-expiry", "60"]) == 1
    assert "need --mqtt-version 5" in capsys.readouterr().err
    code = main(
        [
            "replay",
            csv_path,
            "--preset",
            "market",
            "--per-row",
            "--latency",
            "--payload-template",
            "x",
        ]
    )
    assert code == 1 and "--latency" in capsys.readouterr().err


def test_grouped_payloads_name_the_replayed_file_as_their_dataset(
    mqtt_broker: BrokerProcess, subscribe: object, settings: Settings, tmp_path: Path
) -> None:
    sub = subscribe("energydash/facilities/#")  # type: ignore[operator]
    path = _facility_csv(tmp_path / "week.csv", intervals=2)
    args = ["replay", str(path), "--preset", "facility", "--max", "-q"]
    assert main([*args, "--port", str(mqtt_broker.port)]) == 0
    assert main([*args, "--port", str(mqtt_broker.port), "--dataset", ""]) == 0
    got = sub.wait_for(4)
    assert [p.get("dataset") for _, p in got] == ["week.csv", "week.csv", None, None]  # type: ignore[union-attr]
