"""/ws patterns are bounded per client: over the bound, an error frame and nothing subscribed."""

from __future__ import annotations

import base64

import orjson
from websockets.sync.client import connect

from energydash.app import BackgroundServer, create_app
from energydash.config import Settings

BASIC = "Basic " + base64.b64encode(b"admin:energydash").decode()  # for when /ws needs it


def test_a_client_over_its_pattern_bound_gets_an_error_and_keeps_what_it_had(
    settings: Settings,
) -> None:
    cfg = settings.model_copy(
        update={"mqtt_ingest": False, "mqtt_publish": False, "ws_max_patterns": 3}
    )
    server = BackgroundServer(create_app(cfg), port=cfg.port).start()
    try:
        with connect(server.ws_url, additional_headers={"Authorization": BASIC}) as ws:
            ws.send(orjson.dumps({"op": "subscribe", "topics": ["pdu/1/summary"]}).decode())
            assert orjson.loads(ws.recv(timeout=5))["topic"] == "pdu/1/summary"
            three = ["pdu/2/summary", "market/+", "facilities"]
            ws.send(orjson.dumps({"op": "subscribe", "topics": three}).decode())
            error = orjson.loads(ws.recv(timeout=5))
            assert error["type"] == "error"
            assert "4 patterns would exceed the 3" in error["reason"]
            hub = server.app.state.hub
            (client,) = list(hub._patterns)
            assert hub.patterns_of(client) == {"pdu/1/summary"}
            ws.send(orjson.dumps({"op": "subscribe", "topics": three[:2]}).decode())
            topics = {orjson.loads(ws.recv(timeout=5))["topic"] for _ in range(2)}
            assert topics == {"pdu/2/summary", "market/NEM"}
    finally:
        server.stop()
