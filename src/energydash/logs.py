"""Logging: one format, to the console and to a rotating ``logs/<process>.log``."""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import time
from pathlib import Path

from energydash.config import Settings

_SECRET_QUERY = re.compile(r"((?:token|password|key)=)[^&\s\"']+", re.IGNORECASE)


class RedactSecrets(logging.Filter):
    """Blank ``token=`` (and password/key) query values: uvicorn logs request paths whole."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            try:
                record.msg, record.args = record.getMessage(), None
            except (TypeError, ValueError):
                return True
        if isinstance(record.msg, str) and "=" in record.msg:
            record.msg = _SECRET_QUERY.sub(r"\1<redacted>", record.msg)
        return True


LOG_FORMAT = "%(asctime)s %(levelname)-7s %(process)d %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


class LineFormatter(logging.Formatter):
    """The one format, built once per record for all our handlers, its time once a second.

    A backend taking a thousand commands a second writes an access line for each; formatting
    it for the file and again for the console (and a third time in the stock rollover check)
    was most of its logging cost.
    """

    def __init__(self) -> None:
        super().__init__(LOG_FORMAT, DATE_FORMAT)
        self.converter = time.gmtime  # UTC inside, as everywhere else
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._stamp = super().formatTime(record, datefmt)
            self._second = second
        return self._stamp

    def format(self, record: logging.LogRecord) -> str:
        line = record.__dict__.get("_energydash_line")
        if line is None:
            line = super().format(record)
            record._energydash_line = line  # type: ignore[attr-defined]
        return line


class RotatingLogFile(logging.handlers.RotatingFileHandler):
    """A rotating log file whose rollover check costs no system call per record.

    The stock check stats the path twice (to leave non-regular files alone), seeks and formats
    the record again; this one learns whether the file is regular when it opens it.
    """

    def _open(self):  # type: ignore[no-untyped-def]
        stream = super()._open()
        self._regular = os.path.isfile(self.baseFilename)
        return stream

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        if self.stream is None:
            self.stream = self._open()
        if self.maxBytes <= 0 or not self._regular:
            return False
        return self.stream.tell() + len(self.format(record)) + 1 >= self.maxBytes


def setup_logging(process: str, settings: Settings, *, console: bool = True) -> Path:
    """Route the root logger to ``{log_dir}/{process}.log`` (rotating) and the console.

    Calling it again replaces the handlers it installed, so tests and re-entrant CLIs do not
    pile up duplicate output. Returns the log file's path.
    """
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    path = settings.log_dir / f"{process}.log"
    formatter = LineFormatter()

    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_energydash", False):
            root.removeHandler(handler)
            handler.close()

    file_handler = RotatingLogFile(
        path, maxBytes=settings.log_max_bytes, backupCount=settings.log_backups, encoding="utf-8"
    )
    handlers: list[logging.Handler] = [file_handler]
    if console:
        handlers.append(logging.StreamHandler())
    for handler in handlers:
        handler.addFilter(RedactSecrets())
        handler.setFormatter(formatter)
        handler._energydash = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(settings.log_level)
    # Third-party chatter at INFO drowns our own lines.
    for noisy in ("amqtt", "transitions", "urllib3", "werkzeug", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return path
