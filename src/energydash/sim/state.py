"""State persistence: counters, outlet, breaker, fault and grid state survive a restart.

``settings.state_dir / "sim_state.json"`` is written atomically (a temporary file in the same
directory, fsync, ``os.replace``, fsync of the folder); before the replace the current file is
kept as ``sim_state.prev.json``, the previous good copy. A file that cannot be used (truncated,
not JSON, the wrong shape) is moved aside as ``sim_state.json.unreadable-<UTC time>`` and the
previous good copy is used; the engine records the reason for ``/health`` (see
``Engine.state_problems``).

Arrays are saved with the ids of what they describe (``pdu/outlet``, ``pdu/branch``,
``pdu/main``), so a fleet of another size keeps the state of the PDUs that still exist.
The lifetime counters also live in a memory-mapped file (``energydash.sim.counters``).
Configuration (restore policies, device names, groups, ``PowerEnabled``, power-on delays) is
saved when the command that changes it runs, so it is on disk before its answer
(``Engine.execute``); operational state (relays, breakers) within
``ENERGYDASH_STATE_SAVE_AFTER_CHANGE_S``.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from energydash.sim.commands import MAX_OUTLET_NAME
from energydash.sim.pdu import RESTORE_POLICIES
from energydash.sim.profiles import PROFILES
from energydash.sim.topology import GroupInfo

if TYPE_CHECKING:
    from energydash.sim.pdu import Fleet

log = logging.getLogger(__name__)
STATE_FILE = "sim_state.json"
PREVIOUS_FILE = "sim_state.prev.json"
STATE_VERSION = 2
READABLE_VERSIONS = (1, 2)
# one writer at a time per process: the engine's periodic save runs on a worker thread while a
# configuration command saves on the event loop (``Engine.execute``)
_SAVE_LOCK = threading.Lock()
_WRITTEN_NS: dict[Path, int] = {}  # per file, the snapshot time of the newest payload written


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


def previous_path(state_dir: Path) -> Path:
    return Path(state_dir) / PREVIOUS_FILE


def outlet_keys(fleet: Fleet) -> list[str]:
    return [f"{p.id}/{o.id}" for p in fleet.pdus for o in p.outlets]


def branch_keys(fleet: Fleet) -> list[str]:
    return [f"{p.id}/{b.id}" for p in fleet.pdus for b in p.branches]


def main_keys(fleet: Fleet) -> list[str]:
    return [f"{p.id}/{m.id}" for p in fleet.pdus for m in p.mains]


def to_payload(
    fleet: Fleet,
    sim_time: datetime,
    faults: list[dict[str, Any]],
    grid: dict[str, Any] | None = None,
    fault_counter: int = 0,
) -> dict[str, Any]:
    relay = fleet.relay_on | ~np.isnan(fleet.pending_on_at)  # a pending On completes on restart
    return {
        "version": STATE_VERSION,
        "saved_at": datetime.now(UTC).isoformat(),
        "sim_time": sim_time.isoformat(),
        "fleet": fingerprint(fleet),
        "outlets": {
            "key": outlet_keys(fleet),
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
            # outlet names given by users (RenameOutlet); absent in files of older versions
            "name": [o.name for p in fleet.pdus for o in p.outlets],
            "restore_policy": [RESTORE_POLICIES[c] for c in fleet.restore_policy.tolist()],
        },
        "branches": {
            "key": branch_keys(fleet),
            "state": fleet.b_state.copy(),
            "heat": fleet.b_heat.copy(),
        },
        "mains": {"key": main_keys(fleet), "state": fleet.m_state.copy()},
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
        # PDU names given by users (RenamePdu); absent in files of older versions
        "pdu_names": {p.id: p.name for p in fleet.pdus},
        "faults": faults,
        "fault_counter": fault_counter,
        "grid": grid,
    }


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(
    path: Path,
    payload: dict[str, Any],
    previous_name: str = PREVIOUS_FILE,
    *,
    taken_ns: int | None = None,
) -> None:
    """Write ``payload`` to ``path`` atomically, keeping the file it replaces as the previous copy.

    ``path`` exists at every moment: the previous copy is a hard link made before the replace.
    ``taken_ns`` (``time.monotonic_ns()`` when the payload was snapshot): a payload older than
    the one last written to ``path`` is dropped, so a slow periodic save never overwrites a
    newer one made meanwhile.
    """
    with _SAVE_LOCK:
        if taken_ns is not None:
            if taken_ns < _WRITTEN_NS.get(path, -1):
                return
            _WRITTEN_NS[path] = taken_ns
        _save(path, payload, previous_name)


def snapshot_time() -> int:
    """The ``taken_ns`` of a payload made now."""
    return time.monotonic_ns()


def _save(path: Path, payload: dict[str, Any], previous_name: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    previous = path.with_name(previous_name)
    link = path.with_name(f".{previous_name}.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            link.unlink(missing_ok=True)
            os.link(path, link)
            os.replace(link, previous)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        link.unlink(missing_ok=True)
        raise


def load(path: Path) -> dict[str, Any] | None:
    """The saved payload, or None when there is none. Raises StateError when it is unusable."""
    if not path.exists():
        return None
    try:
        payload = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise StateError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(payload, dict) or payload.get("version") not in READABLE_VERSIONS:
        raise StateError(f"{path}: not a version {STATE_VERSION} EnergyDash state file")
    return payload


def move_aside(path: Path) -> Path:
    """Rename an unusable file out of the way (kept for the operator), returning its new name."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    aside = path.with_name(f"{path.name}.unreadable-{stamp}")
    path.replace(aside)
    return aside


