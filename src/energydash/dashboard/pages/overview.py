"""Overview: fleet totals (power, energy today, phases, breakers, alerts) and grid totals.

It also holds the recent actions (the backend's ``audit`` topic, live) and the simulation
control (start, stop, speed), which only a role with ConfigureManager may use.
"""

from __future__ import annotations

import uuid
from typing import Any

from dash import (
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
from pydantic import ValidationError

from energydash.dashboard.aggregate import fleet_totals, grid_totals
from energydash.dashboard.components import charts, fueltech
from energydash.dashboard.components.card import card
from energydash.dashboard.components.charts import GRAPH_CONFIG
from energydash.dashboard.components.controls import guarded_button, refusal, shown, token
from energydash.dashboard.context import DashboardContext, get_context
from energydash.dashboard.feed import BackendFeed
from energydash.dashboard.live import Updates, streamer
from energydash.dashboard.sessions import SIMULATION_PRIVILEGE
from energydash.models.audit import AUDIT_TOPIC, AuditData, AuditRecord

PAGE = "overview"
KPIS = (
    ("ov-power", "Fleet power"),
    ("ov-energy", "Energy today"),
    ("ov-outlets", "Outlets on"),
    ("ov-breakers", "Breakers tripped"),
    ("ov-demand", "Grid demand"),
    ("ov-price", "Price (demand-weighted)"),
    ("ov-intensity", "Emissions intensity"),
    ("ov-generation", "Generation"),
)
PHASE_COLOURS = {"L1": "#2563eb", "L2": "#f59e0b", "L3": "#10b981"}
RECENT_ACTIONS = 20
MAX_SPEED = 100_000.0  # the backend's bound on the clock speed


def kpi(card_id: str, label: str) -> html.Div:
    return html.Div(
        [html.Div(label, className="kpi-label"), html.Div("—", id=card_id, className="kpi-value")],
        className="kpi",
    )


def layout(**_query: str) -> html.Div:
    context = get_context()
    snapshot = _snapshot(context)
    return html.Div(
        [
            dcc.Store(id="ov-mount", data=uuid.uuid4().hex),
            html.H1("Overview", className="page-title"),
            html.Div([kpi(i, label) for i, label in KPIS[:4]], className="kpi-row"),
            html.Div([kpi(i, label) for i, label in KPIS[4:]], className="kpi-row"),
            html.Div(
                [
                    card(
                        "Fleet power",
                        dcc.Graph(
                            id="ov-power-chart", figure=snapshot["power"], config=GRAPH_CONFIG
                        ),
                    ),
                    card(
                        "Load per phase",
                        dcc.Graph(
                            id="ov-phase-chart", figure=snapshot["phases"], config=GRAPH_CONFIG
                        ),
                    ),
                ],
                className="grid-2",
            ),
            html.Div(
                [
                    card(
                        "Generation by fuel technology",
                        dcc.Graph(id="ov-mix-chart", figure=snapshot["mix"], config=GRAPH_CONFIG),
                    ),
                    card(
                        "Price by region",
                        dcc.Graph(
                            id="ov-price-chart", figure=snapshot["prices"], config=GRAPH_CONFIG
                        ),
                    ),
                ],
                className="grid-2",
            ),
            html.Div(
                [
                    card("Alerts", html.Ul(id="ov-alerts", className="alerts")),
                    card(
                        "Recent actions",
                        html.Ul(
                            audit_items(audit_records(context.feed)),
                            id="ov-audit",
                            className="audit",
                        ),
                    ),
                ],
                className="grid-2",
            ),
            card("Simulation", simulation_panel()),
        ],
        className="page",
    )


def simulation_panel() -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    guarded_button("Start", "sim-start", SIMULATION_PRIVILEGE, "btn btn-on"),
                    guarded_button("Stop", "sim-stop", SIMULATION_PRIVILEGE, "btn btn-off"),
                    dcc.Input(
                        id="sim-speed",
                        type="number",
                        min=0.1,
                        max=MAX_SPEED,
                        step="any",
                        value=1,
                        className="sim-speed",
                        disabled=bool(refusal(SIMULATION_PRIVILEGE)),
                    ),
                    guarded_button("Set speed", "sim-set-speed", SIMULATION_PRIVILEGE, "btn"),
                ],
                className="buttons",
            ),
            html.Div(id="sim-result", className="result"),
        ],
        className="sim-control",
    )


