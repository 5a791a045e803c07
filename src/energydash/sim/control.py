"""How each command changes the simulation: validate everything first, then apply.

A handler either raises ``CommandError`` before touching any state, or applies the whole
command. Every face (Redfish, REST, MQTT) reaches this through ``Engine.execute``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from energydash.sim import breakers, faults
from energydash.sim.commands import (
    BREAKER_ACTIONS,
    MAX_OUTLET_NAME,
    METRICS_KINDS,
    POWER_ACTIONS,
    BreakerControl,
    CircuitPower,
    ClearFault,
    Command,
    CommandError,
    CommandResult,
    CreateGroup,
    DeleteGroup,
    GroupPower,
    InjectFault,
    OutletPower,
    RemoveDevice,
    RenameOutlet,
    RenamePdu,
    ResetMetrics,
    ResetPeak,
    SetDevice,
    SetDeviceOnline,
    SetOutletEnabled,
    SetPowerOnDelay,
    SetRestorePolicy,
)
from energydash.sim.events import SimEvent
from energydash.sim.pdu import RESTORE_POLICIES
from energydash.sim.profiles import PROFILES, SPECS
from energydash.sim.topology import GroupInfo, PduInfo

if TYPE_CHECKING:
    from energydash.sim.engine import Engine

MAX_GROUP_NAME = 64
MAX_DELAY_S = 3600.0


def _pdu(engine: Engine, pdu_id: Any, *, allow_blind: bool = False) -> PduInfo:
    pdu_id = str(pdu_id)
    if not engine.fleet.has_pdu(pdu_id):
        known = ", ".join(p.id for p in engine.fleet.pdus) or "none"
        raise CommandError(f"no PDU {pdu_id!r} (PDUs: {known})", field="pdu_id")
    pdu = engine.fleet.pdu_info(pdu_id)
    if not allow_blind and engine.fleet.comm_lost[pdu.index]:
        raise CommandError(f"{pdu.name} is not responding (communication lost)", field="pdu_id")
    return pdu


def _outlet_index(engine: Engine, pdu: PduInfo, outlet_id: Any) -> int:
    try:
        return engine.fleet.outlet_info(pdu.id, str(outlet_id)).index
    except KeyError:
        raise CommandError(f"no outlet {outlet_id!r} on {pdu.name}", field="outlet_id") from None


def _branch(engine: Engine, pdu: PduInfo, circuit_id: Any, field: str = "circuit_id") -> int:
    for branch in pdu.branches:
        if branch.id == str(circuit_id):
            return branch.index
    known = ", ".join(b.id for b in pdu.branches)
    raise CommandError(
        f"no branch circuit {circuit_id!r} on {pdu.name} (branches: {known})", field=field
    )


def _group(pdu: PduInfo, group_id: Any) -> GroupInfo:
    for group in pdu.groups:
        if group.id == str(group_id):
            return group
    raise CommandError(f"no outlet group {group_id!r} on {pdu.name}", field="group_id")


def _check_action(action: Any, allowed: tuple[str, ...]) -> str:
    if action not in allowed:
        raise CommandError(
            f"action must be one of {', '.join(allowed)}, got {action!r}", field="action"
        )
    return str(action)


def _switch(
    engine: Engine, pdu: PduInfo, indices: np.ndarray, action: str, what: str
) -> CommandResult:
    """Power-control outlets: refuse the lot if any is disabled or has a failed relay."""
    fleet = engine.fleet
    disabled = indices[~fleet.power_enabled[indices]]
    if disabled.size:
        names = ", ".join(pdu.outlets[int(k) - pdu.index * len(pdu.outlets)].id for k in disabled)
        raise CommandError(
            f"power control is disabled on outlet(s) {names} of {pdu.name}", field="power_enabled"
        )
    failed = indices[fleet.relay_failed[indices]]
    if failed.size:
        names = ", ".join(pdu.outlets[int(k) - pdu.index * len(pdu.outlets)].id for k in failed)
        raise CommandError(
            f"relay of outlet(s) {names} of {pdu.name} failed to switch", field="outlet_id"
        )
    t = engine.clock.timestamp()
    now = engine.clock.now()
    if action == "Off":
        was_on = indices[fleet.relay_on[indices]]
        fleet.switch_off(indices)
        for k in was_on:
            fleet.emit_outlet_event(engine.emit, now, int(k), "OutletPoweredOff")
        return CommandResult(True, f"{what} switched Off")
    if action == "On":
        off = indices[~fleet.relay_on[indices] & np.isnan(fleet.pending_on_at[indices])]
        delays = fleet.o_delay_s[off]
        immediate = off[delays <= 0]
        later = off[delays > 0]
        if later.size:
            fleet.switch_on(later, t + fleet.o_delay_s[later])
        if immediate.size:
            fleet.switch_on(immediate, t)
            for k in fleet.energise_due(t):
                fleet.emit_outlet_event(engine.emit, now, int(k), "OutletPoweredOn")
        delay = float(delays.max()) if later.size else 0.0
        suffix = f" after its {delay:g} s power-on delay" if later.size else ""
        return CommandResult(
            True, f"{what} switching On{suffix}" if off.size else f"{what} already On"
        )
    # PowerCycle: off now, on after the cycle delay (an Off outlet just comes on after it)
    was_on = indices[fleet.relay_on[indices]]
    fleet.switch_off(indices)
    for k in was_on:
        fleet.emit_outlet_event(engine.emit, now, int(k), "OutletPoweredOff")
    fleet.switch_on(indices, t + engine.settings.power_cycle_delay_s)
    return CommandResult(
        True, f"{what} power-cycling ({engine.settings.power_cycle_delay_s:g} s off)"
    )


def _outlet_power(engine: Engine, c: OutletPower) -> CommandResult:
    pdu = _pdu(engine, c.pdu_id)
    k = _outlet_index(engine, pdu, c.outlet_id)
    action = _check_action(c.action, POWER_ACTIONS)
    return _switch(engine, pdu, np.array([k]), action, f"outlet {c.outlet_id} of {pdu.name}")


def _group_power(engine: Engine, c: GroupPower) -> CommandResult:
    pdu = _pdu(engine, c.pdu_id)
    group = _group(pdu, c.group_id)
    action = _check_action(c.action, POWER_ACTIONS)
    idx = np.array(
        [engine.fleet.outlet_info(pdu.id, o).index for o in group.outlet_ids], dtype=np.intp
    )
    return _switch(engine, pdu, idx, action, f"{group.name} of {pdu.name}")


def _circuit_power(engine: Engine, c: CircuitPower) -> CommandResult:
    pdu = _pdu(engine, c.pdu_id)
    b = _branch(engine, pdu, c.circuit_id)
    action = _check_action(c.action, POWER_ACTIONS)
    s = engine.fleet.branch_slice(b)
    idx = np.arange(s.start, s.stop)
    return _switch(engine, pdu, idx, action, f"outlets of branch {c.circuit_id} of {pdu.name}")


def _breaker(engine: Engine, c: BreakerControl) -> CommandResult:
    pdu = _pdu(engine, c.pdu_id)
    action = _check_action(c.action, BREAKER_ACTIONS)
    fleet = engine.fleet
    now = engine.clock.now()
    main = next((m for m in pdu.mains if m.id == str(c.circuit_id)), None)
    if main is not None:
        states, index, name, kind = fleet.m_state, main.index, main.name, "main"
    else:
        index = _branch(engine, pdu, c.circuit_id)
        states, name, kind = (
            fleet.b_state,
            pdu.branches[index - pdu.index * len(pdu.branches)].name,
            "branch",
        )
    before = int(states[index])
    if action == "On":
        if before == breakers.BREAKER_NORMAL:
            return CommandResult(True, f"{name} breaker of {pdu.name} already closed")
        states[index] = breakers.BREAKER_NORMAL
        if kind == "branch":
            fleet.b_heat[index] = 0.0
        event_kind = "BreakerReset" if before == breakers.BREAKER_TRIPPED else "CircuitPoweredOn"
        engine.emit(
            SimEvent(
                event_kind,
                pdu.id,
                kind,
                str(c.circuit_id),
                f"{name} breaker of {pdu.name} closed.",
                "OK",
                now,
                [str(c.circuit_id)],
            )
        )  # type: ignore[arg-type]
        return CommandResult(True, f"{name} breaker of {pdu.name} closed")
    if before == breakers.BREAKER_OFF:
        return CommandResult(True, f"{name} breaker of {pdu.name} already open")
    states[index] = breakers.BREAKER_OFF
    engine.emit(
        SimEvent(
            "CircuitPoweredOff",
            pdu.id,
            kind,
            str(c.circuit_id),
            f"{name} breaker of {pdu.name} opened.",
            "Warning",
            now,
            [str(c.circuit_id)],
        )
    )  # type: ignore[arg-type]
    return CommandResult(True, f"{name} breaker of {pdu.name} opened")


def _reset_metrics(engine: Engine, c: ResetMetrics) -> CommandResult:
    pdu = _pdu(engine, c.pdu_id)
    if c.kind not in METRICS_KINDS:
        raise CommandError(
            f"kind must be one of {', '.join(METRICS_KINDS)}, got {c.kind!r}", field="kind"
        )
    fleet = engine.fleet
    t = engine.clock.timestamp()
    now = engine.clock.now()
    phases = pdu.phases

    def reset_circuit(kind: str, cid: str, lifetime_by_phase: dict[str, float]) -> None:
        key = (kind, pdu.id, cid)
        fleet.circuit_baselines[key] = sum(lifetime_by_phase.values())
        fleet.circuit_reset_times[key] = t
        for label, value in lifetime_by_phase.items():
            fleet.circuit_baselines[(*key, label)] = value

    def branch_lifetime(b: int) -> float:
        return float(fleet.lifetime_kwh[fleet.branch_slice(b)].sum())

    def circuit_phases(branch_ids: list[int]) -> dict[str, float]:
        out = {label: 0.0 for label in phases}
        for b in branch_ids:
            out[phases[int(fleet.b_phase[b]) - pdu.index * fleet.phases_per_pdu]] += (
                branch_lifetime(b)
            )
        return out

    if c.kind == "outlet":
        if c.target_id is None:
            raise CommandError("kind outlet needs target_id, the outlet id", field="target_id")
        k = _outlet_index(engine, pdu, c.target_id)
        fleet.baseline_kwh[k] = fleet.lifetime_kwh[k]
        fleet.reset_time[k] = t
        fleet.peaks.reset_one(fleet, "outlet", k, t)
        target = f"outlet {c.target_id}"
    elif c.kind == "branch":
        if c.target_id is None:
            raise CommandError("kind branch needs target_id, the branch id", field="target_id")
        b = _branch(engine, pdu, c.target_id, field="target_id")
        reset_circuit("branch", str(c.target_id), circuit_phases([b]))
        fleet.peaks.reset_one(fleet, "branch", b, t)
        target = f"branch {c.target_id}"
    elif c.kind == "main":
        main = next((m for m in pdu.mains if m.id == str(c.target_id)), None)
        if main is None:
            known = ", ".join(m.id for m in pdu.mains)
            raise CommandError(
                f"no mains circuit {c.target_id!r} on {pdu.name} (mains: {known})",
                field="target_id",
            )
        reset_circuit(
            "main",
            main.id,
            circuit_phases([int(b) for b in np.flatnonzero(fleet.b_main == main.index)]),
        )
        fleet.peaks.reset_main(fleet, main.index, t)
        target = f"mains {main.id}"
    elif c.kind == "group":
        group = _group(pdu, c.target_id)
        idx = [fleet.outlet_info(pdu.id, o).index for o in group.outlet_ids]
        key = ("group", pdu.id, group.id)
        fleet.circuit_baselines[key] = float(fleet.lifetime_kwh[idx].sum())
        fleet.circuit_reset_times[key] = t
        fleet.peaks.forget_group(pdu.id, group.id)
        target = group.name
    else:  # the whole PDU: every outlet, circuit, group and the PDU total
        s = fleet.outlet_slice(pdu.id)
        fleet.baseline_kwh[s] = fleet.lifetime_kwh[s]
        fleet.reset_time[s] = t
        branch_ids = [b.index for b in pdu.branches]
        for b in pdu.branches:
            reset_circuit("branch", b.id, circuit_phases([b.index]))
        for m in pdu.mains:
            reset_circuit(
                "main",
                m.id,
                circuit_phases([int(b) for b in np.flatnonzero(fleet.b_main == m.index)]),
            )
        for g in pdu.groups:
            idx = [fleet.outlet_info(pdu.id, o).index for o in g.outlet_ids]
            fleet.circuit_baselines[("group", pdu.id, g.id)] = float(fleet.lifetime_kwh[idx].sum())
            fleet.circuit_reset_times[("group", pdu.id, g.id)] = t
        key = ("pdu", pdu.id, "")
        by_phase = circuit_phases(branch_ids)
        fleet.circuit_baselines[key] = sum(by_phase.values())
        fleet.circuit_reset_times[key] = t
        for label, value in by_phase.items():
            fleet.circuit_baselines[(*key, label)] = value
        fleet.peaks.reset_pdu(fleet, pdu.index, t)
        target = "all metrics"
    engine.emit(
        SimEvent(
            "MetricsReset",
            pdu.id,
            c.kind,
            str(c.target_id or pdu.id),
            f"{pdu.name}: {target} energy reset.",
            "OK",
            now,
            [str(c.target_id or pdu.id)],
        )
    )  # type: ignore[arg-type]
    return CommandResult(True, f"{pdu.name}: {target} energy reset")


def _create_group(engine: Engine, c: CreateGroup) -> CommandResult:
    pdu = _pdu(engine, c.pdu_id)
    name = str(c.name).strip() if c.name is not None else ""
    if not name or len(name) > MAX_GROUP_NAME:
        raise CommandError(f"group name must be 1 to {MAX_GROUP_NAME} characters", field="name")
    if isinstance(c.outlet_ids, str) or not list(c.outlet_ids):
        raise CommandError("outlet_ids must be a non-empty list of outlet ids", field="outlet_ids")
    outlet_ids = [str(o) for o in c.outlet_ids]
    known = {o.id for o in pdu.outlets}
    unknown = [o for o in outlet_ids if o not in known]
    if unknown:
        raise CommandError(f"no outlet(s) {', '.join(unknown)} on {pdu.name}", field="outlet_ids")
    if len(set(outlet_ids)) != len(outlet_ids):
        raise CommandError("outlet_ids lists an outlet twice", field="outlet_ids")
    existing = {g.id for g in pdu.groups}
    if c.group_id is not None:
        group_id = str(c.group_id).strip()
        if not group_id or not all(ch.isalnum() or ch in "-_" for ch in group_id):
            raise CommandError("group_id must be letters, digits, '-' or '_'", field="group_id")
        if group_id in existing:
            raise CommandError(
                f"outlet group {group_id!r} already exists on {pdu.name}", field="group_id"
            )
    else:
        numbers = [int(g) for g in existing if g.isdigit()]
        group_id = str(max(numbers, default=0) + 1)
    pdu.groups.append(GroupInfo(group_id, name, outlet_ids, user_created=True))
    engine.emit(
        SimEvent(
            "GroupCreated",
            pdu.id,
            "group",
            group_id,
            f"Outlet group {name!r} created on {pdu.name}.",
            "OK",
            engine.clock.now(),
            [group_id],
        )
    )  # type: ignore[arg-type]
    return CommandResult(True, f"outlet group {group_id} created", group_id=group_id)


def _delete_group(engine: Engine, c: DeleteGroup) -> CommandResult:
    pdu = _pdu(engine, c.pdu_id)
    group = _group(pdu, c.group_id)
    pdu.groups.remove(group)
    for key in [k for k in engine.fleet.circuit_baselines if k[:3] == ("group", pdu.id, group.id)]:
        engine.fleet.circuit_baselines.pop(key, None)
    engine.fleet.circuit_reset_times.pop(("group", pdu.id, group.id), None)
    engine.emit(
        SimEvent(
            "GroupDeleted",
            pdu.id,
            "group",
            group.id,
            f"Outlet group {group.name!r} deleted from {pdu.name}.",
            "OK",
            engine.clock.now(),
            [group.id],
        )
    )  # type: ignore[arg-type]
    return CommandResult(True, f"outlet group {group.id} deleted", group_id=group.id)


def _set_device(engine: Engine, c: SetDevice) -> CommandResult:
    pdu = _pdu(engine, c.pdu_id)
    k = _outlet_index(engine, pdu, c.outlet_id)
    choices = [p for p in PROFILES if p != "empty"]
    if c.profile not in choices:
        raise CommandError(
            f"profile must be one of {', '.join(choices)}, got {c.profile!r}", field="profile"
        )
    spec = SPECS[c.profile]
    limit_w = engine.settings.pdu_nominal_voltage_v * float(engine.fleet.o_rating_a[k])
    rated = c.rated_power_w if c.rated_power_w is not None else sum(spec.rated_power_w) / 2.0
    if (
        isinstance(rated, bool)
        or not isinstance(rated, int | float)
        or not math.isfinite(rated)
        or not 0 < rated <= limit_w
    ):
        raise CommandError(
            f"rated_power_w must be > 0 and at most {limit_w:g} W (the outlet rating), "
            f"got {rated!r}",
            field="rated_power_w",
        )
    name = (c.name or "").strip() or f"{spec.device_name} {pdu.id}-{c.outlet_id}"
    if len(name) > MAX_GROUP_NAME:
        raise CommandError(f"device name must be at most {MAX_GROUP_NAME} characters", field="name")
    engine.fleet.set_device(k, c.profile, name, float(rated))
    return CommandResult(
        True, f"{name} ({c.profile}, {float(rated):g} W) on outlet {c.outlet_id} of {pdu.name}"
    )


def _remove_device(engine: Engine, c: RemoveDevice) -> CommandResult:
    pdu = _pdu(engine, c.pdu_id)
    k = _outlet_index(engine, pdu, c.outlet_id)
    engine.fleet.set_device(k, "empty", "", 0.0, pf=1.0)
    return CommandResult(True, f"outlet {c.outlet_id} of {pdu.name} is now empty")


def _set_enabled(engine: Engine, c: SetOutletEnabled) -> CommandResult:
    pdu = _pdu(engine, c.pdu_id)
    k = _outlet_index(engine, pdu, c.outlet_id)
    if not isinstance(c.enabled, bool):
        raise CommandError(f"enabled must be true or false, got {c.enabled!r}", field="enabled")
    engine.fleet.power_enabled[k] = c.enabled
    state = "enabled" if c.enabled else "disabled"
    return CommandResult(True, f"power control {state} on outlet {c.outlet_id} of {pdu.name}")


def _set_online(engine: Engine, c: SetDeviceOnline) -> CommandResult:
    pdu = _pdu(engine, c.pdu_id)
    k = _outlet_index(engine, pdu, c.outlet_id)
    if not isinstance(c.online, bool):
        raise CommandError(f"online must be true or false, got {c.online!r}", field="online")
    if engine.fleet.profile_code[k] == 0:
        raise CommandError(f"outlet {c.outlet_id} of {pdu.name} has no device", field="outlet_id")
    engine.fleet.device_online[k] = c.online
    return CommandResult(
        True,
        f"device on outlet {c.outlet_id} of {pdu.name} is {'online' if c.online else 'offline'}",
    )


def _set_delay(engine: Engine, c: SetPowerOnDelay) -> CommandResult:
    pdu = _pdu(engine, c.pdu_id)
    k = _outlet_index(engine, pdu, c.outlet_id)
    delay = c.delay_s
    if (
        isinstance(delay, bool)
        or not isinstance(delay, int | float)
        or not 0 <= delay <= MAX_DELAY_S
    ):
        raise CommandError(
            f"delay_s must be a number from 0 to {MAX_DELAY_S:g} seconds, got {delay!r}",
            field="delay_s",
        )
    engine.fleet.set_power_on_delay(k, float(delay))
    return CommandResult(True, f"outlet {c.outlet_id} of {pdu.name} powers on {delay:g} s after On")


def _inject(engine: Engine, c: InjectFault) -> CommandResult:
    kind, pdu_id, target, params = faults.normalise(engine.fleet, c)
    for fault in engine.faults.values():
        if (fault.kind, fault.pdu_id, fault.target_id) == (kind, pdu_id, target):
            raise CommandError(
                f"fault {kind} is already active on that target as {fault.id}", field="kind"
            )
    fleet = engine.fleet
    pdu = fleet.pdu_info(pdu_id)
    resource = (
        "outlet"
        if kind in faults.OUTLET_KINDS
        else "branch"
        if kind == "branch_overload"
        else "pdu"
    )
    engine.fault_counter += 1
    fault_id = f"F{engine.fault_counter}"
    snapshot = None
    if kind == "sensor_stuck":
        snapshot = fleet.snapshot_outlet_sensors(fleet.outlet_info(pdu_id, str(target)).index)
    if kind == "pdu_power_loss":  # relays drop; remember them for LastState
        snapshot = fleet.lose_power(pdu.index)
    now = engine.clock.now()
    fault = faults.Fault(fault_id, kind, pdu_id, target, params, now, resource, snapshot)
    engine.faults[fault_id] = fault
    faults.apply_faults(fleet, engine.faults)
    severity = "Critical" if faults.HEALTH[kind] == 2 else "Warning"
    engine.emit(
        SimEvent(
            "FaultInjected",
            pdu_id,
            resource,
            target or pdu_id,
            f"Fault {fault.describe()} injected on {pdu.name}: {faults.DESCRIPTION[kind]}.",
            severity,
            now,
            [fault_id, kind],
        )
    )  # type: ignore[arg-type]
    return CommandResult(True, f"fault {fault.describe()} injected", fault_id=fault_id)


def _clear(engine: Engine, c: ClearFault) -> CommandResult:
    fault = engine.faults.get(str(c.fault_id))
    if fault is None:
        known = ", ".join(engine.faults) or "none active"
        raise CommandError(f"no fault {c.fault_id!r} ({known})", field="fault_id")
    del engine.faults[fault.id]
    faults.apply_faults(engine.fleet, engine.faults)
    if fault.kind == "pdu_power_loss":
        pdu = engine.fleet.pdu_info(fault.pdu_id)
        t = engine.clock.timestamp()
        engine.fleet.restore_power(pdu.index, fault.snapshot, t)
        now = engine.clock.now()
        for k in engine.fleet.energise_due(t):
            engine.fleet.emit_outlet_event(engine.emit, now, int(k), "OutletPoweredOn")
    engine.emit(
        SimEvent(
            "FaultCleared",
            fault.pdu_id,
            fault.resource,
            fault.target_id or fault.pdu_id,
            f"Fault {fault.describe()} cleared.",
            "OK",
            engine.clock.now(),
            [fault.id, fault.kind],
        )
    )  # type: ignore[arg-type]
    return CommandResult(True, f"fault {fault.describe()} cleared", fault_id=fault.id)


def _set_restore_policy(engine: Engine, c: SetRestorePolicy) -> CommandResult:
    pdu = _pdu(engine, c.pdu_id)
    k = _outlet_index(engine, pdu, c.outlet_id)
    if c.policy not in RESTORE_POLICIES:
        raise CommandError(
            f"policy must be one of {', '.join(RESTORE_POLICIES)}, got {c.policy!r}",
            field="policy",
        )
    engine.fleet.restore_policy[k] = RESTORE_POLICIES.index(c.policy)
    return CommandResult(True, f"outlet {c.outlet_id} of {pdu.name}: {c.policy} after power loss")


def name_problem(name: Any) -> str | None:
    """Why ``name`` cannot name an outlet or PDU (None when it can): 1 to 64 printable
    characters, not only spaces."""
    if not isinstance(name, str):
        return f"name must be text, got {type(name).__name__}"
    if not name.strip() or len(name) > MAX_OUTLET_NAME:
        return f"name must be 1 to {MAX_OUTLET_NAME} characters, got {len(name.strip())}"
    if not name.isprintable():
        return "name must not hold control characters"
    return None


def _rename_outlet(engine: Engine, c: RenameOutlet) -> CommandResult:
    # A name is a label on the box, not a command to it: a silent PDU can still be relabelled.
    pdu = _pdu(engine, c.pdu_id, allow_blind=True)
    _outlet_index(engine, pdu, c.outlet_id)  # an unknown outlet is refused by name
    problem = name_problem(c.name)
    if problem:
        raise CommandError(problem, field="name")
    engine.fleet.outlet_info(pdu.id, str(c.outlet_id)).name = c.name.strip()
    return CommandResult(True, f"outlet {c.outlet_id} of {pdu.name} is now {c.name.strip()!r}")


def _rename_pdu(engine: Engine, c: RenamePdu) -> CommandResult:
    pdu = _pdu(engine, c.pdu_id, allow_blind=True)
    problem = name_problem(c.name)
    if problem:
        raise CommandError(problem, field="name")
    before, pdu.name = pdu.name, c.name.strip()
    return CommandResult(True, f"{before} is now {pdu.name!r}")


def _reset_peak(engine: Engine, c: ResetPeak) -> CommandResult:
    pdu = _pdu(engine, c.pdu_id)
    fleet = engine.fleet
    t = engine.clock.timestamp()
    if c.kind == "outlet":
        fleet.peaks.reset_one(fleet, "outlet", _outlet_index(engine, pdu, c.target_id), t)
    elif c.kind == "branch":
        fleet.peaks.reset_one(fleet, "branch", _branch(engine, pdu, c.target_id, "target_id"), t)
    elif c.kind == "main":
        main = next((m for m in pdu.mains if m.id == str(c.target_id)), None)
        if main is None:
            raise CommandError(f"no mains circuit {c.target_id!r} on {pdu.name}", "target_id")
        fleet.peaks.reset_main(fleet, main.index, t)
    elif c.kind == "group":
        fleet.peaks.forget_group(pdu.id, _group(pdu, c.target_id).id)
    elif c.kind == "pdu":
        fleet.peaks.reset_one(fleet, "pdu", pdu.index, t)
    else:
        raise CommandError(
            f"kind must be one of {', '.join(METRICS_KINDS)}, got {c.kind!r}", field="kind"
        )
    return CommandResult(True, f"{pdu.name}: peak power of {c.kind} {c.target_id or ''} reset")


HANDLERS: dict[type, Callable[[Engine, Any], CommandResult]] = {
    OutletPower: _outlet_power,
    GroupPower: _group_power,
    CircuitPower: _circuit_power,
    BreakerControl: _breaker,
    ResetMetrics: _reset_metrics,
    CreateGroup: _create_group,
    DeleteGroup: _delete_group,
    SetDevice: _set_device,
    RemoveDevice: _remove_device,
    SetOutletEnabled: _set_enabled,
    SetDeviceOnline: _set_online,
    SetPowerOnDelay: _set_delay,
    InjectFault: _inject,
    ClearFault: _clear,
    SetRestorePolicy: _set_restore_policy,
    ResetPeak: _reset_peak,
    RenameOutlet: _rename_outlet,
    RenamePdu: _rename_pdu,
}


def execute(engine: Engine, command: Command) -> CommandResult:
    """Run one command's handler; an unknown command type is refused like any bad input."""
    handler = HANDLERS.get(type(command))
    if handler is None:
        raise CommandError(f"unknown command {type(command).__name__}", field="command")
    return handler(engine, command)
