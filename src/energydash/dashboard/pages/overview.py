"""Overview: fleet totals (power, energy today, phases, breakers, alerts) and grid totals."""

from __future__ import annotations

import uuid
from typing import Any

from dash import Input, Output, Patch, clientside_callback, dcc, html

from energydash.dashboard.aggregate import fleet_totals, grid_totals
from energydash.dashboard.components import charts, fueltech
from energydash.dashboard.components.alerts import alert_items
from energydash.dashboard.components.card import card
from energydash.dashboard.components.charts import GRAPH_CONFIG
from energydash.dashboard.context import DashboardContext, get_context
from energydash.dashboard.live import Updates, streamer

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
            card("Alerts", html.Ul(id="ov-alerts", className="alerts")),
        ],
        className="page",
    )


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


def last_data_ts(context: DashboardContext, pdu: str) -> str | None:
    """When a PDU last reported a reading (its summary history), for "no data since"."""
    for point in reversed(context.feed.history(f"pdu/{pdu}/summary")):
        if point.values.get("power_w") is not None:
            return point.ts
    return None


def unknown_lines(context: DashboardContext, fleet: Any) -> list[str]:
    lines = []
    for pdu in fleet.unknown:
        since = last_data_ts(context, pdu)
        when = f"no data since {since[11:19]} UTC" if since else "no data since it connected"
        lines.append(f"PDU {pdu}: unknown · {when}")
    return lines


def alert_list(context: DashboardContext, fleet: Any) -> list[Any]:
    """Open alerts from analytics (the ``alerts`` topic); PDU summary reasons without it."""
    data = context.feed.latest("alerts")
    unknown = [
        html.Li(line, className="alert-item unknown") for line in unknown_lines(context, fleet)
    ]
    if data is None:
        return unknown + [html.Li(a) for a in fleet.alerts[:50]] or [html.Li("No alerts")]
    return unknown + alert_items(data.get("alerts") or [])


def _kpi_text(context: DashboardContext, fleet: Any, grid: Any) -> dict[str, str]:
    feed = context.feed
    today = [feed.energy_today_kwh(f"pdu/{p}/summary") for p in feed.pdu_ids()]
    known = [e for e in today if e is not None]
    partial = (
        f" (partial: {fleet.pdus - len(fleet.unknown)} of {fleet.pdus} PDUs)"
        if fleet.partial
        else ""
    )
    return {
        "ov-power": f"{fleet.power_w / 1000:,.2f} kW{partial}",
        "ov-energy": f"{sum(known):,.2f} kWh{partial}" if known else "—",
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
    if memo.get("page") != PAGE:
        updates.append(("ov-power-chart", {"figure": _snapshot(context)["power"]}))
    elif last_ts and last_ts != memo.get("overview_last_ts"):
        max_points = context.settings.dashboard_history_points
        updates.append(
            (
                "ov-power-chart",
                {"extendData": charts.extend(last_ts, [fleet.power_w / 1000], max_points)},
            )
        )
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

    alerts = alert_list(context, fleet)
    key = [str(a) for a in alerts]
    if memo.get("overview_alerts") != key:
        updates.append(("ov-alerts", {"children": alerts}))
        memo["overview_alerts"] = key
    return updates
