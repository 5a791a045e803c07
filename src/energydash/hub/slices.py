"""Work that runs in slices on the event loop, so one tick's topic build never holds it long.

A tick's build is a generator that yields after each unit (a PDU's tables, a PDU's cost).
``Sliced.start`` runs it for ``SLICE_S`` and hands the loop back between slices (REST answers,
/ws writes and MQTT get in); without a running loop (a script, a stepped test) it runs to the
end at once. Starting again while a build is still going ends that build first: a new tick's
data supersedes it, and the generator's ``finally`` counts what it had not reached.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

# a build runs this long before it lets other work in
SLICE_S = 0.02


class Sliced:
    """One build at a time, in slices; ``busy_ms`` is its own time, without the gaps."""

    def __init__(self) -> None:
        self.slices = 0  # times a build let the event loop in
        self.busy_ms = 0.0  # the last finished build's own time
        self._work: Iterator[None] | None = None
        self._busy_s = 0.0

    @property
    def running(self) -> bool:
        return self._work is not None

    def start(self, work: Iterator[None], *, sliced: bool = True) -> None:
        """Run ``work`` (after ending a build still going): in slices when ``sliced`` and a
        loop is running, otherwise to the end now."""
        if self._work is not None:
            self._work.close()
            self._work = None
        try:
            loop = asyncio.get_running_loop() if sliced else None
        except RuntimeError:
            loop = None
        if loop is None:
            started = time.perf_counter()
            for _ in work:
                pass
            self.busy_ms = (time.perf_counter() - started) * 1000.0
            return
        self._work, self._busy_s = work, 0.0
        self._run()

    def _run(self) -> None:
        work = self._work
        if work is None:
            return
        started = time.perf_counter()
        deadline = started + SLICE_S
        for _ in work:
            if time.perf_counter() >= deadline:
                self._busy_s += time.perf_counter() - started
                self.slices += 1
                asyncio.get_running_loop().call_soon(self._run)
                return
        self._work = None
        self.busy_ms = (self._busy_s + time.perf_counter() - started) * 1000.0
