"""`/ws`: the protocol loop of one connection (reader, writer, heartbeat, idle timeout).

Origin is checked against loopback and ``ws_allowed_origins``. Every socket needs a credential:
``?token=`` (a Redfish session token or the service read token), Basic / Bearer / X-Auth-Token
on the upgrade, or, when the upgrade carried none, a first frame ``{"op": "auth", "token": ...}``
within ``ws_auth_timeout_s``; otherwise it is closed with 1008. A malformed client frame gets
an error frame, never a closed server. Heartbeat: ``{"type": "ping"}`` after
``ws_ping_interval_s`` without any frame (and protocol pings from uvicorn, which drop a peer
that stops answering). Closed with 1001: a connection with no subscription silent for
``ws_idle_timeout_s``, and a dead one whose pending send has not completed for that long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from energydash.api.deps import credential_caller
from energydash.auth import Caller
from energydash.config import Settings
from energydash.hub.hub import iso
from energydash.models.envelope import AuthFrame, AuthOp, parse_client_op
from energydash.stream.client import Fanout, StreamClient
from energydash.stream.rawsend import RawSender, raw_sender

log = logging.getLogger(__name__)
router = APIRouter()

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
MAX_FRAME_BYTES = 64 * 1024
POLICY_VIOLATION = 1008


def origin_allowed(origin: str | None, settings: Settings) -> bool:
    """No Origin (non-browser clients) or a loopback/allowed one."""
    if not origin:
        return True
    if origin in settings.ws_allowed_origins or "*" in settings.ws_allowed_origins:
        return True
    host = urlsplit(origin).hostname or ""
    return host in LOOPBACK_HOSTS


class StreamStats:
    """The clients' channels, and counters for /health and /metrics."""

    def __init__(self, fanout: Fanout) -> None:
        self.fanout = fanout
        self.clients: set[StreamClient] = set()
        self.connections_total = 0
        self.rejected_total = 0
        self.bad_frames_total = 0

    @property
    def resyncs_total(self) -> int:
        return sum(c.resyncs for c in self.clients)

    @property
    def max_queue_depth(self) -> int:
        return max((c.depth for c in self.clients), default=0)


def error_frame(reason: str) -> str:
    return orjson.dumps({"type": "error", "reason": reason}).decode()


def ping_frame() -> str:
    return orjson.dumps({"type": "ping", "ts": iso(datetime.now(UTC))}).decode()


@router.websocket("/ws")
async def stream(websocket: WebSocket) -> None:
    app = websocket.app
    settings: Settings = app.state.settings
    stats: StreamStats = app.state.stream_stats
    if not origin_allowed(websocket.headers.get("origin"), settings):
        stats.rejected_total += 1
        await websocket.close(code=POLICY_VIOLATION, reason="origin not allowed")
        return
    token = websocket.query_params.get("token") or websocket.headers.get("x-auth-token")
    authorization = websocket.headers.get("authorization")
    caller = _caller(websocket, authorization, token)
    if caller is None and (token or authorization):
        stats.rejected_total += 1
        await websocket.close(code=POLICY_VIOLATION, reason="wrong or expired credential")
        return
    await websocket.accept()
    if caller is None:
        caller = await _auth_frame(websocket, settings)
        if caller is None:
            stats.rejected_total += 1
            with contextlib.suppress(Exception):
                await websocket.close(code=POLICY_VIOLATION, reason="authentication required")
            return
        await websocket.send_text(
            AuthFrame(user=caller.username, role=caller.role_id).model_dump_json()
        )
    raw = raw_sender(websocket.scope)
    fanout = stats.fanout
    client = StreamClient(fanout, settings.ws_queue_size, raw)
    stats.clients.add(client)
    stats.connections_total += 1
    writer = asyncio.create_task(_write_raw(raw, client) if raw else _write(websocket, client))
    try:
        await _read(websocket, client, fanout, settings, stats, caller)
    finally:
        fanout.leave(client)
        stats.clients.discard(client)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer
    if client.closed_reason:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(code=1001, reason=client.closed_reason), 2.0)


def _caller(websocket: WebSocket, authorization: str | None, token: str | None) -> Caller | None:
    state = websocket.app.state
    client = websocket.client
    return credential_caller(
        state.auth,
        getattr(state, "read_token", None),
        authorization,
        token,
        client.host if client else None,
    )


async def _auth_frame(websocket: WebSocket, settings: Settings) -> Caller | None:
    """The caller of the first frame, an ``auth`` op, or None (late, malformed, wrong)."""
    try:
        message = await asyncio.wait_for(websocket.receive(), timeout=settings.ws_auth_timeout_s)
    except TimeoutError:
        return None
    if message["type"] != "websocket.receive":
        return None
    raw = message.get("text") or message.get("bytes") or b""
    if len(raw) > MAX_FRAME_BYTES:
        return None
    try:
        op = parse_client_op(raw)
    except ValueError:
        return None
    if not isinstance(op, AuthOp):
        return None
    return _caller(websocket, None, op.token)


