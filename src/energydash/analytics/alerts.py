"""The alert book: one alert per (source, kind, target) condition, from first seen to resolved.

Rules report the conditions they see for a *scope* (a PDU, the equipment) on every evaluation
with ``sync``; an alert whose condition is no longer reported is resolved. Acknowledging keeps
an alert visible (state ``acknowledged``) until its condition goes. Resolved alerts are kept up
to ``max_alerts`` in all, oldest resolved first out, so memory stays bounded.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from energydash.models.alerts import SEVERITIES, Alert, AlertCounts, AlertsData


@dataclass(frozen=True, slots=True)
class Condition:
    source: str
    kind: str
    severity: str
    target: str
    message: str
    pdu_id: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.source, self.kind, self.target)


class AlertBook:
    def __init__(self, max_alerts: int = 10_000) -> None:
        self.max_alerts = max_alerts
        self._live: dict[tuple[str, str, str], Alert] = {}
        self._scope_of: dict[tuple[str, str, str], str] = {}
        self._all: OrderedDict[str, Alert] = OrderedDict()
        self._changes: dict[str, Alert] = {}
        self._absent_since: dict[tuple[str, str, str], datetime] = {}
        self._counter = 0

    # ------------------------------------------------------------------ rules in
    def sync(
        self, scope: str, conditions: list[Condition], now: datetime, hold_s: float = 0.0
    ) -> None:
        """``conditions`` is everything the rules of ``scope`` see now. A condition that comes
        back within ``hold_s`` of going is the same alert (scores hover around a threshold);
        physics rules pass 0: what they see is certain."""
        seen = set()
        for condition in conditions:
            key = condition.key
            seen.add(key)
            alert = self._live.get(key)
            if alert is None:
                self._open(scope, condition, now)
            else:
                alert.last_seen = now
                if alert.severity != condition.severity or alert.message != condition.message:
                    alert.severity = condition.severity  # type: ignore[assignment]
                    alert.message = condition.message
                    self._changes[alert.id] = alert
            self._absent_since.pop(key, None)
        for key in [k for k, s in self._scope_of.items() if s == scope and k not in seen]:
            gone = self._absent_since.setdefault(key, now)
            if (now - gone).total_seconds() >= hold_s:
                self._absent_since.pop(key, None)
                self._resolve(key, now)

    def _open(self, scope: str, condition: Condition, now: datetime) -> None:
        self._counter += 1
        alert = Alert(
            id=f"A{self._counter}",
            source=condition.source,  # type: ignore[arg-type]
            kind=condition.kind,
            severity=condition.severity,  # type: ignore[arg-type]
            target=condition.target,
            pdu_id=condition.pdu_id,
            message=condition.message,
            first_seen=now,
            last_seen=now,
        )
        self._live[condition.key] = alert
        self._scope_of[condition.key] = scope
        self._all[alert.id] = alert
        self._changes[alert.id] = alert
        self._trim()

    def _resolve(self, key: tuple[str, str, str], now: datetime) -> None:
        alert = self._live.pop(key)
        self._scope_of.pop(key, None)
        alert.state = "resolved"
        alert.resolved_at = now
        self._changes[alert.id] = alert

    def _trim(self) -> None:
        while len(self._all) > self.max_alerts:
            for alert_id, alert in self._all.items():
                if alert.state == "resolved":
                    del self._all[alert_id]
                    break
            else:
                return  # every kept alert is live: live ones are never dropped

    # ------------------------------------------------------------------ faces in
    def acknowledge(self, alert_id: str, username: str, now: datetime) -> Alert:
        """Raises KeyError for an unknown id, ValueError for a resolved alert."""
        alert = self._all[alert_id]
        if alert.state == "resolved":
            raise ValueError(f"alert {alert_id} is resolved already")
        if alert.state == "open":
            alert.state = "acknowledged"
            alert.acknowledged_by = username
            alert.acknowledged_at = now
            self._changes[alert.id] = alert
        return alert

    # ------------------------------------------------------------------ reading
    def get(self, alert_id: str) -> Alert | None:
        return self._all.get(alert_id)

    def all(self) -> list[Alert]:
        return list(self._all.values())

    def live(self) -> list[Alert]:
        return list(self._live.values())

    def counts(self) -> AlertCounts:
        counts = dict.fromkeys(SEVERITIES, 0)
        for alert in self._live.values():
            if alert.state == "open":
                counts[alert.severity] += 1
        return AlertCounts(**counts)

    @property
    def changed(self) -> bool:
        return bool(self._changes)

    def take_changes(self) -> AlertsData:
        """The topic data: live alerts, and the changes since the previous call."""
        changes = list(self._changes.values())
        self._changes.clear()
        return AlertsData(
            alerts=sorted(self._live.values(), key=_rank), changes=changes, counts=self.counts()
        )


def _rank(alert: Alert) -> tuple[int, str]:
    return (-SEVERITIES.index(alert.severity), alert.id)
