"""Faults on the wire: what the network and the management card do to Redfish requests.

Injected through ``POST /api/v1/faults`` (or a scenario), never through a Redfish OEM
extension. Each fault targets one PDU (its ``RackPDUs/{id}`` and ``Chassis/{id}`` subtrees) or a
URI glob (``uri_pattern``, ``fnmatch`` syntax), and lasts ``duration_s`` seconds of sim time:

- ``wire_latency`` (``ms``, ``jitter_ms``): each answer is delayed, uniformly jittered.
- ``wire_timeout``: no answer at all until the fault ends (or the client gives up).
- ``wire_error`` (``status`` 500 or 503): every matching request fails with that status
  (a burst for the fault's duration), with a Redfish error body and ``Retry-After`` for 503.
- ``wire_drop``: the connection is closed without an answer.
- ``card_reboot``: the PDU's management card reboots: 503 ``ServiceTemporarilyUnavailable``
  with ``Retry-After`` until it is back.

Jitter comes from a generator seeded by the fault's ``seed`` (default ``settings.seed``), so a
scenario replays the same delays.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

WIRE_KINDS = ("wire_latency", "wire_timeout", "wire_error", "wire_drop", "card_reboot")
MAX_LATENCY_MS = 60_000.0
MAX_DURATION_S = 86_400.0
MAX_PATTERN = 256
MAX_ACTIVE = 256
ERROR_STATUSES = (500, 503)


class WireFaultError(ValueError):
    """A wire fault request that cannot be used; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class WireFault:
    id: str
    kind: str
    pdu_id: str | None
    uri_pattern: str | None
    params: dict[str, Any]
    injected_at: datetime
    ends_at_s: float  # sim POSIX seconds
    rng: np.random.Generator = field(repr=False, default_factory=np.random.default_rng)
    hits: int = 0

    def matches(self, path: str) -> bool:
        if self.pdu_id is not None:
            for prefix in ("/redfish/v1/PowerEquipment/RackPDUs/", "/redfish/v1/Chassis/"):
                if path.startswith(prefix + self.pdu_id) and (
                    len(path) == len(prefix + self.pdu_id) or path[len(prefix + self.pdu_id)] == "/"
                ):
                    return True
            return False
        return self.uri_pattern is not None and fnmatch.fnmatchcase(path, self.uri_pattern)

    def view(self) -> dict[str, Any]:
        return {
            "fault_id": self.id,
            "kind": self.kind,
            "layer": "wire",
            "pdu_id": self.pdu_id,
            "uri_pattern": self.uri_pattern,
            "params": self.params,
            "injected_at": self.injected_at.isoformat().replace("+00:00", "Z"),
            "ends_at": datetime.fromtimestamp(self.ends_at_s, UTC)
            .isoformat()
            .replace("+00:00", "Z"),
            "requests_hit": self.hits,
        }


class WireFaults:
    """The active wire faults; ``now_s`` is the sim clock (POSIX seconds)."""

    def __init__(self, now_s: Callable[[], float], seed: int, known_pdu: Callable[[str], bool]):
        self._now_s = now_s
        self._seed = seed
        self._known_pdu = known_pdu
        self._ids = itertools.count(1)
        self.active: dict[str, WireFault] = {}

    def inject(
        self,
        kind: str,
        pdu_id: str | None = None,
        uri_pattern: str | None = None,
        params: dict[str, Any] | None = None,
        duration_s: float | None = None,
    ) -> WireFault:
        """Check everything, then add the fault (nothing changes on a WireFaultError)."""
        if kind not in WIRE_KINDS:
            raise WireFaultError(
                f"unknown wire fault {kind!r}; one of {', '.join(WIRE_KINDS)}", "kind"
            )
        if (pdu_id is None) == (uri_pattern is None):
            raise WireFaultError("give exactly one of pdu_id or uri_pattern", "pdu_id")
        if pdu_id is not None and not self._known_pdu(str(pdu_id)):
            raise WireFaultError(f"no PDU {pdu_id!r}", "pdu_id")
        if uri_pattern is not None and (
            not isinstance(uri_pattern, str)
            or not uri_pattern.startswith("/redfish")
            or len(uri_pattern) > MAX_PATTERN
        ):
            raise WireFaultError("uri_pattern must be a /redfish... glob", "uri_pattern")
        if duration_s is None or not 0 < float(duration_s) <= MAX_DURATION_S:
            raise WireFaultError(
                f"duration_s must be in (0, {MAX_DURATION_S:g}] seconds", "duration_s"
            )
        if len(self.active) >= MAX_ACTIVE:
            raise WireFaultError(f"at most {MAX_ACTIVE} wire faults at once", "kind")
        clean = _params(kind, dict(params or {}))
        seed = clean.pop("seed", self._seed)
        fault = WireFault(
            f"W{next(self._ids)}",
            kind,
            None if pdu_id is None else str(pdu_id),
            uri_pattern,
            clean,
            datetime.fromtimestamp(self._now_s(), UTC),
            self._now_s() + float(duration_s),
            np.random.default_rng(np.random.SeedSequence([int(seed), len(self.active)])),
        )
        self.active[fault.id] = fault
        return fault

    def clear(self, fault_id: str) -> bool:
        return self.active.pop(fault_id, None) is not None

    def current(self) -> list[WireFault]:
        """Active faults, dropping those whose time is over."""
        now = self._now_s()
        for fault_id in [i for i, f in self.active.items() if f.ends_at_s <= now]:
            del self.active[fault_id]
        return list(self.active.values())

    def for_path(self, path: str) -> list[WireFault]:
        if not self.active:
            return []
        return [f for f in self.current() if f.matches(path)]

    def remaining_s(self, fault: WireFault) -> float:
        return max(0.0, fault.ends_at_s - self._now_s())

    async def wait_out(self, fault: WireFault, speed: float) -> None:
        """Sleep until the fault ends (sim seconds converted to wall seconds by ``speed``)."""
        while fault.id in self.active and self.remaining_s(fault) > 0:
            await asyncio.sleep(min(1.0, self.remaining_s(fault) / max(speed, 1e-6)))


def _params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    def number(name: str, default: float, high: float) -> float:
        value = params.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
            raise WireFaultError(f"{name} must be a number in [0, {high:g}]", f"params.{name}")
        return float(value)

    allowed = {
        "wire_latency": {"ms", "jitter_ms", "seed"},
        "wire_error": {"status"},
        "wire_timeout": set(),
        "wire_drop": set(),
        "card_reboot": set(),
    }[kind]
    unknown = set(params) - allowed
    if unknown:
        raise WireFaultError(f"unknown parameter(s) {sorted(unknown)} for {kind}", "params")
    out: dict[str, Any] = {}
    if kind == "wire_latency":
        out["ms"] = number("ms", 100.0, MAX_LATENCY_MS)
        out["jitter_ms"] = number("jitter_ms", 0.0, MAX_LATENCY_MS)
        if "seed" in params:
            seed = params["seed"]
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise WireFaultError("seed must be a non-negative integer", "params.seed")
            out["seed"] = seed
    if kind == "wire_error":
        status = params.get("status", 503)
        if status not in ERROR_STATUSES:
            raise WireFaultError("status must be 500 or 503", "params.status")
        out["status"] = status
    return out
