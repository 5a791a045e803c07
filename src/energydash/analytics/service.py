"""Analytics as a hub consumer: rules and scores in, alerts, scores and risk out (to the hub).

It reads ``pdu/{id}/outlets`` and ``analytics/equipment`` as they are published, and publishes
``alerts`` (``AlertsData``) when anything changed, and ``analytics/scores`` / ``analytics/risk``
every ``analytics_publish_interval_s`` of data time. It knows nothing of faces: the in-process
backend attaches it to its hub, ``energydash analytics`` to a hub fed from MQTT.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from energydash.analytics.alerts import AlertBook, Condition
from energydash.analytics.detect import DROPOUT, LEVEL, NOISE, STUCK, Detector
from energydash.analytics.risk import HORIZON_S, RiskModel
from energydash.analytics.rules import pdu_conditions, pdu_is_blind
from energydash.config import Settings
from energydash.hub import Hub, TopicState
from energydash.hub.hub import iso
from energydash.models.alerts import RiskData, RiskRow, ScoresData, SuggestionsData

log = logging.getLogger(__name__)

EQUIPMENT_TOPIC = "analytics/equipment"
ALERTS_TOPIC = "alerts"
SCORES_TOPIC = "analytics/scores"
RISK_TOPIC = "analytics/risk"
SUGGESTIONS_TOPIC = "analytics/suggestions"
SOURCE = "analytics"


class AnalyticsService:
    def __init__(self, settings: Settings, hub: Hub) -> None:
        self.settings = settings
        self.hub = hub
        self.book = AlertBook(settings.analytics_max_alerts)
        self.detector: Detector | None = None
        self.risk: RiskModel | None = None
        self.sensor_ids: list[str] = []
        self.unit_ids: list[str] = []
        self.sensor_unit = np.zeros(0, dtype=np.int64)
        self.probability = np.zeros(0)
        self.corroborated = np.zeros(0, dtype=bool)
        self.pdu_last_data: dict[str, datetime] = {}
        self.pdu_last_seen: dict[str, datetime] = {}
        self._last_equipment_t: datetime | None = None
        self._last_publish_t: datetime | None = None
        self.timeline_t: list[datetime] = []
        self.timeline: list[np.ndarray] = []
        self.on_alerts: list[Callable[[Any], None]] = []
        self._detach: Callable[[], None] | None = None

    # ------------------------------------------------------------------ wiring
    def attach(self) -> Callable[[], None]:
        self._detach = self.hub.add_listener(self.on_state)
        self.hub.publish(
            ALERTS_TOPIC, self.book.take_changes().model_dump(mode="json"), source=SOURCE
        )
        return self.detach

    def detach(self) -> None:
        if self._detach:
            self._detach()
            self._detach = None

    def on_state(self, state: TopicState) -> None:
        topic = state.topic
        if topic.startswith("pdu/") and topic.endswith("/outlets"):
            self.on_pdu(state.data, state.ts)
        elif topic == EQUIPMENT_TOPIC:
            self.on_equipment(state.data, state.ts)
        else:
            return
        self.flush(state.ts)

    def flush(self, now: datetime) -> None:
        if self.book.changed:
            data = self.book.take_changes()
            self.hub.publish(ALERTS_TOPIC, data.model_dump(mode="json"), ts=now, source=SOURCE)
            for callback in list(self.on_alerts):
                try:
                    callback(data)
                except Exception:
                    log.exception("alert callback %r failed", callback)

    # ------------------------------------------------------------------ PDUs
    def on_pdu(self, data: dict[str, Any], ts: datetime) -> None:
        pdu_id = str(data.get("pdu_id"))
        self.pdu_last_seen[pdu_id] = ts
        if not pdu_is_blind(data):
            self.pdu_last_data[pdu_id] = ts
        last = self.pdu_last_data.get(pdu_id)
        conditions = pdu_conditions(data, iso(last) if last else None)
        self.book.sync(f"pdu/{pdu_id}", conditions, ts)

    def check_stale(self, now: datetime) -> None:
        """A PDU feed that stopped publishing (a dead ingest, a lost shard) is a stale feed."""
        limit = self.settings.analytics_stale_after_s
        conditions = []
        for pdu_id, seen in self.pdu_last_seen.items():
            age = (now - seen).total_seconds()
            if age > limit:
                conditions.append(
                    Condition(
                        "stale_feed",
                        "no_update",
                        "warning",
                        f"pdu/{pdu_id}",
                        f"no telemetry from PDU {pdu_id} since {iso(seen)}",
                        pdu_id,
                    )
                )
        self.book.sync("stale", conditions, now)

    # ------------------------------------------------------------------ equipment
    def _setup(self, data: dict[str, Any]) -> None:
        self.sensor_ids = list(data["sensor_id"])
        units = list(data["unit_id"])
        self.unit_ids = list(dict.fromkeys(units))
        index = {u: k for k, u in enumerate(self.unit_ids)}
        self.sensor_unit = np.array([index[u] for u in units], dtype=np.int64)
        self.detector = Detector(len(self.sensor_ids))
        self.risk = RiskModel(self.sensor_unit, len(self.unit_ids))
        self.probability = np.zeros(len(self.unit_ids))
        self.corroborated = np.zeros(len(self.unit_ids), dtype=bool)
        self.timeline_t, self.timeline = [], []

    def on_equipment(self, data: dict[str, Any], ts: datetime) -> None:
        if self.detector is None or list(data["sensor_id"]) != self.sensor_ids:
            self._setup(data)
        assert self.detector is not None and self.risk is not None
        dt = 1.0
        if self._last_equipment_t is not None:
            dt = max((ts - self._last_equipment_t).total_seconds(), 1e-3)
        self._last_equipment_t = ts
        values = np.array([np.nan if v is None else v for v in data["value"]], dtype=float)
        self.detector.step(
            values, np.asarray(data["duty"], float), np.asarray(data["ambient_c"], float), dt
        )
        t_s = ts.timestamp()
        features = self.risk.features(self.detector, t_s)
        self.probability = self.risk.probability(features)
        # an alert needs a second sensor to agree: one sensor alone is as likely the sensor
        self.corroborated = features[:, 2] > 0
        hold = self.settings.analytics_resolve_hold_s
        self.book.sync("equipment", self.equipment_conditions(), ts, hold)
        self.check_stale(ts)
        interval = self.settings.analytics_publish_interval_s
        if self._last_publish_t is None or (ts - self._last_publish_t).total_seconds() >= interval:
            self._last_publish_t = ts
            self.publish_scores(ts)

    def equipment_conditions(self) -> list[Condition]:
        assert self.detector is not None
        state = self.detector.state
        out: list[Condition] = []
        blind_units: set[int] = set()
        dropout = (state & DROPOUT) != 0
        if dropout.any():
            per_unit = np.bincount(self.sensor_unit, weights=dropout, minlength=len(self.unit_ids))
            sizes = np.bincount(self.sensor_unit, minlength=len(self.unit_ids))
            for u in np.flatnonzero(per_unit == sizes):
                blind_units.add(int(u))
                out.append(
                    Condition(
                        "comm_loss",
                        "no_data",
                        "critical",
                        self.unit_ids[u],
                        f"no data from {self.unit_ids[u]}",
                    )
                )
        for k in np.flatnonzero(state):
            flags = int(state[k])
            sensor = self.sensor_ids[k]
            if flags & DROPOUT:
                if int(self.sensor_unit[k]) not in blind_units:
                    out.append(
                        Condition(
                            "stale_feed", "dropout", "warning", sensor, f"{sensor} reads nothing"
                        )
                    )
                continue
            if flags & STUCK:
                out.append(
                    Condition(
                        "anomaly", "stuck", "warning", sensor, f"{sensor} repeats the same value"
                    )
                )
            if flags & NOISE:
                out.append(Condition("anomaly", "noise", "warning", sensor, f"{sensor} is noisy"))
            if flags & LEVEL:
                high = self.detector.level[k] > 0
                out.append(
                    Condition(
                        "anomaly",
                        "level",
                        "warning",
                        sensor,
                        f"{sensor} reads {'above' if high else 'below'} its normal for the load",
                    )
                )
        threshold = self.settings.analytics_risk_alert_probability
        for u in np.flatnonzero((self.probability >= threshold) & self.corroborated):
            p = float(self.probability[u])
            out.append(
                Condition(
                    "failure_risk",
                    "failure_risk",
                    "critical" if p >= 0.8 else "warning",
                    self.unit_ids[u],
                    # rounded: a message that changed every tick would flood the alerts topic
                    f"{self.unit_ids[u]}: ~{round(p, 1):.0%} chance of failure within "
                    f"{HORIZON_S / 3600:g} h; schedule maintenance",
                )
            )
        return out

    def publish_scores(self, ts: datetime) -> None:
        assert self.detector is not None
        score = np.round(self.detector.score(), 3)
        self.timeline_t.append(ts)
        self.timeline.append(score)
        keep = self.settings.analytics_timeline_points
        if len(self.timeline) > keep:
            del self.timeline[: len(self.timeline) - keep]
            del self.timeline_t[: len(self.timeline_t) - keep]
        scores = ScoresData(series=self.sensor_ids, score=score.tolist())
        self.hub.publish(SCORES_TOPIC, scores.model_dump(), ts=ts, source=SOURCE)
        risk = RiskData(
            horizon_s=HORIZON_S,
            devices=[
                RiskRow(device=u, probability=round(float(p), 4), evidence=self._evidence(k))
                for k, (u, p) in enumerate(zip(self.unit_ids, self.probability, strict=True))
            ],
        )
        self.hub.publish(RISK_TOPIC, risk.model_dump(), ts=ts, source=SOURCE)
        self.publish_suggestions(ts, [(row.device, row.probability) for row in risk.devices])

    def publish_suggestions(self, ts: datetime, risk: list[tuple[str, float]]) -> None:
        from datetime import timedelta

        from energydash.analytics.suggest import suggestions

        settings = self.settings
        market = self.hub.latest(f"market/{settings.grid_network}")
        local = ts + timedelta(hours=settings.site_utc_offset_h)
        rows = suggestions(
            [state.data for state in self.hub.matching("pdu/+/outlets")],
            market.data if market else None,
            risk,
            now=ts,
            local_hour=local.hour + local.minute / 60.0,
            weekday=local.weekday(),
            idle_w=settings.analytics_idle_outlet_w,
            failure_cost_aud=settings.analytics_failure_cost_aud,
            risk_probability=settings.analytics_risk_alert_probability,
        )
        data = SuggestionsData(suggestions=rows)
        self.hub.publish(SUGGESTIONS_TOPIC, data.model_dump(), ts=ts, source=SOURCE)

    def _evidence(self, unit: int) -> str:
        assert self.detector is not None
        sensors = np.flatnonzero((self.sensor_unit == unit) & (self.detector.state != 0))
        return ", ".join(self.sensor_ids[k].split("/", 1)[1] for k in sensors) or "normal"

    def timeline_of(self, sensor_id: str) -> tuple[list[datetime], list[float]]:
        k = self.sensor_ids.index(sensor_id)
        return list(self.timeline_t), [float(row[k]) for row in self.timeline]


def now_utc() -> datetime:
    return datetime.now(UTC)
