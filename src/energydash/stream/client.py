"""WebSocket clients, the channels they share, and the resync of one that falls behind.

Why channels: with N clients on T topics a tick is N x T deliveries if each client is the
hub's subscriber; at 10,000 clients that is 210,000 Python calls a tick. Here the hub's
subscriber is a ``Channel``, shared by every client holding the same patterns: a publish
appends the topic's frame (encoded once, ``Message``) to the channel's log, and once per
loop turn the channel hands each member everything past its cursor. On the raw path
(``stream.rawsend``) the frames every up-to-date member is owed are joined once, so a client
costs one transport write per tick, with no Python work per frame.

A client's own frames (snapshots on subscribe, errors, pings) go to its private queue and its
writer task, which also takes over the channel frames whenever it is busy (a paused
transport, private frames pending, the ASGI path). The bound is ``ws_queue_size`` frames per
topic the client receives: a client further behind than that drops its backlog and gets,
when its writer next runs, fresh snapshots of its topics instead. A slow client costs a fixed
amount of memory and never holds up the hub or the other clients.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable

from energydash.hub import Hub, TopicState
from energydash.hub.message import Message
from energydash.stream.rawsend import RawSender


class Channel:
    """The hub subscriber of every client with the same pattern set; see the module docstring."""

    def __init__(self, fanout: Fanout, patterns: frozenset[str]) -> None:
        self.fanout = fanout
        self.patterns = patterns
        self.members: set[StreamClient] = set()
        self.log: list[Message] = []
        self.base = 0  # the position of log[0] since the channel began
        self.topics: set[str] = set()  # topics routed to it (the queue bound grows with them)
        self.limit = fanout.queue_size
        self._flushed = 0  # the log end at the last flush
        self._scheduled = False

    def __hash__(self) -> int:
        return id(self)

    @property
    def end(self) -> int:
        return self.base + len(self.log)

    def see(self, topics: Iterable[str]) -> None:
        self.topics.update(topics)
        self.limit = self.fanout.queue_size * max(len(self.topics), 1)

    def deliver(self, state: TopicState) -> None:
        """Called by the hub on every publish of a routed topic: append, flush next turn."""
        if state.topic not in self.topics:
            self.see((state.topic,))
        self.log.append(state.message("update"))
        if not self._scheduled:
            self._scheduled = True
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop (a script publishing): hand out at once
                self.flush()

    def frames_since(self, cursor: int) -> list[Message]:
        return self.log[cursor - self.base :]

    def flush(self) -> None:
        """Hand every member what it is owed: one write each on the raw path."""
        self._scheduled = False
        start, end = self._flushed, self.end
        if start == end:
            return
        self._flushed = end
        batch: bytes | None = None
        now = time.monotonic()
        for client in tuple(self.members):
            if client.cursor == start and client.can_write_now():
                if batch is None:  # joined once, for every up-to-date member
                    batch = b"".join([m.wire for m in self.log[start - self.base :]])
                client.write_now(batch, end, end - start, now)
            else:
                client.owed(end)
        self.trim()

    def trim(self) -> None:
        """Forget what every member has taken (members that fell behind were resynced)."""
        low = min((c.cursor for c in self.members), default=self.end)
        if low > self.base:
            del self.log[: low - self.base]
            self.base = low


class Fanout:
    """Channels by pattern set: where a client's subscriptions take it."""

    def __init__(self, hub: Hub, queue_size: int) -> None:
        self.hub = hub
        self.queue_size = queue_size
        self.channels: dict[frozenset[str], Channel] = {}
        hub.add_flusher(self.flush)

    def flush(self) -> None:
        """Every channel hands out what it holds (``Hub.flush``: mid-tick)."""
        for channel in tuple(self.channels.values()):
            channel.flush()

    def subscribe(self, client: StreamClient, patterns: Iterable[str]) -> list[TopicState]:
        """Add patterns; returns the current states of the topics new to the client."""
        return self._move(client, client.patterns | frozenset(patterns))

    def unsubscribe(self, client: StreamClient, patterns: Iterable[str]) -> None:
        self._move(client, client.patterns - frozenset(patterns))

    def leave(self, client: StreamClient) -> None:
        self._move(client, frozenset())

    def _move(self, client: StreamClient, patterns: frozenset[str]) -> list[TopicState]:
        old = client.channel
        if old is not None and old.patterns == patterns:
            return []
        had: set[str] = set()
        if old is not None:
            had = set(old.topics)
            # what it was owed in the old channel, in order, before anything of the new one
            client.take_private(old.frames_since(client.cursor))
            old.members.discard(client)  # the next flush trims what it held
            if not old.members:
                self.hub.remove(old)
                del self.channels[old.patterns]
        client.channel = None
        client.patterns = patterns
        if not patterns:
            return []
        channel = self.channels.get(patterns)
        if channel is None:
            channel = Channel(self, patterns)
            channel.see(state.topic for state in self.hub.subscribe(channel, patterns))
            self.channels[patterns] = channel
        channel.members.add(client)
        client.channel = channel
        client.cursor = channel.end
        fresh = [self.hub.latest(topic) for topic in sorted(channel.topics - had)]
        return [state for state in fresh if state is not None]


