"""The outer ASGI layer of the backend: Host check, body cap and (when configured) CORS.

It sits outside everything, the Redfish fast path included (``RedfishService.wrap`` bypasses
FastAPI's middleware), so no face answers a foreign ``Host`` (DNS rebinding) and no request
body larger than ``max_body_bytes`` is read: a declared ``Content-Length`` over the cap gets
413 before the app runs, and a chunked body is counted as it streams in and cut off at the cap.
Both refusals happen before any credential is checked, so they cost no password hash.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from energydash.config import Settings

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = ("0.0.0.0", "::", "")


def allowed_hosts(settings: Settings) -> set[str]:
    """Loopback names, the bind address (unless a wildcard), PUBLIC_URL's host, ALLOWED_HOSTS."""
    hosts = {*LOOPBACK_NAMES, *(h.lower() for h in settings.allowed_hosts)}
    if settings.host not in WILDCARD_BINDS:
        hosts.add(settings.host.lower().strip("[]"))
    public = urlsplit(settings.public_url).hostname if settings.public_url else None
    if public:
        hosts.add(public.lower())
    return hosts


def host_name(header: str) -> str:
    """``example.org:8000`` -> ``example.org``; ``[::1]:8000`` -> ``::1``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    if header.count(":") > 1:  # a bare IPv6 address without brackets
        return header
    return header.partition(":")[0].rstrip(".")


class Guard:
    """``Guard(app, settings)``: the ASGI app ``energydash serve`` and BackgroundServer run."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        if settings.cors_origins:
            from starlette.middleware.cors import CORSMiddleware

            app = CORSMiddleware(
                app,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
                allow_headers=["Authorization", "X-Auth-Token", "Content-Type", "If-Match"],
                expose_headers=["X-Auth-Token", "Location", "ETag"],
            )
        self.app = app
        self.hosts = allowed_hosts(settings)
        self.any_host = "*" in settings.allowed_hosts
        self.max_body = settings.max_body_bytes
        self.refused_hosts = 0
        self.refused_bodies = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host: str | None = None
        hosts = 0
        length: bytes | None = None
        chunked = False
        for key, value in scope["headers"]:  # one pass: this runs on every request
            if key == b"host":
                host, hosts = value.decode("latin-1"), hosts + 1
            elif key == b"content-length":
                length = value
            elif key == b"transfer-encoding":
                chunked = True
        if hosts != 1:  # none or several: refused alike
            host = None
        if not self.any_host and (host is None or host_name(host) not in self.hosts):
            self.refused_hosts += 1
            shown = (host or "")[:100]
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "host not allowed"})
                return
            await _reply(send, 421, f"Host {shown!r} is not served here (ENERGYDASH_ALLOWED_HOSTS)")
            return
        if kind == "websocket":
            await self.app(scope, receive, send)
            return
        if length is not None:
            if not length.strip().isdigit():
                await _reply(send, 400, "Content-Length is not a number")
                return
            if int(length) > self.max_body:
                self.refused_bodies += 1
                await _reply(send, 413, self._too_large())
                return
        if chunked:  # no declared length: count what streams in
            await self._counted(scope, receive, send)
        else:  # the server holds a declared body to its Content-Length; none means empty
            await self.app(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count a streamed body; past the cap answer 413 and tell the app the client left.

        The app never sees an exception it could turn into another answer: it gets
        ``http.disconnect``, and whatever it sends after that is dropped.
        """
        seen = 0
        started = False
        refused = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    refused = True
                    self.refused_bodies += 1
                    if not started:
                        await _reply(send, 413, self._too_large())
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, tracking_send)

    def _too_large(self) -> str:
        return f"request body larger than {self.max_body} bytes (ENERGYDASH_MAX_BODY_BYTES)"


async def _reply(send: Send, status: int, reason: str) -> None:
    body = orjson.dumps({"reason": reason, "status": status})
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
