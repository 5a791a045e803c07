"""Fan-out fast path: pre-framed WebSocket bytes written straight to a connection's transport.

Why: server-to-client frames are unmasked (RFC 6455 section 5.1), so a message's framed bytes
are the same for every client. Through ASGI, every ``send_text`` frames the message again in
Python and makes one write per frame (about 21 us a frame, three quarters of the server's time
at 1,000 clients). Here a message is framed once (``Message.wire``) and each client gets one
``transport.writelines`` of everything it has pending.

How: ``FanoutWebSocketProtocol`` is uvicorn's websockets-sansio protocol plus one ASGI scope
extension, ``energydash.raw_ws``, holding a ``RawSender`` for the connection. ``energydash
serve`` and ``BackgroundServer`` run uvicorn with ``ws=FanoutWebSocketProtocol``. Under any
other server or ws implementation the extension is absent and ``/ws`` falls back to
``websocket.send_text``: the same frames on the wire, only slower.

Why it is safe: a raw write is whole frames written synchronously, so it never interleaves
with the protocol's own control frames (ping, pong, close), which it also writes whole and
synchronously. Nothing is written before the handshake completes or once a close has been
sent or received. Backpressure is kept: after a write that leaves the transport above its
high-water mark the writer waits for it to drain (the protocol's ``writable`` event) while
the client's bounded queue fills and overflows into a resync, as on the ASGI path. At most
one batch (bounded by the queue) sits above the high-water mark.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

EXTENSION = "energydash.raw_ws"


class RawSender:
    """Writes complete pre-framed messages to one connection; see the module docstring."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

    @property
    def open(self) -> bool:
        p = self._protocol
        return (
            p.handshake_complete
            and not p.close_sent
            and not p.disconnected
            and p.initial_response is None
            and p.conn.state is State.OPEN
            and not p.transport.is_closing()
        )

    def write(self, frames: Sequence[bytes]) -> bool:
        """Write whole frames; False (nothing written) when the connection is not open."""
        if not self.open:
            return False
        self._protocol.transport.writelines(frames)
        return True

    @property
    def paused(self) -> bool:
        """The transport is above its high-water mark; wait for ``drained`` before writing."""
        return not self._protocol.writable.is_set()

    async def drained(self) -> None:
        await self._protocol.writable.wait()


class FanoutWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol that also offers a ``RawSender`` to the app."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # the ASGI task is created but has not run yet
            scope["extensions"][EXTENSION] = RawSender(self)


def raw_sender(scope: dict[str, Any]) -> RawSender | None:
    """The connection's raw sender when the server offers one."""
    return (scope.get("extensions") or {}).get(EXTENSION)
