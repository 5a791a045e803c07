"""One message as it leaves for WebSocket clients: JSON bytes, text and framed bytes.

A hub publish builds the JSON once; every client then shares this object. ``text`` feeds the
ASGI path (``websocket.send_text``), ``wire`` the raw fan-out path
(``energydash.stream.rawsend``): a complete unmasked RFC 6455 text frame. Server-to-client
frames carry no mask, so these bytes are identical for every connection and are built once.
"""

from __future__ import annotations

import struct

FIN_TEXT = 0x81  # FIN bit + opcode 1 (text)


def ws_text_frame(payload: bytes) -> bytes:
    """``payload`` (UTF-8 JSON) as one complete, unmasked WebSocket text frame."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", FIN_TEXT, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", FIN_TEXT, 126, size)
    else:
        head = struct.pack("!BBQ", FIN_TEXT, 127, size)
    return head + payload


class Message:
    """A frame's JSON; ``text`` and ``wire`` are derived on first use and then shared."""

    __slots__ = ("_text", "_wire", "payload")

    def __init__(self, payload: bytes, text: str | None = None) -> None:
        self.payload = payload
        self._text = text
        self._wire: bytes | None = None

    @classmethod
    def from_text(cls, text: str) -> Message:
        return cls(text.encode(), text)

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.payload.decode()
        return self._text

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            self._wire = ws_text_frame(self.payload)
        return self._wire
