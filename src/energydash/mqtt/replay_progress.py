"""Replay's progress on stderr: a rich progress bar on a terminal, one final line elsewhere.

The bar shows rows sent of the file's rows, messages/s, acknowledged and in flight, and the lag
behind the schedule. Off a terminal (a log, CI) nothing is redrawn: ``close`` prints one line
with the same figures.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from energydash.mqtt.replay import Stats


def progress_text(stats: Stats, rate: float) -> str:
    text = (
        f"{stats.messages:,} msgs ({stats.rows:,} rows) acked {stats.acked:,} "
        f"in flight {stats.in_flight:,} {rate:,.0f} msg/s lag {stats.lag_s:.2f} s"
    )
    if stats.bad_rows:
        text += f" bad rows {stats.bad_rows:,}"
    if stats.reconnects:
        text += f" reconnects {stats.reconnects}"
    return text


class ReplayProgress:
    """``update(stats)`` as often as replay likes; ``close()`` at the end."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = (time.monotonic(), 0)
        self._rate = 0.0
        self._stats: Stats | None = None
        self._progress: Progress | None = None
        self._task: Any = None
        if self.tty:
            self._progress = Progress(
                TextColumn("replay"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("replay", total=None, detail="")

    def update(self, stats: Stats) -> None:
        self._stats = stats
        now = time.monotonic()
        then, sent_then = self._last
        if now - then >= 0.25:
            self._rate = (stats.messages - sent_then) / (now - then)
            self._last = (now, stats.messages)
        if self._progress is not None:
            self._progress.update(
                self._task,
                completed=stats.rows,
                total=stats.total_rows or None,
                detail=progress_text(stats, self._rate),
            )

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            return
        stats = self._stats
        if stats is None:
            return
        elapsed = stats.elapsed()
        rate = stats.messages / elapsed if elapsed else 0.0
        self.stream.write(f"replay: {progress_text(stats, rate)} in {elapsed:.1f} s\n")
        self.stream.flush()


ProgressLine = ReplayProgress  # the name before the progress bar