def _still_valid(websocket: WebSocket, caller: Caller) -> bool:
    """A socket opened with a session lives while the session does (logout, password change,
    disabled account, expiry); one opened with Basic while its account is enabled."""
    store = websocket.app.state.auth
    if caller.session_id is not None:
        return caller.session_id in store.sessions
    if caller.account_id is not None:
        account = store.accounts.get(caller.account_id)
        return account is not None and account.enabled
    return True  # the read token


async def _read(
    websocket: WebSocket,
    client: StreamClient,
    fanout: Fanout,
    settings: Settings,
    stats: StreamStats,
    caller: Caller,
) -> None:
    last_heard = time.monotonic()
    poll_s = max(min(settings.ws_ping_interval_s, settings.ws_idle_timeout_s) / 2, 0.05)
    while True:
        try:
            message = await asyncio.wait_for(websocket.receive(), timeout=poll_s)
        except TimeoutError:
            now = time.monotonic()
            idle = not client.patterns and now - last_heard > settings.ws_idle_timeout_s
            stuck = (
                client.sending_since is not None
                and now - client.sending_since > settings.ws_idle_timeout_s
            )
            if not _still_valid(websocket, caller):
                log.info("closing /ws client: its credential ended")
                with contextlib.suppress(Exception):
                    await websocket.close(code=POLICY_VIOLATION, reason="credential ended")
                return
            if idle or stuck:
                log.info("closing /ws client: %s", "idle" if idle else "not reading")
                client.closed_reason = "idle timeout" if idle else "not reading"
                return
            if now - client.last_sent >= settings.ws_ping_interval_s and not client.depth:
                client.push(ping_frame())
            continue
        if message["type"] == "websocket.disconnect":
            return
        last_heard = time.monotonic()
        raw = message.get("text")
        if raw is None:
            raw = message.get("bytes") or b""
        if len(raw) > MAX_FRAME_BYTES:
            stats.bad_frames_total += 1
            client.push(error_frame(f"frame larger than {MAX_FRAME_BYTES} bytes"))
            continue
        try:
            op = parse_client_op(raw)
        except ValueError as error:
            stats.bad_frames_total += 1
            client.push(error_frame(str(error)))
            continue
        if isinstance(op, AuthOp):
            client.push(error_frame("this connection is authenticated already"))
        elif op.op == "subscribe":
            held = client.patterns
            total = len(held | set(op.topics))
            if total > settings.ws_max_patterns:
                stats.bad_frames_total += 1
                client.push(
                    error_frame(
                        f"topics: {total} patterns would exceed the {settings.ws_max_patterns} "
                        "a client may hold; nothing subscribed"
                    )
                )
                continue
            problem = site_topics_problem(websocket, caller, op.topics)
            if problem:
                stats.bad_frames_total += 1
                client.push(error_frame(problem))
                continue
            for state in fanout.subscribe(client, op.topics):
                client.push(state.message("snapshot"))
        else:
            fanout.unsubscribe(client, op.topics)


def site_topics_problem(websocket: WebSocket, caller: Caller, patterns: list[str]) -> str:
    """Why ``caller`` may not subscribe ``patterns`` ('' when it may): a site is its owner's.

    Administrators and the service read token read every site (the dashboard's shared feed
    applies the ownership rule per user itself); anyone else names their own sites exactly,
    since a wildcard over the first two segments would reach other accounts' sites.
    """
    from energydash.api.deps import READ_TOKEN_CALLER
    from energydash.api.sites import can_see_topic, is_admin

    if caller == READ_TOKEN_CALLER or is_admin(caller):
        return ""
    engine = websocket.app.state.engine
    for pattern in patterns:
        first, _, rest = pattern.partition("/")
        if first not in ("site", "+", "#"):
            continue
        site = rest.split("/", 1)[0]
        if first != "site" or site in ("", "+", "#"):
            return (
                f"topics: {pattern!r} would include other accounts' sites; subscribe to "
                "site/<id> of your own; nothing subscribed"
            )
        if engine is None or not can_see_topic(caller, pattern, engine):
            return f"topics: no site {site!r} of yours; nothing subscribed"
    return ""


async def _write(websocket: WebSocket, client: StreamClient) -> None:
    """The ASGI path: one ``send_text`` per frame (servers without ``rawsend``)."""
    try:
        while True:
            for frame in await client.next_frames():
                client.sending_since = time.monotonic()
                await websocket.send_text(frame.text)
                client.sending_since = None
                client.last_sent = time.monotonic()
                client.sent_frames += 1
    except (WebSocketDisconnect, RuntimeError, OSError):
        return
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("ws writer failed")


async def _write_raw(raw: RawSender, client: StreamClient) -> None:
    """The fast path: every pending frame, framed once for all clients, in one write."""
    try:
        while True:
            frames = await client.next_frames()
            if not raw.write([frame.wire for frame in frames]):
                return  # closed: the reader sees the disconnect
            client.last_sent = time.monotonic()
            client.sent_frames += len(frames)
            if raw.paused:  # the client reads slower than we write: its queue takes the slack
                client.sending_since = client.last_sent
                await raw.drained()
                client.sending_since = None
    except (RuntimeError, OSError):
        return
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("ws writer failed")
