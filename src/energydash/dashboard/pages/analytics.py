"""Analytics: alerts with acknowledge, anomaly-score timelines over the injected faults' ground
truth, failure probability per device, and suggestions with apply buttons."""

from __future__ import annotations

import uuid
from typing import Any

from dash import ALL, Input, Output, callback, clientside_callback, ctx, dcc, html, no_update

from energydash.dashboard.components import charts
from energydash.dashboard.components.card import card
from energydash.dashboard.components.charts import GRAPH_CONFIG
from energydash.dashboard.components.controls import guarded_button, refusal, shown, token
from energydash.dashboard.context import DashboardContext, get_context
from energydash.dashboard.live import Updates, streamer
from energydash.dashboard.sessions import CONTROL_PRIVILEGE

PAGE = "analytics"
TIMELINES = 6
RISK_ROWS = 15
FAULT_COLOURS = {
    "bearing_wear": "rgba(220,38,38,.15)",
    "refrigerant_leak": "rgba(37,99,235,.15)",
    "clogged_filter": "rgba(245,158,11,.18)",
    "sensor_drift": "rgba(124,58,237,.15)",
}


def layout(**_query: str) -> html.Div:
    context = get_context()
    return html.Div(
        [
            dcc.Store(id="an-mount", data=uuid.uuid4().hex),
            html.H1("Analytics", className="page-title"),
            html.Div(id="an-result", className="an-result"),
            card("Alerts", html.Div(alerts_table(context), id="an-alerts")),
            card(
                "Anomaly scores (1.0 = alarm threshold; shaded: injected faults, ground truth)",
                dcc.Graph(id="an-scores", figure=scores_figure(context), config=GRAPH_CONFIG),
            ),
            html.Div(
                [
                    card(
                        "Failure probability within the hour",
                        dcc.Graph(id="an-risk", figure=risk_figure(context), config=GRAPH_CONFIG),
                    ),
                    card("Suggestions", html.Div(suggestions_table(context), id="an-suggest")),
                ],
                className="grid-2",
            ),
        ],
        className="page",
    )


clientside_callback(
    "function(mount) { return {page: 'analytics', mount: mount}; }",
    Output("view", "data", allow_duplicate=True),
    Input("an-mount", "data"),
    prevent_initial_call="initial_duplicate",
)


def _alerts(context: DashboardContext) -> list[dict[str, Any]]:
    return (context.feed.latest("alerts") or {}).get("alerts") or []


def alerts_table(context: DashboardContext) -> Any:
    alerts = _alerts(context)
    if not alerts:
        return html.P("No alerts", className="alert-none")
    head = html.Tr(
        [html.Th(h) for h in ("Severity", "Source", "Target", "Message", "First seen", "State", "")]
    )
    rows = []
    for alert in alerts[:100]:
        state = alert.get("state")
        if state == "acknowledged":
            state = f"acknowledged by {alert.get('acknowledged_by')}"
        rows.append(
            html.Tr(
                [
                    html.Td(alert.get("severity")),
                    html.Td(alert.get("source")),
                    html.Td(alert.get("target")),
                    html.Td(alert.get("message")),
                    html.Td(str(alert.get("first_seen"))[11:19]),
                    html.Td(state),
                    html.Td(
                        guarded_button(
                            "Acknowledge",
                            {"type": "an-ack", "id": alert["id"]},
                            CONTROL_PRIVILEGE,
                            "an-button",
                            extra_reason="" if alert.get("state") == "open" else "not open",
                        )
                    ),
                ],
                className=str(alert.get("severity")),
            )
        )
    return html.Table([html.Thead(head), html.Tbody(rows)], className="an-table")


def _series_to_show(context: DashboardContext) -> list[str]:
    scores = context.feed.latest("analytics/scores") or {}
    series = scores.get("series") or []
    faults = (context.feed.latest("analytics/faults") or {}).get("faults") or []
    chosen: list[str] = []
    for fault in reversed(faults):
        target = fault["target"]
        for name in series:
            if (name == target or name.startswith(target + "/")) and name not in chosen:
                chosen.append(name)
                break
    history = context.feed.history("analytics/scores")
    if history and len(chosen) < TIMELINES:
        peak = [0.0] * len(series)
        for point in history:
            for k, value in enumerate(point.values or []):
                if k < len(peak) and value > peak[k]:
                    peak[k] = value
        for k in sorted(range(len(series)), key=lambda k: -peak[k]):
            if series[k] not in chosen:
                chosen.append(series[k])
            if len(chosen) >= TIMELINES:
                break
    return chosen[:TIMELINES]


