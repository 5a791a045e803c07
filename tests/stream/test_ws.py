"""/ws against a real uvicorn server on loopback, with the real engine on a stepped clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import orjson
import pytest
import websockets
from websockets.sync.client import ClientConnection, connect

from energydash.app import BackgroundServer, create_app
from energydash.config import Settings


def start_server(settings: Settings, **overrides: object) -> BackgroundServer:
    update = {"mqtt_ingest": False, "mqtt_publish": False, **overrides}
    cfg = type(settings).model_validate({**settings.model_dump(), **update})
    return BackgroundServer(create_app(cfg), port=cfg.port).start()


@pytest.fixture
def server(settings: Settings) -> Iterator[BackgroundServer]:
    backend = start_server(settings)
    yield backend
    backend.stop()


def subscribe(ws: ClientConnection, *topics: str) -> None:
    ws.send(orjson.dumps({"op": "subscribe", "topics": list(topics)}).decode())


def recv(ws: ClientConnection, timeout_s: float = 5.0) -> dict:
    return orjson.loads(ws.recv(timeout=timeout_s))


def step(server: BackgroundServer, n: int = 1) -> None:
    engine = server.app.state.engine
    for _ in range(n):
        server.call(engine.step)


def test_snapshot_on_subscribe_then_updates_in_order(server: BackgroundServer) -> None:
    with connect(server.reader_ws_url) as ws:
        subscribe(ws, "pdu/+/summary")
        first = [recv(ws), recv(ws)]
        assert [f["type"] for f in first] == ["snapshot", "snapshot"]
        assert sorted(f["topic"] for f in first) == ["pdu/1/summary", "pdu/2/summary"]
        seq = {f["topic"]: f["seq"] for f in first}
        step(server, 5)
        for _ in range(10):
            frame = recv(ws)
            assert frame["type"] == "update"
            assert frame["seq"] == seq[frame["topic"]] + 1  # no gap, no reordering
            seq[frame["topic"]] = frame["seq"]
        assert frame["data"]["outlets_total"] == 48


def test_wildcards_match_one_level_and_the_rest(server: BackgroundServer) -> None:
    with connect(server.reader_ws_url) as ws:
        subscribe(ws, "pdu/1/#")
        topics = {recv(ws)["topic"] for _ in range(3)}
        assert topics == {"pdu/1/outlets", "pdu/1/summary", "pdu/1/events"}
        subscribe(ws, "market/+")
        assert recv(ws)["topic"] == "market/NEM"


def test_unsubscribe_stops_updates(server: BackgroundServer) -> None:
    with connect(server.reader_ws_url) as ws:
        subscribe(ws, "market/NEM", "pdu/1/summary")
        recv(ws), recv(ws)
        ws.send(orjson.dumps({"op": "unsubscribe", "topics": ["market/NEM"]}).decode())
        time.sleep(0.2)
        step(server, 2)
        frames = [recv(ws), recv(ws)]
        assert {f["topic"] for f in frames} == {"pdu/1/summary"}


def test_garbage_frames_get_error_frames_and_the_connection_lives(server: BackgroundServer) -> None:
    with connect(server.reader_ws_url) as ws:
        for garbage in (
            "not json",
            "[1, 2]",
            '{"op": "dance", "topics": ["x"]}',
            '{"op": "subscribe", "topics": []}',
            '{"op": "subscribe", "topics": ["pdu/#/outlets"]}',
            b"\x00\xff binary",
            "x" * 70_000,
        ):
            ws.send(garbage)
            frame = recv(ws)
            assert frame["type"] == "error" and frame["reason"], garbage
        subscribe(ws, "market/NEM")
        assert recv(ws)["topic"] == "market/NEM"
    assert server.app.state.stream_stats.bad_frames_total == 7


@pytest.mark.slow
def test_slow_client_never_slows_a_fast_one_and_its_queue_stays_bounded(
    settings: Settings,
) -> None:
    server = start_server(settings, ws_queue_size=4, pdu_count=10)
    try:
        # max_queue=1: the library stops reading after one frame, so TCP backs up
        slow = connect(server.reader_ws_url, max_queue=1)
        subscribe(slow, "#")
        fast = connect(server.reader_ws_url)
        subscribe(fast, "pdu/1/outlets")
        last = recv(fast)["seq"]
        stats = server.app.state.stream_stats
        deepest = 0
        for _ in range(200):
            step(server)
            frame = recv(fast)
            assert frame["type"] == "update" and frame["seq"] == last + 1
            last = frame["seq"]
            deepest = max(deepest, max(c.depth for c in stats.clients))
        slow_client = max(stats.clients, key=lambda c: c.resyncs)
        assert slow_client.resyncs > 0  # it fell behind and was resynced, not queued forever
        assert deepest <= 4 * len(slow_client.topics_seen)
        fast_client = min(stats.clients, key=lambda c: c.resyncs)
        assert fast_client.resyncs == 0
        # the slow client, reading at last, gets snapshots (a resync), never a backlog
        types = set()
        for _ in range(20):
            types.add(recv(slow)["type"])
        assert "snapshot" in types
        slow.close()
        fast.close()
    finally:
        server.stop()


def test_origin_is_checked(settings: Settings) -> None:
    server = start_server(settings, ws_allowed_origins=["https://dash.example"])
    try:
        with pytest.raises(websockets.exceptions.InvalidStatus):
            connect(server.reader_ws_url, origin="https://evil.example")
        with connect(server.reader_ws_url, origin="https://dash.example") as ws:
            subscribe(ws, "market/NEM")
            assert recv(ws)["type"] == "snapshot"
        with connect(server.reader_ws_url, origin="http://localhost:8050") as ws:
            subscribe(ws, "market/NEM")
            assert recv(ws)["type"] == "snapshot"
    finally:
        server.stop()


def test_the_deprecated_ws_token_setting_becomes_the_read_token(settings: Settings) -> None:
    server = start_server(settings, ws_token="s3cret")
    try:
        with pytest.raises(websockets.exceptions.InvalidStatus):
            connect(server.ws_url + "?token=wrong")
        with connect(server.ws_url + "?token=s3cret") as ws:
            subscribe(ws, "market/NEM")
            assert recv(ws)["type"] == "snapshot"
    finally:
        server.stop()


def test_heartbeat_pings_and_idle_connections_are_closed(settings: Settings) -> None:
    server = start_server(settings, ws_ping_interval_s=0.2, ws_idle_timeout_s=1.0)
    try:
        with connect(server.reader_ws_url) as listener, connect(server.reader_ws_url) as idle:
            subscribe(listener, "market/NEM")
            assert recv(listener)["type"] == "snapshot"
            assert recv(listener, 3)["type"] == "ping"
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                while True:
                    idle.recv(timeout=5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
            time.sleep(0.5)
            assert recv(listener, 3)["type"] == "ping"  # a subscribed listener stays open
    finally:
        server.stop()


def test_200_concurrent_clients_each_get_snapshot_and_update(server: BackgroundServer) -> None:
    async def one(index: int) -> tuple[str, str]:
        async with websockets.connect(server.reader_ws_url) as ws:
            await ws.send(orjson.dumps({"op": "subscribe", "topics": ["pdu/2/summary"]}))
            first = orjson.loads(await asyncio.wait_for(ws.recv(), 20))
            ready.append(index)
            second = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
            return first["type"], second["type"]

    ready: list[int] = []

    async def main() -> list[tuple[str, str]]:
        tasks = [asyncio.create_task(one(i)) for i in range(200)]
        while len(ready) < 200:
            await asyncio.sleep(0.05)
            if any(t.done() and t.exception() for t in tasks):
                break
        await asyncio.to_thread(step, server)
        return await asyncio.gather(*tasks)

    results = asyncio.run(main())
    assert results == [("snapshot", "update")] * 200
