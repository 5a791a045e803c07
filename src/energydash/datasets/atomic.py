"""Outputs that appear whole or not at all: write to a temporary sibling, rename on success."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO


class AtomicOutputs:
    """A set of files written together: all are renamed into place by ``commit``, or none.

    A failure before ``commit`` (bad input half-way through a conversion) removes every
    temporary file, so no partial CSV is ever left where a reader would find it.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path, IO[str] | IO[bytes]]] = []
        self._hooks: list[Callable[[], None]] = []

    def before_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` (a writer's final flush) before the files are closed and renamed."""
        self._hooks.append(hook)

    def open(self, path: Path, mode: str = "w") -> IO:
        path.parent.mkdir(parents=True, exist_ok=True)
        # The pid in the name lets the next run tell a dead run's leftovers from a live one's.
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
        )
        handle = (
            os.fdopen(fd, mode, newline="", encoding="utf-8")
            if "b" not in mode
            else os.fdopen(fd, mode)
        )
        self._pending.append((Path(tmp), path, handle))
        return handle

    def pending(self) -> list[Path]:
        """Final paths of the files written so far."""
        return [final for _, final, _ in self._pending]

    def discard(self, stem: Path) -> None:
        """Drop the pending files ``stem.*`` (a table the run turned out to have no rows for)."""
        keep = []
        for tmp, final, handle in self._pending:
            if final.parent == stem.parent and final.stem == stem.name:
                with contextlib.suppress(OSError):
                    handle.close()
                with contextlib.suppress(OSError):
                    tmp.unlink()
            else:
                keep.append((tmp, final, handle))
        self._pending = keep

    def commit(self) -> list[Path]:
        for hook in self._hooks:
            hook()
        self._hooks.clear()
        for _, _, handle in self._pending:
            handle.close()
        done = []
        for tmp, final, _ in self._pending:
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are ordinary data files
            os.replace(tmp, final)
            done.append(final)
        self._pending.clear()
        return done

    def abort(self) -> None:
        for tmp, _, handle in self._pending:
            with contextlib.suppress(OSError):
                handle.close()
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._pending.clear()
        self._hooks.clear()


@contextlib.contextmanager
def atomic_outputs() -> Iterator[AtomicOutputs]:
    outputs = AtomicOutputs()
    try:
        yield outputs
    except BaseException:
        outputs.abort()
        raise
    outputs.abort()  # anything not committed is discarded


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write one file atomically (acquire's batches, generated datasets)."""
    with atomic_outputs() as outputs:
        outputs.open(path, "wb").write(data)
        outputs.commit()


_TEMP = re.compile(r"^\.(?P<name>.+?)\.(?P<pid>\d+)\.[^.]+\.tmp$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(directory: Path) -> list[Path]:
    """Delete temporary outputs left by a run that died (SIGKILL, power loss) in ``directory``.

    Only files named like ours whose writing process is gone are removed; a conversion running
    into the same folder right now keeps its files.
    """
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for entry in directory.iterdir():
        match = _TEMP.match(entry.name)
        if match is None or not entry.is_file():
            continue
        pid = int(match["pid"])
        if pid != os.getpid() and _alive(pid):
            continue
        with contextlib.suppress(OSError):
            entry.unlink()
            removed.append(entry)
    return removed
