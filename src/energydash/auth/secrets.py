"""Generated credentials kept under ``<DATA_DIR>/secrets/``, one file each, mode 0600.

A credential that the settings leave unset (the broker identities, the service read token) is
generated on first use, written atomically with owner-only permissions and reused afterwards,
so every process of one installation agrees on it without it ever entering the repository.
``created`` tells the caller it is new, so it can say where to find it, once; the value itself
is never logged.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from energydash.config import Settings

MAX_SECRET_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Secret:
    name: str
    value: str
    path: Path
    created: bool


def secrets_dir(settings: Settings) -> Path:
    return settings.data_dir / "secrets"


def ensure_secret(settings: Settings, name: str, *, nbytes: int = 24) -> Secret:
    """The secret ``name`` from its file, generated (URL-safe, ``nbytes`` random) when missing."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"invalid secret name {name!r}")
    path = secrets_dir(settings) / name
    if path.exists():
        value = _read(path)
        if value:
            return Secret(name, value, path, created=False)
    value = secrets.token_urlsafe(nbytes)
    write_private(path, value + "\n")
    return Secret(name, value, path, created=True)


def read_token(settings: Settings) -> Secret:
    """The service read token: ``ENERGYDASH_READ_TOKEN`` when set, else the generated one.

    It grants the ReadOnly role's ``Login`` privilege (reads on REST and ``/ws``, nothing that
    changes state); the dashboard's shared live feed uses it, every control carries the
    logged-in user's own session.
    """
    configured = getattr(settings, "read_token", None)
    if configured is not None and configured.get_secret_value():
        return Secret("read_token", configured.get_secret_value(), Path(), created=False)
    return ensure_secret(settings, "read_token")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600 (temp file, fsync, replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):  # not on Windows before Python 3.13 (mkstemp is 0600 anyway)
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path) -> str:
    with path.open("rb") as handle:
        raw = handle.read(MAX_SECRET_BYTES + 1)
    if len(raw) > MAX_SECRET_BYTES:
        raise ValueError(f"{path}: a secret file is at most {MAX_SECRET_BYTES} bytes")
    return raw.decode("utf-8").strip()
