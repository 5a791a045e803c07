"""The generated mosquitto config bounds what an absent persistent client can pile up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from energydash.mqtt.broker import BrokerLimits, BrokerProcess, find_mosquitto
from energydash.net import free_port

from .conftest import Client, wait_for

BOUND = 50


@pytest.fixture
def bounded_mosquitto(tmp_path) -> Iterator[BrokerProcess]:
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed")
    limits = BrokerLimits(BOUND, 1_000_000, "1h")
    with BrokerProcess("mosquitto", port=free_port(), broker_dir=tmp_path, limits=limits) as b:
        yield b


@pytest.mark.mosquitto
def test_an_abandoned_session_keeps_at_most_max_queued_messages(
    bounded_mosquitto: BrokerProcess,
) -> None:
    away = Client(bounded_mosquitto, None, None, client_id="gone-away", clean_session=False)
    away.subscribe("bounded/#")
    away.close()
    publisher = Client(bounded_mosquitto, None, None)
    for index in range(BOUND * 4):
        publisher.publish("bounded/x", str(index).encode())
    publisher.close()
    back = Client(bounded_mosquitto, None, None, client_id="gone-away", clean_session=False)
    try:
        assert back.session_present is True
        wait_for(lambda: len(back.messages) >= BOUND, what="the queued messages")
        back.subscribe("bounded/marker")  # answered after the backlog: nothing more is coming
        assert len(back.messages) == BOUND
        # The oldest are kept, the rest were dropped at the bound (QoS 1's price).
        assert [int(payload) for _, payload in back.messages] == list(range(BOUND))
    finally:
        back.close()
