"""The replay's progress line: sent, acknowledged, in flight, msg/s, lag, ETA (on stderr)."""

from __future__ import annotations

import sys
import time

from energydash.mqtt.replay import Stats


class ProgressLine:
    """One line rewritten in place on a terminal; a line every few seconds otherwise."""

    def __init__(self, stream: object = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self._last_print = 0.0
        self._last = (time.monotonic(), 0)
        self._rate = 0.0

    def update(self, stats: Stats) -> None:
        now = time.monotonic()
        then, sent_then = self._last
        if now - then >= 0.25:
            self._rate = (stats.messages - sent_then) / (now - then)
            self._last = (now, stats.messages)
        elapsed = stats.elapsed()
        rows_rate = stats.rows / elapsed if elapsed else 0.0
        remaining = max(0, stats.total_rows - stats.rows)
        eta = f"{remaining / rows_rate:,.0f} s" if rows_rate and stats.total_rows else "?"
        line = (
            f"sent {stats.messages:,} ({stats.rows:,} rows) acked {stats.acked:,} "
            f"in flight {stats.in_flight:,} {self._rate:,.0f} msg/s lag {stats.lag_s:.2f} s "
            f"ETA {eta}"
        )
        if stats.bad_rows:
            line += f" bad rows {stats.bad_rows:,}"
        if stats.disconnects:
            line += f" reconnects {stats.reconnects}"
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)  # type: ignore[attr-defined]
            self.stream.flush()  # type: ignore[attr-defined]
        elif now - self._last_print >= 5.0:
            self._last_print = now
            self.stream.write(line + "\n")  # type: ignore[attr-defined]
            self.stream.flush()  # type: ignore[attr-defined]

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")  # type: ignore[attr-defined]
            self.stream.flush()  # type: ignore[attr-defined]