def _section(payload: dict[str, Any], path: Path, section: str) -> dict[str, Any]:
    value = payload.get(section)
    if not isinstance(value, dict):
        raise StateError(f"{path}: {section} must be an object")
    return value


def _array(
    payload: dict[str, Any], path: Path, section: str, name: str, n: int, dtype: Any
) -> np.ndarray:
    values = _section(payload, path, section).get(name)
    if not isinstance(values, list) or len(values) != n:
        raise StateError(f"{path}: {section}.{name} must be a list of {n} values")
    try:
        if dtype is float:
            array = np.array([math.nan if v is None else v for v in values], dtype=float)
        elif dtype is bool:
            if not all(isinstance(v, bool) for v in values):
                raise TypeError("not booleans")
            array = np.array(values, dtype=bool)
        else:
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                raise TypeError("not integers")
            array = np.array(values, dtype=np.int64)
            if np.any(array < 0) or np.any(array > 2):
                raise ValueError("out of range")
            array = array.astype(dtype)
    except (TypeError, ValueError, OverflowError):
        raise StateError(f"{path}: {section}.{name} holds values of the wrong type") from None
    if dtype is float and np.any(np.isinf(array)):
        raise StateError(f"{path}: {section}.{name} must be finite numbers")
    return array


def _keys(
    payload: dict[str, Any], path: Path, section: str, current: list[str], same_shape: bool
) -> tuple[np.ndarray, np.ndarray, int]:
    """(current indices, saved indices, saved count) of the entries both fleets have."""
    saved = _section(payload, path, section).get("key")
    if saved is None and same_shape:  # version 1: no keys, same fleet
        saved = current
    if not isinstance(saved, list) or not all(isinstance(k, str) for k in saved):
        raise StateError(f"{path}: {section}.key must be a list of ids")
    where = {k: i for i, k in enumerate(saved)}
    pairs = [(i, where[k]) for i, k in enumerate(current) if k in where]
    cur = np.array([a for a, _ in pairs], dtype=np.intp)
    old = np.array([b for _, b in pairs], dtype=np.intp)
    return cur, old, len(saved)


@dataclass
class Restored:
    """What ``restore`` applied: the faults to re-inject and the grid state, for the engine."""

    outlets_matched: int
    faults: list[dict[str, Any]] = field(default_factory=list)
    fault_counter: int = 0
    grid: dict[str, Any] | None = None


def restore(fleet: Fleet, payload: dict[str, Any], path: Path) -> Restored | None:
    """Apply a saved payload to a freshly built fleet; None when no PDU of it exists any more.

    Everything is checked before anything is applied, so a bad file changes nothing. Any
    shape the code does not expect is a StateError naming the file.
    """
    try:
        return _restore(fleet, payload, path)
    except StateError:
        raise
    except (AttributeError, KeyError, TypeError, ValueError, IndexError, OverflowError) as error:
        raise StateError(f"{path}: wrong shape ({type(error).__name__}: {error})") from None


