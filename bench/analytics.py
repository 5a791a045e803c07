"""Detection quality against injected ground truth: a seeded simulated day, fleet + equipment.

Run: ``.venv/bin/python bench/analytics.py [--seed 11] [--hours 24] [--fit] [--compare]``.

One day with faults of every kind (PDU: stuck, dropout, noisy, relay, overload, comm loss;
equipment: bearing wear, refrigerant leak, clogged filter, sensor drift, stuck, dropout, noisy,
comm loss) runs through the real path: engine tick → hub topics → ``AnalyticsService`` →
alerts. Prints per fault kind and overall precision, recall, F1, median / p95 detection latency
(sim s), false alarms per 1,000 series-hours on a fault-free day of the same plant, the Brier
score of the failure probability (1 h horizon), and readings scored per second.
``--fit`` first fits the failure-probability coefficients on a training day (seed 7) and uses
them; ``--compare`` also scores IsolationForest and river's HalfSpaceTrees on the same readings.
Targets: precision ≥ 0.9, recall ≥ 0.9, ≤ 1 false alarm / 1,000 series-hours, median latency
≤ 30 s, ≥ 100,000 readings scored per second.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from energydash.analytics import risk as risk_module
from energydash.analytics.scenario import (
    EXPECTED_PDU,
    Truth,
    equipment_truth,
    f1,
    median,
    percentile,
    plan_equipment_faults,
    score,
)
from energydash.analytics.service import AnalyticsService
from energydash.config import load_settings
from energydash.hub import Hub
from energydash.hub.equipment import EquipmentPublisher
from energydash.hub.snapshots import pdu_outlets
from energydash.sim import equipment as equipment_module
from energydash.sim.commands import BreakerControl, ClearFault, InjectFault
from energydash.sim.engine import Engine
from energydash.sim.equipment import FaultLabel

WARMUP_S = 2 * 3600.0
SAMPLE_RISK_S = 60.0


@dataclass
class DayResult:
    truths: list[Truth]
    alerts: list
    series: int
    hours: float
    readings: int
    analytics_s: float
    risk_p: list[float] = field(default_factory=list)
    risk_y: list[int] = field(default_factory=list)
    risk_x: list[np.ndarray] = field(default_factory=list)
    detector_readings: int = 0
    equipment_log: list[np.ndarray] = field(default_factory=list)


def run_day(
    seed: int,
    hours: float,
    faults: bool,
    progress: Progress,
    label: str,
    *,
    fleet: bool = True,
) -> DayResult:
    """One simulated day; ``fleet=False`` leaves the PDUs out (risk training needs equipment)."""
    tmp = tempfile.mkdtemp(prefix="energydash-bench-")
    settings = load_settings(
        data_dir=Path(tmp),
        clock_mode="stepped",
        seed=seed,
        grid_facility_count=0,
        mqtt_publish=False,
        mqtt_ingest=False,
        analytics_max_alerts=1_000_000,
    )
    engine = Engine.from_settings(settings, restore=False)
    hub = Hub(settings)

    # only the topics analytics reads: the outlets topic of each PDU (its MQTT telemetry too)
    def publish_outlets(engine: Engine) -> None:
        now = engine.clock.now()
        for pdu in engine.fleet.pdus:
            hub.publish(f"pdu/{pdu.id}/outlets", pdu_outlets(engine.fleet, pdu), ts=now)

    if fleet:
        engine.on_tick(publish_outlets)
    equipment = equipment_module.from_settings(settings, [p.id for p in engine.fleet.pdus])
    EquipmentPublisher(engine, hub, equipment).attach()
    service = AnalyticsService(settings, hub)
    spent = [0.0]
    original = service.on_state

    def timed(state) -> None:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        original(state)
        spent[0] += time.perf_counter() - started

    service.on_state = timed  # type: ignore[method-assign]
    service.attach()
    start = engine.clock.now()
    total_s = int(hours * 3600)
    rng = np.random.default_rng(seed)
    events: list[tuple[float, object]] = []
    truths: list[Truth] = []
    if faults:
        span = total_s - WARMUP_S
        for offset, kind, target, params, duration in plan_equipment_faults(
            equipment, rng, start, 5, span
        ):
            events.append((WARMUP_S + offset, ("eq_inject", kind, target, params, duration)))
        # PDU faults: each PDU gets one fault at a time in 40-minute slots
        kinds = list(EXPECTED_PDU)
        slots = int(span // 2400)
        for pdu in engine.fleet.pdus if fleet else []:
            chosen = rng.choice(slots, size=len(kinds), replace=False)
            for kind, slot in zip(kinds, chosen, strict=True):
                at = WARMUP_S + float(slot) * 2400 + float(rng.uniform(0, 600))
                duration = float(rng.uniform(600, 1200))
                if kind == "branch_overload":
                    target = str(rng.choice([b.id for b in pdu.branches]))
                    outlets = [o for b in pdu.branches if b.id == target for o in b.outlet_ids]
                    root = f"pdu/{pdu.id}"
                    scope = (f"{root}/branch/{target}", *(f"{root}/{o}" for o in outlets))
                elif kind == "comm_loss":
                    target, scope = None, (f"pdu/{pdu.id}",)
                else:
                    target = str(rng.choice([o.id for o in pdu.outlets]))
                    scope = (f"pdu/{pdu.id}/{target}",)
                events.append((at, ("pdu_inject", kind, pdu.id, target, scope, duration)))
    events.sort(key=lambda e: e[0])
    pending = list(events)
    labels_by_fault: dict[str, Truth] = {}
    result = DayResult(truths, [], 0, hours, 0, 0.0)
    unit_index = {u.id: k for k, u in enumerate(equipment.units)}
    task = progress.add_task(label, total=total_s)
    for second in range(1, total_s + 1):
        now = start + timedelta(seconds=second)
        while pending and pending[0][0] <= second:
            _, action = pending.pop(0)
            if action[0] == "eq_inject":
                _, kind, target, params, duration = action
                lab = equipment.inject(kind, target, now, **params)
                truths.append(equipment_truth(lab))
                pending.append((second + duration, ("eq_clear", lab.id)))
            elif action[0] == "eq_clear":
                equipment.clear(action[1], now)
            elif action[0] == "pdu_inject":
                _, kind, pdu_id, target, scope, duration = action
                fault = engine.execute(InjectFault(kind, pdu_id, target)).fault_id
                lab = FaultLabel(str(fault), kind, scope[0], now)
                truth = Truth(lab, "pdu", scope, EXPECTED_PDU[kind])
                truths.append(truth)
                labels_by_fault[str(fault)] = truth
                pending.append((second + duration, ("pdu_clear", fault, pdu_id, target, kind)))
            elif action[0] == "pdu_clear":
                _, fault, pdu_id, target, kind = action
                engine.execute(ClearFault(fault))
                if kind == "branch_overload":
                    engine.execute(BreakerControl(pdu_id, target, "On"))
                labels_by_fault[str(fault)].label.end = now
            pending.sort(key=lambda e: e[0])
        engine.step(1.0)
        if second % SAMPLE_RISK_S == 0 and second > WARMUP_S and service.risk is not None:
            features = service.risk.features(service.detector, now.timestamp())
            horizon = timedelta(seconds=risk_module.HORIZON_S)
            failing = {}
            for lab in equipment.labels:
                if lab.fail_at is not None:
                    failing[unit_index[lab.target]] = lab
            for u in range(len(equipment.units)):
                lab = failing.get(u)
                if lab is not None and lab.fail_at <= now and (lab.end is None or lab.end > now):
                    continue  # failed and not repaired yet: nothing left to predict
                y = int(lab is not None and now < lab.fail_at <= now + horizon)
                result.risk_x.append(features[u])
                result.risk_y.append(y)
                result.risk_p.append(float(service.probability[u]))
        if second % 600 == 0:
            progress.update(task, completed=second)
    progress.update(task, completed=total_s)
    result.alerts = service.book.all()
    n_outlets = sum(len(p.outlets) for p in engine.fleet.pdus)
    n_branches = sum(len(p.branches) for p in engine.fleet.pdus)
    result.series = equipment.sensor_count + n_outlets + n_branches
    result.readings = total_s * result.series
    result.analytics_s = spent[0]
    result.detector_readings = service.detector.readings if service.detector else 0
    return result


def fit_risk(result: DayResult) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    x = np.array(result.risk_x)[:, 1:]
    y = np.array(result.risk_y)
    model = LogisticRegression(C=10.0, max_iter=1000).fit(x, y)
    return np.concatenate([model.intercept_, model.coef_[0]])


def brier(p: list[float], y: list[int]) -> tuple[float, float, float]:
    pa, ya = np.array(p), np.array(y)
    base = ya.mean() if ya.size else 0.0
    return float(np.mean((pa - ya) ** 2)), float(np.mean((base - ya) ** 2)), float(base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--fit", action="store_true", help="fit risk coefficients on seed 7")
    parser.add_argument("--compare", action="store_true", help="also IsolationForest and river")
    args = parser.parse_args()
    console = Console(width=130)  # the fault-kind column holds names like equipment:sensor_drift
    with Progress(console=console, transient=True) as progress:
        if args.fit:
            training = run_day(7, args.hours, True, progress, "training day (seed 7)", fleet=False)
            coefficients = fit_risk(training)
            risk_module.COEFFICIENTS[:] = coefficients
            console.print(f"fitted COEFFICIENTS = {np.round(coefficients, 3).tolist()}")
        day = run_day(args.seed, args.hours, True, progress, f"fault day (seed {args.seed})")
        quiet = run_day(args.seed + 1000, args.hours, False, progress, "fault-free day")
    scores, false = score(day.truths, day.alerts)
    table = Table(title=f"analytics detection, seed {args.seed}, {args.hours:g} h simulated")
    for column in (
        "fault kind",
        "faults",
        "alerts",
        "precision",
        "recall",
        "F1",
        "median s",
        "p95 s",
    ):
        table.add_column(column, justify="right")
    all_lat: list[float] = []
    for key in sorted(scores):
        entry = scores[key]
        all_lat += entry.latencies
        table.add_row(
            key,
            str(entry.faults),
            str(entry.alerts),
            f"{entry.precision:.3f}",
            f"{entry.recall:.3f}",
            f"{f1(entry.precision, entry.recall):.3f}",
            f"{median(entry.latencies):.0f}",
            f"{percentile(entry.latencies, 95):.0f}",
        )
    total_alerts = len(day.alerts)
    right = sum(s.right_alerts for s in scores.values())
    precision = right / total_alerts if total_alerts else float("nan")
    faults = sum(s.faults for s in scores.values())
    recall = sum(s.detected for s in scores.values()) / faults if faults else float("nan")
    table.add_row(
        "overall",
        str(faults),
        str(total_alerts),
        f"{precision:.3f}",
        f"{recall:.3f}",
        f"{f1(precision, recall):.3f}",
        f"{median(all_lat):.0f}",
        f"{percentile(all_lat, 95):.0f}",
    )
    console.print(table)
    if false:
        console.print(f"{len(false)} alerts no fault explains, e.g.:")
        for alert in false[:8]:
            console.print(
                f"  {alert.first_seen:%H:%M:%S} {alert.source}/{alert.kind} {alert.target}"
            )
    series_hours = quiet.series * quiet.hours
    rate = len(quiet.alerts) / series_hours * 1000
    console.print(
        f"fault-free day: {len(quiet.alerts)} alerts over {quiet.series} series x "
        f"{quiet.hours:g} h = {rate:.2f} false alarms per 1,000 series-hours"
    )
    for alert in quiet.alerts[:5]:
        console.print(f"  {alert.first_seen:%H:%M:%S} {alert.source}/{alert.kind} {alert.target}")
    b, b0, base = brier(day.risk_p, day.risk_y)
    console.print(
        f"failure probability ({risk_module.HORIZON_S / 3600:g} h horizon): Brier {b:.4f} over "
        f"{len(day.risk_y):,} unit-minutes (base rate {base:.4f}; constant base-rate forecast "
        f"scores {b0:.4f})"
    )
    console.print(
        f"throughput: {day.readings:,} readings ({day.series} series) through analytics in "
        f"{day.analytics_s:.1f} s (wall clock, shared machine) = "
        f"{day.readings / day.analytics_s:,.0f} readings/s "
        f"(includes decoding hub topic data and alert bookkeeping)"
    )
    if args.compare:
        compare(args.seed, console)


def compare(seed: int, console: Console) -> None:
    """Quality and throughput of IsolationForest and river HalfSpaceTrees next to ours."""
    from datetime import UTC, datetime

    from river import anomaly
    from sklearn.ensemble import IsolationForest

    from energydash.analytics.detect import Detector

    equipment = equipment_module.Equipment(seed, 24, 40, 30, 4)
    start = datetime(2025, 1, 15, tzinfo=UTC)
    n = equipment.sensor_count
    hours = 6
    rng = np.random.default_rng(seed)
    faulty = rng.choice(len(equipment.units), 10, replace=False)
    rows, dutys, ambs = [], [], []
    for second in range(hours * 3600):
        now = start + timedelta(seconds=second)
        if second == 3 * 3600:
            for u in faulty:
                unit = equipment.units[int(u)]
                sensor = equipment.sensor_ids[unit.sensor_index[0]]
                equipment.inject("sensor_drift", sensor, now, rate_per_h=0.3)
        equipment.step(now, 1.0, (10 + second / 3600) % 24)
        v, d, a = equipment.snapshot()
        rows.append(v.copy())
        dutys.append(d.copy())
        ambs.append(a.copy())
    x = np.array(rows)
    labels = np.zeros(n, dtype=bool)
    for lab in equipment.labels:
        labels[equipment.sensor_by_id[lab.target]] = True
    table = Table(title="detector comparison (6 h, 10 drifting sensors from 3 h)")
    for column in ("detector", "series", "drifting", "flagged", "true", "false", "readings/s"):
        table.add_column(column, justify="right")

    def sample(size: int) -> np.ndarray:
        """Every drifting sensor plus the first normal ones: the slow detectors get a sample."""
        normal = np.flatnonzero(~labels)[: max(size - int(labels.sum()), 0)]
        return np.concatenate([np.flatnonzero(labels), normal])

    def row(name: str, sub: np.ndarray, flagged: np.ndarray, rate: float) -> None:
        f, lab = flagged[sub], labels[sub]
        table.add_row(
            name,
            str(lab.size),
            str(int(lab.sum())),
            str(int(f.sum())),
            str(int((f & lab).sum())),
            str(int((f & ~lab).sum())),
            f"{rate:,.0f}",
        )

    det = Detector(n)
    started = time.perf_counter()
    flagged = np.zeros(n, dtype=bool)
    for k in range(x.shape[0]):
        det.step(x[k], dutys[k], ambs[k], 1.0)
        flagged |= det.state != 0
    row("EWMA regression z (ours)", np.arange(n), flagged, x.size / (time.perf_counter() - started))

    window = 60
    train = x[: 2 * 3600]
    started = time.perf_counter()
    flagged = np.zeros(n, dtype=bool)
    count = 0
    chosen = sample(60)
    for s in chosen:
        feats = np.lib.stride_tricks.sliding_window_view(train[:, s], window)[::window]
        feats = np.stack([feats.mean(1), feats.std(1)], 1)
        model = IsolationForest(n_estimators=50, random_state=0, contamination=0.001).fit(feats)
        test = np.lib.stride_tricks.sliding_window_view(x[2 * 3600 :, s], window)[::window]
        tf = np.stack([test.mean(1), test.std(1)], 1)
        flagged[s] = (model.predict(tf) < 0).sum() >= 3
        count += x.shape[0]
    rate = count / (time.perf_counter() - started)
    row("IsolationForest, 60 s windows", chosen, flagged, rate)

    started = time.perf_counter()
    flagged = np.zeros(n, dtype=bool)
    count = 0
    chosen = sample(20)
    for s in chosen:
        model = anomaly.HalfSpaceTrees(n_trees=10, height=6, window_size=250, seed=0)
        lo, hi = np.nanmin(x[:, s]), np.nanmax(x[:, s])
        high = 0
        for k in range(x.shape[0]):
            features = {"v": (x[k, s] - lo) / (hi - lo + 1e-9)}
            score = model.score_one(features)
            model.learn_one(features)
            if k > 3600 and score > 0.9:
                high += 1
        flagged[s] = high >= 30
        count += x.shape[0]
    row("river HalfSpaceTrees", chosen, flagged, count / (time.perf_counter() - started))
    console.print(table)


if __name__ == "__main__":
    main()
