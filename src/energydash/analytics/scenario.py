"""A seeded scenario of faults with ground truth, and how detected alerts score against it.

Used by ``bench/analytics.py`` and the tests: the same expectations (which alert is the right
one for which fault) hold in both.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from energydash.models.alerts import Alert
from energydash.sim.equipment import APPLIES_TO, Equipment, FaultLabel

# The right alert(s) for each fault kind: (source, kind) pairs.
EXPECTED_EQUIPMENT: dict[str, tuple[tuple[str, str], ...]] = {
    "sensor_stuck": (("anomaly", "stuck"),),
    "sensor_dropout": (("stale_feed", "dropout"),),
    "sensor_noisy": (("anomaly", "noise"),),
    "comm_loss": (("comm_loss", "no_data"),),
    "bearing_wear": (("anomaly", "level"), ("failure_risk", "failure_risk")),
    "refrigerant_leak": (("anomaly", "level"), ("failure_risk", "failure_risk")),
    "clogged_filter": (("anomaly", "level"), ("failure_risk", "failure_risk")),
    "sensor_drift": (("anomaly", "level"),),
}
EXPECTED_PDU: dict[str, tuple[tuple[str, str], ...]] = {
    "sensor_stuck": (("health_change", "health"),),
    "sensor_dropout": (("health_change", "health"),),
    "sensor_noisy": (("health_change", "health"),),
    "relay_failure": (("health_change", "health"),),
    "branch_overload": (
        ("breaker", "tripped"),
        ("threshold", "current_high"),
        ("health_change", "health"),
    ),
    "comm_loss": (("comm_loss", "no_data"),),
}
GRACE_S = 120.0


@dataclass(slots=True)
class Truth:
    """One labelled fault: ``scope`` is every target an alert about it may name."""

    label: FaultLabel
    family: str  # "equipment" | "pdu"
    scope: tuple[str, ...]
    expected: tuple[tuple[str, str], ...]
    matched: list[Alert] = field(default_factory=list)

    def covers(self, alert: Alert) -> bool:
        if not any(alert.target == s or alert.target.startswith(s + "/") for s in self.scope):
            return False
        if alert.first_seen < self.label.start:
            return False
        end = self.label.end
        return end is None or alert.first_seen <= end + timedelta(seconds=GRACE_S)

    def right(self, alert: Alert) -> bool:
        return (alert.source, alert.kind) in self.expected


def equipment_truth(label: FaultLabel) -> Truth:
    return Truth(label, "equipment", (label.target,), EXPECTED_EQUIPMENT[label.kind])


@dataclass(slots=True)
class Score:
    kind: str
    faults: int = 0
    detected: int = 0
    alerts: int = 0
    right_alerts: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.detected / self.faults if self.faults else float("nan")

    @property
    def precision(self) -> float:
        return self.right_alerts / self.alerts if self.alerts else float("nan")


def f1(precision: float, recall: float) -> float:
    if not precision + recall:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(values, q))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def score(truths: list[Truth], alerts: list[Alert]) -> tuple[dict[str, Score], list[Alert]]:
    """Per ``family:kind`` scores and the alerts no fault explains (false alarms)."""
    scores: dict[str, Score] = {}
    false: list[Alert] = []
    for truth in truths:
        key = f"{truth.family}:{truth.label.kind}"
        scores.setdefault(key, Score(key)).faults += 1
    for alert in alerts:
        owners = [t for t in truths if t.covers(alert)]
        if not owners:
            false.append(alert)
            continue
        for owner in owners:
            owner.matched.append(alert)
        owner = next((t for t in owners if t.right(alert)), owners[0])
        entry = scores[f"{owner.family}:{owner.label.kind}"]
        entry.alerts += 1
        entry.right_alerts += owner.right(alert)
    for truth in truths:
        right = [a for a in truth.matched if truth.right(a)]
        if right:
            entry = scores[f"{truth.family}:{truth.label.kind}"]
            entry.detected += 1
            first = min(a.first_seen for a in right)
            entry.latencies.append((first - truth.label.start).total_seconds())
    return scores, false


def plan_equipment_faults(
    equipment: Equipment, rng: np.random.Generator, start: datetime, per_kind: int, span_s: float
) -> list[tuple[float, str, str, dict[str, float], float]]:
    """(offset s, kind, target, params, duration s): one fault per unit at a time."""
    plan = []
    units = list(range(len(equipment.units)))
    rng.shuffle(units)
    for kind in EXPECTED_EQUIPMENT:
        for _ in range(per_kind):
            allowed = APPLIES_TO.get(kind)
            pick = next(k for k in units if allowed is None or equipment.units[k].kind in allowed)
            units.remove(pick)
            unit = equipment.units[pick]
            params: dict[str, float] = {}
            if kind in APPLIES_TO:
                params["develop_s"] = float(rng.uniform(3600, 4 * 3600))
                duration = params["develop_s"] + 1800
                target = unit.id
            elif kind == "comm_loss":
                duration = float(rng.uniform(600, 1800))
                target = unit.id
            else:
                sensor = int(rng.choice(unit.sensor_index))
                target = equipment.sensor_ids[sensor]
                duration = float(rng.uniform(600, 1800))
                if kind == "sensor_drift":
                    params["rate_per_h"] = float(rng.uniform(0.15, 0.4))
                    duration = 3 * 3600.0
            offset = float(rng.uniform(0, max(span_s - duration, 1.0)))
            plan.append((offset, kind, target, params, duration))
    return plan