@callback(
    Output("sim-result", "children"),
    Output("sim-result", "className"),
    Input("sim-start", "n_clicks"),
    Input("sim-stop", "n_clicks"),
    Input("sim-set-speed", "n_clicks"),
    State("sim-speed", "value"),
    prevent_initial_call=True,
)
async def control_simulation(
    _start: int, _stop: int, _speed: int, speed: float | None
) -> tuple[str, str]:
    """Start, stop or re-speed the simulation as the user (POST /api/v1/simulation)."""
    trigger = str(ctx.triggered_id)
    action = {"sim-start": "start", "sim-stop": "stop"}.get(trigger)
    if action is None and trigger != "sim-set-speed":
        return no_update, no_update
    label = action or f"speed {speed}"
    reason = refusal(SIMULATION_PRIVILEGE)
    if reason:
        return f"✖ simulation: {label} not sent — {reason}", "result result-error"
    if action is None and (not isinstance(speed, int | float) or not 0 < float(speed) <= MAX_SPEED):
        return f"✖ simulation: speed must be > 0 and ≤ {MAX_SPEED:,.0f}", "result result-error"
    control = get_context().control
    if action is None:
        result = await control.simulation(token(), speed=float(speed))
    else:
        result = await control.simulation(token(), action=action)
    return shown("simulation", label, result)


def audit_records(feed: BackendFeed) -> list[AuditRecord]:
    """The backend's recent actions, newest first (the ``audit`` topic, via the shared feed)."""
    data = feed.latest(AUDIT_TOPIC)
    if not data:
        return []
    try:
        records = AuditData.model_validate(data).records
    except ValidationError:
        return []
    return list(reversed(records[-RECENT_ACTIONS:]))


def audit_items(records: list[AuditRecord]) -> list[html.Li]:
    if not records:
        return [html.Li("No actions yet", className="audit-empty")]
    items = []
    for r in records:
        role = f" ({r.role})" if r.role else ""
        detail = f" · {r.detail}" if r.detail else ""
        origin = f" from {r.origin}" if r.origin else ""
        items.append(
            html.Li(
                [
                    html.Span(r.ts.strftime("%H:%M:%S"), className="audit-ts"),
                    html.Span(f"{r.user}{role}", className="audit-user"),
                    html.Span(f"{r.action} {r.target}", className="audit-what"),
                    html.Span(r.result, className=f"audit-result audit-{r.result}"),
                    html.Span(f"via {r.face}{origin}{detail}", className="audit-detail"),
                ],
                className="audit-item",
            )
        )
    return items


clientside_callback(
    "function(mount) { return {page: 'overview', mount: mount}; }",
    Output("view", "data", allow_duplicate=True),
    Input("ov-mount", "data"),
    prevent_initial_call="initial_duplicate",
)


def _summaries(context: DashboardContext) -> list[dict[str, Any]]:
    feed = context.feed
    frames = [feed.latest(f"pdu/{pdu}/summary") for pdu in feed.pdu_ids()]
    return [f for f in frames if f]


def _market(context: DashboardContext) -> dict[str, Any] | None:
    topics = context.feed.market_topics()
    preferred = f"market/{context.settings.grid_network}"
    topic = preferred if preferred in topics else (topics[0] if topics else None)
    return context.feed.latest(topic) if topic else None


def _fleet_power_history(context: DashboardContext) -> tuple[list[str], list[float]]:
    """Fleet power over time: PDU summaries of the same tick share a timestamp."""
    by_ts: dict[str, float] = {}
    for pdu in context.feed.pdu_ids():
        for point in context.feed.history(f"pdu/{pdu}/summary"):
            by_ts[point.ts] = by_ts.get(point.ts, 0.0) + (point.values.get("power_w") or 0.0)
    times = sorted(by_ts)
    return times, [by_ts[t] / 1000.0 for t in times]


def _snapshot(context: DashboardContext) -> dict[str, Any]:
    fleet = fleet_totals(_summaries(context))
    grid = grid_totals(_market(context))
    times, power_kw = _fleet_power_history(context)
    power = charts.time_figure(
        [{"name": "Fleet power", "x": times, "y": power_kw, "colour": "#2563eb"}],
        y_title="kW",
        range_selector=True,
    )
    power["layout"]["showlegend"] = False
    phases = list(fleet.phase_current_a)
    phase_fig = charts.bar_figure(
        phases,
        [fleet.phase_current_a[p] for p in phases],
        [PHASE_COLOURS.get(p, "#64748b") for p in phases],
        x_title="Current (A), all PDUs",
        horizontal=False,
        height=300,
    )
    mix_fig = charts.bar_figure(*_mix(grid.generation_by_fueltech_mw), x_title="MW", height=300)
    regions, prices = _prices(_market(context))
    price_fig = charts.bar_figure(
        regions, prices, "#7c3aed", x_title="AUD/MWh", horizontal=False, height=300
    )
    return {
        "fleet": fleet,
        "grid": grid,
        "power": power,
        "phases": phase_fig,
        "mix": mix_fig,
        "prices": price_fig,
    }


