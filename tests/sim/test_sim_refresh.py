"""A command recomputes only the PDUs it touched, and they come out as a whole-fleet refresh
gives them: same arrays bit for bit, same events in the same order.

Two engines from the same settings and seed take the same random run of every command kind,
faults, ticks and clock moves between ticks; one refreshes per PDU as ``Engine.execute``
does, the other is made to refresh the whole fleet after every command.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from energydash.config import Settings
from energydash.sim import commands as sim
from energydash.sim.engine import Engine
from energydash.sim.events import SimEvent
from energydash.sim.pdu import Fleet, FleetArrays
from energydash.sim.profiles import PROFILES

REPORTED = tuple(vars(FleetArrays(0)))  # every array of fleet.arrays
TRUE_VALUES = ("p", "i", "v", "pf", "va", "var", "relay_on", "pending_on_at")
STATE = ("lifetime_kwh", "baseline_kwh", "reset_time", "power_enabled", "device_online")
BRANCHES = ("b_p", "b_i", "b_va", "b_var", "b_health", "b_load_level", "b_state", "b_heat")
# what a noisy sensor's tick changes, and a refresh of its PDU puts back to the true value
NOISY = ("outlet_power_w", "outlet_current_a", "outlet_apparent_va", "outlet_reactive_var")
ACTIONS = 1000


@dataclass
class Run:
    """One engine and what it emitted and was asked to refresh."""

    engine: Engine
    events: list[SimEvent] = field(default_factory=list)
    scopes: list[list[int] | None] = field(default_factory=list)

    @property
    def fleet(self) -> Fleet:
        return self.engine.fleet

    def arrays(self) -> dict[str, np.ndarray]:
        f = self.fleet
        out = {name: getattr(f.arrays, name).copy() for name in REPORTED}
        out.update({name: getattr(f, name).copy() for name in TRUE_VALUES + STATE + BRANCHES})
        out["m_state"] = f.m_state.copy()
        return out


def _run(settings: Settings, name: str, *, whole_fleet: bool, monkeypatch: Any) -> Run:
    own = settings.model_copy(update={"data_dir": settings.data_dir / name})
    run = Run(Engine.from_settings(own, restore=False))
    run.engine.on_event(run.events.append)
    refresh = run.fleet.refresh

    def recorded(now: Any = None, emit: Any = None, pdus: Any = None) -> None:
        run.scopes.append(None if pdus is None else list(pdus))
        refresh(now, emit, None if whole_fleet else pdus)

    monkeypatch.setattr(run.fleet, "refresh", recorded)
    return run


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit for bit, so NaN matches NaN and a changed rounding shows."""
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _differing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The indices whose values differ in any bit."""
    bits_a = a.view(np.uint8).reshape(a.size, -1)
    return np.flatnonzero((bits_a != b.view(np.uint8).reshape(b.size, -1)).any(axis=1))


class Commands:
    """A seeded stream of every command kind over the fleet, with faults among them."""

    def __init__(self, engine: Engine, seed: int) -> None:
        self.r = random.Random(seed)
        self.engine = engine
        self.pdus = engine.fleet.pdus

    def _pdu(self) -> Any:
        return self.r.choice(self.pdus)

    def _outlet(self) -> tuple[str, str]:
        pdu = self._pdu()
        return pdu.id, self.r.choice(pdu.outlets).id

    def _branch(self) -> tuple[str, str]:
        pdu = self._pdu()
        return pdu.id, self.r.choice(pdu.branches).id

    def next(self) -> sim.Command | tuple[str, float]:
        r = self.r
        kind = r.choices(
            [
                "outlet", "group", "circuit", "breaker", "reset", "create", "delete", "device",
                "remove", "enabled", "online", "delay", "policy", "rename", "rename_pdu", "peak",
                "inject", "clear", "tick", "advance",
            ],
            weights=[20, 5, 5, 8, 3, 2, 2, 9, 3, 3, 3, 4, 3, 1, 1, 2, 9, 6, 10, 4],
        )[0]  # fmt: skip
        action = r.choice(sim.POWER_ACTIONS)
        if kind == "outlet":
            return sim.OutletPower(*self._outlet(), action)
        if kind == "group":
            pdu = self._pdu()
            group = r.choice(pdu.groups).id if pdu.groups else "1"
            return sim.GroupPower(pdu.id, group, action)
        if kind == "circuit":
            return sim.CircuitPower(*self._branch(), action)
        if kind == "breaker":
            pdu = self._pdu()
            circuits = [b.id for b in pdu.branches] + [m.id for m in pdu.mains]
            return sim.BreakerControl(pdu.id, r.choice(circuits), r.choice(sim.BREAKER_ACTIONS))
        if kind == "reset":
            pdu = self._pdu()
            which = r.choice(sim.METRICS_KINDS)
            target = {
                "outlet": r.choice(pdu.outlets).id,
                "branch": r.choice(pdu.branches).id,
                "main": r.choice(pdu.mains).id,
                "group": r.choice(pdu.groups).id if pdu.groups else None,
                "pdu": None,
            }[which]
            return sim.ResetMetrics(pdu.id, which, target)
        if kind == "create":
            pdu = self._pdu()
            members = r.sample([o.id for o in pdu.outlets], r.randint(1, 6))
            return sim.CreateGroup(pdu.id, "random group", members)
        if kind == "delete":
            pdu = self._pdu()
            return sim.DeleteGroup(pdu.id, r.choice(pdu.groups).id if pdu.groups else "1")
        if kind == "device":  # up to the outlet rating: branches overload and trip
            profile = r.choice([p for p in PROFILES if p != "empty"])
            return sim.SetDevice(*self._outlet(), profile, rated_power_w=r.uniform(50, 2300))
        if kind == "remove":
            return sim.RemoveDevice(*self._outlet())
        if kind == "enabled":
            return sim.SetOutletEnabled(*self._outlet(), r.random() < 0.7)
        if kind == "online":
            return sim.SetDeviceOnline(*self._outlet(), r.random() < 0.6)
        if kind == "delay":
            return sim.SetPowerOnDelay(*self._outlet(), r.choice([0.0, 0.0, 1.0, 3.0, 8.0]))
        if kind == "policy":
            return sim.SetRestorePolicy(
                *self._outlet(), r.choice(["AlwaysOn", "AlwaysOff", "LastState"])
            )
        if kind == "rename":
            return sim.RenameOutlet(*self._outlet(), f"outlet {r.randint(1, 99)}")
        if kind == "rename_pdu":
            return sim.RenamePdu(self._pdu().id, f"rack {r.randint(1, 99)}")
        if kind == "peak":
            pdu = self._pdu()
            return sim.ResetPeak(pdu.id, "outlet", r.choice(pdu.outlets).id)
        if kind == "inject":
            return self._fault()
        if kind == "clear":
            active = list(self.engine.faults)
            return sim.ClearFault(r.choice(active) if active else "F0")
        if kind == "tick":
            return ("tick", r.choice([0.5, 1.0, 5.0, 30.0, 120.0]))
        return ("advance", r.uniform(0.5, 6.0))  # time moves between ticks: delays come due

    def _fault(self) -> sim.InjectFault:
        r = self.r
        kind = r.choice(sim.FAULT_KINDS)
        if kind == "branch_overload":
            pdu, branch = self._branch()
            return sim.InjectFault(kind, pdu, branch, {"multiple": r.uniform(0.5, 3.0)})
        if kind.startswith("sensor") or kind == "relay_failure":
            pdu, outlet = self._outlet()
            params = {"sigma": r.uniform(0.05, 0.3)} if kind == "sensor_noisy" else None
            return sim.InjectFault(kind, pdu, outlet, params)
        return sim.InjectFault(kind, self._pdu().id)


def _apply(run: Run, step: sim.Command | tuple[str, float]) -> str:
    engine = run.engine
    if isinstance(step, tuple):
        what, seconds = step
        if what == "tick":
            engine.step(seconds)
        else:
            engine.clock.advance(seconds)
        return what
    try:
        return engine.execute(step).message
    except sim.CommandError as error:
        return f"refused: {error.message}"


@pytest.mark.parametrize(
    ("seed", "pdu_input"),
    [(1, "three_phase_wye"), (2, "three_phase_delta"), (3, "single_phase")],
)
def test_a_command_refreshes_its_pdu_as_the_whole_fleet_refresh_would(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, seed: int, pdu_input: str
) -> None:
    small = settings.model_copy(
        update={
            "seed": seed,
            "pdu_input": pdu_input,
            "pdu_count": 5,
            "pdu_mains": 2,
            "pdu_branches": 6,
            "pdu_outlets_per_branch": 4,
            "pdu_group_size": 6,
            "power_cycle_delay_s": 3.0,
            "outlet_power_on_delay_s": 0.0,
        }
    )
    per_pdu = _run(small, "per-pdu", whole_fleet=False, monkeypatch=monkeypatch)
    whole = _run(small, "whole", whole_fleet=True, monkeypatch=monkeypatch)
    stream = Commands(per_pdu.engine, seed)
    done: set[type] = set()
    injected: set[str] = set()
    command_events: list[str] = []
    cross_pdu_energised = 0

    for n in range(ACTIONS):
        step = stream.next()
        before = per_pdu.arrays()
        seen_a, seen_b, scopes = len(per_pdu.events), len(whole.events), len(per_pdu.scopes)
        outcome = _apply(per_pdu, step)
        assert _apply(whole, step) == outcome, f"action {n} {step}"
        new_events = per_pdu.events[seen_a:]
        assert new_events == whole.events[seen_b:], f"action {n} {step}: events differ"
        after_a, after_b = per_pdu.arrays(), whole.arrays()
        f = per_pdu.fleet
        assert f._pending_count == np.count_nonzero(~np.isnan(f.pending_on_at))

        is_command = not isinstance(step, tuple) and not outcome.startswith("refused")
        touched: set[int] = set()
        if is_command:
            done.add(type(step))
            if isinstance(step, sim.InjectFault):
                injected.add(step.kind)
            command_events += [e.kind for e in new_events]
            # the PDU the engine named to the refresh, and any whose outlets energised
            (scope,) = per_pdu.scopes[scopes:]
            assert scope is not None and len(scope) == 1, f"action {n} {step}: scope {scope}"
            touched = set(scope)
            energised = {
                f.pdu_info(e.pdu_id).index for e in new_events if e.kind == "OutletPoweredOn"
            }
            cross_pdu_energised += bool(energised - touched)
            touched |= energised

        for name, a in after_a.items():
            b = after_b[name]
            if _same(a, b):
                continue
            # the one allowed difference, until the next tick: a noisy sensor on a PDU a
            # command did not touch keeps its last tick's noise (whole-fleet refresh strips it)
            is_tick = step == ("tick", step[1]) if isinstance(step, tuple) else False
            assert not is_tick and name in NOISY, f"action {n} {step}: {name} differs"
            for k in _differing(a, b):
                k = int(k)
                assert k in f.sensors.noisy_idx, f"action {n} {step}: {name}[{k}] differs"
                assert int(f.o_pdu[k]) not in touched, f"action {n}: {name}[{k}] not refreshed"
                assert _same(a[k : k + 1], before[name][k : k + 1]), f"action {n}: {name}[{k}]"

        if is_command:  # the PDUs the command did not touch are as they were, whole
            per = f._outlets_per_pdu
            nb = small.pdu_branches
            for p in set(range(len(f.pdus))) - touched:
                for name, a in after_a.items():
                    s = (
                        slice(p * nb, (p + 1) * nb)
                        if name.startswith("b_")
                        else slice(p * per, (p + 1) * per)
                    )
                    if name == "m_state":
                        continue  # only a breaker command changes it, on its own PDU
                    assert _same(a[s], before[name][s]), f"action {n} {step}: {name} of PDU {p}"

    # the run exercised what it claims to compare
    assert done == set(sim.Command.__args__), set(sim.Command.__args__) - done  # type: ignore[attr-defined]
    assert injected == set(sim.FAULT_KINDS)
    assert "ThresholdCrossed" in command_events
    assert "BreakerTripped" in [e.kind for e in per_pdu.events]
    assert cross_pdu_energised > 0
