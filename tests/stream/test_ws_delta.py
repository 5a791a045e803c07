"""/ws update frames leave out unchanged table columns; snapshots and reconnects are whole.

A real uvicorn server on loopback, the real engine on a stepped clock. What a client holds is
always compared with the hub's full state of the same seq.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from websockets.sync.client import ClientConnection, connect

from energydash.app import BackgroundServer, create_app
from energydash.config import Settings
from energydash.models.envelope import apply_update, update_data
from energydash.sim.commands import SetDevice

TOPIC = "pdu/1/outlets"
STATIC = ("name", "branch_id", "phase", "device", "profile", "rating_a")


@pytest.fixture
def server(settings: Settings) -> Iterator[BackgroundServer]:
    cfg = settings.model_copy(update={"mqtt_ingest": False, "mqtt_publish": False})
    backend = BackgroundServer(create_app(cfg), port=cfg.port).start()
    yield backend
    backend.stop()


def subscribe(ws: ClientConnection, *topics: str) -> None:
    ws.send(orjson.dumps({"op": "subscribe", "topics": list(topics)}).decode())


def recv(ws: ClientConnection, topic: str = TOPIC) -> dict[str, Any]:
    """The next frame of ``topic`` (others are skipped)."""
    while True:
        frame = orjson.loads(ws.recv(timeout=5))
        if frame.get("topic") == topic:
            return frame


def step(server: BackgroundServer) -> None:
    server.call(server.app.state.engine.step)


def hub_state(server: BackgroundServer, topic: str = TOPIC) -> tuple[int, Any]:
    state = server.app.state.hub.latest(topic)
    return state.seq, orjson.loads(state.data_bytes)


class Holder:
    """What a client keeps: the full state of each topic, updates merged in."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.seq: dict[str, int] = {}

    def take(self, frame: dict[str, Any]) -> Any:
        topic = frame["topic"]
        if frame["type"] == "update":
            assert frame["seq"] == self.seq[topic] + 1  # an update applies to the seq before
            self.data[topic] = apply_update(topic, self.data[topic], frame["data"])
        else:
            self.data[topic] = frame["data"]
        self.seq[topic] = frame["seq"]
        return self.data[topic]


def test_updates_leave_out_unchanged_static_columns_and_the_client_keeps_full_state(
    server: BackgroundServer,
) -> None:
    holder = Holder()
    with connect(server.reader_ws_url) as ws:
        subscribe(ws, TOPIC)
        snapshot = recv(ws)
        assert snapshot["type"] == "snapshot"
        assert set(STATIC) <= set(snapshot["data"]["outlets"])
        holder.take(snapshot)
        step(server)
        update = recv(ws)
        assert update["type"] == "update"
        columns = update["data"]["outlets"]
        assert "id" in columns and "power_w" in columns  # the key, and what moves
        assert not set(STATIC) & set(columns)  # names and ratings only in snapshots
        assert (update["seq"], holder.take(update)) == hub_state(server)


def test_a_changed_static_column_rides_in_the_next_update(server: BackgroundServer) -> None:
    holder = Holder()
    engine = server.app.state.engine
    with connect(server.reader_ws_url) as ws:
        subscribe(ws, TOPIC)
        holder.take(recv(ws))
        step(server)
        holder.take(recv(ws))
        server.call(lambda: engine.execute(SetDevice("1", "A2", "server", name="db-primary")))
        step(server)
        update = recv(ws)
        assert "db-primary" in update["data"]["outlets"]["device"]
        assert (update["seq"], holder.take(update)) == hub_state(server)


def test_a_client_subscribing_after_updates_gets_a_full_snapshot_and_shares_the_channel(
    server: BackgroundServer,
) -> None:
    early, late = Holder(), Holder()
    with connect(server.reader_ws_url) as first:
        subscribe(first, TOPIC)
        early.take(recv(first))
        for _ in range(3):
            step(server)
            early.take(recv(first))
        with connect(server.reader_ws_url) as second:
            subscribe(second, TOPIC)
            snapshot = recv(second)
            assert snapshot["type"] == "snapshot"
            assert set(STATIC) <= set(snapshot["data"]["outlets"])
            assert (snapshot["seq"], late.take(snapshot)) == hub_state(server)
            fanout = server.app.state.stream_stats.fanout
            assert len(fanout.channels) == 1  # one hub subscriber for both clients
            step(server)
            a, b = recv(first), recv(second)
            assert a == b  # the same frame, encoded once
            expected = hub_state(server)
            assert (a["seq"], early.take(a)) == expected
            assert (b["seq"], late.take(b)) == expected


def test_a_reconnecting_client_gets_the_full_state(server: BackgroundServer) -> None:
    with connect(server.reader_ws_url) as ws:
        subscribe(ws, TOPIC)
        recv(ws)
        step(server)
        recv(ws)
    step(server)
    with connect(server.reader_ws_url) as ws:
        subscribe(ws, TOPIC)
        snapshot = recv(ws)
        assert snapshot["type"] == "snapshot"
        assert (snapshot["seq"], snapshot["data"]) == hub_state(server)


def test_a_client_adding_a_pattern_gets_only_the_new_topic_and_no_gap(
    server: BackgroundServer,
) -> None:
    holder = Holder()
    with connect(server.reader_ws_url) as ws:
        subscribe(ws, TOPIC)
        holder.take(recv(ws))
        step(server)
        holder.take(recv(ws))
        subscribe(ws, "pdu/2/summary")
        snapshot = recv(ws, "pdu/2/summary")
        assert snapshot["type"] == "snapshot"
        step(server)
        frames = [orjson.loads(ws.recv(timeout=5)) for _ in range(2)]
        assert {f["topic"] for f in frames} == {TOPIC, "pdu/2/summary"}
        assert all(f["type"] == "update" for f in frames)
        update = next(f for f in frames if f["topic"] == TOPIC)
        assert (update["seq"], holder.take(update)) == hub_state(server)


def test_a_table_whose_rows_change_is_sent_whole() -> None:
    before = {"pdu_id": "1", "outlets": {"id": ["A1", "A2"], "name": ["a", "b"], "power_w": [1, 2]}}
    same_rows = {
        "pdu_id": "1",
        "outlets": {"id": ["A1", "A2"], "name": ["a", "b"], "power_w": [3, 2]},
    }
    other_rows = {"pdu_id": "1", "outlets": {"id": ["A1"], "name": ["a"], "power_w": [3]}}
    assert update_data(TOPIC, before, same_rows)["outlets"] == {
        "id": ["A1", "A2"],
        "power_w": [3, 2],
    }
    assert update_data(TOPIC, before, other_rows) == other_rows
    assert update_data("pdu/1/summary", before, same_rows) is same_rows  # not a delta topic
    delta = update_data(TOPIC, before, same_rows)
    assert apply_update(TOPIC, before, delta) == same_rows
