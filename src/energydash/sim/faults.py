"""Fault injection: what can break, how each fault shows in health, and the start-up spec parser.

Kinds and targets:

- ``sensor_stuck`` (outlet): the outlet keeps reporting the values of the moment it stuck. Warning.
- ``sensor_dropout`` (outlet): the outlet reports no reading (``None``/NaN). Critical.
- ``sensor_noisy`` (outlet, ``sigma`` default 0.05): reported P, I, VA, VAR get multiplicative
  Gaussian noise (V and PF stay, so W = V x I x PF still holds). Warning.
- ``relay_failure`` (outlet): power commands to the outlet fail with a CommandError; state
  stays as it was. Critical.
- ``branch_overload`` (branch, ``multiple`` default 1.6): the branch's powered outlets draw
  enough to carry ``multiple`` x the breaker rating; the breaker then trips on its curve. Warning.
- ``comm_loss`` (PDU): every reading of the PDU is ``None``, health Critical, commands refused.
- ``pdu_power_loss`` (PDU): the input fails: every outlet goes dark and the management card
  with it (readings ``None`` as for comm_loss). Clearing it restores power; each outlet then
  follows its ``PowerRestorePolicy`` (AlwaysOn, AlwaysOff, LastState) after its power-on delay.
- ``cooling_failure`` (PDU, ``rate_c_per_min`` default 0.5): the rack inlet temperature climbs
  (see ``energydash.sim.environment``); readings and controls stay. Warning.

Sensor faults change what is *reported*, never the true power behind sums and energy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from energydash.sim.commands import FAULT_KINDS, CommandError, InjectFault
from energydash.sim.environment import DEFAULT_HEATING_C_PER_MIN
from energydash.sim.pdu import Fleet, SensorOverrides

ALIASES = {
    "overload": "branch_overload",
    "stuck": "sensor_stuck",
    "dropout": "sensor_dropout",
    "noisy": "sensor_noisy",
    "relay": "relay_failure",
    "comm": "comm_loss",
    "power_loss": "pdu_power_loss",
}
OUTLET_KINDS = ("sensor_stuck", "sensor_dropout", "sensor_noisy", "relay_failure")
HEALTH = {
    "sensor_stuck": 1,
    "sensor_dropout": 2,
    "sensor_noisy": 1,
    "relay_failure": 2,
    "branch_overload": 1,
    "comm_loss": 2,
    "pdu_power_loss": 2,
    "cooling_failure": 1,
}
DESCRIPTION = {
    "sensor_stuck": "sensor stuck",
    "sensor_dropout": "sensor dropout (no reading)",
    "sensor_noisy": "noisy sensor",
    "relay_failure": "relay failure",
    "branch_overload": "overload injected",
    "comm_loss": "communication lost",
    "pdu_power_loss": "input power lost",
    "cooling_failure": "cooling failure (inlet heating up)",
}
DEFAULT_OVERLOAD_MULTIPLE = 1.6
DEFAULT_NOISE_SIGMA = 0.05
# the only parameters each kind takes, with their range (low exclusive, high inclusive)
PARAMS: dict[str, dict[str, tuple[float, float]]] = {
    "branch_overload": {"multiple": (0.0, 50.0)},
    "sensor_noisy": {"sigma": (0.0, 1.0)},
    "cooling_failure": {"rate_c_per_min": (0.0, 10.0)},
}
MAX_ID_LENGTH = 64


@dataclass(slots=True)
class Fault:
    id: str
    kind: str
    pdu_id: str
    target_id: str | None
    params: dict[str, Any]
    injected_at: datetime
    resource: str  # "outlet" | "branch" | "pdu"
    snapshot: np.ndarray | None = field(default=None, repr=False)

    def describe(self) -> str:
        target = f"/{self.target_id}" if self.target_id else ""
        return f"{self.id} {self.kind} on PDU {self.pdu_id}{target}"


def normalise(fleet: Fleet, command: InjectFault) -> tuple[str, str, str | None, dict[str, Any]]:
    """Check a fault request against the fleet; return (kind, pdu_id, target_id, params)."""
    kind = ALIASES.get(command.kind, command.kind)
    if kind not in FAULT_KINDS:
        raise CommandError(
            f"unknown fault kind {command.kind!r}; expected one of {', '.join(FAULT_KINDS)}",
            field="kind",
        )
    pdu_id = str(command.pdu_id)
    if len(pdu_id) > MAX_ID_LENGTH or not fleet.has_pdu(pdu_id):
        raise CommandError(f"no PDU {pdu_id[:MAX_ID_LENGTH]!r}", field="pdu_id")
    if command.params is not None and not isinstance(command.params, dict):
        raise CommandError("params must be an object", field="params")
    params = dict(command.params or {})
    allowed = PARAMS.get(kind, {})
    unknown = sorted(str(name)[:MAX_ID_LENGTH] for name in params if name not in allowed)
    if unknown:
        takes = ", ".join(allowed) or "no parameters"
        raise CommandError(
            f"fault {kind} takes {takes}; unknown parameter {unknown[0]!r}",
            field=f"params.{unknown[0]}",
        )
    if command.target_id is not None and len(str(command.target_id)) > MAX_ID_LENGTH:
        raise CommandError(f"target_id longer than {MAX_ID_LENGTH} characters", field="target_id")
    target = command.target_id
    if kind in OUTLET_KINDS:
        if target is None:
            raise CommandError(f"fault {kind} needs an outlet id", field="target_id")
        try:
            fleet.outlet_info(pdu_id, str(target))
        except KeyError:
            raise CommandError(f"no outlet {target!r} on PDU {pdu_id}", field="target_id") from None
    elif kind == "branch_overload":
        branch_ids = [b.id for b in fleet.pdu_info(pdu_id).branches]
        if target is None or str(target) not in branch_ids:
            raise CommandError(
                f"fault branch_overload needs a branch id of PDU {pdu_id} "
                f"({', '.join(branch_ids)}), got {target!r}",
                field="target_id",
            )
    elif target is not None and str(target) not in ("", pdu_id):
        raise CommandError(
            f"fault {kind} applies to a whole PDU; give no target", field="target_id"
        )
    else:
        target = None
    defaults = {
        "multiple": DEFAULT_OVERLOAD_MULTIPLE,
        "sigma": DEFAULT_NOISE_SIGMA,
        "rate_c_per_min": DEFAULT_HEATING_C_PER_MIN,
    }
    for name, (low, high) in allowed.items():  # the one table of names and ranges
        params[name] = _number(params, name, defaults[name], low, high)
    return kind, pdu_id, None if target is None else str(target), params


def _number(params: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CommandError(
            f"fault parameter {name} must be a number, got {str(value)[:40]!r}",
            field=f"params.{name}",
        )
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        number = math.inf
    if not low < number <= high:
        raise CommandError(
            f"fault parameter {name} must be in ({low:g}, {high:g}], got {number:g}",
            field=f"params.{name}",
        )
    return number


def apply_faults(fleet: Fleet, faults: dict[str, Fault]) -> None:
    """Rebuild the fleet's fault masks and health reasons from the active faults."""
    fleet.relay_failed[:] = False
    fleet.comm_lost[:] = False
    fleet.power_lost[:] = False
    fleet.environment.heating_c_per_min[:] = 0.0
    fleet.b_overload[:] = 0.0
    fleet.o_fault_health[:] = 0
    fleet.b_fault_health[:] = 0
    reasons: dict[tuple[str, str, str], list[str]] = {}
    stuck: list[tuple[int, np.ndarray]] = []
    noisy: list[tuple[int, float]] = []
    dropout: list[int] = []
    for fault in faults.values():
        pdu = fleet.pdu_info(fault.pdu_id)
        text = f"{DESCRIPTION[fault.kind]} (fault {fault.id})"
        if fault.resource == "outlet":
            k = fleet.outlet_info(fault.pdu_id, str(fault.target_id)).index
            fleet.o_fault_health[k] = max(fleet.o_fault_health[k], HEALTH[fault.kind])
            reasons.setdefault(("outlet", pdu.id, str(fault.target_id)), []).append(text)
            if fault.kind == "relay_failure":
                fleet.relay_failed[k] = True
            elif fault.kind == "sensor_stuck" and fault.snapshot is not None:
                stuck.append((k, fault.snapshot))
            elif fault.kind == "sensor_noisy":
                noisy.append((k, float(fault.params["sigma"])))
            elif fault.kind == "sensor_dropout":
                dropout.append(k)
        elif fault.resource == "branch":
            b = fleet.circuit_info(fault.pdu_id, str(fault.target_id)).index
            fleet.b_overload[b] = max(fleet.b_overload[b], float(fault.params["multiple"]))
            fleet.b_fault_health[b] = max(fleet.b_fault_health[b], HEALTH[fault.kind])
            reasons.setdefault(("branch", pdu.id, str(fault.target_id)), []).append(text)
        elif fault.kind == "cooling_failure":  # the card still talks; its inlet heats up
            rate = float(fault.params["rate_c_per_min"])
            fleet.environment.heating_c_per_min[pdu.index] = rate
            reasons.setdefault(("pdu", pdu.id, ""), []).append(text)
        else:
            fleet.comm_lost[pdu.index] = True
            if fault.kind == "pdu_power_loss":
                fleet.power_lost[pdu.index] = True
            reasons.setdefault(("pdu", pdu.id, ""), []).append(text)
    fleet.fault_reasons = reasons
    fleet.sensors = SensorOverrides(
        stuck_idx=np.array([k for k, _ in stuck], dtype=np.intp),
        stuck_values=np.array([v for _, v in stuck]).reshape(len(stuck), 8),
        noisy_idx=np.array([k for k, _ in noisy], dtype=np.intp),
        noisy_sigma=np.array([s for _, s in noisy], dtype=float),
        dropout_idx=np.array(dropout, dtype=np.intp),
    )


