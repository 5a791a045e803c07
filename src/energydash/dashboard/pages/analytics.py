"""Analytics: alerts with acknowledge, anomaly-score timelines over the injected faults' ground
truth, failure probability per device, and suggestions with apply buttons.

The score timeline follows the page's time picker: it loads the chosen range of
``analytics/scores`` from the backend's stored history (the feed's recent frames when that
cannot be read), then, while live, appends one point per step of the range as a figure
``Patch``. The failure-probability bars are a snapshot of now and take no range.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from dash import (
    ALL,
    Input,
    Output,
    Patch,
    State,
    callback,
    clientside_callback,
    ctx,
    dcc,
    html,
    no_update,
)

from energydash.dashboard.components import charts
from energydash.dashboard.components.card import card
from energydash.dashboard.components.charts import GRAPH_CONFIG
from energydash.dashboard.components.controls import guarded_button, refusal, shown, token
from energydash.dashboard.components.timepicker import time_picker
from energydash.dashboard.context import DashboardContext, get_context
from energydash.dashboard.history import load
from energydash.dashboard.live import Updates, streamer
from energydash.dashboard.sessions import CONTROL_PRIVILEGE
from energydash.dashboard.timerange import (
    TimeRange,
    axis_title,
    data_now,
    due,
    from_query,
    local,
    parse_utc,
    points_for,
)

PAGE = "analytics"
SCORES = "analytics/scores"
TIMELINES = 6
RISK_ROWS = 15
FAULT_COLOURS = {
    "bearing_wear": "rgba(220,38,38,.15)",
    "refrigerant_leak": "rgba(37,99,235,.15)",
    "clogged_filter": "rgba(245,158,11,.18)",
    "sensor_drift": "rgba(124,58,237,.15)",
}


def layout(**query: str) -> html.Div:
    context = get_context()
    time_range = from_query(query)
    scores = scores_figure(context, time_range)
    return html.Div(
        [
            dcc.Store(id="an-mount", data=uuid.uuid4().hex),
            # The time picker's range: the score timeline loads it from stored history.
            dcc.Store(id="an-range", data={"query": time_range.query()}),
            html.Div(
                [
                    html.H1("Analytics", className="page-title"),
                    time_picker(time_range),
                    html.P(scores.note, id="an-history-note", className="hint"),
                ],
                className="page-head",
            ),
            html.Div(id="an-result", className="an-result"),
            card("Alerts", html.Div(alerts_table(context), id="an-alerts")),
            card(
                "Anomaly scores (1.0 = alarm threshold; shaded: injected faults, ground truth)",
                dcc.Graph(id="an-scores", figure=scores.figure, config=GRAPH_CONFIG),
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
    """function(mount, range) {
        return {page: 'analytics', mount: mount, range: range || {}};
    }""",
    Output("view", "data", allow_duplicate=True),
    Input("an-mount", "data"),
    State("an-range", "data"),
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


class Timeline:
    """The score timeline over a range: its figure, what it holds, and a note on its source."""

    def __init__(
        self, figure: dict[str, Any], names: list[str], held: int, last: str | None, note: str
    ) -> None:
        self.figure = figure
        self.names = names
        self.held = held
        self.last = last
        self.note = note


def _scores_now(context: DashboardContext) -> datetime:
    return data_now(context.feed.latest_ts(SCORES))


def score_rows(
    context: DashboardContext, names: list[str], time_range: TimeRange, now: datetime
) -> tuple[list[str], dict[str, list[float | None]], str]:
    """(UTC times, scores per name, note) over the range: stored history, else the feed's."""
    if not names:
        return [], {}, ""
    loaded = load(context, SCORES, names, time_range, now)
    if not loaded.error:
        blank: list[float | None] = [None] * len(loaded.timestamps)
        return loaded.timestamps, {n: loaded.series.get(n) or blank for n in names}, ""
    start, end = time_range.bounds(now)
    series = (context.feed.latest(SCORES) or {}).get("series") or []
    index = {name: k for k, name in enumerate(series)}
    points = [p for p in context.feed.history(SCORES) if start <= parse_utc(p.ts) <= end]
    rows: dict[str, list[float | None]] = {}
    for name in names:
        k = index.get(name)
        rows[name] = [
            p.values[k] if k is not None and p.values and k < len(p.values) else None
            for p in points
        ]
    note = f"Stored history unavailable ({loaded.error}); showing recent live scores."
    return [p.ts for p in points], rows, note


