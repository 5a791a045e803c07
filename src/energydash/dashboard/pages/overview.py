"""Overview: fleet totals (power, energy today, phases, breakers, alerts) and grid totals.

It also holds the recent actions (the backend's ``audit`` topic, live) and the simulation
control (start, stop, speed), which only a role with ConfigureManager may use.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
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

from energydash.dashboard.aggregate import GridTotals, fleet_totals, grid_totals
from energydash.dashboard.components import charts, fueltech
from energydash.dashboard.components.alerts import alert_items
from energydash.dashboard.components.card import card
from energydash.dashboard.components.charts import GRAPH_CONFIG
from energydash.dashboard.components.controls import guarded_button, refusal, shown, token
from energydash.dashboard.components.source import (
    grid_data,
    market_topic,
    source_banner,
    source_updates,
)
from energydash.dashboard.components.timepicker import time_picker
from energydash.dashboard.context import DashboardContext, get_context
from energydash.dashboard.feed import BackendFeed
from energydash.dashboard.history import load, load_window
from energydash.dashboard.live import Updates, streamer
from energydash.dashboard.sessions import SIMULATION_PRIVILEGE
from energydash.dashboard.timerange import (
    ZONES,
    TimeRange,
    axis_title,
    day_start,
    from_query,
    local,
    parse_utc,
    points_for,
)
from energydash.models.audit import AUDIT_TOPIC, AuditData, AuditRecord

PAGE = "overview"
KPIS = (
    ("ov-power", "Fleet power"),
    ("ov-energy", "Energy today"),  # since midnight of the time picker's zone
    ("ov-outlets", "Outlets on"),
    ("ov-breakers", "Breakers tripped"),
    ("ov-demand", "Grid demand"),
    ("ov-price", "Price (demand-weighted)"),
    ("ov-intensity", "Emissions intensity"),
    ("ov-generation", "Generation"),
)
# Grid figures the simulator computes (issue 15): shown as text, "—" for a source without them.
GRID_KPIS = (("ov-renewables", "Renewables share"), ("ov-curtailed", "Curtailed (wind + solar)"))
PHASE_COLOURS = {"L1": "#2563eb", "L2": "#f59e0b", "L3": "#10b981"}
RECENT_ACTIONS = 20
# Fleet power history is the sum of each PDU's stored summary; past this many PDUs the page
# shows the feed's recent frames instead of asking the backend once per PDU.
HISTORY_PDUS = 50
MAX_SPEED = 100_000.0  # the backend's bound on the clock speed


def kpi(card_id: str, label: str) -> html.Div:
    return html.Div(
        [html.Div(label, className="kpi-label"), html.Div("—", id=card_id, className="kpi-value")],
        className="kpi",
    )


def _now(context: DashboardContext) -> datetime:
    """The data's clock: the newest PDU summary frame (else the wall clock)."""
    stamps = [context.feed.latest_ts(f"pdu/{p}/summary") for p in context.feed.pdu_ids()]
    known = [parse_utc(t) for t in stamps if t]
    return max(known) if known else datetime.now(UTC)


def _stored_power(
    context: DashboardContext, time_range: TimeRange, now: datetime
) -> tuple[list[str], list[float], str]:
    """Fleet power (kW) over the range from each PDU's stored summary; else the feed's."""
    pdus = context.feed.pdu_ids()
    error = f"more than {HISTORY_PDUS} PDUs" if len(pdus) > HISTORY_PDUS else ""
    by_ts: dict[str, float] = {}
    for pdu in [] if error else pdus:
        loaded = load(context, f"pdu/{pdu}/summary", ["power_w"], time_range, now)
        if loaded.error:
            error = loaded.error
            break
        for ts, value in zip(loaded.timestamps, loaded.series.get("power_w") or [], strict=False):
            if value is not None:
                by_ts[ts] = by_ts.get(ts, 0.0) + value
    if error:
        start, end = time_range.bounds(now)
        times, power = _fleet_power_history(context)
        kept = [(t, p) for t, p in zip(times, power, strict=True) if start <= parse_utc(t) <= end]
        note = f"Stored history unavailable ({error}); showing recent live data."
        return [t for t, _ in kept], [p for _, p in kept], note
    times = sorted(by_ts)
    return times, [round(by_ts[t] / 1000.0, 3) for t in times], ""


