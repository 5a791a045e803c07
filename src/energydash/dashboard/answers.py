"""A tab's answers reach the live pump that asked, whichever of the tab's sockets carries them.

The pump asks its tab for the ``view`` store every round (``get_prop``) and Dash waits for the
answer on the socket the pump runs on. Dash 4.4.1's shared worker can hold two sockets for one
tab: after a full reload that replaced another page's socket, its reconnect timer fires a
second or two later although a socket is open, opens another one and sends everything after
that on the new socket, while the server's messages (the pump's) still come over the first.
The pump's question then never hears back: the stream stalled for the view timeout and the
watchdog's restart (about 6 s, a "Stale" badge) after every reload.

So each pump registers the requests it waits on under its tab's renderer id, and a hook on
every inbound WebSocket message settles the one an answer names, on any socket of the process.
The pump's own socket settles it too when the answer arrives there; the first one wins.
"""

from __future__ import annotations

import asyncio
from typing import Any


class PumpAnswers:
    """Renderer id -> the requests its live pump waits on (Dash's pending ``get_prop``s)."""

    def __init__(self) -> None:
        self._waiting: dict[str, dict[str, Any]] = {}

    def register(self, renderer_id: str, pending: dict[str, Any]) -> None:
        """``pending`` is the pump socket's map of request id -> the future awaiting it."""
        self._waiting[renderer_id] = pending

    def unregister(self, renderer_id: str, pending: dict[str, Any]) -> None:
        """Forget a pump that ended, unless a newer pump of the same tab took its place."""
        if self._waiting.get(renderer_id) is pending:
            del self._waiting[renderer_id]

    def settle(self, message: Any) -> bool:
        """Deliver a ``get_props_response`` to its pump; whether one was waiting for it.

        Called for every message a browser sends, on the event loop the pumps run on; it never
        raises (a hook that raises closes the socket).
        """
        if not isinstance(message, dict) or message.get("type") != "get_props_response":
            return False
        pending = self._waiting.get(str(message.get("rendererId")))
        future = pending.get(str(message.get("requestId"))) if pending else None
        if not isinstance(future, asyncio.Future) or future.done():
            return False
        future.set_result(message.get("payload"))
        return True

    def __len__(self) -> int:
        return len(self._waiting)
