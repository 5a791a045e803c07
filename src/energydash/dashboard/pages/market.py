"""Market: price and demand per region over time, generation mix by fuel technology, top
facilities, emissions, and a CSV export of exactly what is shown (regions and time range)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from typing import Any

from dash import Input, Output, State, callback, clientside_callback, dcc, html

from energydash.dashboard.aggregate import grid_totals
from energydash.dashboard.components import charts, fueltech
from energydash.dashboard.components.card import card
from energydash.dashboard.components.charts import GRAPH_CONFIG
from energydash.dashboard.context import DashboardContext, get_context
from energydash.dashboard.feed import Point
from energydash.dashboard.live import Updates, streamer

PAGE = "market"
REGION_COLOURS = [
    "#2563eb",
    "#dc2626",
    "#16a34a",
    "#f59e0b",
    "#7c3aed",
    "#0891b2",
    "#db2777",
    "#65a30d",
]
WINDOWS = [
    {"label": "Last 5 min", "value": 300},
    {"label": "Last 15 min", "value": 900},
    {"label": "Last hour", "value": 3600},
    {"label": "All kept", "value": 0},
]


def _topic(context: DashboardContext) -> str | None:
    topics = context.feed.market_topics()
    preferred = f"market/{context.settings.grid_network}"
    return preferred if preferred in topics else (topics[0] if topics else None)


def _regions(market: dict[str, Any] | None) -> list[str]:
    return [r.get("region") for r in (market or {}).get("regions") or [] if r.get("region")]


def layout(**_query: str) -> html.Div:
    context = get_context()
    topic = _topic(context)
    market = context.feed.latest(topic) if topic else None
    regions = _regions(market)
    figures = _figures(context, topic, regions, 0)
    network = (market or {}).get("network") or context.settings.grid_network
    return html.Div(
        [
            dcc.Store(id="market-mount", data=uuid.uuid4().hex),
            html.Div(
                [
                    html.H1(
                        f"Market · {network}",
                        className="page-title",
                    ),
                    html.Div(
                        [
                            html.Label("Regions", className="control-label"),
                            dcc.Checklist(
                                id="market-regions",
                                options=[{"label": r, "value": r} for r in regions],
                                value=regions,
                                inline=True,
                                className="checklist",
                            ),
                            html.Label("Range", className="control-label"),
                            dcc.Dropdown(
                                id="market-window",
                                options=WINDOWS,
                                value=0,
                                clearable=False,
                                style={"width": "160px"},
                            ),
                            html.Button(
                                "Export CSV",
                                id="market-export",
                                className="btn btn-cycle",
                                n_clicks=0,
                            ),
                            dcc.Download(id="market-download"),
                        ],
                        className="controls",
                    ),
                ],
                className="page-head",
            ),
            html.Div(
                [
                    card(
                        "Price (AUD/MWh)",
                        dcc.Graph(id="market-price", figure=figures["price"], config=GRAPH_CONFIG),
                    ),
                    card(
                        "Demand (MW)",
                        dcc.Graph(
                            id="market-demand", figure=figures["demand"], config=GRAPH_CONFIG
                        ),
                    ),
                ],
                className="grid-2",
            ),
            html.Div(
                [
                    card(
                        "Generation mix (MW, selected regions)",
                        dcc.Graph(id="market-mix", figure=figures["mix"], config=GRAPH_CONFIG),
                    ),
                    card(
                        "Emissions intensity (t/MWh)",
                        dcc.Graph(
                            id="market-emissions", figure=figures["emissions"], config=GRAPH_CONFIG
                        ),
                    ),
                ],
                className="grid-2",
            ),
            card("Top facilities by output", html.Div(id="market-top")),
        ],
        className="page",
    )


clientside_callback(
    """function(mount, regions, win) {
        return {page: 'market', mount: mount, regions: regions || [], window_s: win || 0};
    }""",
    Output("view", "data", allow_duplicate=True),
    Input("market-mount", "data"),
    Input("market-regions", "value"),
    Input("market-window", "value"),
    prevent_initial_call="initial_duplicate",
)


def _windowed(points: list[Point], window_s: int) -> list[Point]:
    if not window_s or not points:
        return points
    try:
        end = datetime.fromisoformat(points[-1].ts.replace("Z", "+00:00"))
    except ValueError:
        return points
    kept = []
    for point in points:
        try:
            at = datetime.fromisoformat(point.ts.replace("Z", "+00:00"))
        except ValueError:
            continue
        if (end - at).total_seconds() <= window_s:
            kept.append(point)
    return kept


def _series(points: list[Point], regions: list[str], metric: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {r: [] for r in regions}
    for point in points:
        by_region = {r.get("region"): r for r in point.values.get("regions") or []}
        for region in regions:
            out[region].append((by_region.get(region) or {}).get(metric))
    return out


def _mix_series(points: list[Point], regions: list[str]) -> dict[str, list[float]]:
    techs: set[str] = set()
    rows = []
    for point in points:
        totals = grid_totals({"regions": point.values.get("regions")}, regions)
        rows.append(totals.generation_by_fueltech_mw)
        techs |= set(totals.generation_by_fueltech_mw)
    return {t: [round(row.get(t, 0.0), 2) for row in rows] for t in fueltech.ordered(techs)}


def _figures(
    context: DashboardContext, topic: str | None, regions: list[str], window_s: int
) -> dict[str, Any]:
    points = _windowed(context.feed.history(topic), window_s) if topic else []
    times = [p.ts for p in points]
    colour = {r: REGION_COLOURS[i % len(REGION_COLOURS)] for i, r in enumerate(regions)}
    figures = {}
    for name, metric, unit in (
        ("price", "price_aud_per_mwh", "AUD/MWh"),
        ("demand", "demand_mw", "MW"),
        ("emissions", "emissions_t_per_mwh", "t/MWh"),
    ):
        series = _series(points, regions, metric)
        figures[name] = charts.time_figure(
            [{"name": r, "x": times, "y": series[r], "colour": colour[r]} for r in regions],
            y_title=unit,
            range_selector=name == "price",
        )
    mix = _mix_series(points, regions)
    figures["mix"] = charts.time_figure(
        [
            {"name": fueltech.label(t), "x": times, "y": mix[t], "colour": fueltech.colour(t)}
            for t in mix
        ],
        y_title="MW",
        stacked=True,
        height=300,
    )
    figures["_techs"] = list(mix)
    return figures


def _top_table(context: DashboardContext, regions: list[str], limit: int = 10) -> html.Table:
    columns = (context.feed.latest("facilities") or {}).get("facilities") or {}
    rows = []
    for i, code in enumerate(columns.get("code") or []):
        region = (columns.get("region") or [None] * (i + 1))[i]
        if regions and region not in regions:
            continue
        power = (columns.get("power_mw") or [None] * (i + 1))[i] or 0.0
        rows.append((power, i, code))
    rows.sort(reverse=True)

    def col(name: str, i: int) -> Any:
        values = columns.get(name) or []
        return values[i] if i < len(values) else None

    body = []
    for power, i, code in rows[:limit]:
        tech = col("fueltech", i) or ""
        capacity = col("capacity_mw", i) or 0.0
        emissions = col("emissions_t", i)
        body.append(
            html.Tr(
                [
                    html.Td(col("name", i) or code),
                    html.Td(col("region", i)),
                    html.Td(
                        [
                            html.Span(
                                className="tech-chip", style={"background": fueltech.colour(tech)}
                            ),
                            fueltech.label(tech),
                        ]
                    ),
                    html.Td(f"{power:,.1f}", className="num"),
                    html.Td(f"{capacity:,.0f}", className="num"),
                    html.Td(f"{(power / capacity if capacity else 0):.0%}", className="num"),
                    html.Td("—" if emissions is None else f"{emissions:,.2f}", className="num"),
                ]
            )
        )
    head = html.Thead(
        html.Tr(
            [
                html.Th("Facility"),
                html.Th("Region"),
                html.Th("Fuel tech"),
                html.Th("Output MW", className="num"),
                html.Th("Capacity MW", className="num"),
                html.Th("Load", className="num"),
                html.Th("Emissions t", className="num"),
            ]
        )
    )
    return html.Table([head, html.Tbody(body)], className="table")


@callback(
    Output("market-download", "data"),
    Input("market-export", "n_clicks"),
    State("market-regions", "value"),
    State("market-window", "value"),
    prevent_initial_call=True,
)
def export_csv(_clicks: int, regions: list[str], window_s: int) -> dict[str, Any]:
    """The rows behind the charts: one per timestamp and region, mix columns per fueltech."""
    context = get_context()
    topic = _topic(context)
    points = _windowed(context.feed.history(topic), window_s or 0) if topic else []
    return dcc.send_string(market_csv(points, regions or []), "energydash-market.csv")


def market_csv(points: list[Point], regions: list[str]) -> str:
    techs: set[str] = set()
    for point in points:
        for region in point.values.get("regions") or []:
            if region.get("region") in regions:
                techs |= set(region.get("generation_by_fueltech_mw") or {})
    tech_order = fueltech.ordered(techs)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "timestamp",
            "interval",
            "region",
            "price_aud_per_mwh",
            "demand_mw",
            "generation_mw",
            "net_interchange_mw",
            "emissions_t_per_mwh",
        ]
        + [f"{t}_mw" for t in tech_order]
    )
    for point in points:
        for region in point.values.get("regions") or []:
            if region.get("region") not in regions:
                continue
            mix = region.get("generation_by_fueltech_mw") or {}
            writer.writerow(
                [
                    point.ts,
                    point.values.get("interval"),
                    region.get("region"),
                    region.get("price_aud_per_mwh"),
                    region.get("demand_mw"),
                    region.get("generation_mw"),
                    region.get("net_interchange_mw"),
                    region.get("emissions_t_per_mwh"),
                ]
                + [mix.get(t, "") for t in tech_order]
            )
    return buffer.getvalue()


CHARTS = ("price", "demand", "emissions", "mix")
METRICS = {
    "price": "price_aud_per_mwh",
    "demand": "demand_mw",
    "emissions": "emissions_t_per_mwh",
}


@streamer(PAGE)
def stream(view: dict[str, Any], context: DashboardContext, memo: dict[str, Any]) -> Updates:
    topic = _topic(context)
    if topic is None:
        return []
    market = context.feed.latest(topic)
    all_regions = _regions(market)
    updates: Updates = []
    if memo.get("all_regions") != all_regions:
        updates.append(
            ("market-regions", {"options": [{"label": r, "value": r} for r in all_regions]})
        )
        if not view.get("regions"):
            updates.append(("market-regions", {"value": all_regions}))
        memo["all_regions"] = all_regions
    regions = [r for r in view.get("regions") or [] if r in all_regions]
    window_s = int(view.get("window_s") or 0)
    ts = context.feed.latest_ts(topic)
    points = context.feed.history(topic, last=1)
    mix_now = _mix_series(points, regions)
    key = (tuple(regions), window_s)
    # Whole figures when the selection changes or a new fueltech appears; else one point each,
    # as a Patch of the figure (never extendData: see charts.append_points).
    if memo.get("key") != key or any(t not in memo.get("techs", []) for t in mix_now):
        figures = _figures(context, topic, regions, window_s)
        for name in ("price", "demand", "emissions", "mix"):
            updates.append((f"market-{name}", {"figure": figures[name]}))
        memo["held"] = {name: charts.points_held(figures[name]) for name in CHARTS}
        memo["techs"] = figures["_techs"]
        memo["key"] = key
    elif ts != memo.get("ts") and points:
        max_points = max(2, min(context.settings.dashboard_history_points, window_s or 10**9))
        techs = memo.get("techs", [])
        latest = {
            name: [_series(points, regions, metric)[r][-1] for r in regions]
            for name, metric in METRICS.items()
        }
        latest["mix"] = [(mix_now.get(t) or [0.0])[-1] for t in techs]
        held = memo.setdefault("held", {})
        for name in CHARTS:
            patch, held[name] = charts.append_points(
                ts, latest[name], held.get(name, 0), max_points
            )
            updates.append((f"market-{name}", {"figure": patch}))
    memo["ts"] = ts
    if memo.get("top_ts") != context.feed.latest_ts("facilities"):
        updates.append(("market-top", {"children": _top_table(context, regions)}))
        memo["top_ts"] = context.feed.latest_ts("facilities")
    return updates
