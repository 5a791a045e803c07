"""Logging: one format, to the console and to a rotating ``logs/<process>.log``."""

from __future__ import annotations

import logging
import logging.handlers
import re
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


def setup_logging(process: str, settings: Settings, *, console: bool = True) -> Path:
    """Route the root logger to ``{log_dir}/{process}.log`` (rotating) and the console.

    Calling it again replaces the handlers it installed, so tests and re-entrant CLIs do not
    pile up duplicate output. Returns the log file's path.
    """
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    path = settings.log_dir / f"{process}.log"
    formatter = logging.Formatter(LOG_FORMAT, DATE_FORMAT)
    formatter.converter = __import__("time").gmtime  # UTC inside, as everywhere else

    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_energydash", False):
            root.removeHandler(handler)
            handler.close()

    file_handler = logging.handlers.RotatingFileHandler(
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
