"""One backend per data folder: an exclusive ``flock`` on ``<state_dir>/backend.lock``.

The kernel drops the lock when the holder exits, however it exits (``kill -KILL`` included),
so a stale lock file never blocks a restart. The file holds the holder's PID for the message a
second backend prints before it exits.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

LOCK_FILE = "backend.lock"


def _lock(fd: int) -> None:
    """Exclusive, non-blocking; OSError when another process holds it."""
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


class DataDirBusy(RuntimeError):
    """Another live process holds the data folder; the message names its PID."""

    def __init__(self, path: Path, pid: str) -> None:
        super().__init__(
            f"another backend (PID {pid or 'unknown'}) already uses this data folder "
            f"(lock {path}); stop it first or set ENERGYDASH_DATA_DIR to another folder"
        )
        self.path = path
        self.pid = pid


class DataDirLock:
    """Held for the life of the process (or until ``release``)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> DataDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(fd)
        except OSError:
            os.lseek(fd, 0, os.SEEK_SET)
            pid = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            raise DataDirBusy(self.path, pid) from None
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
