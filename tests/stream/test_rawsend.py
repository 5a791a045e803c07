"""The raw fan-out path: frames framed once, written as is, and the ASGI fallback."""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader
from websockets.sync.client import connect

from energydash.app import BackgroundServer, create_app
from energydash.config import Settings
from energydash.hub.message import Message, ws_text_frame


def parse_frame(data: bytes) -> Frame:
    """Parse with the websockets library's own reader, as a client (frames unmasked)."""
    reader = StreamReader()
    reader.feed_data(data)
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        return done.value
    raise AssertionError("incomplete frame")


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_framed_bytes_are_one_complete_text_frame_at_every_length_encoding(size: int) -> None:
    payload = b"x" * size
    framed = ws_text_frame(payload)
    frame = parse_frame(framed)
    assert frame.opcode is Opcode.TEXT and frame.fin
    assert bytes(frame.data) == payload
    assert len(framed) == size + (2 if size < 126 else 4 if size < 65536 else 10)


def test_message_text_and_wire_are_built_once_and_agree() -> None:
    message = Message.from_text('{"type":"ping","ts":"2025-01-15T00:00:00Z"}')
    assert message.wire is message.wire
    assert bytes(parse_frame(message.wire).data).decode() == message.text


def start_server(settings: Settings) -> BackgroundServer:
    cfg = settings.model_copy(update={"mqtt_ingest": False, "mqtt_publish": False})
    return BackgroundServer(create_app(cfg), port=cfg.port).start()


def test_served_clients_get_the_hubs_frames_byte_for_byte_on_the_raw_path(
    settings: Settings,
) -> None:
    server = start_server(settings)
    try:
        with connect(server.reader_ws_url) as ws:
            ws.send(orjson.dumps({"op": "subscribe", "topics": ["pdu/+/outlets"]}).decode())
            snapshots = [ws.recv(timeout=5), ws.recv(timeout=5)]
            assert all(orjson.loads(s)["type"] == "snapshot" for s in snapshots)
            engine, hub = server.app.state.engine, server.app.state.hub
            server.call(engine.step)
            updates = [ws.recv(timeout=5), ws.recv(timeout=5)]
            for text in updates:
                topic = orjson.loads(text)["topic"]
                assert text == hub.latest(topic).frame("update")  # one envelope per text frame
            (client,) = server.app.state.stream_stats.clients
            assert client.raw_path
            assert client.sent_frames == 4
    finally:
        server.stop()


def test_without_the_raw_extension_the_asgi_path_sends_the_same_frames(
    settings: Settings,
) -> None:
    app = create_app(settings.model_copy(update={"mqtt_ingest": False, "mqtt_publish": False}))
    with TestClient(app) as http, http.websocket_connect(f"/ws?token={app.state.read_token}") as ws:
        ws.send_text(orjson.dumps({"op": "subscribe", "topics": ["pdu/1/summary"]}).decode())
        snapshot = ws.receive_text()
        assert orjson.loads(snapshot)["type"] == "snapshot"
        assert http.portal is not None
        http.portal.call(app.state.engine.step)  # on the app's loop, as the engine task would
        update = ws.receive_text()
        assert update == app.state.hub.latest("pdu/1/summary").frame("update")
        (client,) = app.state.stream_stats.clients
        assert not client.raw_path
