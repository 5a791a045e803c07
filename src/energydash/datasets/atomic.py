"""Outputs that appear whole or not at all: write to a temporary sibling, rename on success."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


class AtomicOutputs:
    """A set of files written together: all are renamed into place by ``commit``, or none.

    A failure before ``commit`` (bad input half-way through a conversion) removes every
    temporary file, so no partial CSV is ever left where a reader would find it.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path, IO[str] | IO[bytes]]] = []

    def open(self, path: Path, mode: str = "w") -> IO:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        handle = (
            os.fdopen(fd, mode, newline="", encoding="utf-8")
            if "b" not in mode
            else os.fdopen(fd, mode)
        )
        self._pending.append((Path(tmp), path, handle))
        return handle

    def commit(self) -> list[Path]:
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