def _energy_bases(
    context: DashboardContext, time_range: TimeRange, now: datetime
) -> tuple[dict[str, float], str]:
    """Each PDU's meter reading at the start of today in the chosen zone, from history.

    The second value is the wall time the first of them was read at when history starts later
    than midnight (a backend started today), so the card can say "since 10:05".
    """
    midnight = day_start(now, time_range.tz)
    bases: dict[str, float] = {}
    since = ""
    for pdu in context.feed.pdu_ids()[:HISTORY_PDUS]:
        loaded = load_window(
            context,
            f"pdu/{pdu}/summary",
            ["energy_kwh"],
            midnight,
            min(now, midnight + timedelta(hours=24)),
            None,
        )
        values = loaded.series.get("energy_kwh") or []
        first = next((i for i, v in enumerate(values) if v is not None), None)
        if loaded.error or first is None:
            continue
        bases[pdu] = float(values[first])
        at = parse_utc(loaded.timestamps[first])
        if at - midnight > timedelta(minutes=5):
            since = local(at, time_range.tz)[11:16]
    return bases, since


def layout(**query: str) -> html.Div:
    context = get_context()
    time_range = from_query(query)
    now = _now(context)
    times, power_kw, note = _stored_power(context, time_range, now)
    snapshot = _snapshot(context, time_range, now, times, power_kw)
    bases, since = _energy_bases(context, time_range, now)
    view_range = {
        "live": time_range.live,
        "step_s": time_range.step_s(now),
        "max_points": points_for(time_range, now),
        "zone": time_range.zone,
        "held": len(times),
        "last_ts": times[-1] if times else None,
        "energy_bases": bases,
        "energy_since": since,
    }
    return html.Div(
        [
            dcc.Store(id="ov-mount", data=uuid.uuid4().hex),
            dcc.Store(id="ov-range", data=view_range),
            html.Div(
                [
                    html.H1("Overview", className="page-title"),
                    time_picker(time_range),
                    html.P(note, id="ov-history-note", className="hint"),
                ],
                className="page-head",
            ),
            html.Div(
                [
                    kpi(i, f"{label} ({time_range.zone})" if i == "ov-energy" else label)
                    for i, label in KPIS[:4]
                ],
                className="kpi-row",
            ),
            source_banner(
                PAGE, context.feed, _market_topic(context), time_range.tz, time_range.zone
            ),
            html.Div([kpi(i, label) for i, label in KPIS[4:]], className="kpi-row"),
            grid_flows_row(snapshot["grid"]),
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


def grid_flows_row(grid: GridTotals) -> html.Div:
    """Renewables share and curtailment beside the interconnector flows."""
    texts = grid_texts(grid)
    figures = html.Div(
        [
            html.Div(
                [
                    html.Div(label, className="kpi-label"),
                    html.Div(texts[i], id=i, className="kpi-value"),
                ],
                className="kpi",
            )
            for i, label in GRID_KPIS
        ],
        className="kpi-row",
        style={"gridTemplateColumns": "1fr 1fr", "marginBottom": 0},
    )
    return html.Div(
        [
            card("Renewables and curtailment", figures),
            card(
                "Interconnector flows", html.Ul(flow_items(grid), id="ov-flows", className="flows")
            ),
        ],
        className="grid-2",
    )


def grid_texts(grid: GridTotals) -> dict[str, str]:
    """The grid KPIs' texts; "—" for a figure the source does not send (e.g. a replay)."""
    share, curtailed = grid.renewables_share, grid.curtailed_mw
    price, intensity = grid.price_aud_per_mwh, grid.emissions_t_per_mwh
    return {
        "ov-demand": f"{grid.demand_mw:,.0f} MW" if grid.has_demand else "—",
        "ov-price": "—" if price is None else f"${price:,.2f}/MWh",
        "ov-intensity": "—" if intensity is None else f"{intensity:.3f} t/MWh",
        "ov-generation": f"{grid.generation_mw:,.0f} MW" if grid.has_generation else "—",
        "ov-renewables": "—" if share is None else f"{share:.1%}",
        "ov-curtailed": "—" if curtailed is None else f"{curtailed:,.0f} MW",
    }


def flow_items(grid: GridTotals) -> list[html.Li]:
    """One line per interconnector, arrow in the direction power flows now."""
    if not grid.interconnectors:
        return [html.Li("No interconnector data from this source", className="flow-empty")]
    return [
        html.Li(
            [html.Span(f"{a} → {b}", className="flow-path"), html.Span(f"{mw:,.0f} MW")],
            className="flow",
        )
        for a, b, mw in grid.interconnectors
    ]


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
    "function(mount, range) { return {page: 'overview', mount: mount, range: range || {}}; }",
    Output("view", "data", allow_duplicate=True),
    Input("ov-mount", "data"),
    Input("ov-range", "data"),
    prevent_initial_call="initial_duplicate",
)


def _summaries(context: DashboardContext) -> list[dict[str, Any]]:
    feed = context.feed
    frames = [feed.latest(f"pdu/{pdu}/summary") for pdu in feed.pdu_ids()]
    return [f for f in frames if f]


def _market_topic(context: DashboardContext) -> str | None:
    return market_topic(context.feed, context.settings.grid_network)  # a replay's, if one runs


def _market(context: DashboardContext) -> dict[str, Any] | None:
    return grid_data(context.feed, _market_topic(context))


def _fleet_power_history(context: DashboardContext) -> tuple[list[str], list[float]]:
    """Fleet power over time: PDU summaries of the same tick share a timestamp."""
    by_ts: dict[str, float] = {}
    for pdu in context.feed.pdu_ids():
        for point in context.feed.history(f"pdu/{pdu}/summary"):
            by_ts[point.ts] = by_ts.get(point.ts, 0.0) + (point.values.get("power_w") or 0.0)
    times = sorted(by_ts)
    return times, [by_ts[t] / 1000.0 for t in times]


def _snapshot(
    context: DashboardContext,
    time_range: TimeRange,
    now: datetime,
    times: list[str],
    power_kw: list[float],
) -> dict[str, Any]:
    fleet = fleet_totals(_summaries(context))
    grid = grid_totals(_market(context))
    power = charts.time_figure(
        [
            {
                "name": "Fleet power",
                "x": [local(t, time_range.tz) for t in times],
                "y": power_kw,
                "colour": "#2563eb",
            }
        ],
        y_title="kW",
    )
    power["layout"]["showlegend"] = False
    power["layout"]["xaxis"]["title"] = {"text": axis_title(time_range.zone)}
    if not time_range.live:
        start, end = time_range.bounds(now)
        power["layout"]["xaxis"]["range"] = [local(start, time_range.tz), local(end, time_range.tz)]
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


def _energy_today(context: DashboardContext, view_range: dict[str, Any]) -> str:
    """Energy since midnight of the chosen zone: each meter now minus its reading then."""
    feed = context.feed
    bases = view_range.get("energy_bases") or {}
    today = []
    for pdu in feed.pdu_ids():
        summary = feed.latest(f"pdu/{pdu}/summary") or {}
        energy = summary.get("energy_kwh")
        if pdu in bases and isinstance(energy, int | float):
            today.append(max(float(energy) - float(bases[pdu]), 0.0))
        else:  # no stored reading of today: since this dashboard first saw it (UTC day)
            today.append(feed.energy_today_kwh(f"pdu/{pdu}/summary"))
    known = [e for e in today if e is not None]
    if not known:
        return "—"
    since = view_range.get("energy_since")
    return f"{sum(known):,.2f} kWh" + (f" since {since}" if since else "")


def _kpi_text(
    context: DashboardContext, fleet: Any, grid: Any, view_range: dict[str, Any]
) -> dict[str, str]:
    partial = (
        f" (partial: {fleet.pdus - len(fleet.unknown)} of {fleet.pdus} PDUs)"
        if fleet.partial
        else ""
    )
    energy = _energy_today(context, view_range)
    return {
        "ov-power": f"{fleet.power_w / 1000:,.2f} kW{partial}",
        "ov-energy": energy + (partial if energy != "—" else ""),
        "ov-outlets": f"{fleet.outlets_on} / {fleet.outlets_total}",
        "ov-breakers": str(fleet.breakers_tripped),
        **grid_texts(grid),
    }


def bars_update(memo: dict[str, Any], graph_id: str, bars: dict[str, list[Any]]) -> Updates:
    """A ``Patch`` of a bar chart's one trace (``x``, ``y``, optional ``colour``), or nothing
    when the graph shows these bars already (``memo`` holds what was sent)."""
    key = f"overview_bars:{graph_id}"
    if memo.get(key) == bars:
        return []
    memo[key] = bars
    patch = Patch()
    trace = patch["data"][0]
    trace["x"], trace["y"] = bars["x"], bars["y"]
    if "colour" in bars:
        trace["marker"]["color"] = bars["colour"]
    return [(graph_id, {"figure": patch})]


@streamer(PAGE)
def stream(view: dict[str, Any], context: DashboardContext, memo: dict[str, Any]) -> Updates:
    fleet = fleet_totals(_summaries(context))
    market = _market(context)
    grid = grid_totals(market)
    view_range = view.get("range") or {}
    zone_name = str(view_range.get("zone") or "UTC")
    zone_name = zone_name if zone_name in ZONES else "UTC"
    updates: Updates = source_updates(
        PAGE, context.feed, _market_topic(context), ZONES[zone_name], zone_name, memo
    )
    texts = _kpi_text(context, fleet, grid, view_range)
    sent = memo.get("overview_kpis", {}) if memo.get("page") == PAGE else {}
    for card_id, text in texts.items():
        if sent.get(card_id) != text:
            updates.append((card_id, {"children": text}))
    memo["overview_kpis"] = texts

    # Fleet power: the range as the page loaded it from history, then (live) one point per
    # step of the range, as a Patch of the figure (never extendData: see charts.append_points).
    if memo.get("page") != PAGE:
        memo["overview_held"] = int(view_range.get("held") or 0)
        memo["overview_last"] = view_range.get("last_ts")
    stamps = [context.feed.latest_ts(f"pdu/{p}/summary") for p in context.feed.pdu_ids()]
    last_ts = max((t for t in stamps if t), default=None)
    last = memo.get("overview_last")
    step_s = float(view_range.get("step_s") or 1.0)
    due = last_ts is not None and (
        last is None or (parse_utc(last_ts) - parse_utc(last)).total_seconds() >= step_s - 0.5
    )
    if view_range.get("live") and due and last_ts:
        zone = ZONES.get(str(view_range.get("zone")), UTC)
        patch, memo["overview_held"] = charts.append_points(
            local(last_ts, zone),
            [round(fleet.power_w / 1000, 3)],
            memo.get("overview_held", 0),
            int(view_range.get("max_points") or 2),
        )
        updates.append(("ov-power-chart", {"figure": patch}))
        memo["overview_last"] = last_ts
    memo["page"] = PAGE

    # A tick's frames arrive over ~0.2 s, so the pump often runs twice per tick; each bar chart
    # is patched only when its bars changed (every patch is a redraw of that graph).
    phases = list(fleet.phase_current_a)
    updates += bars_update(
        memo,
        "ov-phase-chart",
        {
            "x": phases,
            "y": [round(fleet.phase_current_a[p], 2) for p in phases],
            "colour": [PHASE_COLOURS.get(p, "#64748b") for p in phases],
        },
    )
    labels, values, colours = _mix(grid.generation_by_fueltech_mw)
    updates += bars_update(memo, "ov-mix-chart", {"y": labels, "x": values, "colour": colours})
    regions, prices = _prices(market)
    updates += bars_update(
        memo, "ov-price-chart", {"x": regions, "y": [round(p, 2) for p in prices]}
    )

    flows = [f"{a}>{b}:{mw:.0f}" for a, b, mw in grid.interconnectors]
    if memo.get("overview_flows") != flows:
        updates.append(("ov-flows", {"children": flow_items(grid)}))
        memo["overview_flows"] = flows

    audit_ts = context.feed.latest_ts(AUDIT_TOPIC)
    if memo.get("overview_audit_ts") != audit_ts:
        updates.append(("ov-audit", {"children": audit_items(audit_records(context.feed))}))
        memo["overview_audit_ts"] = audit_ts

    alerts = alert_list(context, fleet)
    key = [str(a) for a in alerts]
    if memo.get("overview_alerts") != key:
        updates.append(("ov-alerts", {"children": alerts}))
        memo["overview_alerts"] = key
    return updates