def parse_fault_spec(spec: str) -> list[InjectFault]:
    """Parse ``settings.faults``: ';'-separated ``kind:target[:param]``.

    ``target`` is ``pdu`` or ``pdu/outlet`` or ``pdu/branch``; ``param`` is the overload
    multiple or the noise sigma. Example: ``sensor_stuck:1/A3;overload:2/B:1.8;comm_loss:3``.
    Raises ValueError naming the entry at fault.
    """
    commands: list[InjectFault] = []
    for position, raw in enumerate(spec.split(";"), start=1):
        entry = raw.strip()
        if not entry:
            continue
        parts = entry.split(":")
        if len(parts) not in (2, 3) or not parts[1]:
            raise ValueError(
                f"ENERGYDASH_FAULTS entry {position} {entry!r}: expected kind:target[:param]"
            )
        kind = ALIASES.get(parts[0].strip(), parts[0].strip())
        pdu_id, _, target = parts[1].strip().partition("/")
        params: dict[str, Any] = {}
        if len(parts) == 3:
            try:
                value = float(parts[2])
            except ValueError:
                raise ValueError(
                    f"ENERGYDASH_FAULTS entry {position} {entry!r}: param must be a number"
                ) from None
            params["multiple" if kind == "branch_overload" else "sigma"] = value
        commands.append(InjectFault(kind, pdu_id, target or None, params or None))
    return commands