def fault_shapes(
    context: DashboardContext,
    names: list[str],
    time_range: TimeRange,
    now: datetime,
    last: str | None,
) -> list[dict[str, Any]]:
    """The alarm line, and a rectangle per injected fault on a shown series, clipped to the
    range (an open fault reaches the newest point) so it never widens the axis."""
    shapes: list[dict[str, Any]] = [
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
    start, end = time_range.bounds(now)
    newest = parse_utc(last) if last else end
    for fault in (context.feed.latest("analytics/faults") or {}).get("faults") or []:
        target = fault["target"]
        if not any(s == target or s.startswith(target + "/") for s in names):
            continue
        begins = max(parse_utc(str(fault["start"])), start)
        ends = min(parse_utc(str(fault["end"])) if fault.get("end") else newest, end)
        if ends < begins:
            continue
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": local(begins, time_range.tz),
                "x1": local(ends, time_range.tz),
                "y0": 0,
                "y1": 1,
                "fillcolor": FAULT_COLOURS.get(fault["kind"], "rgba(100,116,139,.15)"),
                "line": {"width": 0},
                "layer": "below",
                "label": {"text": f"{fault['kind']} {target}", "textposition": "top left"},
            }
        )
    return shapes


def scores_figure(context: DashboardContext, time_range: TimeRange) -> Timeline:
    """The timeline of the chosen series over the picker's range."""
    now = _scores_now(context)
    names = _series_to_show(context)
    times, rows, note = score_rows(context, names, time_range, now)
    x = [local(t, time_range.tz) for t in times]
    figure = charts.time_figure(
        [{"name": name, "x": x, "y": rows[name]} for name in names], y_title="score"
    )
    xaxis = figure["layout"]["xaxis"]
    xaxis["title"] = {"text": axis_title(time_range.zone)}
    # The legend goes under the axis title (the zone), not over it.
    figure["layout"]["legend"] = {"orientation": "h", "x": 0, "y": -0.3, "yanchor": "top"}
    figure["layout"]["margin"]["b"] = 90
    figure["layout"]["height"] = 330
    if not time_range.live:  # a fixed window shows exactly its bounds
        start, end = time_range.bounds(now)
        xaxis["range"] = [local(start, time_range.tz), local(end, time_range.tz)]
    last = times[-1] if times else None
    figure["layout"]["shapes"] = fault_shapes(context, names, time_range, now, last)
    return Timeline(figure, names, len(times), last, note)


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


def _latest_scores(context: DashboardContext, names: list[str]) -> list[float | None]:
    scores = context.feed.latest(SCORES) or {}
    index = {name: k for k, name in enumerate(scores.get("series") or [])}
    values = scores.get("score") or []
    return [values[index[n]] if n in index and index[n] < len(values) else None for n in names]


def _fault_key(context: DashboardContext) -> list[tuple[Any, ...]]:
    faults = (context.feed.latest("analytics/faults") or {}).get("faults") or []
    return [(f.get("id"), f.get("target"), f.get("end")) for f in faults]


def timeline_updates(
    context: DashboardContext, time_range: TimeRange, memo: dict[str, Any]
) -> Updates:
    """The score timeline's round: a whole figure on entering or when the shown series change
    (a new fault's target), else one Patch with the due point and the fault rectangles, never
    both to the graph in one round."""
    ts = context.feed.latest_ts(SCORES)
    faults = _fault_key(context)
    # The shown series change when a fault appears on another one, or when scores first come.
    recheck = faults != memo.get("an_faults") or (ts is not None and not memo.get("an_names"))
    if "an_names" not in memo or (recheck and _series_to_show(context) != memo["an_names"]):
        timeline = scores_figure(context, time_range)
        memo.update(
            an_names=timeline.names,
            an_held=timeline.held,
            an_last=timeline.last,
            an_ts=ts,
            an_faults=faults,
            an_shapes=timeline.figure["layout"]["shapes"],
        )
        return [
            ("an-scores", {"figure": timeline.figure}),
            ("an-history-note", {"children": timeline.note}),
        ]
    memo["an_faults"] = faults
    if ts is None or ts == memo.get("an_ts"):
        return []
    memo["an_ts"] = ts
    names = memo["an_names"]
    patch = None
    if names and due(time_range, memo.get("an_last"), ts):
        patch, memo["an_held"] = charts.append_points(
            local(ts, time_range.tz),
            _latest_scores(context, names),
            memo.get("an_held", 0),
            points_for(time_range, parse_utc(ts)),
        )
        memo["an_last"] = ts
    shapes = fault_shapes(context, names, time_range, _scores_now(context), memo.get("an_last"))
    if shapes != memo.get("an_shapes"):
        patch = patch if patch is not None else Patch()
        patch["layout"]["shapes"] = shapes
        memo["an_shapes"] = shapes
    return [] if patch is None else [("an-scores", {"figure": patch})]


@streamer(PAGE)
def stream(view: dict[str, Any], context: DashboardContext, memo: dict[str, Any]) -> Updates:
    updates: Updates = []
    feed = context.feed
    time_range = from_query((view.get("range") or {}).get("query") or {})
    keys = {
        "an-alerts": feed.latest_ts("alerts"),
        "an-suggest": feed.latest_ts("analytics/suggestions"),
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
        else:
            updates.append((component, {"figure": risk_figure(context)}))
    updates += timeline_updates(context, time_range, memo)
    return updates
