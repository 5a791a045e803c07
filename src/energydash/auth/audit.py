"""The Auditor: every control action, allowed or refused, told once to every place it belongs.

One ``AuditRecord`` per action goes to ``logs/audit.log`` (its own rotating handler), to the
``audit`` hub topic (``AuditData``: the most recent records, which the dashboard's "recent
actions" list shows and ``GET /api/v1/audit`` returns) and to the sinks registered with
``add_sink`` (the Redfish Manager log). REST routes, Redfish handlers and the MQTT command path
call ``record`` (or ``record_caller``); the engine knows nothing of it.

Anonymous refusals and failed logins cost an attacker nothing, so they must not be able to
push real entries out of the bounded lists: each is written to ``audit.log`` (rotated, so
bounded on disk) but reaches the recent list and the Manager log only as one summary record
per ``audit_anonymous_window_s`` ("N anonymous refusals, last ...").
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import logging.handlers
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from energydash.auth.store import Caller, sanitize
from energydash.config import Settings
from energydash.models.audit import AUDIT_TOPIC, AuditData, AuditRecord, Face, Result

log = logging.getLogger(__name__)
AUDIT_LOGGER = "energydash.audit"
ANONYMOUS = "anonymous"

Sink = Callable[[AuditRecord], None]


class Auditor:
    """Records control actions; ``app.state.auditor`` of every backend."""

    def __init__(self, settings: Settings, publish: Callable[[str, Any], Any] | None = None):
        self.recent: deque[AuditRecord] = deque(maxlen=settings.audit_recent)
        # the same records as JSON-ready dicts, dumped when the topic is next published (at
        # most once per window): a burst of a thousand controls a second dumps only the
        # records still in the list, and no publish re-dumps the whole list
        self._recent_json: deque[dict[str, Any]] = deque(maxlen=settings.audit_recent)
        self._undumped = 0  # the newest records of ``recent`` not yet in ``_recent_json``
        self._publish = publish
        self._sinks: list[Sink] = []
        self._window_s = settings.audit_anonymous_window_s
        self._window_start = 0.0
        self._window_count = 0
        self._window_last: AuditRecord | None = None
        self.anonymous_total = 0
        self._logger = logging.getLogger(AUDIT_LOGGER)
        settings.log_dir.mkdir(parents=True, exist_ok=True)
        self.path = settings.log_dir / "audit.log"
        self._handler = logging.handlers.RotatingFileHandler(
            self.path,
            maxBytes=settings.log_max_bytes,
            backupCount=settings.log_backups,
            encoding="utf-8",
            delay=True,
        )
        formatter = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%dT%H:%M:%S%z")
        formatter.converter = time.gmtime
        self._handler.setFormatter(formatter)
        # audit.log lines are written in batches, at most once per window (one write and one
        # flush): a stat, a seek and a flush per record were a tenth of a REST command's cost.
        # Not a thread: a writer thread fought the event loop for the GIL on every record.
        self._file_pending: list[logging.LogRecord] = []
        self._file_lock = threading.Lock()
        self._file_written = 0.0
        self._file_scheduled = False
        # the audit topic is republished at most once per window too (the latest records win)
        self._batch_window_s = settings.command_refresh_s
        self._topic_published = 0.0
        self._topic_pending = False

    def add_sink(self, sink: Sink) -> Callable[[], None]:
        """Also hand every kept record to ``sink`` (the Redfish Manager log)."""
        self._sinks.append(sink)
        return lambda: self._sinks.remove(sink) if sink in self._sinks else None

    def close(self) -> None:
        self.flush()
        self._handler.close()

    def flush(self) -> None:
        """Write every record so far to audit.log (any thread may call it)."""
        with self._file_lock:
            batch, self._file_pending = self._file_pending, []
            self._file_written = time.monotonic()
            if not batch:
                return
            try:
                self._write_batch(batch)
            except Exception:  # a full disk must not turn a control into a 500
                log.exception("writing %s failed", self.path)

    def _flush_scheduled(self) -> None:
        self._file_scheduled = False
        self.flush()

    # ------------------------------------------------------------------ recording
    def record_caller(
        self,
        caller: Caller | None,
        face: Face,
        action: str,
        target: str,
        origin: str,
        result: Result,
        detail: str = "",
    ) -> AuditRecord:
        return self.record(
            caller.username if caller else ANONYMOUS,
            caller.role_id if caller else None,
            face,
            action,
            target,
            origin,
            result,
            detail,
        )

    def record(
        self,
        user: str,
        role: str | None,
        face: Face,
        action: str,
        target: str,
        origin: str,
        result: Result,
        detail: str = "",
        *,
        anonymous: bool | None = None,
    ) -> AuditRecord:
        """Build, log and fan out one record; ``user`` and ``detail`` are sanitised first.

        ``anonymous`` (default: user is ``anonymous``) marks a refusal anyone can cause:
        coalesced per window instead of kept one by one.
        """
        record = AuditRecord(
            ts=datetime.now(UTC),
            user=sanitize(user, 64),
            role=role,
            face=face,
            action=sanitize(action, 64),
            target=sanitize(target, 200),
            origin=sanitize(origin, 100),
            result=result,
            detail=sanitize(detail, 500),
        )
        self._write(record)
        if anonymous is None:
            anonymous = user == ANONYMOUS
        if anonymous and result != "ok":
            self.anonymous_total += 1
            self._coalesce(record)
        else:
            self._keep(record)
        return record

    def data(self) -> AuditData:
        self.flush()  # what a reader is shown is on disk too
        if self._window_count and time.monotonic() - self._window_start >= self._window_s:
            self._flush_window()  # a quiet window still gets its summary when someone looks
        return AuditData(records=list(self.recent))

    # ------------------------------------------------------------------ internals
    def _write(self, record: AuditRecord) -> None:
        line = " ".join(
            f"{name}={value!r}" if name in ("user", "target", "detail") else f"{name}={value}"
            for name, value in (
                ("face", record.face),
                ("user", record.user),
                ("role", record.role or "-"),
                ("action", record.action),
                ("target", record.target),
                ("origin", record.origin or "-"),
                ("result", record.result),
                ("detail", record.detail),
            )
        )
        entry = self._logger.makeRecord(AUDIT_LOGGER, logging.INFO, __file__, 0, line, (), None)
        self._file_pending.append(entry)
        if self._file_scheduled:
            return
        wait_s = self._file_written + self._batch_window_s - time.monotonic()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if wait_s <= 0 or loop is None:  # the first record after a quiet spell: at once
            self.flush()
        else:  # a burst: one write a window
            self._file_scheduled = True
            loop.call_later(wait_s, self._flush_scheduled)

    def _write_batch(self, batch: list[logging.LogRecord]) -> None:
        handler = self._handler
        text = "".join(handler.format(entry) + "\n" for entry in batch)
        with handler.lock:  # type: ignore[union-attr]
            if handler.stream is None:
                handler.stream = handler._open()
            if handler.maxBytes > 0 and handler.stream.tell() + len(text) >= handler.maxBytes:
                handler.doRollover()
                if handler.stream is None:
                    handler.stream = handler._open()
            handler.stream.write(text)
            handler.stream.flush()

    def _coalesce(self, record: AuditRecord) -> None:
        now = time.monotonic()
        if now - self._window_start >= self._window_s:
            self._flush_window()
            self._window_start = now
            self._keep(record)  # the first of a window is kept as is
            return
        self._window_count += 1
        self._window_last = record

    def _flush_window(self) -> None:
        if self._window_count and self._window_last is not None:
            last = self._window_last
            summary = last.model_copy(
                update={
                    "ts": datetime.now(UTC),
                    "detail": sanitize(
                        f"{self._window_count} more anonymous refusal(s) or failed login(s) "
                        f"within {self._window_s:g} s; last: {last.action} {last.target} "
                        f"from {last.origin or '?'} ({last.detail})",
                        500,
                    ),
                }
            )
            self._keep(summary)
        self._window_count, self._window_last = 0, None

    def _keep(self, record: AuditRecord) -> None:
        self.recent.append(record)
        self._undumped = min(self._undumped + 1, len(self.recent))
        for sink in tuple(self._sinks):
            try:
                sink(record)
            except Exception:
                log.exception("audit sink failed")
        if self._publish is not None and not self._topic_pending:
            wait_s = self._topic_published + self._batch_window_s - time.monotonic()
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if wait_s <= 0 or loop is None:
                self._publish_topic()
            else:  # a burst of controls: one publish carries them all
                self._topic_pending = True
                loop.call_later(wait_s, self._publish_topic)

    def _recent_dumps(self) -> list[dict[str, Any]]:
        if self._undumped:
            newest = list(itertools.islice(reversed(self.recent), self._undumped))
            self._recent_json.extend(record.model_dump(mode="json") for record in reversed(newest))
            self._undumped = 0
        return list(self._recent_json)

    def _publish_topic(self) -> None:
        self._topic_pending = False
        self._topic_published = time.monotonic()
        if self._publish is None:
            return
        try:
            # AuditData's shape, built from the cached dumps of its records
            self._publish(AUDIT_TOPIC, {"records": self._recent_dumps()})
        except Exception:
            log.exception("publishing the audit topic failed")


def auditor_of(app: Any) -> Auditor | None:
    """The backend's Auditor (for the MQTT command path: ``auditor_of(app).record(...)``)."""
    return getattr(getattr(app, "state", None), "auditor", None)
