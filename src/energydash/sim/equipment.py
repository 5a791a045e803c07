"""Equipment condition sensors: HVAC compressors, production-line motors, pumps, PDU probes.

Each unit runs at a duty (0..1) set by its controller (HVAC: occupancy and outdoor
temperature; motors: the two-shift production schedule; pumps: slow process cycles; PDU
probes: the rack's load) and sits in an ambient temperature (outdoor for plant, the server
room for probes). Every sensor reads ``base + duty_gain * duty' + ambient_gain * (ambient - 25)
+ noise`` where ``duty'`` is duty through a first-order lag (thermal sensors lag by minutes,
electrical ones follow at once). The controller's duty and the ambient are published with the
readings, as a building management system knows them, so a detector can model the normal
relation between load and condition.

Faults (every one is a ground-truth ``FaultLabel`` with start, end, kind and target):

- degradation, developing over ``develop_s`` (severity ramps 0 → 1, the unit *fails* at
  ``start + develop_s``): ``bearing_wear`` (motor, pump: bearing temperature creeps up to
  +20 °C, current +6 %), ``refrigerant_leak`` (HVAC: suction pressure decays by 35 %, the
  compressor's duty rises to make up for lost capacity, discharge temperature +12 °C),
  ``clogged_filter`` (HVAC: filter differential pressure +150 %, current +6 %; pump: discharge
  pressure -30 %, current -8 %), ``sensor_drift`` (one sensor: offset growing at
  ``rate_per_h`` x its normal level per hour; the equipment is fine).
- sudden, on one sensor: ``sensor_stuck`` (repeats its last value), ``sensor_dropout`` (NaN),
  ``sensor_noisy`` (noise x ``multiple``); on a unit: ``comm_loss`` (all its sensors NaN).

Everything is vectorised over sensors and deterministic for a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from energydash.config import Settings

UNIT_KINDS: tuple[str, ...] = ("hvac", "motor", "pump", "probe")
# (sensor name, unit of measure, base, duty gain, ambient gain, noise sigma, thermal lag)
SENSOR_SPECS: dict[str, tuple[tuple[str, str, float, float, float, float, bool], ...]] = {
    "hvac": (
        ("compressor_current_a", "A", 6.0, 30.0, 0.15, 0.25, False),
        ("discharge_temp_c", "Cel", 45.0, 30.0, 0.8, 0.3, True),
        ("suction_pressure_kpa", "kPa", 520.0, -60.0, 6.0, 3.0, False),
        ("filter_dp_pa", "Pa", 60.0, 90.0, 0.0, 2.0, False),
    ),
    "motor": (
        ("motor_current_a", "A", 8.0, 55.0, 0.0, 0.35, False),
        ("bearing_temp_c", "Cel", 30.0, 22.0, 0.7, 0.25, True),
        ("winding_temp_c", "Cel", 35.0, 45.0, 0.8, 0.3, True),
    ),
    "pump": (
        ("motor_current_a", "A", 4.0, 22.0, 0.0, 0.2, False),
        ("bearing_temp_c", "Cel", 28.0, 18.0, 0.7, 0.25, True),
        ("discharge_pressure_kpa", "kPa", 180.0, 260.0, 0.0, 2.5, False),
    ),
    "probe": (
        ("temperature_c", "Cel", 24.0, 6.0, 1.0, 0.1, True),
        ("humidity_pct", "%", 45.0, -4.0, -1.2, 0.3, True),
    ),
}
DEGRADATION_KINDS: tuple[str, ...] = (
    "bearing_wear",
    "refrigerant_leak",
    "clogged_filter",
    "sensor_drift",
)
SUDDEN_KINDS: tuple[str, ...] = ("sensor_stuck", "sensor_dropout", "sensor_noisy", "comm_loss")
FAULT_KINDS: tuple[str, ...] = DEGRADATION_KINDS + SUDDEN_KINDS
# Which unit kinds a degradation can develop in.
APPLIES_TO: dict[str, tuple[str, ...]] = {
    "bearing_wear": ("motor", "pump"),
    "refrigerant_leak": ("hvac",),
    "clogged_filter": ("hvac", "pump"),
}
THERMAL_TAU_S = 60.0
DUTY_NOISE_TAU_S = 600.0
MAX_ACTIVE_FAULTS = 10_000


class EquipmentError(ValueError):
    """A fault request that names no such unit or sensor, or a bad parameter; nothing changed."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class UnitInfo:
    id: str
    kind: str
    name: str
    sensor_index: tuple[int, ...]


