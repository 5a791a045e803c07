"""An HTTP/1.1 protocol for uvicorn that answers 501 to a method its parser does not know.

uvicorn's default parser (httptools, i.e. llhttp) knows a fixed list of methods (the RFC ones
plus WebDAV and a few more) and rejects any other before the application runs, with a plain
400 "Invalid HTTP request received.". llhttp has no lenient flag for methods, so the request
cannot be handed to the app; this subclass turns exactly that parser error into what RFC 9110
asks for an unrecognised method: ``501 Not Implemented``, here with a Redfish error body.
A method llhttp does know (``PUT``, ``PROPFIND``...) reaches the app, which answers 405 with
``Allow`` where the resource does not support it. Pass it as ``uvicorn.run(..., http=...)``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from energydash.redfish import errors

_BODY = orjson.dumps(errors.base(501, "OperationNotAllowed").body())


class HeadHeld:
    """The transport as one request's cycle sees it: the status line and headers wait for the
    first body write, so a small answer leaves in one write (one syscall, one wake-up of the
    client) instead of two; on a loaded machine the second write was a third of a REST
    command's cost. A head no body follows within the loop turn (a streamed answer) is
    written then. Everything else passes straight through."""

    __slots__ = ("_first", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._first = True

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif self._first and not data.startswith(b"HTTP/1.1 100 "):
            self._first = False
            self._held = data
            self._loop.call_soon(self.release)
        else:
            self._transport.write(data)

    def release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            self._transport.write(held)

    def close(self) -> None:
        self.release()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class RedfishHttpProtocol(HttpToolsProtocol):
    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:  # not an upgrade to a WebSocket
            cycle.transport = HeadHeld(self.transport, self.loop)  # type: ignore[assignment]
        # lets a wire_drop fault close the connection without an answer
        self.scope.setdefault("extensions", {})["energydash.drop"] = self.transport.abort  # type: ignore[typeddict-item]

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserInvalidMethodError:
            self._send_501()
        except httptools.HttpParserError:
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    def _send_501(self) -> None:
        head = [b"HTTP/1.1 501 Not Implemented\r\n"]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json;charset=utf-8\r\n",
            b"odata-version: 4.0\r\n",
            b"content-length: " + str(len(_BODY)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
            _BODY,
        ]
        self.transport.write(b"".join(head))
        self.transport.close()
