"""Crash-safe lifetime energy: the outlets' counters live in a memory-mapped file.

The fleet's ``lifetime_kwh`` array *is* the mapping (``MAP_SHARED``), so every tick's addition
lands in the kernel's page cache the moment it is made. A killed process (``kill -KILL``, an
OOM kill, a crash) cannot lose it: the kernel writes the pages to the file whether or not the
process lives. Every served value (Redfish, REST, WS, MQTT) is computed from that same array
after the addition, so nothing served is ever higher than what survives a kill; circuit, group
and PDU lifetimes are sums of outlet lifetimes and inherit the guarantee.

Limit: a power loss of the machine (or a kernel crash) loses what the kernel had not yet
written back. ``flush()`` (msync) runs at every state save, bounding that loss to
``ENERGYDASH_STATE_SAVE_INTERVAL_S``.

File layout (little endian): ``MAGIC`` (8 bytes), outlet count (u64), key bytes (u64),
reserved (u64), the outlet keys as JSON (``["pdu/outlet", ...]``, padded to 8 bytes), then one
float64 per outlet. The keys let a fleet of another size keep the counters of the outlets that
still exist.
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from energydash.sim.state import fsync_dir, move_aside

log = logging.getLogger(__name__)
COUNTER_FILE = "counters.bin"
MAGIC = b"EDCNTR01"
HEADER = struct.Struct("<8sQQQ")


def _pad8(n: int) -> int:
    return (n + 7) // 8 * 8


def read(path: Path) -> tuple[list[str], np.ndarray]:
    """(keys, values) of a counter file; ValueError naming the file when it is unusable."""
    data = path.read_bytes()
    if len(data) < HEADER.size:
        raise ValueError(f"{path}: truncated ({len(data)} bytes, header is {HEADER.size})")
    magic, n, key_len, _ = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ValueError(f"{path}: not an EnergyDash counter file")
    values_at = HEADER.size + _pad8(key_len)
    if len(data) != values_at + 8 * n:
        raise ValueError(f"{path}: truncated ({len(data)} bytes, expected {values_at + 8 * n})")
    try:
        keys = orjson.loads(data[HEADER.size : HEADER.size + key_len])
    except orjson.JSONDecodeError:
        raise ValueError(f"{path}: outlet keys are not valid JSON") from None
    if not isinstance(keys, list) or len(keys) != n or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"{path}: outlet keys do not match the outlet count {n}")
    values = np.frombuffer(data, dtype="<f8", count=n, offset=values_at).copy()
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"{path}: counters must be finite numbers >= 0")
    return keys, values


def write(path: Path, keys: list[str], values: np.ndarray) -> None:
    """Create a counter file atomically (temporary file, fsync, rename, fsync of the folder)."""
    key_bytes = orjson.dumps(keys)
    body = HEADER.pack(MAGIC, len(keys), len(key_bytes), 0) + key_bytes
    body += b"\0" * (HEADER.size + _pad8(len(key_bytes)) - len(body))
    body += np.asarray(values, dtype="<f8").tobytes()
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


@dataclass
class CounterFile:
    """An open counter file: ``values`` is a float64 array backed by the shared mapping."""

    path: Path
    values: np.ndarray
    problems: list[str] = field(default_factory=list)
    _map: mmap.mmap | None = None

    @classmethod
    def open(cls, path: Path, keys: list[str]) -> CounterFile:
        """Map ``path`` for ``keys``: carry over the counters of keys it knows, 0 for new ones.

        An unusable file is moved aside (the log line and ``problems`` name both files) and the
        counters start from the state file's copy instead.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        problems: list[str] = []
        old: dict[str, float] = {}
        same = False
        if path.exists():
            try:
                old_keys, old_values = read(path)
                same = old_keys == keys
                old = dict(zip(old_keys, old_values.tolist(), strict=True))
            except (OSError, ValueError) as error:
                aside = move_aside(path)
                problem = f"{error}; moved it to {aside} and used the state file's counters"
                log.error("%s", problem)
                problems.append(problem)
        if not same:
            values = np.array([old.get(k, 0.0) for k in keys], dtype=float)
            write(path, keys, values)
        fd = os.open(path, os.O_RDWR)
        try:
            size = os.fstat(fd).st_size
            # ACCESS_WRITE is a shared, writable mapping on POSIX (MAP_SHARED) and on Windows
            mapping = mmap.mmap(fd, size, access=mmap.ACCESS_WRITE)
        finally:
            os.close(fd)
        _, n, key_len, _ = HEADER.unpack_from(mapping)
        values = np.frombuffer(mapping, dtype="<f8", count=n, offset=HEADER.size + _pad8(key_len))
        return cls(path, values, problems, mapping)

    def flush(self) -> None:
        """msync: after this, even a power loss keeps the counters as they are now."""
        if self._map is not None:
            self._map.flush()
