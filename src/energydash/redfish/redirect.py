"""With TLS on, a plain-HTTP listener that only sends clients to HTTPS.

``ENERGYDASH_REDFISH_HTTP_REDIRECT_PORT`` (0: none) opens it next to the HTTPS port. Every
request gets ``308 Permanent Redirect`` to the same path on HTTPS; a request that carries
``Authorization: Basic`` (or ``X-Auth-Token``) gets ``403`` instead, since its credential just
crossed the network in clear text, and it is never checked against the account store (a
redirect would make the client send it a second time). The listener is a few lines of
asyncio streams: it parses nothing but the request line and headers, with a size and time bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson

from energydash.redfish import errors

log = logging.getLogger(__name__)
MAX_HEAD_BYTES = 16 * 1024
READ_TIMEOUT_S = 5.0


class HttpsRedirect:
    def __init__(self, host: str, port: int, https_port: int, public_host: str) -> None:
        self.host, self.port = host, port
        self.https_port = https_port
        self.public_host = public_host
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        log.info(
            "plain HTTP on %s:%d redirects to HTTPS :%d", self.host, self.port, self.https_port
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            writer.close()
            return
        try:
            writer.write(self.answer(head[:MAX_HEAD_BYTES]))
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def answer(self, head: bytes) -> bytes:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        target = parts[1].decode("latin-1") if len(parts) == 3 else "/"
        if not target.startswith("/"):
            target = "/"
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        credential = headers.get(b"authorization", b"").lower().startswith(b"basic ") or (
            b"x-auth-token" in headers
        )
        if credential:
            error = errors.base(403, "InsufficientPrivilege")
            error.messages[0]["Message"] = (
                "Credentials sent over plain HTTP are refused; use HTTPS "
                f"(port {self.https_port}) and consider the credential exposed."
            )
            body = orjson.dumps(error.body())
            status = b"403 Forbidden"
            extra = b""
        else:
            body = b""
            status = b"308 Permanent Redirect"
            location = f"https://{self.public_host}:{self.https_port}{target}"
            extra = b"location: " + location.encode("latin-1") + b"\r\n"
        return (
            b"HTTP/1.1 " + status + b"\r\n" + extra
            + b"content-type: application/json;charset=utf-8\r\n"
            + b"content-length: " + str(len(body)).encode() + b"\r\n"
            + b"connection: close\r\n\r\n" + body
        )  # fmt: skip