def _restore(fleet: Fleet, payload: dict[str, Any], path: Path) -> Restored | None:
    same_shape = payload.get("fleet") == fingerprint(fleet)
    if payload.get("version") == 1 and not same_shape:
        log.warning(
            "state %s (version 1) was saved for a different fleet %s (now %s); starting fresh",
            path,
            payload.get("fleet"),
            fingerprint(fleet),
        )
        return None
    o_cur, o_old, n = _keys(payload, path, "outlets", outlet_keys(fleet), same_shape)
    b_cur, b_old, nb = _keys(payload, path, "branches", branch_keys(fleet), same_shape)
    m_cur, m_old, nm = _keys(payload, path, "mains", main_keys(fleet), same_shape)
    if not same_shape:
        log.warning(
            "state %s was saved for fleet %s (now %s): keeping the state of the %d outlets "
            "whose PDU and outlet ids still exist",
            path,
            payload.get("fleet"),
            fingerprint(fleet),
            o_cur.size,
        )
    if o_cur.size == 0 and fleet.n_outlets:
        return None
    lifetime = _array(payload, path, "outlets", "lifetime_kwh", n, float)
    baseline = _array(payload, path, "outlets", "baseline_kwh", n, float)
    reset_time = _array(payload, path, "outlets", "reset_time", n, float)
    relay = _array(payload, path, "outlets", "relay_on", n, bool)
    enabled = _array(payload, path, "outlets", "power_enabled", n, bool)
    rated = _array(payload, path, "outlets", "rated_power_w", n, float)
    pf = _array(payload, path, "outlets", "device_pf", n, float)
    online = _array(payload, path, "outlets", "device_online", n, bool)
    outlets = _section(payload, path, "outlets")
    names = outlets.get("device_name")
    profiles = outlets.get("profile")
    if not isinstance(names, list) or len(names) != n or not all(isinstance(x, str) for x in names):
        raise StateError(f"{path}: outlets.device_name must be a list of {n} names")
    if (
        not isinstance(profiles, list)
        or len(profiles) != n
        or any(not isinstance(p, str) or p not in PROFILES for p in profiles)
    ):
        raise StateError(f"{path}: outlets.profile must be {n} of {', '.join(PROFILES)}")
    b_state = _array(payload, path, "branches", "state", nb, np.int8)
    b_heat = _array(payload, path, "branches", "heat", nb, float)
    m_state = _array(payload, path, "mains", "state", nm, np.int8)
    if np.any(np.isnan(lifetime)) or np.any(lifetime < 0) or np.any(np.isnan(baseline)):
        raise StateError(f"{path}: energy counters must be numbers >= 0")
    if np.any(np.isnan(rated)) or np.any(rated < 0) or np.any(np.isnan(pf)):
        raise StateError(f"{path}: outlets.rated_power_w and device_pf must be numbers >= 0")
    delays = None
    if "power_on_delay_s" in outlets:
        delays = _array(payload, path, "outlets", "power_on_delay_s", n, float)
        if np.any(np.isnan(delays)) or np.any(delays < 0):
            raise StateError(f"{path}: outlets.power_on_delay_s must be numbers >= 0")
    policies = outlets.get("restore_policy")  # absent in files saved before it was kept
    if policies is not None and (
        not isinstance(policies, list)
        or len(policies) != n
        or any(p not in RESTORE_POLICIES for p in policies)
    ):
        raise StateError(
            f"{path}: outlets.restore_policy must be {n} of {', '.join(RESTORE_POLICIES)}"
        )

    outlet_names = outlets.get("name")
    if outlet_names is not None and (
        not isinstance(outlet_names, list)
        or len(outlet_names) != n
        or any(not isinstance(x, str) or not 0 < len(x) <= MAX_OUTLET_NAME for x in outlet_names)
    ):
        raise StateError(
            f"{path}: outlets.name must be {n} names of 1 to {MAX_OUTLET_NAME} characters"
        )

    pdu_names = payload.get("pdu_names", {})
    if not isinstance(pdu_names, dict) or any(
        not isinstance(x, str) or not 0 < len(x) <= MAX_OUTLET_NAME for x in pdu_names.values()
    ):
        raise StateError(
            f"{path}: pdu_names must map PDU ids to names of 1 to {MAX_OUTLET_NAME} characters"
        )

    groups_raw = payload.get("groups", {})
    if not isinstance(groups_raw, dict):
        raise StateError(f"{path}: groups must be an object of PDU id to groups")
    groups: dict[str, list[GroupInfo]] = {}
    for pdu in fleet.pdus:
        if pdu.id not in groups_raw:
            continue
        outlet_ids = {o.id for o in pdu.outlets}
        entries = groups_raw[pdu.id]
        if not isinstance(entries, list):
            raise StateError(f"{path}: groups.{pdu.id} must be a list")
        parsed = []
        for g in entries:
            members = g.get("outlet_ids", [])
            if not isinstance(members, list) or not set(members) <= outlet_ids:
                raise StateError(
                    f"{path}: group {g.get('id')!r} of PDU {pdu.id} names unknown outlets"
                )
            parsed.append(
                GroupInfo(
                    str(g["id"]),
                    str(g["name"]),
                    [str(x) for x in members],
                    bool(g.get("user_created")),
                )
            )
        groups[pdu.id] = parsed
    pdu_ids = {p.id for p in fleet.pdus}

    def circuit_rows(name: str) -> dict[tuple[str, ...], float]:
        rows = payload.get(name, [])
        if not isinstance(rows, list):
            raise StateError(f"{path}: {name} must be a list")
        out = {}
        for row in rows:
            key = tuple(str(x) for x in row[:-1])
            value = float(row[-1])
            if not math.isfinite(value):
                raise StateError(f"{path}: {name} must hold finite numbers")
            if len(key) >= 2 and key[1] in pdu_ids:
                out[key] = value
        return out

    baselines = circuit_rows("circuit_baselines")
    reset_times = circuit_rows("circuit_reset_times")
    saved_faults = payload.get("faults", [])
    if not isinstance(saved_faults, list) or not all(isinstance(f, dict) for f in saved_faults):
        raise StateError(f"{path}: faults must be a list of objects")
    fault_counter = payload.get("fault_counter", 0)
    if not isinstance(fault_counter, int) or not 0 <= fault_counter < 2**53:
        raise StateError(f"{path}: fault_counter must be a whole number >= 0")
    grid = payload.get("grid")
    if grid is not None and not isinstance(grid, dict):
        raise StateError(f"{path}: grid must be an object")

    # everything checked: apply
    fleet.lifetime_kwh[o_cur] = lifetime[o_old]
    fleet.baseline_kwh[o_cur] = baseline[o_old]
    fleet.reset_time[o_cur] = reset_time[o_old]
    fleet.relay_on[o_cur] = relay[o_old]
    fleet.clear_pending()
    fleet.power_enabled[o_cur] = enabled[o_old]
    codes = np.array([PROFILES.index(p) for p in profiles], dtype=fleet.profile_code.dtype)
    fleet.profile_code[o_cur] = codes[o_old]
    fleet.rated_power_w[o_cur] = rated[o_old]
    fleet.device_pf[o_cur] = pf[o_old]
    fleet.device_online[o_cur] = online[o_old]
    for cur, old in zip(o_cur.tolist(), o_old.tolist(), strict=True):
        fleet.device_names[cur] = names[old]
    fleet.b_state[b_cur] = b_state[b_old]
    fleet.b_heat[b_cur] = b_heat[b_old]
    fleet.m_state[m_cur] = m_state[m_old]
    fleet.circuit_baselines = baselines
    fleet.circuit_reset_times = reset_times
    for pdu in fleet.pdus:
        if pdu.id in groups:
            pdu.groups = groups[pdu.id]
    if delays is not None:
        for cur, old in zip(o_cur.tolist(), o_old.tolist(), strict=True):
            fleet.set_power_on_delay(cur, float(delays[old]))
    for pdu in fleet.pdus:
        if pdu.id in pdu_names:
            pdu.name = pdu_names[pdu.id]
    if outlet_names is not None:
        infos = [o for p in fleet.pdus for o in p.outlets]
        for cur, old in zip(o_cur.tolist(), o_old.tolist(), strict=True):
            infos[cur].name = outlet_names[old]
    if policies is not None:
        codes = np.array([RESTORE_POLICIES.index(p) for p in policies], dtype=np.int8)
        fleet.restore_policy[o_cur] = codes[o_old]
    fleet.reindex_profiles()
    live = [f for f in saved_faults if str(f.get("pdu_id")) in pdu_ids]
    return Restored(int(o_cur.size), live, fault_counter, grid)
