"""The dashboard's upstream client: keeps latest frames and bounded history, counts energy per
UTC day, and reconnects by itself when the backend goes away and comes back."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import websockets

from energydash.dashboard.feed import BackendFeed, ws_url
from energydash.net import free_port


def summary(energy_kwh: float, power_w: float = 100.0) -> dict:
    return {"pdu_id": "1", "name": "Rack 1", "power_w": power_w, "energy_kwh": energy_kwh}


def test_ws_url_follows_the_backend_scheme() -> None:
    assert ws_url("http://127.0.0.1:8000/") == "ws://127.0.0.1:8000/ws"
    assert ws_url("https://example.org") == "wss://example.org/ws"
    with pytest.raises(ValueError, match="backend_url"):
        ws_url("127.0.0.1:8000")


def test_history_is_bounded_and_keeps_the_newest_points() -> None:
    feed = BackendFeed("http://127.0.0.1:1", history_points=10)
    for second in range(25):
        feed.ingest("pdu/1/summary", f"2026-01-01T00:00:{second:02d}Z", summary(second))
    points = feed.history("pdu/1/summary")
    assert len(points) == 10
    assert points[0].ts.endswith(":15Z") and points[-1].ts.endswith(":24Z")
    assert feed.latest("pdu/1/summary")["energy_kwh"] == 24


def test_energy_today_restarts_at_utc_midnight_and_after_a_meter_reset() -> None:
    feed = BackendFeed("http://127.0.0.1:1")
    feed.ingest("pdu/1/summary", "2026-01-01T23:59:00Z", summary(10.0))
    feed.ingest("pdu/1/summary", "2026-01-01T23:59:59Z", summary(10.5))
    assert feed.energy_today_kwh("pdu/1/summary") == pytest.approx(0.5)
    feed.ingest("pdu/1/summary", "2026-01-02T00:00:01Z", summary(10.6))
    feed.ingest("pdu/1/summary", "2026-01-02T01:00:00Z", summary(11.6))
    assert feed.energy_today_kwh("pdu/1/summary") == pytest.approx(1.0)
    feed.ingest("pdu/1/summary", "2026-01-02T01:00:01Z", summary(0.0))  # ResetMetrics
    feed.ingest("pdu/1/summary", "2026-01-02T02:00:00Z", summary(0.25))
    assert feed.energy_today_kwh("pdu/1/summary") == pytest.approx(0.25)


def test_pdu_ids_sort_numerically() -> None:
    feed = BackendFeed("http://127.0.0.1:1")
    for pdu in ("10", "2", "1"):
        feed.ingest(f"pdu/{pdu}/outlets", "2026-01-01T00:00:00Z", {"pdu_id": pdu})
    assert feed.pdu_ids() == ["1", "2", "10"]


async def _serve(port: int, frames: list[dict], received: list) -> websockets.Server:
    async def handler(socket: websockets.ServerConnection) -> None:
        received.append(orjson.loads(await socket.recv()))
        for frame in frames:
            await socket.send(orjson.dumps(frame).decode())
        await socket.wait_closed()

    return await websockets.serve(handler, "127.0.0.1", port)


async def _until(condition, timeout_s: float = 10.0) -> None:
    end = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < end, "condition not met in time"
        await asyncio.sleep(0.05)


def test_feed_subscribes_and_reconnects_after_the_backend_restarts() -> None:
    async def scenario() -> None:
        port = free_port()
        received: list = []
        frame = {
            "type": "snapshot",
            "topic": "pdu/1/summary",
            "seq": 1,
            "ts": "2026-01-01T00:00:00Z",
            "data": summary(1.0),
        }
        server = await _serve(port, [frame], received)
        feed = BackendFeed(f"http://127.0.0.1:{port}", reconnect_max_s=0.3)
        feed.ensure_started()
        await _until(lambda: feed.latest("pdu/1/summary") is not None)
        assert received[0]["op"] == "subscribe" and "pdu/+/outlets" in received[0]["topics"]
        assert feed.status().state == "live"

        server.close()
        await server.wait_closed()
        await _until(lambda: feed.status().state == "reconnecting")

        later = dict(frame, seq=2, ts="2026-01-01T00:00:05Z", data=summary(2.0))
        server = await _serve(port, [later], received)
        await _until(lambda: feed.latest("pdu/1/summary")["energy_kwh"] == 2.0)
        status = feed.status()
        assert status.state == "live" and status.reconnects == 1
        await feed.stop()
        server.close()
        await server.wait_closed()

    asyncio.run(scenario())


def test_a_frame_that_is_not_json_is_skipped_not_fatal() -> None:
    feed = BackendFeed("http://127.0.0.1:1")
    feed._receive("{not json")
    feed._receive(orjson.dumps({"type": "ping", "ts": "2026-01-01T00:00:00Z"}))
    feed._receive(
        orjson.dumps({"type": "update", "topic": "facilities", "seq": 3, "ts": "t", "data": {}})
    )
    assert feed.latest("facilities") == {}
    assert feed.frames_received == 3


def test_feed_sends_the_read_token_subscribes_to_audit_and_never_logs_the_token(caplog) -> None:
    async def scenario() -> None:
        port = free_port()
        paths: list[tuple[str, str | None]] = []

        async def handler(socket: websockets.ServerConnection) -> None:
            paths.append((socket.request.path, socket.request.headers.get("Authorization")))
            subscribe = orjson.loads(await socket.recv())
            assert "audit" in subscribe["topics"]
            await socket.send(
                orjson.dumps(
                    {
                        "type": "snapshot",
                        "topic": "audit",
                        "seq": 1,
                        "ts": "t",
                        "data": {"records": []},
                    }
                ).decode()
            )
            await socket.wait_closed()

        server = await websockets.serve(handler, "127.0.0.1", port)
        feed = BackendFeed(f"http://127.0.0.1:{port}", token="read-token-value")
        with caplog.at_level("DEBUG", logger="energydash.dashboard.feed"):
            feed.ensure_started()
            await _until(lambda: feed.latest("audit") is not None)
            await feed.stop()
        server.close()
        await server.wait_closed()
        # the token rides in a header, never in the URL that access logs show
        assert paths == [("/ws", "Bearer read-token-value")]
        assert "connected" in caplog.text and "read-token-value" not in caplog.text

    asyncio.run(scenario())


def test_an_update_without_the_static_columns_keeps_them_from_the_snapshot() -> None:
    feed = BackendFeed("http://127.0.0.1:1")
    outlets = {"id": ["A1", "A2"], "name": ["Outlet A1", "Web"], "power_w": [1.0, 2.0]}
    data = {"pdu_id": "1", "outlets": outlets}
    envelope = {"topic": "pdu/1/outlets", "ts": "2026-01-01T00:00:00Z"}
    feed._receive(orjson.dumps({"type": "snapshot", "seq": 1, **envelope, "data": data}))
    update = {"pdu_id": "1", "outlets": {"id": ["A1", "A2"], "power_w": [3.0, 4.0]}}
    feed._receive(orjson.dumps({"type": "update", "seq": 2, **envelope, "data": update}))
    held = feed.latest("pdu/1/outlets")["outlets"]
    assert held == {"id": ["A1", "A2"], "name": ["Outlet A1", "Web"], "power_w": [3.0, 4.0]}
    assert feed.history("pdu/1/outlets")[-1].values["power_w"] == [3.0, 4.0]