def _mix(mix_mw: dict[str, float]) -> tuple[list[str], list[float], list[str]]:
    techs = [t for t in fueltech.ordered(list(mix_mw)) if abs(mix_mw[t]) > 0.0]
    return (
        [fueltech.label(t) for t in techs],
        [round(mix_mw[t], 1) for t in techs],
        [fueltech.colour(t) for t in techs],
    )


def _prices(market: dict[str, Any] | None) -> tuple[list[str], list[float]]:
    regions = (market or {}).get("regions") or []
    return [r.get("region") for r in regions], [r.get("price_aud_per_mwh") or 0.0 for r in regions]


def _kpi_text(context: DashboardContext, fleet: Any, grid: Any) -> dict[str, str]:
    feed = context.feed
    today = [feed.energy_today_kwh(f"pdu/{p}/summary") for p in feed.pdu_ids()]
    known = [e for e in today if e is not None]
    return {
        "ov-power": f"{fleet.power_w / 1000:,.2f} kW",
        "ov-energy": f"{sum(known):,.2f} kWh" if known else "—",
        "ov-outlets": f"{fleet.outlets_on} / {fleet.outlets_total}",
        "ov-breakers": str(fleet.breakers_tripped),
        "ov-demand": f"{grid.demand_mw:,.0f} MW",
        "ov-price": "—"
        if grid.price_aud_per_mwh is None
        else f"${grid.price_aud_per_mwh:,.2f}/MWh",
        "ov-intensity": "—"
        if grid.emissions_t_per_mwh is None
        else f"{grid.emissions_t_per_mwh:.3f} t/MWh",
        "ov-generation": f"{grid.generation_mw:,.0f} MW",
    }


@streamer(PAGE)
def stream(view: dict[str, Any], context: DashboardContext, memo: dict[str, Any]) -> Updates:
    fleet = fleet_totals(_summaries(context))
    market = _market(context)
    grid = grid_totals(market)
    updates: Updates = []
    texts = _kpi_text(context, fleet, grid)
    sent = memo.get("overview_kpis", {}) if memo.get("page") == PAGE else {}
    for card_id, text in texts.items():
        if sent.get(card_id) != text:
            updates.append((card_id, {"children": text}))
    memo["overview_kpis"] = texts

    # Fleet power: a full series on entering the page, then one point per new tick.
    times, _ = _fleet_power_history(context)
    last_ts = times[-1] if times else None
    # Both as figures (whole, then Patches), never extendData: see charts.append_points.
    if memo.get("page") != PAGE:
        figure = _snapshot(context)["power"]
        updates.append(("ov-power-chart", {"figure": figure}))
        memo["overview_held"] = charts.points_held(figure)
    elif last_ts and last_ts != memo.get("overview_last_ts"):
        max_points = context.settings.dashboard_history_points
        patch, memo["overview_held"] = charts.append_points(
            last_ts, [fleet.power_w / 1000], memo.get("overview_held", 0), max_points
        )
        updates.append(("ov-power-chart", {"figure": patch}))
    memo["overview_last_ts"] = last_ts
    memo["page"] = PAGE

    phases = list(fleet.phase_current_a)
    phase_patch = Patch()
    phase_patch["data"][0]["x"] = phases
    phase_patch["data"][0]["y"] = [round(fleet.phase_current_a[p], 2) for p in phases]
    phase_patch["data"][0]["marker"]["color"] = [PHASE_COLOURS.get(p, "#64748b") for p in phases]
    updates.append(("ov-phase-chart", {"figure": phase_patch}))

    labels, values, colours = _mix(grid.generation_by_fueltech_mw)
    mix_patch = Patch()
    mix_patch["data"][0]["y"] = labels
    mix_patch["data"][0]["x"] = values
    mix_patch["data"][0]["marker"]["color"] = colours
    updates.append(("ov-mix-chart", {"figure": mix_patch}))

    regions, prices = _prices(market)
    price_patch = Patch()
    price_patch["data"][0]["x"] = regions
    price_patch["data"][0]["y"] = [round(p, 2) for p in prices]
    updates.append(("ov-price-chart", {"figure": price_patch}))

    audit_ts = context.feed.latest_ts(AUDIT_TOPIC)
    if memo.get("overview_audit_ts") != audit_ts:
        updates.append(("ov-audit", {"children": audit_items(audit_records(context.feed))}))
        memo["overview_audit_ts"] = audit_ts

    alerts = fleet.alerts or ["No alerts"]
    if memo.get("overview_alerts") != alerts:
        updates.append(("ov-alerts", {"children": [html.Li(a) for a in alerts[:50]]}))
        memo["overview_alerts"] = alerts
    return updates
