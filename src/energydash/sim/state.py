"""State persistence: energy counters, outlet and breaker states survive a restart.

Written atomically (a temporary file in the same directory, fsync, ``os.replace``) to
``settings.state_dir / "sim_state.json"``; a crash mid-write leaves the previous file intact.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from energydash.sim.profiles import PROFILES
from energydash.sim.topology import GroupInfo

if TYPE_CHECKING:
    from energydash.sim.pdu import Fleet

log = logging.getLogger(__name__)
STATE_FILE = "sim_state.json"
STATE_VERSION = 1


class StateError(ValueError):
    """A state file that cannot be restored; the message names the file and the problem."""


def fingerprint(fleet: Fleet) -> dict[str, Any]:
    s = fleet.settings
    return {
        "pdu_count": s.pdu_count,
        "pdu_input": s.pdu_input,
        "pdu_mains": s.pdu_mains,
        "pdu_branches": s.pdu_branches,
        "pdu_outlets_per_branch": s.pdu_outlets_per_branch,
    }


def state_path(state_dir: Path) -> Path:
    return Path(state_dir) / STATE_FILE


def to_payload(fleet: Fleet, sim_time: datetime, faults: list[dict[str, Any]]) -> dict[str, Any]:
    relay = fleet.relay_on | ~np.isnan(fleet.pending_on_at)  # a pending On completes on restart
    return {
        "version": STATE_VERSION,
        "saved_at": datetime.now(UTC).isoformat(),
        "sim_time": sim_time.isoformat(),
        "fleet": fingerprint(fleet),
        "outlets": {
            "lifetime_kwh": fleet.lifetime_kwh.copy(),
            "baseline_kwh": fleet.baseline_kwh.copy(),
            "reset_time": fleet.reset_time.copy(),
            "relay_on": relay,
            "power_enabled": fleet.power_enabled.copy(),
            "profile": [PROFILES[c] for c in fleet.profile_code.tolist()],
            "rated_power_w": fleet.rated_power_w.copy(),
            "device_pf": fleet.device_pf.copy(),
            "device_online": fleet.device_online.copy(),
            "device_name": list(fleet.device_names),
            "power_on_delay_s": fleet.o_delay_s.copy(),
        },
        "branches": {"state": fleet.b_state.copy(), "heat": fleet.b_heat.copy()},
        "mains": {"state": fleet.m_state.copy()},
        "circuit_baselines": [[*k, v] for k, v in fleet.circuit_baselines.items()],
        "circuit_reset_times": [[*k, v] for k, v in fleet.circuit_reset_times.items()],
        "groups": {
            p.id: [
                {
                    "id": g.id,
                    "name": g.name,
                    "outlet_ids": list(g.outlet_ids),
                    "user_created": g.user_created,
                }
                for g in p.groups
            ]
            for p in fleet.pdus
        },
        "faults": faults,
    }


def save(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path) -> dict[str, Any] | None:
    """The saved payload, or None when there is none. Raises StateError when it is unusable."""
    if not path.exists():
        return None
    try:
        payload = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise StateError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(payload, dict) or payload.get("version") != STATE_VERSION:
        raise StateError(f"{path}: not a version {STATE_VERSION} EnergyDash state file")
    return payload


def _array(
    payload: dict[str, Any], path: Path, section: str, name: str, n: int, dtype: Any
) -> np.ndarray:
    try:
        values = payload[section][name]
    except (KeyError, TypeError):
        raise StateError(f"{path}: missing {section}.{name}") from None
    if not isinstance(values, list) or len(values) != n:
        raise StateError(f"{path}: {section}.{name} must be a list of {n} values")
    if dtype is float:
        return np.array([math.nan if v is None else v for v in values], dtype=float)
    return np.array(values, dtype=dtype)


def restore(fleet: Fleet, payload: dict[str, Any], path: Path) -> bool:
    """Apply a saved payload to a freshly built fleet. False when the fleet's shape changed.

    Everything is checked before anything is applied, so a bad file changes nothing.
    """
    if payload.get("fleet") != fingerprint(fleet):
        log.warning(
            "state %s was saved for a different fleet %s (now %s); starting fresh",
            path,
            payload.get("fleet"),
            fingerprint(fleet),
        )
        return False
    n, nb, nm = fleet.n_outlets, fleet.n_branches, fleet.n_mains
    lifetime = _array(payload, path, "outlets", "lifetime_kwh", n, float)
    baseline = _array(payload, path, "outlets", "baseline_kwh", n, float)
    reset_time = _array(payload, path, "outlets", "reset_time", n, float)
    relay = _array(payload, path, "outlets", "relay_on", n, bool)
    enabled = _array(payload, path, "outlets", "power_enabled", n, bool)
    rated = _array(payload, path, "outlets", "rated_power_w", n, float)
    pf = _array(payload, path, "outlets", "device_pf", n, float)
    online = _array(payload, path, "outlets", "device_online", n, bool)
    names = payload["outlets"].get("device_name")
    profiles = payload["outlets"].get("profile")
    if not isinstance(names, list) or len(names) != n:
        raise StateError(f"{path}: outlets.device_name must be a list of {n} names")
    if (
        not isinstance(profiles, list)
        or len(profiles) != n
        or any(p not in PROFILES for p in profiles)
    ):
        raise StateError(f"{path}: outlets.profile must be {n} of {', '.join(PROFILES)}")
    b_state = _array(payload, path, "branches", "state", nb, np.int8)
    b_heat = _array(payload, path, "branches", "heat", nb, float)
    m_state = _array(payload, path, "mains", "state", nm, np.int8)
    if np.any(np.isnan(lifetime)) or np.any(lifetime < 0) or np.any(np.isnan(baseline)):
        raise StateError(f"{path}: energy counters must be numbers >= 0")
    groups_raw = payload.get("groups", {})
    groups: dict[str, list[GroupInfo]] = {}
    for pdu in fleet.pdus:
        outlet_ids = {o.id for o in pdu.outlets}
        entries = groups_raw.get(pdu.id, [])
        parsed = []
        for g in entries:
            if not set(g.get("outlet_ids", [])) <= outlet_ids:
                raise StateError(
                    f"{path}: group {g.get('id')!r} of PDU {pdu.id} names unknown outlets"
                )
            parsed.append(
                GroupInfo(
                    str(g["id"]), str(g["name"]), list(g["outlet_ids"]), bool(g.get("user_created"))
                )
            )
        groups[pdu.id] = parsed
    baselines = {
        tuple(str(x) for x in row[:-1]): float(row[-1])
        for row in payload.get("circuit_baselines", [])
    }
    reset_times = {
        tuple(str(x) for x in row[:-1]): float(row[-1])
        for row in payload.get("circuit_reset_times", [])
    }

    delays = None
    if "power_on_delay_s" in payload["outlets"]:
        delays = _array(payload, path, "outlets", "power_on_delay_s", n, float)
        if np.any(np.isnan(delays)) or np.any(delays < 0):
            raise StateError(f"{path}: outlets.power_on_delay_s must be numbers >= 0")

    fleet.lifetime_kwh[:] = lifetime
    fleet.baseline_kwh[:] = baseline
    fleet.reset_time[:] = reset_time
    fleet.relay_on[:] = relay
    fleet.pending_on_at[:] = np.nan
    fleet.power_enabled[:] = enabled
    fleet.profile_code[:] = [PROFILES.index(p) for p in profiles]
    fleet.rated_power_w[:] = rated
    fleet.device_pf[:] = pf
    fleet.device_online[:] = online
    fleet.device_names[:] = [str(x) for x in names]
    fleet.b_state[:] = b_state
    fleet.b_heat[:] = b_heat
    fleet.m_state[:] = m_state
    fleet.circuit_baselines = baselines
    fleet.circuit_reset_times = reset_times
    for pdu in fleet.pdus:
        pdu.groups = groups[pdu.id]
    if delays is not None:
        for k, delay in enumerate(delays.tolist()):
            fleet.set_power_on_delay(k, delay)
    fleet.reindex_profiles()
    return True
