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


def _pdu_part(fleet: Fleet, name: str, pdu: int) -> slice:
    """The part of array ``name`` (see ``Run.arrays``) that belongs to fleet index ``pdu``."""
    if name == "m_state":
        size = fleet.settings.pdu_mains
    elif name.startswith("b_"):
        size = fleet.settings.pdu_branches
    else:
        size = fleet._outlets_per_pdu
    return slice(pdu * size, (pdu + 1) * size)


def _assert_same_but_untouched_noise(
    what: str,
    fleet: Fleet,
    per_pdu: dict[str, np.ndarray],
    whole: dict[str, np.ndarray],
    before: dict[str, np.ndarray],
    touched: set[int],
    *,
    after_tick: bool,
) -> None:
    """Every array alike bit for bit, but for the one difference the per-PDU refresh makes:
    until the next tick, a noisy sensor on a PDU no command touched keeps its tick's noise,
    where a whole-fleet refresh puts its true value back."""
    for name, a in per_pdu.items():
        b = whole[name]
        if _same(a, b):
            continue
        assert not after_tick and name in NOISY, f"{what}: {name} differs"
        for k in (int(k) for k in _differing(a, b)):
            assert k in fleet.sensors.noisy_idx, f"{what}: {name}[{k}] differs"
            assert int(fleet.o_pdu[k]) not in touched, f"{what}: {name}[{k}] not refreshed"
            assert _same(a[k : k + 1], before[name][k : k + 1]), f"{what}: {name}[{k}] moved"


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
            "outlet_power_on_delay_s": 0.0,  # most On commands energise at once
        }
    )
    per_pdu = _run(small, "per-pdu", whole_fleet=False, monkeypatch=monkeypatch)
    whole = _run(small, "whole", whole_fleet=True, monkeypatch=monkeypatch)
    fleet = per_pdu.fleet
    stream = Commands(per_pdu.engine, seed)
    done: set[type] = set()
    injected: set[str] = set()
    command_events: list[str] = []
    cross_pdu_energised = 0

    for n in range(ACTIONS):
        step = stream.next()
        what = f"action {n} {step}"
        before = per_pdu.arrays()
        seen_a, seen_b, scopes = len(per_pdu.events), len(whole.events), len(per_pdu.scopes)
        outcome = _apply(per_pdu, step)
        assert _apply(whole, step) == outcome, what
        new_events = per_pdu.events[seen_a:]
        assert new_events == whole.events[seen_b:], f"{what}: events differ"
        assert fleet._pending_count == np.count_nonzero(~np.isnan(fleet.pending_on_at)), what

        touched: set[int] = set()
        is_command = not isinstance(step, tuple) and not outcome.startswith("refused")
        if is_command:
            done.add(type(step))
            if isinstance(step, sim.InjectFault):
                injected.add(step.kind)
            command_events += [e.kind for e in new_events]
            # the engine names the command's PDU; the fleet adds those whose outlets energised
            (scope,) = per_pdu.scopes[scopes:]
            assert scope is not None and len(scope) == 1, f"{what}: refresh of {scope}"
            energised = {
                fleet.pdu_info(e.pdu_id).index for e in new_events if e.kind == "OutletPoweredOn"
            }
            cross_pdu_energised += bool(energised - set(scope))
            touched = set(scope) | energised

        after = per_pdu.arrays()
        after_tick = isinstance(step, tuple) and step[0] == "tick"
        _assert_same_but_untouched_noise(
            what, fleet, after, whole.arrays(), before, touched, after_tick=after_tick
        )
        if is_command:  # and what it did not touch is as it was, whole
            for p in set(range(len(fleet.pdus))) - touched:
                for name, a in after.items():
                    part = _pdu_part(fleet, name, p)
                    assert _same(a[part], before[name][part]), f"{what}: {name} of PDU {p}"

    # the run exercised what it claims to compare
    assert done == set(sim.Command.__args__), set(sim.Command.__args__) - done  # type: ignore[attr-defined]
    assert injected == set(sim.FAULT_KINDS)
    assert "ThresholdCrossed" in command_events
    assert "BreakerTripped" in [e.kind for e in per_pdu.events]
    assert cross_pdu_energised > 0


def test_outlets_of_another_pdu_due_between_ticks_are_refreshed_in_fleet_order(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command on PDU 3 also closes PDU 1's relays whose delay ran out since the tick: both
    PDUs' branches cross their thresholds, PDU 1's first, as a whole-fleet refresh has it."""
    small = settings.model_copy(
        update={"pdu_count": 3, "pdu_branches": 2, "pdu_outlets_per_branch": 4}
    )
    runs = [_run(small, name, whole_fleet=name == "whole", monkeypatch=monkeypatch)
            for name in ("per-pdu", "whole")]  # fmt: skip
    script: list[sim.Command | tuple[str, float]] = [
        *(
            sim.SetDevice(p, f"A{k}", "server", rated_power_w=2300)
            for p in "13"
            for k in range(1, 5)
        ),
        sim.CircuitPower("1", "A", "Off"),
        sim.CircuitPower("3", "A", "Off"),
        ("tick", 1.0),
        *(sim.SetPowerOnDelay("1", f"A{k}", 2.0) for k in range(1, 5)),
        *(sim.SetPowerOnDelay("3", f"A{k}", 0.0) for k in range(1, 5)),
        sim.CircuitPower("1", "A", "On"),  # PDU 1's relays wait 2 s
        ("advance", 3.0),
    ]
    for step in script:
        assert _apply(runs[0], step) == _apply(runs[1], step)
    seen = [len(run.events) for run in runs]
    for run in runs:
        run.engine.execute(sim.CircuitPower("3", "A", "On"))
    per_pdu, whole = (run.events[n:] for run, n in zip(runs, seen, strict=True))
    assert per_pdu == whole
    crossed = [(e.pdu_id, e.resource_id) for e in per_pdu if e.kind == "ThresholdCrossed"]
    assert crossed == [("1", "A"), ("3", "A")]
    assert runs[0].scopes[-1] == [2]  # the engine named PDU 3; the fleet added PDU 1
    a, b = runs[0].arrays(), runs[1].arrays()
    assert all(_same(a[name], b[name]) for name in a)
