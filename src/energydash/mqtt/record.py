"""`energydash record`: MQTT → CSV or Parquet, in the shapes `energydash replay` reads.

A grouped message (``{"timestamp": ..., "rows": [...]}``, what replay sends per interval)
becomes one row per element with the interval in a ``timestamp`` column; any other JSON object
becomes one row of its fields; a payload that is not JSON becomes a row with its ``topic`` and
``payload`` text. So recording a replay of ``facility_metrics_wide.csv`` gives that file back.

Rows go to a spill file (JSON lines, next to the output) as they arrive, because the columns are
known only when recording ends; the final table is then written from it atomically and the
spill removed. A stop (count, duration, idle time, SIGINT/SIGTERM) disconnects first, so no
callback writes while the table is built. A payload carrying a ``ReplayTrace`` (replay
--latency) adds its delivery latency; per stream, sequence numbers give gaps and duplicates.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import paho.mqtt.client as paho

from energydash.datasets.atomic import atomic_outputs, remove_stale_temps
from energydash.datasets.tables import Table, parse_time
from energydash.models.replay import TRACE_KEY, ReplayTrace
from energydash.mqtt.toolclient import ToolConnectError, ToolConnection, connect, make_client

FileType = Literal["csv", "parquet"]


class RecordError(Exception):
    """A recording that cannot start or finish (broker, options, output)."""


@dataclass(kw_only=True)
class RecordOptions(ToolConnection):
    """Record options; the broker connection's fields are ToolConnection's."""

    out: Path
    topics: list[str]
    qos: int = 1
    file_type: FileType = "csv"
    count: int = 0  # stop after this many messages (0: no limit)
    duration_s: float = 0.0  # stop after this long (0: no limit)
    idle_s: float = 0.0  # stop when nothing arrived for this long after a first message
    max_rows: int = 10_000_000
    topic_column: bool = False  # add the topic of each message as a column


@dataclass
class _Stream:
    seen: set[int] = field(default_factory=set)
    max_seq: int = -1
    duplicates: int = 0


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


class Recorder:
    """One recording; ``run()`` blocks until a stop condition and returns the summary dict."""

    def __init__(
        self,
        options: RecordOptions,
        *,
        warn: Callable[[str], None] | None = None,
        on_progress: Callable[[Recorder], None] | None = None,
    ):
        if not options.topics:
            raise RecordError("give at least one --topic (wildcards + and # work)")
        if options.qos not in (0, 1, 2):
            raise RecordError(f"--qos must be 0, 1 or 2, got {options.qos}")
        self.o = options
        self.warn = warn or (lambda _m: None)
        self.on_progress = on_progress
        self.messages = 0
        self.rows = 0
        self.text_payloads = 0
        self.columns: dict[str, set[str]] = {}
        self.latencies: list[float] = []
        self.streams: dict[str, _Stream] = {}
        self.stopped_by = ""
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._lock = threading.Lock()
        self._last_message = 0.0
        self._started = 0.0
        self._spill: Any = None
        self._spill_path: Path | None = None
        client_id = options.client_id or f"energydash-record-{os.getpid()}"
        self.client = make_client(options, client_id, clean_session=True)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.on_message = self._on_message

    # ------------------------------------------------------------------ control
    def stop(self, reason: str = "signal") -> None:
        """Ask the recording to end (safe from a signal handler or another thread)."""
        if not self._stop.is_set():
            self.stopped_by = self.stopped_by or reason
            self._stop.set()

    @property
    def ready(self) -> threading.Event:
        """Set once the broker acknowledged the subscriptions."""
        return self._subscribed

    # ------------------------------------------------------------------ paho thread
    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        if not rc.is_failure:
            client.subscribe([(t, self.o.qos) for t in self.o.topics])

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        received = datetime.now(UTC)
        with self._lock:
            if self._stop.is_set() or self._spill is None:
                return
            self._last_message = time.monotonic()
            self.messages += 1
            for row in self._rows(message.topic, message.payload, received):
                self._write(row)
            if self.o.count and self.messages >= self.o.count:
                self.stop("count")
            if self.rows >= self.o.max_rows:
                self.stop("max_rows")

    def _rows(self, topic: str, payload: bytes, received: datetime) -> list[dict[str, Any]]:
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, (dict, list)):
            self.text_payloads += 1
            return [{"topic": topic, "payload": payload.decode("utf-8", "replace")}]
        if isinstance(body, dict) and TRACE_KEY in body:
            trace = ReplayTrace.from_payload(body)
            body.pop(TRACE_KEY)
            if trace is not None:
                self._trace(trace, received)
        if isinstance(body, dict) and isinstance(body.get("rows"), list):
            stamp = body.get("timestamp")
            rows = [
                {"timestamp": stamp, **r} if isinstance(r, dict) else {"value": r}
                for r in body["rows"]
            ]
        elif isinstance(body, list):
            rows = [r if isinstance(r, dict) else {"value": r} for r in body]
        else:
            rows = [body]
        if self.o.topic_column:
            rows = [{"topic": topic, **r} for r in rows]
        return rows

    def _trace(self, trace: ReplayTrace, received: datetime) -> None:
        sent = trace.sent_at if trace.sent_at.tzinfo else trace.sent_at.replace(tzinfo=UTC)
        self.latencies.append((received - sent).total_seconds())
        stream = self.streams.setdefault(trace.stream, _Stream())
        if trace.seq in stream.seen:
            stream.duplicates += 1
        else:
            stream.seen.add(trace.seq)
        stream.max_seq = max(stream.max_seq, trace.seq)

    def _write(self, row: dict[str, Any]) -> None:
        columns = self.columns
        for name, value in row.items():
            if isinstance(value, (dict, list)):  # nested JSON stays JSON text in its cell
                value = row[name] = orjson.dumps(value).decode()
            kinds = columns.get(name)
            if kinds is None:
                kinds = columns[name] = set()
            if value is not None:
                kinds.add(_kind(value))
        self._spill.write(orjson.dumps(row) + b"\n")
        self.rows += 1

    # ------------------------------------------------------------------ run
    def run(self) -> dict[str, Any]:
        out = self.o.out
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(out.parent)
        fd, spill = tempfile.mkstemp(
            prefix=f".{out.name}.{os.getpid()}.", suffix=".tmp", dir=out.parent
        )
        self._spill_path = Path(spill)
        self._spill = os.fdopen(fd, "wb", buffering=1 << 20)
        try:
            try:
                connect(self.client, self.o, "the recorder")
            except ToolConnectError as error:
                raise RecordError(str(error)) from None
            self._started = time.monotonic()
            if not self._subscribed.wait(10):
                raise RecordError(f"no SUBACK for {', '.join(self.o.topics)} in 10 s")
            self._wait()
            with contextlib.suppress(Exception):
                self.client.disconnect()
            self.client.loop_stop()
            elapsed = time.monotonic() - self._started
            with self._lock:
                spill_file, self._spill = self._spill, None
                spill_file.close()
            self._finish()
            return self.summary(elapsed)
        finally:
            with contextlib.suppress(Exception):
                self.client.loop_stop()
            if self._spill is not None:
                with contextlib.suppress(OSError):
                    self._spill.close()
            with contextlib.suppress(OSError):
                self._spill_path.unlink()

    def _wait(self) -> None:
        o = self.o
        next_flush = time.monotonic() + 0.5
        while not self._stop.wait(0.05):
            now = time.monotonic()
            if now >= next_flush:
                # The spill on disk follows within half a second (what a SIGKILL would keep).
                with self._lock:
                    if self._spill is not None:
                        self._spill.flush()
                next_flush = now + 0.5
                if self.on_progress is not None:
                    self.on_progress(self)
            if o.duration_s and now - self._started >= o.duration_s:
                self.stop("duration")
            elif o.idle_s and self._last_message and now - self._last_message >= o.idle_s:
                self.stop("idle")

    def _column_types(self) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for name, kinds in self.columns.items():
            if name == "timestamp" and kinds <= {"str"}:
                out.append((name, "ts"))
            elif kinds and kinds <= {"int"}:
                out.append((name, "int"))
            elif kinds and kinds <= {"int", "float"}:
                out.append((name, "float"))
            elif kinds == {"bool"}:
                out.append((name, "bool"))
            else:
                out.append((name, "str"))
        return out

    def _finish(self) -> None:
        out = self.o.out
        if not self.rows:
            return  # nothing arrived: no file (an empty one would have no header to replay)
        columns = self._column_types()
        if self.o.file_type == "parquet" and ("timestamp", "ts") in columns:
            # A timestamp that does not parse keeps the column as text, not the file unwritten.
            with self._spill_path.open("rb") as handle:  # type: ignore[union-attr]
                for line in handle:
                    stamp = orjson.loads(line).get("timestamp")
                    try:
                        if stamp is not None:
                            parse_time(stamp)
                    except (TypeError, ValueError):
                        columns = [(n, "str" if n == "timestamp" else k) for n, k in columns]
                        break
        with atomic_outputs() as outputs:
            table = Table(outputs, out.parent, out.stem, columns, [self.o.file_type])
            names = [n for n, _ in columns]
            with self._spill_path.open("rb") as handle:  # type: ignore[union-attr]
                for line in handle:
                    row = orjson.loads(line)
                    table.write([row.get(n) for n in names])
            written = outputs.commit()
        if written and written[0] != out:
            os.replace(written[0], out)

    def summary(self, elapsed: float) -> dict[str, Any]:
        latency: dict[str, Any] | None = None
        if self.latencies:
            values = np.asarray(self.latencies) * 1000.0
            latency = {
                "messages": len(values),
                "p50_ms": round(float(np.percentile(values, 50)), 3),
                "p99_ms": round(float(np.percentile(values, 99)), 3),
                "max_ms": round(float(values.max()), 3),
            }
        gaps = sum(s.max_seq + 1 - len(s.seen) for s in self.streams.values())
        return {
            "file": str(self.o.out) if self.rows else None,
            "topics": self.o.topics,
            "messages": self.messages,
            "rows": self.rows,
            "columns": list(self.columns),
            "text_payloads": self.text_payloads,
            "elapsed_s": round(elapsed, 3),
            "messages_per_s": round(self.messages / elapsed, 1) if elapsed else None,
            "stopped_by": self.stopped_by,
            "latency": latency,
            "streams": len(self.streams),
            "gaps": gaps,
            "duplicates": sum(s.duplicates for s in self.streams.values()),
        }


def summary_line(summary: dict[str, Any]) -> str:
    """The one human line at the end of a recording."""
    line = (
        f"recorded {summary['messages']:,} messages ({summary['rows']:,} rows) from "
        f"{', '.join(summary['topics'])} in {summary['elapsed_s']:.1f} s -> "
        f"{summary['file'] or 'no file (nothing arrived)'} "
        f"(stopped by {summary['stopped_by'] or 'signal'})"
    )
    latency = summary.get("latency")
    if latency:
        line += (
            f"; delivery latency p50 {latency['p50_ms']:.1f} ms p99 {latency['p99_ms']:.1f} ms; "
            f"{summary['gaps']} gaps, {summary['duplicates']} duplicates over "
            f"{summary['streams']} stream(s)"
        )
    return line
