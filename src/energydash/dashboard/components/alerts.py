"""Alert pieces every page shares: the header's open-alert counts and an alert list."""

from __future__ import annotations

from typing import Any

from dash import html

SEVERITY_ORDER = ("critical", "warning", "info")


def alert_counts() -> html.Div:
    """The header badge: open alerts by severity (filled in by the live pump)."""
    return html.A(
        [
            html.Span("—", id=f"alert-count-{severity}", className=f"alert-count {severity}")
            for severity in SEVERITY_ORDER
        ],
        id="alert-counts",
        href="/analytics",
        className="alert-counts",
        title="Open alerts by severity: critical, warning, info",
    )


def counts_of(alerts: dict[str, Any] | None) -> dict[str, int] | None:
    """``AlertsData.counts`` of the ``alerts`` frame (None before the first frame)."""
    if not alerts:
        return None
    counts = alerts.get("counts") or {}
    return {severity: int(counts.get(severity) or 0) for severity in SEVERITY_ORDER}


def count_updates(alerts: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    counts = counts_of(alerts)
    updates = []
    for severity in SEVERITY_ORDER:
        text = "—" if counts is None else f"{counts[severity]} {severity}"
        updates.append((f"alert-count-{severity}", {"children": text}))
    return updates


def alert_line(alert: dict[str, Any]) -> str:
    state = alert.get("state")
    extra = f" · acknowledged by {alert.get('acknowledged_by')}" if state == "acknowledged" else ""
    return (
        f"{alert.get('severity', '').upper()} {alert.get('target')}: {alert.get('message')}{extra}"
    )


def alert_items(alerts: list[dict[str, Any]], limit: int = 50) -> list[html.Li]:
    if not alerts:
        return [html.Li("No alerts", className="alert-none")]
    return [
        html.Li(alert_line(a), className=f"alert-item {a.get('severity')} {a.get('state')}")
        for a in alerts[:limit]
    ]
