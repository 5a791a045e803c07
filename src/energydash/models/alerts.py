"""Alerts: the one model of everything that needs attention, on every face.

Hub topic ``alerts`` (and WS): ``AlertsData`` — the open and acknowledged alerts (a full
state, as every topic) plus ``changes``, the alerts that changed since the previous publish.
MQTT ``energydash/alerts``: the same ``AlertsData``. REST ``GET /api/v1/alerts``:
``AlertList``. Hub topic ``analytics/equipment``: ``EquipmentData`` (the condition sensors).
Hub topic ``analytics/scores``: ``ScoresData``; ``analytics/risk``: ``RiskData``;
``analytics/suggestions``: ``SuggestionsData``; ``analytics/faults``: ``FaultsData`` (ground
truth of injected equipment faults, for timelines).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

AlertSource = Literal[
    "breaker",
    "threshold",
    "health_change",
    "anomaly",
    "failure_risk",
    "comm_loss",
    "stale_feed",
]
ALERT_SOURCES: tuple[str, ...] = (
    "breaker",
    "threshold",
    "health_change",
    "anomaly",
    "failure_risk",
    "comm_loss",
    "stale_feed",
)
Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
AlertState = Literal["open", "acknowledged", "resolved"]
ALERT_STATES: tuple[str, ...] = ("open", "acknowledged", "resolved")


class Alert(BaseModel):
    """One condition on one target, from first seen until resolved."""

    id: str
    source: AlertSource
    kind: str = Field(description="What the source saw: stuck, dropout, level_high, tripped, ..")
    severity: Severity
    target: str = Field(description="pdu/1, pdu/1/A3, pdu/1/branch/B, motor-07/bearing_temp_c")
    pdu_id: str | None = None
    message: str
    first_seen: datetime
    last_seen: datetime
    state: AlertState = "open"
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None


class AlertCounts(BaseModel):
    info: int = 0
    warning: int = 0
    critical: int = 0


class AlertsData(BaseModel):
    """Topic ``alerts``: every alert not resolved, and what changed since the last publish."""

    alerts: list[Alert]
    changes: list[Alert]
    counts: AlertCounts


class AlertList(BaseModel):
    """``GET /api/v1/alerts``."""

    alerts: list[Alert]
    total: int
    truncated: bool


class EquipmentData(BaseModel):
    """Topic ``analytics/equipment``: every condition sensor's latest reading (columnar)."""

    sensor_id: list[str]
    unit_id: list[str]
    unit_kind: list[str]
    uom: list[str]
    value: list[float | None]
    duty: list[float]
    ambient_c: list[float]


class ScoresData(BaseModel):
    """Topic ``analytics/scores``: anomaly score per series (1.0 is the alarm threshold)."""

    series: list[str]
    score: list[float]


class RiskRow(BaseModel):
    device: str
    probability: float = Field(ge=0, le=1)
    evidence: str


class RiskData(BaseModel):
    """Topic ``analytics/risk``: probability each device fails within ``horizon_s``."""

    horizon_s: float
    devices: list[RiskRow]


class Suggestion(BaseModel):
    id: str
    kind: Literal["shift_load", "rebalance_phases", "power_down_idle", "schedule_maintenance"]
    title: str
    detail: str
    priority: Literal["low", "medium", "high"]
    saving_aud: float
    saving_kg_co2: float
    target: str
    appliable: bool
    commands: list[dict[str, str]] = Field(
        default_factory=list, description="Engine commands applying it (OutletPower fields)."
    )


class SuggestionsData(BaseModel):
    suggestions: list[Suggestion]


class FaultLabelRow(BaseModel):
    id: str
    kind: str
    target: str
    start: datetime
    end: datetime | None
    fail_at: datetime | None


class FaultsData(BaseModel):
    """Topic ``analytics/faults``: the ground truth of injected equipment faults."""

    faults: list[FaultLabelRow]