def scores_figure(context: DashboardContext) -> dict[str, Any]:
    scores = context.feed.latest("analytics/scores") or {}
    series = scores.get("series") or []
    index = {name: k for k, name in enumerate(series)}
    history = context.feed.history("analytics/scores")
    times = [p.ts for p in history]
    lines = []
    for name in _series_to_show(context):
        k = index[name]
        lines.append(
            {
                "name": name,
                "x": times,
                "y": [(p.values[k] if p.values and k < len(p.values) else None) for p in history],
            }
        )
    figure = charts.time_figure(lines, y_title="score")
    shapes = [
        {
            "type": "line",
            "xref": "paper",
            "x0": 0,
            "x1": 1,
            "y0": 1,
            "y1": 1,
            "line": {"color": "#dc2626", "dash": "dot", "width": 1},
        }
    ]
    shown = {line["name"] for line in lines}
    for fault in (context.feed.latest("analytics/faults") or {}).get("faults") or []:
        target = fault["target"]
        if not any(s == target or s.startswith(target + "/") for s in shown):
            continue
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": fault["start"],
                "x1": fault.get("end") or (times[-1] if times else fault["start"]),
                "y0": 0,
                "y1": 1,
                "fillcolor": FAULT_COLOURS.get(fault["kind"], "rgba(100,116,139,.15)"),
                "line": {"width": 0},
                "layer": "below",
                "label": {"text": f"{fault['kind']} {target}", "textposition": "top left"},
            }
        )
    figure["layout"]["shapes"] = shapes
    return figure


def risk_figure(context: DashboardContext) -> dict[str, Any]:
    risk = (context.feed.latest("analytics/risk") or {}).get("devices") or []
    top = sorted(risk, key=lambda r: -r["probability"])[:RISK_ROWS]
    top.reverse()
    colours = [
        "#dc2626"
        if r["probability"] >= 0.5
        else "#f59e0b"
        if r["probability"] >= 0.2
        else "#2563eb"
        for r in top
    ]
    return charts.bar_figure(
        [r["device"] for r in top],
        [round(r["probability"], 3) for r in top],
        colours,
        x_title="P(failure within 1 h)",
        height=360,
        text=[f"{r['probability']:.2%} · {r['evidence']}" for r in top],
    )


def suggestions_table(context: DashboardContext) -> Any:
    rows = (context.feed.latest("analytics/suggestions") or {}).get("suggestions") or []
    if not rows:
        return html.P("No suggestions")
    head = html.Tr([html.Th(h) for h in ("Priority", "Suggestion", "AUD", "kg CO2", "")])
    body = []
    for row in rows[:30]:
        body.append(
            html.Tr(
                [
                    html.Td(row["priority"]),
                    html.Td([html.Div(row["title"]), html.Small(row["detail"])]),
                    html.Td(f"{row['saving_aud']:.2f}"),
                    html.Td(f"{row['saving_kg_co2']:.2f}"),
                    html.Td(
                        guarded_button(
                            "Apply",
                            {"type": "an-apply", "id": row["id"]},
                            CONTROL_PRIVILEGE,
                            "an-button",
                            extra_reason="" if row["appliable"] else "cannot be applied by command",
                        )
                    ),
                ]
            )
        )
    return html.Table([html.Thead(head), html.Tbody(body)], className="an-table")


@callback(
    Output("an-result", "children"),
    Input({"type": "an-ack", "id": ALL}, "n_clicks"),
    Input({"type": "an-apply", "id": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
async def act(_acks: list[int], _applies: list[int]) -> Any:
    """Acknowledge or apply through the backend's REST API; say what the backend answered."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not any(t.get("value") for t in ctx.triggered):
        return no_update
    control = get_context().control
    ack = trigger["type"] == "an-ack"
    what = f"{'alert' if ack else 'suggestion'} {trigger['id']}"
    action = "acknowledge" if ack else "apply"
    reason = refusal(CONTROL_PRIVILEGE)
    if reason:
        return f"✖ {what}: {action} not sent — {reason}"
    if ack:
        result = await control.acknowledge_alert(trigger["id"], token())
    else:
        result = await control.apply_suggestion(trigger["id"], token())
    return shown(what, action, result)[0]


@streamer(PAGE)
def stream(view: dict[str, Any], context: DashboardContext, memo: dict[str, Any]) -> Updates:
    updates: Updates = []
    feed = context.feed
    keys = {
        "an-alerts": feed.latest_ts("alerts"),
        "an-suggest": feed.latest_ts("analytics/suggestions"),
        "an-scores": feed.latest_ts("analytics/scores"),
        "an-risk": feed.latest_ts("analytics/risk"),
    }
    for component, ts in keys.items():
        if memo.get(component) == ts:
            continue
        memo[component] = ts
        if component == "an-alerts":
            updates.append((component, {"children": alerts_table(context)}))
        elif component == "an-suggest":
            updates.append((component, {"children": suggestions_table(context)}))
        elif component == "an-scores":
            updates.append((component, {"figure": scores_figure(context)}))
        else:
            updates.append((component, {"figure": risk_figure(context)}))
    return updates
