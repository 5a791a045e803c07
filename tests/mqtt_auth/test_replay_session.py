"""`replay --verify` logs in as the replay identity and leaves no session on the broker."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from energydash.cli import main
from energydash.config import Settings
from energydash.mqtt.broker import BrokerProcess
from energydash.mqtt.identities import client_credentials

from .conftest import Client

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "csv" / "market_metrics_wide.csv"


def test_replay_verify_runs_leave_no_session_or_backlog_on_the_broker(
    secured_broker: BrokerProcess,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ENERGYDASH_DATA_DIR", str(settings.data_dir))
    for _ in range(2):
        code = main(
            ["replay", str(SAMPLE), "--preset", "market", "--max", "--verify", "-q",
             "--port", str(secured_broker.port), "--client-id", "verify-run"]
        )  # fmt: skip
        summary = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert code == 0 and summary["verify"]["lost"] == 0, summary
    # A message published now would be queued for any subscription the runs left behind.
    username, password = client_credentials(settings, "replay")
    publisher = Client(secured_broker, username, password)
    publisher.publish("energydash/market/NEM", {"network": "NEM", "price_aud_per_mwh": 1})
    publisher.close()
    # Rejoining under the verifier's client id without a clean session: a leftover session would
    # hand over that backlog right after CONNACK, before the broker answers our SUBSCRIBE.
    rejoin = Client(
        secured_broker, username, password, client_id="verify-run-verify", clean_session=False
    )
    try:
        assert rejoin.accepted
        rejoin.subscribe("energydash/market/unused-marker")
        assert rejoin.messages == []
        if secured_broker.engine == "mosquitto":  # amqtt keeps even clean sessions a while
            assert rejoin.session_present is False
    finally:
        rejoin.close()
