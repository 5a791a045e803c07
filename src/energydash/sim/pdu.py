"""The SmartPDU fleet's electrical model, vectorised with numpy across every outlet of every PDU.

Per tick: phase voltages drift slowly (AR(1), σ ≈ 0.8 %, τ = 10 min) plus 0.2 % noise; grid
frequency wanders near nominal; each outlet's real power comes from its device's load profile;
then ``I = P / (V x PF)`` so ``W = V x I x PF`` holds exactly, ``VA = V x I`` and
``VAR = sqrt(VA² - W²)`` (inductive, positive). Energy integrates real power over the actual tick
duration into a lifetime counter that never decreases; the resettable ``energy_kwh`` is the
lifetime counter minus a baseline taken at the last reset.

Aggregation is exact: a branch sums its outlets, a main sums its branches per phase, the PDU
sums its mains. For a delta input the branches sit on the legs L1L2, L2L3, L3L1; the legs'
currents are summed as for wye, and the *line* currents are derived as phasor differences
(``I_L1 = I_L1L2 - I_L3L1`` with legs 120° apart, treating each leg's current as in phase with
its voltage) and reported separately as ``line_current_a``.

Sensor faults change what an outlet *reports* (``fleet.arrays``, readings), never the true
power that feeds branch sums, energy and breakers: a real PDU's branch meter is separate
hardware from an outlet's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from energydash.config import Settings
from energydash.sim import breakers
from energydash.sim.environment import Environment
from energydash.sim.events import SimEvent
from energydash.sim.peaks import PowerPeaks
from energydash.sim.profiles import (
    POWER_FACTOR_BY_CODE,
    PROFILE_CODE,
    PROFILES,
    SPECS,
    ProfileState,
    demand_fraction,
)
from energydash.sim.readings import (
    CircuitReading,
    DeviceInfo,
    GroupReading,
    OutletReading,
    PduReading,
    PhaseReading,
)
from energydash.sim.topology import (
    CircuitInfo,
    GroupInfo,
    OutletInfo,
    PduInfo,
    build_pdus,
)

# What a meter out of reach reports: no number at all (Redfish renders these as null).
_NO_READINGS: dict[str, None] = dict.fromkeys(
    (
        "power_w",
        "apparent_va",
        "reactive_var",
        "energy_kwh",
        "lifetime_energy_kwh",
        "current_a",
        "voltage_v",
        "frequency_hz",
        "power_factor",
    )
)

__all__ = [
    "CircuitInfo",
    "CircuitReading",
    "DeviceInfo",
    "Fleet",
    "FleetArrays",
    "GroupInfo",
    "GroupReading",
    "OutletInfo",
    "OutletReading",
    "PduInfo",
    "PduReading",
    "PhaseReading",
]

HEALTH_NAMES = ("OK", "Warning", "Critical")
# Redfish PowerRestorePolicy: what an outlet does when its PDU's input power comes back
RESTORE_POLICIES = ("AlwaysOn", "AlwaysOff", "LastState")
VOLTAGE_DRIFT_SIGMA = 0.008
VOLTAGE_DRIFT_TAU_S = 600.0
VOLTAGE_NOISE_SIGMA = 0.002
FREQUENCY_SIGMA_HZ = 0.02
FREQUENCY_TAU_S = 60.0
WARNING_LOAD_FRACTION = 0.8
BRANCH_DESIGN_FRACTION = 0.8
IT_MIX = {"server": 0.55, "storage": 0.12, "network_switch": 0.10, "empty": 0.23}
FACILITY_MIX = {
    "hvac": 0.20,
    "led_lighting": 0.20,
    "kitchen_appliance": 0.15,
    "production_line": 0.25,
    "empty": 0.20,
}
FACILITY_PDU_EVERY = 4
J_PER_KWH = 3.6e6

Emit = Callable[[SimEvent], None]


class FleetArrays:
    """What every outlet reports, one numpy array per quantity across the whole fleet.

    Updated in place each tick (hold the object, not a copy of an array, to see new values).
    A sensor in dropout, or a PDU without communication, reports NaN.
    """

    def __init__(self, n: int) -> None:
        self.outlet_power_w = np.zeros(n)
        self.outlet_current_a = np.zeros(n)
        self.outlet_voltage_v = np.zeros(n)
        self.outlet_power_factor = np.zeros(n)
        self.outlet_apparent_va = np.zeros(n)
        self.outlet_reactive_var = np.zeros(n)
        self.outlet_energy_kwh = np.zeros(n)
        self.outlet_lifetime_energy_kwh = np.zeros(n)
        self.outlet_on = np.zeros(n, dtype=bool)
        self.outlet_health = np.zeros(n, dtype=np.int8)


@dataclass(frozen=True, slots=True, eq=False)
class Span:
    """A run of whole PDUs: their outlets, and their branches, are contiguous in every array."""

    pdus: slice
    outlets: slice
    branches: slice
    bins: np.ndarray  # each outlet's branch counted from the span's first branch (bincount bins)


@dataclass(slots=True)
class SensorOverrides:
    """Outlet sensor faults as index arrays, rebuilt when faults change."""

    stuck_idx: np.ndarray
    stuck_values: np.ndarray  # (k, 8): p, i, v, pf, va, var, energy, lifetime
    noisy_idx: np.ndarray
    noisy_sigma: np.ndarray
    dropout_idx: np.ndarray
    # within() answers, by outlet range: faults change by replacing the whole object
    _parts: dict[tuple[int, int], SensorOverrides] = field(default_factory=dict, repr=False)

    @classmethod
    def empty(cls) -> SensorOverrides:
        none = np.zeros(0, dtype=np.intp)
        return cls(none, np.zeros((0, 8)), none, np.zeros(0), none)

    @property
    def any(self) -> bool:
        return bool(self.stuck_idx.size or self.noisy_idx.size or self.dropout_idx.size)

    def within(self, outlets: slice) -> SensorOverrides:
        """The overrides of these outlets only. Each override sets its own outlet's values,
        so applying these or the fleet's gives these outlets the same readings."""
        if not self.any:
            return self
        key = (outlets.start, outlets.stop)
        part = self._parts.get(key)
        if part is None:

            def inside(idx: np.ndarray) -> np.ndarray | slice:
                if not idx.size:
                    return slice(0)
                return (idx >= outlets.start) & (idx < outlets.stop)

            stuck, noisy = inside(self.stuck_idx), inside(self.noisy_idx)
            part = self._parts[key] = SensorOverrides(
                self.stuck_idx[stuck],
                self.stuck_values[stuck],
                self.noisy_idx[noisy],
                self.noisy_sigma[noisy],
                self.dropout_idx[inside(self.dropout_idx)],
            )
        return part