@dataclass(slots=True)
class FaultLabel:
    """Ground truth of one injected fault: what, where, from when until when."""

    id: str
    kind: str
    target: str  # a unit id ("motor-07") or a sensor id ("motor-07/bearing_temp_c")
    start: datetime
    end: datetime | None = None
    fail_at: datetime | None = None  # degradations only: when the unit fails
    params: dict[str, float] = field(default_factory=dict)


def _occupancy(hour: float) -> float:
    """Smooth 0..1: a building occupied 07:00-19:00 (half-hour ramps)."""
    up = 1.0 / (1.0 + math.exp(-(hour - 7.0) * 4.0))
    down = 1.0 / (1.0 + math.exp((hour - 19.0) * 4.0))
    return up * down


def _shift(hour: float) -> float:
    """Production: two shifts 06:00-22:00 at full rate, standby at night."""
    up = 1.0 / (1.0 + math.exp(-(hour - 6.0) * 3.0))
    down = 1.0 / (1.0 + math.exp((hour - 22.0) * 3.0))
    return 0.1 + 0.75 * up * down


class Equipment:
    """The condition sensors of every unit, stepped with the engine's clock."""

    def __init__(
        self,
        seed: int,
        hvac_units: int,
        motor_units: int,
        pump_units: int,
        probe_units: int,
        *,
        probe_ids: list[str] | None = None,
    ) -> None:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 1414]))
        self._rng = np.random.default_rng(np.random.SeedSequence([seed, 1415]))
        counts = {"hvac": hvac_units, "motor": motor_units, "pump": pump_units}
        units: list[UnitInfo] = []
        sensor_ids: list[str] = []
        sensor_unit: list[int] = []
        params: list[tuple[float, float, float, float, bool]] = []
        names: list[str] = []
        uoms: list[str] = []
        plan: list[tuple[str, str]] = []
        for kind in ("hvac", "motor", "pump"):
            plan += [(kind, f"{kind}-{k + 1:02d}") for k in range(counts[kind])]
        probes = probe_ids or [str(k + 1) for k in range(probe_units)]
        plan += [("probe", f"pdu-{pid}-probe") for pid in probes]
        for kind, unit_id in plan:
            first = len(sensor_ids)
            for name, uom, base, gain, amb, sigma, lag in SENSOR_SPECS[kind]:
                jitter = 1.0 + 0.08 * float(rng.standard_normal())
                sensor_ids.append(f"{unit_id}/{name}")
                sensor_unit.append(len(units))
                params.append((base * jitter, gain * jitter, amb, sigma, lag))
                names.append(name)
                uoms.append(uom)
            label = {
                "hvac": "HVAC compressor",
                "motor": "Production line motor",
                "pump": "Pump",
                "probe": "PDU environment probe",
            }[kind]
            units.append(
                UnitInfo(
                    unit_id,
                    kind,
                    f"{label} {unit_id.split('-')[1]}",
                    tuple(range(first, len(sensor_ids))),
                )
            )
        self.units = units
        self.unit_by_id = {u.id: u for u in units}
        self.unit_index = {u.id: k for k, u in enumerate(units)}
        self.sensor_ids = sensor_ids
        self.sensor_by_id = {s: k for k, s in enumerate(sensor_ids)}
        self.sensor_names = names
        self.sensor_uoms = uoms
        n, m = len(sensor_ids), len(units)
        p = np.array([row[:4] for row in params], dtype=float).reshape(n, 4)
        self.base, self.duty_gain, self.ambient_gain, self.sigma = p.T.copy()
        self.lagged = np.array([row[4] for row in params], dtype=bool)
        self.sensor_unit = np.array(sensor_unit, dtype=np.int64)
        self.unit_kind = np.array([UNIT_KINDS.index(u.kind) for u in units], dtype=np.int64)
        self.unit_level = 1.0 + 0.1 * rng.standard_normal(m)  # per-unit operating point
        self.unit_phase = rng.uniform(0, 2 * math.pi, m)
        self.duty_noise = np.zeros(m)
        self.duty = np.zeros(m)
        self.ambient_c = np.zeros(m)
        self.thermal = np.zeros(n)  # lagged duty per sensor
        self.values = np.full(n, np.nan)
        self.true_values = np.full(n, np.nan)
        # fault effects, recomputed from the labels each step
        self.labels: list[FaultLabel] = []
        self._stuck_value = np.full(n, np.nan)
        self._counter = 0
        self._primed = False
        self.last_t: datetime | None = None

    # ------------------------------------------------------------------ faults
    @property
    def sensor_count(self) -> int:
        return len(self.sensor_ids)

    def active(self) -> list[FaultLabel]:
        return [label for label in self.labels if label.end is None]

    def inject(
        self,
        kind: str,
        target: str,
        now: datetime,
        *,
        develop_s: float = 3600.0,
        rate_per_h: float = 0.1,
        multiple: float = 6.0,
    ) -> FaultLabel:
        """Start a fault now; raises EquipmentError (nothing changed) on a bad request."""
        if kind not in FAULT_KINDS:
            raise EquipmentError(f"unknown kind {kind!r}; one of {', '.join(FAULT_KINDS)}", "kind")
        if len(self.active()) >= MAX_ACTIVE_FAULTS:
            raise EquipmentError(f"at most {MAX_ACTIVE_FAULTS} active faults", "kind")
        unit_kinds = APPLIES_TO.get(kind)
        params: dict[str, float] = {}
        if kind in ("comm_loss",) or unit_kinds:
            unit = self.unit_by_id.get(target)
            if unit is None:
                raise EquipmentError(f"no unit {target!r}", "target")
            if unit_kinds and unit.kind not in unit_kinds:
                raise EquipmentError(
                    f"{kind} develops in {' or '.join(unit_kinds)} units, not {unit.kind}",
                    "target",
                )
        elif target not in self.sensor_by_id:
            raise EquipmentError(f"no sensor {target!r}", "target")
        if kind in DEGRADATION_KINDS:
            if not 60.0 <= develop_s <= 30 * 86400.0:
                raise EquipmentError("develop_s must be in [60, 2592000]", "develop_s")
            params["develop_s"] = float(develop_s)
        if kind == "sensor_drift":
            if not 0.0 < rate_per_h <= 10.0:
                raise EquipmentError("rate_per_h must be in (0, 10]", "rate_per_h")
            params["rate_per_h"] = float(rate_per_h)
        if kind == "sensor_noisy":
            if not 1.0 < multiple <= 100.0:
                raise EquipmentError("multiple must be in (1, 100]", "multiple")
            params["multiple"] = float(multiple)
        self._counter += 1
        label = FaultLabel(f"E{self._counter}", kind, target, now, params=params)
        if kind in DEGRADATION_KINDS and kind != "sensor_drift":
            label.fail_at = now + timedelta(seconds=develop_s)
        if kind == "sensor_stuck":
            k = self.sensor_by_id[target]
            self._stuck_value[k] = self.values[k]
        self.labels.append(label)
        return label

    def clear(self, fault_id: str, now: datetime) -> FaultLabel:
        for label in self.labels:
            if label.id == fault_id and label.end is None:
                label.end = now
                return label
        raise EquipmentError(f"no active fault {fault_id!r}", "fault_id")

    # ------------------------------------------------------------------ dynamics
    def _controllers(self, t_s: float, hour: float, dt_s: float) -> None:
        a = math.exp(-dt_s / DUTY_NOISE_TAU_S)
        m = self.duty.size
        self.duty_noise = a * self.duty_noise + math.sqrt(1 - a * a) * self._rng.standard_normal(m)
        outdoor = 22.0 + 7.0 * math.sin(2 * math.pi * (hour - 9.0) / 24.0)
        room = 23.0 + 0.8 * math.sin(2 * math.pi * (hour - 14.0) / 24.0)
        kind = self.unit_kind
        cooling = min(max((outdoor - 16.0) / 16.0, 0.1), 1.0)
        duty = np.empty(m)
        hvac, motor, pump, probe = (kind == k for k in range(4))
        duty[hvac] = (0.2 + 0.6 * _occupancy(hour)) * (0.5 + 0.5 * cooling)
        duty[motor] = _shift(hour)
        cycle = np.sin(2 * math.pi * t_s / 7200.0 + self.unit_phase)
        duty[pump] = 0.55 + 0.2 * cycle[pump]
        duty[probe] = 0.45 + 0.15 * _occupancy(hour)
        duty = duty * self.unit_level + 0.04 * self.duty_noise
        self.duty = np.clip(duty, 0.0, 1.0)
        self.ambient_c = np.where(probe, room, outdoor)

    def _severity(self, label: FaultLabel, t: datetime) -> float:
        develop = label.params.get("develop_s", 1.0)
        return min(max((t - label.start).total_seconds() / develop, 0.0), 1.0)

    def step(self, now: datetime, dt_s: float, local_hour: float) -> None:
        """Advance to ``now``; ``dt_s`` seconds passed since the previous step."""
        self._controllers(now.timestamp(), local_hour, dt_s)
        n = self.sensor_count
        duty = self.duty.copy()
        offset = np.zeros(n)
        scale = np.ones(n)
        noise_mult = np.ones(n)
        blind = np.zeros(n, dtype=bool)
        stuck = np.zeros(n, dtype=bool)
        active = self.active()
        for label in active:
            sev = self._severity(label, now)
            if label.kind in APPLIES_TO:
                unit = self.unit_by_id[label.target]
                idx = {self.sensor_names[k]: k for k in unit.sensor_index}
                u = unit
                u_index = self.unit_index[unit.id]
                if label.kind == "bearing_wear":
                    offset[idx["bearing_temp_c"]] += 20.0 * sev
                    scale[idx["motor_current_a"]] *= 1.0 + 0.06 * sev
                elif label.kind == "refrigerant_leak":
                    duty[u_index] = min(1.0, duty[u_index] * (1.0 + 0.6 * sev))
                    scale[idx["suction_pressure_kpa"]] *= 1.0 - 0.35 * sev
                    offset[idx["discharge_temp_c"]] += 12.0 * sev
                elif label.kind == "clogged_filter":
                    if u.kind == "hvac":
                        scale[idx["filter_dp_pa"]] *= 1.0 + 1.5 * sev
                        scale[idx["compressor_current_a"]] *= 1.0 + 0.06 * sev
                    else:  # a clogged strainer: less flow, so less pressure and power
                        scale[idx["discharge_pressure_kpa"]] *= 1.0 - 0.3 * sev
                        scale[idx["motor_current_a"]] *= 1.0 - 0.08 * sev
            elif label.kind == "sensor_drift":
                k = self.sensor_by_id[label.target]
                hours = (now - label.start).total_seconds() / 3600.0
                offset[k] += label.params["rate_per_h"] * hours * abs(self.base[k])
            elif label.kind == "sensor_noisy":
                noise_mult[self.sensor_by_id[label.target]] = label.params["multiple"]
            elif label.kind == "sensor_dropout":
                blind[self.sensor_by_id[label.target]] = True
            elif label.kind == "sensor_stuck":
                stuck[self.sensor_by_id[label.target]] = True
            elif label.kind == "comm_loss":
                blind[list(self.unit_by_id[label.target].sensor_index)] = True
        self.duty = duty
        sensor_duty = duty[self.sensor_unit]
        if not self._primed:
            self.thermal = sensor_duty.copy()
            self._primed = True
        else:
            a = math.exp(-dt_s / THERMAL_TAU_S)
            self.thermal = np.where(
                self.lagged, a * self.thermal + (1 - a) * sensor_duty, sensor_duty
            )
        amb = self.ambient_c[self.sensor_unit]
        true = (self.base + self.duty_gain * self.thermal + self.ambient_gain * (amb - 25.0)) * (
            scale
        ) + offset
        self.true_values = true
        noise = self.sigma * noise_mult * self._rng.standard_normal(n)
        values = true + noise
        values = np.where(stuck, self._stuck_value, values)
        values[blind] = np.nan
        # a sensor that starts sticking later sticks at its latest reading
        self._stuck_value = np.where(stuck, self._stuck_value, values)
        self.values = values
        self.last_t = now

    def snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values per sensor, duty per sensor, ambient per sensor) of the latest step."""
        return self.values, self.duty[self.sensor_unit], self.ambient_c[self.sensor_unit]


def from_settings(settings: Settings, probe_ids: list[str]) -> Equipment:
    """The default plant: unit counts from settings, one probe set per PDU."""
    return Equipment(
        settings.seed,
        settings.equipment_hvac_units,
        settings.equipment_motor_units,
        settings.equipment_pump_units,
        len(probe_ids),
        probe_ids=probe_ids,
    )
