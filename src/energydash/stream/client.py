"""One WebSocket client's bounded queue of frames, and its resync when it falls behind.

The hub calls ``deliver`` on the event loop; it only appends a pre-encoded frame (shared by
every client, so the queue holds references, not copies) to a deque. The bound is
``ws_queue_size`` frames per topic the client receives (a tick sends one frame per topic).
A full queue is dropped whole and replaced, when the writer next runs, by fresh snapshots of
the client's topics: a slow client costs a fixed amount of memory and never holds up the hub
or the other clients.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from energydash.hub import Hub, TopicState
from energydash.hub.message import Message


class StreamClient:
    def __init__(self, hub: Hub, queue_size: int) -> None:
        self.hub = hub
        self.queue_size = queue_size
        self._queue: deque[Message] = deque()
        self._ready = asyncio.Event()
        self.resync_pending = False
        self.resyncs = 0
        self.dropped_frames = 0
        self.sent_frames = 0
        self.topics_seen: set[str] = set()
        self.last_sent = time.monotonic()
        self.sending_since: float | None = None  # set while a send is in progress
        self.closed_reason: str | None = None
        self.raw_path = False  # frames written pre-framed to the transport (stream.rawsend)
        self.limit = queue_size  # queue bound: queue_size per topic seen (at least one)

    def see(self, topic: str) -> None:
        """A topic this client receives; the queue bound grows with it."""
        if topic not in self.topics_seen:
            self.topics_seen.add(topic)
            self.limit = self.queue_size * len(self.topics_seen)

    def __hash__(self) -> int:
        return id(self)

    def deliver(self, state: TopicState) -> None:
        """Called 21,000 times a tick at 1,000 clients: keep it to a few operations."""
        if state.topic not in self.topics_seen:
            self.see(state.topic)
        if self.resync_pending:
            return  # the resync will carry the latest state of every topic
        queue = self._queue
        if len(queue) >= self.limit:
            self.dropped_frames += len(queue)
            queue.clear()
            self.resync_pending = True
            self.resyncs += 1
            self._ready.set()
            return
        queue.append(state.message("update"))
        if len(queue) == 1:  # non-empty queues already woke the writer (it clears on empty)
            self._ready.set()

    def push(self, frame: str | Message) -> None:
        """A frame of this client alone (snapshot on subscribe, error, ping); still bounded."""
        if isinstance(frame, str):
            frame = Message.from_text(frame)
        if len(self._queue) >= self.limit:
            self.dropped_frames += len(self._queue)
            self._queue.clear()
            self.resync_pending = True
            self.resyncs += 1
        self._queue.append(frame)
        self._ready.set()

    @property
    def depth(self) -> int:
        return len(self._queue)

    async def next_frames(self) -> list[Message]:
        """Wait for frames; a pending resync yields fresh snapshots of every subscribed topic."""
        while not self._queue and not self.resync_pending:
            self._ready.clear()
            await self._ready.wait()
        if self.resync_pending:
            self.resync_pending = False
            frames = list(self._queue)  # client-only frames queued after the overflow
            self._queue.clear()
            return [s.message("snapshot") for s in self.hub.subscribed_topics(self)] + frames
        frames = list(self._queue)
        self._queue.clear()
        return frames