def _posix_to_datetime(value: float) -> datetime | None:
    return None if math.isnan(value) else datetime.fromtimestamp(value, UTC)


def _num(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


class Fleet:
    """N rack PDUs: topology (``pdus``), live state arrays and readings."""

    def __init__(self, settings: Settings, rng: np.random.Generator) -> None:
        self.settings = settings
        serials = [
            f"ZA{int(x):010d}"
            for x in rng.integers(2_000_000_000, 2_999_999_999, size=settings.pdu_count)
        ]
        self.pdus: list[PduInfo] = build_pdus(settings, serials)
        self._pdu_by_id = {p.id: p for p in self.pdus}
        self._outlet_by = {(p.id, o.id): o for p in self.pdus for o in p.outlets}
        self._branch_by = {(p.id, b.id): b for p in self.pdus for b in p.branches}
        self._main_by = {(p.id, m.id): m for p in self.pdus for m in p.mains}
        self._phase_labels = self.pdus[0].phases if self.pdus else ["L1"]
        nph = len(self._phase_labels)
        self.phases_per_pdu = nph

        outlets = [o for p in self.pdus for o in p.outlets]
        branches = [b for p in self.pdus for b in p.branches]
        mains = [m for p in self.pdus for m in p.mains]
        self.n_outlets, self.n_branches, self.n_mains = len(outlets), len(branches), len(mains)
        n = self.n_outlets
        per_pdu = settings.pdu_branches * settings.pdu_outlets_per_branch
        self._outlets_per_pdu = per_pdu

        # static topology arrays
        self.o_pdu = np.repeat(np.arange(len(self.pdus)), per_pdu)
        self.o_branch = np.repeat(np.arange(self.n_branches), settings.pdu_outlets_per_branch)
        self.b_pdu = np.repeat(np.arange(len(self.pdus)), settings.pdu_branches)
        b_local_phase = np.array(
            [self._phase_labels.index(b.phases[0]) for b in branches], dtype=np.intp
        )
        self.b_phase = self.b_pdu * nph + b_local_phase
        self.o_phase = self.b_phase[self.o_branch]
        self.b_rating_a = np.array([b.rating_a for b in branches], dtype=float)
        self.b_main = np.empty(self.n_branches, dtype=np.intp)
        for p in self.pdus:
            for m in p.mains:
                for b in p.branches:
                    if b.outlet_ids and b.outlet_ids[0] in m.outlet_ids:
                        self.b_main[b.index] = m.index
        self.o_rating_a = np.array([o.rating_a for o in outlets], dtype=float)
        self.o_delay_s = np.array([o.power_on_delay_s for o in outlets], dtype=float)
        self._branch_slices = [
            slice(b * settings.pdu_outlets_per_branch, (b + 1) * settings.pdu_outlets_per_branch)
            for b in range(self.n_branches)
        ]
        self._whole = Span(
            slice(0, len(self.pdus)), slice(0, n), slice(0, self.n_branches), self.o_branch
        )
        # every PDU has the same layout, so one array of bins serves each PDU's span
        pdu_bins = self.o_branch[:per_pdu]
        self._pdu_spans = [
            Span(
                slice(k, k + 1),
                slice(k * per_pdu, (k + 1) * per_pdu),
                slice(k * settings.pdu_branches, (k + 1) * settings.pdu_branches),
                pdu_bins,
            )
            for k in range(len(self.pdus))
        ]

        # devices
        self.profile_code = np.zeros(n, dtype=np.int8)
        self.rated_power_w = np.zeros(n)
        self.device_online = np.ones(n, dtype=bool)
        self.device_pf = np.ones(n)
        self.device_names: list[str] = [""] * n
        self._assign_devices(rng)

        # controllable state
        self.relay_on = np.ones(n, dtype=bool)  # real PDUs ship with every outlet on
        self.pending_on_at = np.full(n, np.nan)
        self._pending_count = 0
        # PDUs whose relays energise_due closed since their power was last computed
        self._energised_pdus: set[int] = set()
        self.power_enabled = np.ones(n, dtype=bool)
        self.restore_policy = np.full(
            n, RESTORE_POLICIES.index(settings.pdu_power_restore_policy), dtype=np.int8
        )
        self.lifetime_kwh = np.zeros(n)
        self.baseline_kwh = np.zeros(n)
        self.reset_time = np.full(n, np.nan)
        self.b_state = np.zeros(self.n_branches, dtype=np.int8)
        self.b_heat = np.zeros(self.n_branches)
        self.m_state = np.zeros(self.n_mains, dtype=np.int8)
        self.circuit_baselines: dict[tuple[str, ...], float] = {}
        self.circuit_reset_times: dict[tuple[str, ...], float] = {}

        # faults (rebuilt by energydash.sim.faults)
        self.relay_failed = np.zeros(n, dtype=bool)
        self.comm_lost = np.zeros(len(self.pdus), dtype=bool)
        self.power_lost = np.zeros(len(self.pdus), dtype=bool)  # no input: dark and blind
        self.b_overload = np.zeros(self.n_branches)
        self.o_fault_health = np.zeros(n, dtype=np.int8)
        self.b_fault_health = np.zeros(self.n_branches, dtype=np.int8)
        self.sensors = SensorOverrides.empty()
        self.fault_reasons: dict[tuple[str, str, str], list[str]] = {}

        # electrical state (true values)
        n_phase = len(self.pdus) * nph
        self.v_drift = rng.standard_normal(n_phase) * VOLTAGE_DRIFT_SIGMA
        self.v_phase = np.full(n_phase, settings.pdu_nominal_voltage_v)
        self.freq_dev = 0.0
        self.frequency_hz = float(settings.pdu_frequency_hz)
        self.profile_state = ProfileState(n, rng)
        self._frac = np.zeros(n)
        self.p = np.zeros(n)
        self.i = np.zeros(n)
        self.v = np.full(n, settings.pdu_nominal_voltage_v)
        self.pf = np.zeros(n)
        self.va = np.zeros(n)
        self.var = np.zeros(n)
        self.b_p = np.zeros(self.n_branches)
        self.b_i = np.zeros(self.n_branches)
        self.b_va = np.zeros(self.n_branches)
        self.b_var = np.zeros(self.n_branches)
        self.b_load_level = np.zeros(self.n_branches, dtype=np.int8)
        self.b_health = np.zeros(self.n_branches, dtype=np.int8)
        self.arrays = FleetArrays(n)
        self._codes_index: dict[int, np.ndarray] = {}
        self.reindex_profiles()
        self.peaks = PowerPeaks(self)
        self.environment = Environment(len(self.pdus), settings.seed)
        self.capacity_va = np.array(
            [sum(m.rating_a * len(m.phases) for m in p.mains) * p.nominal_voltage_v
             for p in self.pdus]
        )  # fmt: skip
        self.last_tick_s = math.nan  # sim time of the readings (Redfish ReadingTime)

    # ------------------------------------------------------------------ lookups
    def pdu_info(self, pdu_id: str) -> PduInfo:
        try:
            return self._pdu_by_id[str(pdu_id)]
        except KeyError:
            raise KeyError(f"no PDU {pdu_id!r}") from None

    def has_pdu(self, pdu_id: str) -> bool:
        return str(pdu_id) in self._pdu_by_id

    def outlet_info(self, pdu_id: str, outlet_id: str) -> OutletInfo:
        try:
            return self._outlet_by[(str(pdu_id), str(outlet_id))]
        except KeyError:
            raise KeyError(f"no outlet {outlet_id!r} on PDU {pdu_id!r}") from None

    def circuit_info(self, pdu_id: str, circuit_id: str) -> CircuitInfo:
        key = (str(pdu_id), str(circuit_id))
        found = self._branch_by.get(key) or self._main_by.get(key)
        if found is None:
            raise KeyError(f"no circuit {circuit_id!r} on PDU {pdu_id!r}")
        return found

    def group_info(self, pdu_id: str, group_id: str) -> GroupInfo:
        for group in self.pdu_info(pdu_id).groups:
            if group.id == str(group_id):
                return group
        raise KeyError(f"no outlet group {group_id!r} on PDU {pdu_id!r}")

    def outlet_slice(self, pdu_id: str) -> slice:
        """This PDU's outlets in every ``fleet.arrays`` array."""
        p = self.pdu_info(pdu_id).index
        return slice(p * self._outlets_per_pdu, (p + 1) * self._outlets_per_pdu)

    def branch_slice(self, branch_index: int) -> slice:
        return self._branch_slices[branch_index]

    # ------------------------------------------------------------------ devices
    def _assign_devices(self, rng: np.random.Generator) -> None:
        """Spread devices over profiles: IT racks (servers most), every 4th PDU facility loads."""
        per_pdu = self._outlets_per_pdu
        for p in self.pdus:
            mix = (
                FACILITY_MIX if (p.index % FACILITY_PDU_EVERY) == FACILITY_PDU_EVERY - 1 else IT_MIX
            )
            codes = np.array([PROFILE_CODE[name] for name in mix], dtype=np.int8)
            chosen = rng.choice(len(codes), size=per_pdu, p=np.array(list(mix.values())))
            start = p.index * per_pdu
            self.profile_code[start : start + per_pdu] = codes[chosen]
        lo = np.array([SPECS[name].rated_power_w[0] for name in PROFILES])[self.profile_code]
        hi = np.array([SPECS[name].rated_power_w[1] for name in PROFILES])[self.profile_code]
        rated = np.round((lo + (hi - lo) * rng.random(self.n_outlets)) / 5.0) * 5.0
        pf = POWER_FACTOR_BY_CODE[self.profile_code] + rng.uniform(-0.01, 0.01, self.n_outlets)
        pf = np.clip(pf, 0.5, 1.0)
        # A branch is designed to carry at most 80 % of its breaker at full device load.
        design_va = np.bincount(self.o_branch, weights=rated / pf, minlength=self.n_branches)
        cap_va = BRANCH_DESIGN_FRACTION * self.settings.pdu_nominal_voltage_v * self.b_rating_a
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(design_va > cap_va, cap_va / design_va, 1.0)
        rated = np.floor(rated * scale[self.o_branch])
        self.rated_power_w[:] = rated
        self.device_pf[:] = pf
        outlets = [o for p in self.pdus for o in p.outlets]
        for k, code in enumerate(self.profile_code):
            if code:
                pdu = self.pdus[int(self.o_pdu[k])]
                self.device_names[k] = (
                    f"{SPECS[PROFILES[code]].device_name} {pdu.id}-{outlets[k].id}"
                )

    def reindex_profiles(self) -> None:
        """Recompute which outlets use which profile (after a device change)."""
        self._codes_index = {
            code: np.flatnonzero(self.profile_code == code) for code in range(1, len(PROFILES))
        }

    def set_device(
        self, index: int, profile: str, name: str, rated_power_w: float, pf: float | None = None
    ) -> None:
        code = PROFILE_CODE[profile]
        self.profile_code[index] = code
        self.rated_power_w[index] = rated_power_w if code else 0.0
        self.device_names[index] = name if code else ""
        self.device_pf[index] = pf if pf is not None else SPECS[profile].power_factor
        self.device_online[index] = True
        self.reindex_profiles()

    def set_power_on_delay(self, index: int, delay_s: float) -> None:
        self.o_delay_s[index] = delay_s
        pdu = self.pdus[int(self.o_pdu[index])]
        pdu.outlets[index - pdu.index * self._outlets_per_pdu].power_on_delay_s = delay_s

    def device(self, index: int) -> DeviceInfo | None:
        code = int(self.profile_code[index])
        if code == 0:
            return None
        return DeviceInfo(
            name=self.device_names[index],
            profile=PROFILES[code],
            rated_power_w=float(self.rated_power_w[index]),
            online=bool(self.device_online[index]),
        )

    # ------------------------------------------------------------------ switching
    def switch_on(self, indices: np.ndarray, at_s: np.ndarray | float) -> None:
        """Schedule outlets to get power at ``at_s`` (sim POSIX seconds)."""
        self._set_pending(indices, at_s)

    def switch_off(self, indices: np.ndarray) -> None:
        self.relay_on[indices] = False
        self._set_pending(indices, np.nan)

    def clear_pending(self) -> None:
        """No outlet waits for its power-on delay any more (a state restore)."""
        self.pending_on_at[:] = np.nan
        self._pending_count = 0

    def _set_pending(self, indices: np.ndarray, at_s: np.ndarray | float) -> None:
        # the pending count changes only where the command writes: counting the whole fleet
        # cost a 1,000-PDU backend 0.2 ms a command
        touched = indices if np.size(indices) < 2 else np.unique(indices)
        before = np.count_nonzero(~np.isnan(self.pending_on_at[touched]))
        self.pending_on_at[indices] = at_s
        after = np.count_nonzero(~np.isnan(self.pending_on_at[touched]))
        self._pending_count += int(after - before)

    def branch_is_closed(self, branch: int) -> bool:
        """``branch_closed()[branch]`` without computing every branch of the fleet."""
        return bool(self.branch_closed(slice(branch, branch + 1))[0])

    def lose_power(self, pdu_index: int) -> np.ndarray:
        """A PDU's input fails: every relay drops. Returns the relay states before (LastState)."""
        s = slice(pdu_index * self._outlets_per_pdu, (pdu_index + 1) * self._outlets_per_pdu)
        before = self.relay_on[s] | ~np.isnan(self.pending_on_at[s])
        self.switch_off(np.arange(s.start, s.stop))
        return before.copy()

    def restore_power(self, pdu_index: int, before: np.ndarray | None, t_s: float) -> None:
        """Input power is back: each outlet follows its PowerRestorePolicy, after its delay."""
        start = pdu_index * self._outlets_per_pdu
        idx = np.arange(start, start + self._outlets_per_pdu)
        policy = self.restore_policy[idx]
        last = before if before is not None else np.ones(idx.size, dtype=bool)
        wanted = (policy == 0) | ((policy == 2) & last)
        on = idx[wanted & self.power_enabled[idx]]
        if on.size:
            self.switch_on(on, t_s + self.o_delay_s[on])

    def energise_due(self, t_s: float) -> np.ndarray:
        """Close the relays whose power-on time has come; return their indices."""
        if not self._pending_count:
            return np.zeros(0, dtype=np.intp)
        with np.errstate(invalid="ignore"):
            due = np.flatnonzero(self.pending_on_at <= t_s + 1e-9)
        if due.size:
            self.relay_on[due] = True
            self.pending_on_at[due] = np.nan
            self._pending_count -= int(due.size)
            # any PDU's outlets can come due, not only those of the command that asked; a
            # command's few are listed as they are, a tick's many are first made distinct
            pdus = self.o_pdu[due]
            self._energised_pdus.update((pdus if due.size <= 64 else np.unique(pdus)).tolist())
        return due

    def branch_closed(self, branches: slice = slice(None)) -> np.ndarray:
        """Whether each branch (of ``branches``) has its own and its mains breaker closed."""
        return (self.b_state[branches] == breakers.BREAKER_NORMAL) & (
            self.m_state[self.b_main[branches]] == breakers.BREAKER_NORMAL
        )

    # ------------------------------------------------------------------ the tick
    def step(
        self,
        t_s: float,
        dt_s: float,
        local_hour: float,
        weekday: int,
        rng: np.random.Generator,
        now: datetime,
        emit: Emit,
    ) -> None:
        """Advance the electrical model by ``dt_s`` to sim time ``t_s``; no per-outlet loop."""
        if self.n_outlets == 0:
            return
        for k in self.energise_due(t_s):
            self.emit_outlet_event(emit, now, int(k), "OutletPoweredOn")

        # voltages and frequency
        a = math.exp(-dt_s / VOLTAGE_DRIFT_TAU_S)
        nph_total = self.v_drift.shape[0]
        draws = rng.standard_normal(2 * nph_total + 1)
        self.v_drift *= a
        self.v_drift += math.sqrt(1 - a * a) * VOLTAGE_DRIFT_SIGMA * draws[:nph_total]
        nominal = self.settings.pdu_nominal_voltage_v
        self.v_phase[:] = nominal * (1.0 + self.v_drift + VOLTAGE_NOISE_SIGMA * draws[nph_total:-1])
        af = math.exp(-dt_s / FREQUENCY_TAU_S)
        self.freq_dev = af * self.freq_dev + math.sqrt(1 - af * af) * FREQUENCY_SIGMA_HZ * draws[-1]
        self.frequency_hz = float(self.settings.pdu_frequency_hz + self.freq_dev)

        # real power from the load profiles
        self.profile_state.advance(dt_s, rng)
        doy = now.timetuple().tm_yday
        demand_fraction(
            self._codes_index, self.profile_state, t_s, local_hour, weekday, self._frac, doy
        )
        closed = self._compute_power()
        p = self.p

        # breakers: thermal memory and magnetic trip
        multiple = self.b_i / self.b_rating_a
        trips = breakers.advance_thermal(self.b_heat, multiple, dt_s)
        trips &= self.b_state == breakers.BREAKER_NORMAL
        tripped_now = np.flatnonzero(trips)
        if tripped_now.size:
            self.b_state[tripped_now] = breakers.BREAKER_TRIPPED
            for b in tripped_now:
                emit(self._branch_event(now, int(b), "BreakerTripped", "Critical", multiple[b]))
        # energy flowed until the trip; the outlets are dark from the end of this tick
        self.lifetime_kwh += p * (dt_s / J_PER_KWH)
        if tripped_now.size:
            closed = self._compute_power()
        self._energised_pdus.clear()  # every PDU's power is computed afresh above

        self._update_health(now, emit, self._whole, closed)
        self._publish_arrays(rng)
        self.peaks.update(self, t_s)
        self.last_tick_s = t_s
        pdu_va = np.bincount(self.b_pdu, weights=self.b_va, minlength=len(self.pdus))
        with np.errstate(divide="ignore", invalid="ignore"):
            load = np.where(self.capacity_va > 0, pdu_va / self.capacity_va, 0.0)
        self.environment.step(dt_s, load)

    def prime(self, t_s: float, local_hour: float, weekday: int) -> None:
        """Fill readings for sim time ``t_s`` without advancing anything (before the first tick)."""
        if self.n_outlets == 0:
            return
        doy = datetime.fromtimestamp(t_s, UTC).timetuple().tm_yday
        demand_fraction(
            self._codes_index, self.profile_state, t_s, local_hour, weekday, self._frac, doy
        )
        self.refresh()
        self.peaks.update(self, t_s)
        self.last_tick_s = t_s

    def refresh(
        self,
        now: datetime | None = None,
        emit: Emit | None = None,
        pdus: Sequence[int] | None = None,
    ) -> None:
        """Recompute power, health and reported arrays after a command, without advancing time.

        ``pdus`` (fleet indices) are the PDUs the command changed; only they, and any PDU
        whose outlets energised since the last tick, are recomputed, so a command costs what
        it touches rather than what the fleet holds. The other PDUs keep what the last tick
        or refresh left, which is what recomputing them would give, except that a noisy
        sensor keeps the noise of its last tick. None recomputes every PDU.
        Threshold crossings the command caused go to ``emit`` (dropped when it is None).
        """
        if self.n_outlets == 0:
            return
        now = now or datetime.now(UTC)
        emit = emit or (lambda _event: None)
        if pdus is None:
            spans = [self._whole]
        else:
            # ascending, so threshold events come in the order a whole-fleet refresh emits them
            chosen = sorted({int(k) for k in pdus} | self._energised_pdus)
            spans = [self._pdu_spans[k] for k in chosen]
        self._energised_pdus.clear()
        for span in spans:
            closed = self._compute_power(span)
            self._update_health(now, emit, span, closed)
            self._publish_arrays(None, span)

    def _compute_power(self, span: Span | None = None) -> np.ndarray:
        """Outlet P, I, PF, VA, VAR from the demand fractions and the switch and breaker states.

        Returns which of the span's branches have their breakers (own and mains) closed.
        """
        span = span or self._whole
        o = span.outlets
        closed = self.branch_closed(span.branches)
        energised = self.relay_on[o] & closed[span.bins] & self.device_online[o]
        if self.power_lost[span.pdus].any():
            energised &= ~self.power_lost[self.o_pdu[o]]
        p, i, v, pf = self.p[o], self.i[o], self.v[o], self.pf[o]
        np.multiply(self._frac[o], self.rated_power_w[o], out=p)
        p *= energised
        np.take(self.v_phase, self.o_phase[o], out=v)
        np.multiply(v, self.device_pf[o], out=i)
        np.divide(p, i, out=i)
        if self.b_overload[span.branches].any():
            self._apply_overload(span)
        np.copyto(pf, self.device_pf[o])
        pf[p <= 0.0] = 0.0
        va, var = self.va[o], self.var[o]
        np.multiply(v, i, out=va)
        np.subtract(np.square(va), np.square(p), out=var)
        np.maximum(var, 0.0, out=var)
        np.sqrt(var, out=var)
        self._aggregate_branches(span)
        return closed

    def _apply_overload(self, span: Span) -> None:
        """An overload fault pushes its branch's current to ``multiple`` x rating."""
        p, i = self.p, self.i
        bs = span.branches
        bins = span.bins
        natural = np.bincount(bins, weights=i[span.outlets], minlength=bs.stop - bs.start)
        target = self.b_overload[bs] * self.b_rating_a[bs]
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where((self.b_overload[bs] > 0) & (natural > 0), target / natural, 1.0)
        scale = np.maximum(scale, 1.0)
        for b in np.flatnonzero(scale > 1.0):
            s = self._branch_slices[bs.start + b]
            p[s] *= scale[b]
            i[s] *= scale[b]

    def _aggregate_branches(self, span: Span) -> None:
        # bincount adds each branch's outlets in index order whatever the span: the sums come
        # out bit for bit as a whole-fleet pass gives them
        o, bs = span.outlets, span.branches
        bins, nb = span.bins, bs.stop - bs.start
        self.b_p[bs] = np.bincount(bins, weights=self.p[o], minlength=nb)
        self.b_i[bs] = np.bincount(bins, weights=self.i[o], minlength=nb)
        self.b_va[bs] = np.bincount(bins, weights=self.va[o], minlength=nb)
        self.b_var[bs] = np.bincount(bins, weights=self.var[o], minlength=nb)

    def _update_health(self, now: datetime, emit: Emit, span: Span, closed: np.ndarray) -> None:
        """Branch and outlet health, and threshold events for changed branch load levels;
        ``closed`` as ``_compute_power`` returned it for the span."""
        o, bs = span.outlets, span.branches
        multiple = self.b_i[bs] / self.b_rating_a[bs]
        level = (multiple >= WARNING_LOAD_FRACTION).astype(np.int8)
        level += multiple >= 1.0  # 0 OK, 1 Warning, 2 Critical
        changed = np.flatnonzero(level != self.b_load_level[bs])
        self.b_load_level[bs] = level
        for b in changed:
            severity = HEALTH_NAMES[int(level[b])]
            b_index = bs.start + int(b)
            emit(self._branch_event(now, b_index, "ThresholdCrossed", severity, multiple[b]))
        b_health = self.b_health[bs]
        np.maximum(level, self.b_fault_health[bs], out=b_health)
        b_health[self.b_state[bs] == breakers.BREAKER_TRIPPED] = 2
        i, rating = self.i[o], self.o_rating_a[o]
        o_level = (i > WARNING_LOAD_FRACTION * rating).astype(np.int8)
        o_level += i > rating
        # an outlet behind a tripped or opened breaker (branch or mains) is dark: Warning
        health = self.arrays.outlet_health[o]
        np.maximum(o_level, self.o_fault_health[o], out=health)
        np.maximum(health, ~closed[span.bins], out=health)
        for p in self._blind(span):
            self.arrays.outlet_health[self._pdu_spans[p].outlets] = 2

    def _blind(self, span: Span) -> np.ndarray:
        """Fleet indices of the span's PDUs without communication."""
        blind = self.comm_lost[span.pdus]
        if not blind.any():
            return np.zeros(0, dtype=np.intp)
        return np.flatnonzero(blind) + span.pdus.start

    def _publish_arrays(
        self, rng: np.random.Generator | None = None, span: Span | None = None
    ) -> None:
        """Copy true values to what outlets report, then let sensor faults and blind PDUs
        change them. Noise needs ``rng`` and the whole fleet (the tick)."""
        span = span or self._whole
        o = span.outlets
        arr = self.arrays
        np.copyto(arr.outlet_power_w[o], self.p[o])
        np.copyto(arr.outlet_current_a[o], self.i[o])
        np.copyto(arr.outlet_voltage_v[o], self.v[o])
        np.copyto(arr.outlet_power_factor[o], self.pf[o])
        np.copyto(arr.outlet_apparent_va[o], self.va[o])
        np.copyto(arr.outlet_reactive_var[o], self.var[o])
        np.subtract(self.lifetime_kwh[o], self.baseline_kwh[o], out=arr.outlet_energy_kwh[o])
        np.copyto(arr.outlet_lifetime_energy_kwh[o], self.lifetime_kwh[o])
        np.copyto(arr.outlet_on[o], self.relay_on[o])
        sensors = self.sensors if span is self._whole else self.sensors.within(o)
        if sensors.any:
            if sensors.noisy_idx.size and rng is not None:
                idx = sensors.noisy_idx
                factor = 1.0 + sensors.noisy_sigma * rng.standard_normal(idx.size)
                factor = np.maximum(factor, 0.0)
                for name in (
                    "outlet_power_w",
                    "outlet_current_a",
                    "outlet_apparent_va",
                    "outlet_reactive_var",
                ):
                    getattr(arr, name)[idx] *= factor
            if sensors.stuck_idx.size:
                for col, name in enumerate(self._sensor_columns()):
                    getattr(arr, name)[sensors.stuck_idx] = sensors.stuck_values[:, col]
            if sensors.dropout_idx.size:
                for name in self._sensor_columns():
                    getattr(arr, name)[sensors.dropout_idx] = np.nan
        for p in self._blind(span):
            s = self._pdu_spans[p].outlets
            for name in self._sensor_columns():
                getattr(arr, name)[s] = np.nan

    @staticmethod
    def _sensor_columns() -> tuple[str, ...]:
        return (
            "outlet_power_w",
            "outlet_current_a",
            "outlet_voltage_v",
            "outlet_power_factor",
            "outlet_apparent_va",
            "outlet_reactive_var",
            "outlet_energy_kwh",
            "outlet_lifetime_energy_kwh",
        )

    def snapshot_outlet_sensors(self, index: int) -> np.ndarray:
        """The values a sensor that sticks now keeps reporting."""
        return np.array(
            [float(getattr(self.arrays, name)[index]) for name in self._sensor_columns()]
        )

    # ------------------------------------------------------------------ events
    def emit_outlet_event(self, emit: Emit, now: datetime, index: int, kind: str) -> None:
        pdu = self.pdus[int(self.o_pdu[index])]
        outlet = pdu.outlets[index - pdu.index * self._outlets_per_pdu]
        state = "on" if kind == "OutletPoweredOn" else "off"
        emit(
            SimEvent(
                kind=kind,  # type: ignore[arg-type]
                pdu_id=pdu.id,
                resource="outlet",
                resource_id=outlet.id,
                message=f"{outlet.name} of {pdu.name} powered {state}.",
                severity="OK",
                timestamp=now,
                args=[outlet.id],
            )
        )

    def _branch_event(
        self, now: datetime, b: int, kind: str, severity: str, multiple: float
    ) -> SimEvent:
        pdu = self.pdus[int(self.b_pdu[b])]
        branch = pdu.branches[b - pdu.index * self.settings.pdu_branches]
        current = float(self.b_i[b])
        if kind == "BreakerTripped":
            message = (
                f"{branch.name} breaker of {pdu.name} tripped at {current:.1f} A "
                f"({multiple:.2f} x its {branch.rating_a:g} A rating)."
            )
        else:
            message = (
                f"{branch.name} of {pdu.name} current {current:.1f} A is "
                f"{multiple * 100:.0f} % of its {branch.rating_a:g} A rating ({severity})."
            )
        return SimEvent(
            kind=kind,  # type: ignore[arg-type]
            pdu_id=pdu.id,
            resource="branch",
            resource_id=branch.id,
            message=message,
            severity=severity,  # type: ignore[arg-type]
            timestamp=now,
            args=[branch.id, f"{current:.2f}"],
        )

    # ------------------------------------------------------------------ readings
    def power_state(self, index: int) -> str:
        if self.relay_on[index]:
            # a closed relay behind an open or tripped breaker delivers nothing: the outlet is Off
            return "On" if self.branch_is_closed(int(self.o_branch[index])) else "Off"
        return "PoweringOn" if not math.isnan(self.pending_on_at[index]) else "Off"

    def outlet(self, pdu_id: str, outlet_id: str) -> OutletReading:
        info = self.outlet_info(pdu_id, outlet_id)
        pdu = self.pdu_info(pdu_id)
        k = info.index
        arr = self.arrays
        blind = bool(self.comm_lost[pdu.index])
        values = [None if blind else _num(getattr(arr, name)[k]) for name in self._sensor_columns()]
        return OutletReading(
            power_w=values[0],
            current_a=values[1],
            voltage_v=values[2],
            power_factor=values[3],
            apparent_va=values[4],
            reactive_var=values[5],
            energy_kwh=values[6],
            lifetime_energy_kwh=values[7],
            sensor_reset_time=_posix_to_datetime(self.reset_time[k]),
            frequency_hz=None if blind or values[2] is None else self.frequency_hz,
            power_state=self.power_state(k),
            power_enabled=bool(self.power_enabled[k]),
            health=HEALTH_NAMES[int(arr.outlet_health[k])],
            health_reasons=self.outlet_health_reasons(pdu, info),
            device=self.device(k),
        )

    def outlet_health_reasons(self, pdu: PduInfo, info: OutletInfo) -> list[str]:
        k = info.index
        reasons: list[str] = list(self.fault_reasons.get(("outlet", pdu.id, info.id), []))
        if self.comm_lost[pdu.index]:
            reasons.append(f"communication with {pdu.name} lost")
        branch = self._branch_by[(pdu.id, info.branch_id)]
        if self.b_state[branch.index] == breakers.BREAKER_TRIPPED:
            reasons.append(f"{branch.name} breaker tripped")
        elif not self.branch_is_closed(branch.index):
            reasons.append(f"{branch.name} breaker open: no power to the outlet")
        if self.i[k] > self.o_rating_a[k]:
            reasons.append(f"current {self.i[k]:.1f} A above the {info.rating_a:g} A outlet rating")
        elif self.i[k] > WARNING_LOAD_FRACTION * self.o_rating_a[k]:
            reasons.append(f"current {self.i[k]:.1f} A above 80 % of the outlet rating")
        return reasons

    def _phase_readings(
        self, pdu: PduInfo, labels: Sequence[str], branch_ids: list[int], key: tuple[str, ...]
    ) -> dict[str, PhaseReading]:
        """Per-phase readings of a circuit or a PDU: each phase sums the branches on it."""
        phases: dict[str, PhaseReading] = {}
        for label in labels:
            ph_index = pdu.index * self.phases_per_pdu + self._phase_labels.index(label)
            on_phase = [b for b in branch_ids if self.b_phase[b] == ph_index]
            phases[label] = self._phase_reading(on_phase, ph_index, (*key, label))
        return phases

    def _phase_reading(
        self, branch_indices: list[int], phase_index: int, energy_key: tuple[str, ...]
    ) -> PhaseReading:
        p = float(self.b_p[branch_indices].sum())
        i = float(self.b_i[branch_indices].sum())
        va = float(self.b_va[branch_indices].sum())
        var = float(self.b_var[branch_indices].sum())
        lifetime = float(
            sum(self.lifetime_kwh[self._branch_slices[b]].sum() for b in branch_indices)
        )
        return PhaseReading(
            voltage_v=float(self.v_phase[phase_index]),
            current_a=i,
            power_w=p,
            apparent_va=va,
            reactive_var=var,
            power_factor=p / va if va > 0 else 0.0,
            energy_kwh=lifetime - self.circuit_baselines.get(energy_key, 0.0),
            lifetime_energy_kwh=lifetime,
        )

    def _circuit_totals(
        self, phases: dict[str, PhaseReading], key: tuple[str, ...]
    ) -> dict[str, float | None]:
        p = sum(ph.power_w or 0.0 for ph in phases.values())
        va = sum(ph.apparent_va or 0.0 for ph in phases.values())
        lifetime = sum(ph.lifetime_energy_kwh or 0.0 for ph in phases.values())
        volts = [ph.voltage_v for ph in phases.values() if ph.voltage_v is not None]
        return {
            "power_w": p,
            "apparent_va": va,
            "reactive_var": sum(ph.reactive_var or 0.0 for ph in phases.values()),
            "current_a": sum(ph.current_a or 0.0 for ph in phases.values()),
            "voltage_v": sum(volts) / len(volts) if volts else None,
            "power_factor": p / va if va > 0 else 0.0,
            "lifetime_energy_kwh": lifetime,
            "energy_kwh": lifetime - self.circuit_baselines.get(key, 0.0),
        }

    def _line_currents(self, phases: dict[str, PhaseReading]) -> dict[str, float | None]:
        """Delta only: line currents as phasor differences of the leg currents."""
        if self.settings.pdu_input != "three_phase_delta":
            return {}
        angle = {"L1L2": math.radians(30), "L2L3": math.radians(-90), "L3L1": math.radians(150)}
        leg = {
            name: (phases[name].current_a or 0.0) * complex(math.cos(a), math.sin(a))
            if name in phases
            else 0j
            for name, a in angle.items()
        }
        return {
            "L1": abs(leg["L1L2"] - leg["L3L1"]),
            "L2": abs(leg["L2L3"] - leg["L1L2"]),
            "L3": abs(leg["L3L1"] - leg["L2L3"]),
        }

    def _blank_phases(self, labels: list[str]) -> dict[str, PhaseReading]:
        return {
            label: PhaseReading(None, None, None, None, None, None, None, None) for label in labels
        }

    def circuit(self, pdu_id: str, circuit_id: str) -> CircuitReading:
        pdu = self.pdu_info(pdu_id)
        info = self.circuit_info(pdu_id, circuit_id)
        key = (info.kind, pdu.id, info.id)
        if info.kind == "branch":
            b = info.index
            branch_ids = [b]
            state = int(self.b_state[b])
            health = int(self.b_health[b])
        else:
            branch_ids = [int(x) for x in np.flatnonzero(self.b_main == info.index)]
            state = int(self.m_state[info.index])
            health = int(self.b_health[branch_ids].max()) if branch_ids else 0
        reasons = self.circuit_health_reasons(pdu, info, branch_ids)
        if self.comm_lost[pdu.index]:
            return self._blind_circuit(info.phases, state, reasons)
        phases = self._phase_readings(pdu, info.phases, branch_ids, key)
        totals = self._circuit_totals(phases, key)
        if info.kind == "main":  # a mains input has its own per-phase rating
            for label, ph in phases.items():
                multiple = (ph.current_a or 0.0) / info.rating_a
                if multiple >= WARNING_LOAD_FRACTION:
                    level = 2 if multiple >= 1.0 else 1
                    health = max(health, level)
                    reasons.append(
                        f"{info.name} {label} current {ph.current_a:.1f} A is "
                        f"{multiple * 100:.0f} % of its {info.rating_a:g} A rating"
                    )
        return CircuitReading(
            phases=phases,
            frequency_hz=self.frequency_hz,
            breaker_state=breakers.BREAKER_STATE_NAMES[state],
            power_state="On" if state == breakers.BREAKER_NORMAL else "Off",
            health=HEALTH_NAMES[health],
            health_reasons=reasons,
            sensor_reset_time=_posix_to_datetime(self.circuit_reset_times.get(key, math.nan)),
            line_current_a=self._line_currents(phases),
            **totals,  # type: ignore[arg-type]
        )

    def _blind_circuit(self, labels: list[str], state: int, reasons: list[str]) -> CircuitReading:
        return CircuitReading(
            phases=self._blank_phases(labels),
            **_NO_READINGS,  # type: ignore[arg-type]
            breaker_state=breakers.BREAKER_STATE_NAMES[state],
            power_state="On" if state == breakers.BREAKER_NORMAL else "Off",
            health="Critical",
            health_reasons=reasons,
            sensor_reset_time=None,
        )

    def circuit_health_reasons(
        self, pdu: PduInfo, info: CircuitInfo, branch_ids: list[int]
    ) -> list[str]:
        reasons: list[str] = list(self.fault_reasons.get((info.kind, pdu.id, info.id), []))
        if self.comm_lost[pdu.index]:
            reasons.append(f"communication with {pdu.name} lost")
        for b in branch_ids:
            branch = pdu.branches[b - pdu.index * self.settings.pdu_branches]
            reasons.extend(
                self.fault_reasons.get(("branch", pdu.id, branch.id), [])
                if info.kind == "main"
                else []
            )
            if self.b_state[b] == breakers.BREAKER_TRIPPED:
                reasons.append(f"{branch.name} breaker tripped")
            multiple = self.b_i[b] / self.b_rating_a[b]
            if multiple >= 1.0:
                reasons.append(
                    f"{branch.name} current {self.b_i[b]:.1f} A above its "
                    f"{branch.rating_a:g} A rating"
                )
            elif multiple >= WARNING_LOAD_FRACTION:
                reasons.append(
                    f"{branch.name} current {self.b_i[b]:.1f} A above 80 % of its rating"
                )
        return reasons

    def pdu(self, pdu_id: str) -> PduReading:
        pdu = self.pdu_info(pdu_id)
        key = ("pdu", pdu.id, "")
        branch_ids = list(
            range(
                pdu.index * self.settings.pdu_branches, (pdu.index + 1) * self.settings.pdu_branches
            )
        )
        reasons: list[str] = list(self.fault_reasons.get(("pdu", pdu.id, ""), []))
        for main in pdu.mains:
            reasons.extend(
                self.circuit_health_reasons(
                    pdu, main, [b for b in branch_ids if self.b_main[b] == main.index]
                )
            )
        reasons = list(dict.fromkeys(reasons))
        s = self.outlet_slice(pdu.id)
        worst_outlet = int(self.arrays.outlet_health[s].max()) if s.stop > s.start else 0
        health = max(int(self.b_health[branch_ids].max()) if branch_ids else 0, worst_outlet)
        if self.comm_lost[pdu.index]:
            return PduReading(
                phases=self._blank_phases(pdu.phases),
                **_NO_READINGS,  # type: ignore[arg-type]
                health="Critical",
                health_reasons=reasons,
                comm_ok=False,
                sensor_reset_time=None,
            )
        phases = self._phase_readings(pdu, pdu.phases, branch_ids, key)
        totals = self._circuit_totals(phases, key)
        return PduReading(
            phases=phases,
            frequency_hz=self.frequency_hz,
            health=HEALTH_NAMES[health],
            health_reasons=reasons,
            comm_ok=True,
            sensor_reset_time=_posix_to_datetime(self.circuit_reset_times.get(key, math.nan)),
            line_current_a=self._line_currents(phases),
            **totals,  # type: ignore[arg-type]
        )

    def group(self, pdu_id: str, group_id: str) -> GroupReading:
        pdu = self.pdu_info(pdu_id)
        group = self.group_info(pdu_id, group_id)
        idx = np.array(
            [self._outlet_by[(pdu.id, o)].index for o in group.outlet_ids], dtype=np.intp
        )
        key = ("group", pdu.id, group.id)
        states = {self.power_state(int(k)) for k in idx}
        power_state = states.pop() if len(states) == 1 else "Mixed"
        health = int(self.arrays.outlet_health[idx].max()) if idx.size else 0
        reasons = [
            f"{self._outlet_by[(pdu.id, o)].name}: {r}"
            for o in group.outlet_ids
            for r in self.outlet_health_reasons(pdu, self._outlet_by[(pdu.id, o)])
        ]
        if self.comm_lost[pdu.index]:
            return GroupReading(
                None, None, None, None, None, None, power_state, "Critical", reasons, None
            )
        lifetime = float(self.lifetime_kwh[idx].sum())
        return GroupReading(
            power_w=float(self.p[idx].sum()),
            apparent_va=float(self.va[idx].sum()),
            reactive_var=float(self.var[idx].sum()),
            current_a=float(self.i[idx].sum()),
            energy_kwh=lifetime - self.circuit_baselines.get(key, 0.0),
            lifetime_energy_kwh=lifetime,
            power_state=power_state,
            health=HEALTH_NAMES[health],
            health_reasons=reasons,
            sensor_reset_time=_posix_to_datetime(self.circuit_reset_times.get(key, math.nan)),
        )