class StreamClient:
    """One connection: its place in a channel, its private queue, its counters."""

    def __init__(self, fanout: Fanout, queue_size: int, raw: RawSender | None = None) -> None:
        self.fanout = fanout
        self.hub = fanout.hub
        self.queue_size = queue_size
        self.raw = raw
        self.raw_path = raw is not None  # frames written pre-framed to the transport
        self.channel: Channel | None = None
        self.patterns: frozenset[str] = frozenset()
        self.cursor = 0
        self._queue: deque[Message] = deque()
        self._ready = asyncio.Event()
        self._waiting = False  # the writer waits with nothing to send: the channel may write
        self.resync_pending = False
        self.resyncs = 0
        self.dropped_frames = 0
        self.sent_frames = 0
        self.last_sent = time.monotonic()
        self.sending_since: float | None = None  # set while a send is in progress
        self.closed_reason: str | None = None

    def __hash__(self) -> int:
        return id(self)

    @property
    def topics_seen(self) -> set[str]:
        return self.channel.topics if self.channel is not None else set()

    @property
    def limit(self) -> int:
        """Frames it may be owed: ``queue_size`` per topic it receives (at least one)."""
        return self.channel.limit if self.channel is not None else self.queue_size

    # ------------------------------------------------------------------ from the channel
    def can_write_now(self) -> bool:
        """Only while the writer idles: whatever it holds or was woken for goes out first."""
        raw = self.raw
        return self._waiting and raw is not None and not raw.paused

    def write_now(self, batch: bytes, end: int, frames: int, now: float) -> None:
        """The channel's fast path: the batch every up-to-date member is owed, in one write."""
        self.cursor = end
        if self.raw is not None and self.raw.write((batch,)):
            self.sent_frames += frames
            self.last_sent = now

    def owed(self, end: int) -> None:
        """Frames up to ``end`` wait for the writer; past the bound they become a resync."""
        if self.resync_pending:
            self.cursor = end
            return
        if end - self.cursor + len(self._queue) > self.limit:
            self._overflow(end - self.cursor)
            self.cursor = end
        self._wake()

    def _wake(self) -> None:
        self._waiting = False  # from now on, the writer sends (in order) what is owed
        self._ready.set()

    def _overflow(self, channel_frames: int) -> None:
        self.dropped_frames += channel_frames + len(self._queue)
        self._queue.clear()
        self.resync_pending = True
        self.resyncs += 1
        self._wake()

    # ------------------------------------------------------------------ its own frames
    def take_private(self, frames: list[Message]) -> None:
        """Frames of a channel it leaves: they go out before anything of the next one."""
        for frame in frames:
            self.push(frame)

    def push(self, frame: str | Message) -> None:
        """A frame of this client alone (snapshot on subscribe, error, ping); still bounded."""
        if isinstance(frame, str):
            frame = Message.from_text(frame)
        if len(self._queue) >= self.limit:
            channel = self.channel
            self._overflow(0)
            if channel is not None:
                self.cursor = channel.end
        self._queue.append(frame)
        self._wake()

    @property
    def depth(self) -> int:
        """Frames it is owed (its private queue and the channel's frames past its cursor)."""
        channel = self.channel
        behind = 0 if channel is None or self.resync_pending else channel.end - self.cursor
        return len(self._queue) + behind

    async def next_frames(self) -> list[Message]:
        """Wait for frames; a pending resync yields fresh snapshots of every subscribed topic."""
        while True:
            channel = self.channel
            if self.resync_pending:
                self.resync_pending = False
                frames = list(self._queue)  # client-only frames queued after the overflow
                self._queue.clear()
                if channel is None:
                    return frames
                self.cursor = channel.end
                hub = self.hub
                states = [hub.latest(topic) for topic in sorted(channel.topics)]
                return [s.message("snapshot") for s in states if s is not None] + frames
            frames = list(self._queue)
            self._queue.clear()
            if channel is not None and channel.end > self.cursor:
                frames += channel.frames_since(self.cursor)
                self.cursor = channel.end
            if frames:
                return frames
            self._ready.clear()
            self._waiting = True
            try:
                await self._ready.wait()
            finally:
                self._waiting = False
