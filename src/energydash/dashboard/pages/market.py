"""Market: price and demand per region over time, generation mix by fuel technology, top
facilities, emissions, and a CSV export of exactly what is shown (regions and time range)."""

from __future__ import annotations

import csv
import io
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from dash import Input, Output, State, callback, clientside_callback, dcc, html
from dash.exceptions import PreventUpdate

from energydash.dashboard.aggregate import emissions_rate, grid_totals, tick_seconds
from energydash.dashboard.components import charts, fueltech
from energydash.dashboard.components.card import card
from energydash.dashboard.components.charts import GRAPH_CONFIG
from energydash.dashboard.components.source import (
    grid_data,
    history_topic,
    market_topic,
    source_banner,
    source_updates,
)
from energydash.dashboard.components.timepicker import time_picker
from energydash.dashboard.context import DashboardContext, get_context
from energydash.dashboard.feed import Point
from energydash.dashboard.history import Loaded, load
from energydash.dashboard.live import Updates, streamer
from energydash.dashboard.timerange import (
    ZONES,
    TimeRange,
    axis_title,
    from_query,
    local,
    parse_utc,
    points_for,
)

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


def _topic(context: DashboardContext) -> str | None:
    return market_topic(context.feed, context.settings.grid_network)  # a replay's, if one runs


def _regions(market: dict[str, Any] | None) -> list[str]:
    return [r.get("region") for r in (market or {}).get("regions") or [] if r.get("region")]


def _now(context: DashboardContext, topic: str | None) -> datetime:
    """The data's clock (the newest frame), which a replayed or sped-up clock may set."""
    ts = context.feed.latest_ts(topic) if topic else None
    try:
        return parse_utc(ts) if ts else datetime.now(UTC)
    except ValueError:
        return datetime.now(UTC)


def _chosen_regions(query: dict[str, Any], all_regions: list[str]) -> list[str]:
    """``?regions=NSW1,VIC1`` (empty: none); every region when the URL does not say."""
    if "regions" not in query:
        return list(all_regions)
    wanted = [r for r in str(query["regions"]).split(",") if r]
    return [r for r in all_regions if r in wanted] + [r for r in wanted if r not in all_regions]


def _loaded_points(loaded: Loaded, regions: list[str]) -> list[Point]:
    """History rows shaped like the feed's market frames, so one code path draws both."""
    count = len(loaded.timestamps)
    missing: list[float | None] = [None] * count
    mixes: dict[str, dict[str, list[float | None]]] = {r: {} for r in regions}
    for name, values in loaded.series.items():
        region, _, rest = name.partition(".")
        if region in mixes and rest.startswith("mix_mw."):
            mixes[region][rest.removeprefix("mix_mw.")] = values
    points = []
    for i, ts in enumerate(loaded.timestamps):
        rows = []
        for region in regions:
            row: dict[str, Any] = {"region": region}
            for metric in EXPORTED_METRICS:
                row[metric] = loaded.series.get(f"{region}.{metric}", missing)[i]
            row["generation_by_fueltech_mw"] = {
                tech: values[i] for tech, values in mixes[region].items() if values[i] is not None
            }
            rows.append(row)
        points.append(Point(ts, {"interval": None, "regions": rows}))
    return points


def _range_points(
    context: DashboardContext,
    topic: str | None,
    regions: list[str],
    time_range: TimeRange,
    now: datetime,
) -> tuple[list[Point], str]:
    """The range's market rows from stored history; else the feed's own frames, and why."""
    if topic is None:
        return [], ""
    loaded = load(context, history_topic(context.feed, topic), None, time_range, now)
    if not loaded.error:
        return _loaded_points(loaded, regions), ""
    start, end = time_range.bounds(now)
    points = [p for p in context.feed.history(topic) if start <= parse_utc(p.ts) <= end]
    return points, f"Stored history unavailable ({loaded.error}); showing recent live data."


def layout(**query: str) -> html.Div:
    context = get_context()
    topic = _topic(context)
    market = grid_data(context.feed, topic)
    all_regions = _regions(market)
    regions = _chosen_regions(query, all_regions)
    time_range = from_query(query)
    now = _now(context, topic)
    points, note = _range_points(context, topic, regions, time_range, now)
    figures = _figures(points, regions, time_range, now)
    network = (market or {}).get("network") or context.settings.grid_network
    view_range = {
        "live": time_range.live,
        "step_s": time_range.step_s(now),
        "max_points": points_for(time_range, now),
        "zone": time_range.zone,
        "techs": figures["_techs"],
        "held": len(points),
        "last_ts": points[-1].ts if points else None,
        "regions_in_url": "regions" in query,
        "regions": regions,  # what the figures were drawn for
    }
    return html.Div(
        [
            dcc.Store(id="market-mount", data=uuid.uuid4().hex),
            dcc.Store(id="market-range", data=view_range),
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
                                options=[{"label": r, "value": r} for r in all_regions],
                                value=regions,
                                inline=True,
                                className="checklist",
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
                    time_picker(time_range),
                    source_banner(PAGE, context.feed, topic, time_range.tz, time_range.zone),
                    html.P(note, id="market-history-note", className="hint"),
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
    """function(mount, regions, range) {
        return {page: 'market', mount: mount, regions: regions || [], range: range || {}};
    }""",
    Output("view", "data", allow_duplicate=True),
    Input("market-mount", "data"),
    Input("market-regions", "value"),
    Input("market-range", "data"),
    prevent_initial_call="initial_duplicate",
)


@callback(
    Output("tp-url", "search", allow_duplicate=True),
    Input("market-regions", "value"),
    State("tp-url", "search"),
    State("market-range", "data"),
    prevent_initial_call=True,
)
def regions_to_url(
    regions: list[str] | None, search: str | None, rendered: dict[str, Any] | None
) -> str:
    """The chosen regions go into the URL too: the page reloads them from history."""
    if sorted((rendered or {}).get("regions") or []) == sorted(regions or []):
        raise PreventUpdate  # the figures show these already (a re-rendered page, not a user)
    pairs = parse_qsl((search or "").lstrip("?"), keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if k != "regions"]
    return "?" + urlencode([*kept, ("regions", ",".join(regions or []))])


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
    points: list[Point], regions: list[str], time_range: TimeRange, now: datetime
) -> dict[str, Any]:
    zone = time_range.tz
    times = [local(p.ts, zone) for p in points]
    colour = {r: REGION_COLOURS[i % len(REGION_COLOURS)] for i, r in enumerate(regions)}
    figures: dict[str, Any] = {}
    for name, metric, unit in (
        ("price", "price_aud_per_mwh", "AUD/MWh"),
        ("demand", "demand_mw", "MW"),
        ("emissions", "emissions_t_per_mwh", "t/MWh"),
    ):
        series = _series(points, regions, metric)
        figures[name] = charts.time_figure(
            [{"name": r, "x": times, "y": series[r], "colour": colour[r]} for r in regions],
            y_title=unit,
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
    start, end = time_range.bounds(now)
    for name in CHARTS:
        xaxis = figures[name]["layout"]["xaxis"]
        xaxis["title"] = {"text": axis_title(time_range.zone)}
        if not time_range.live:  # a fixed window shows exactly its bounds
            xaxis["range"] = [local(start, zone), local(end, zone)]
    figures["_techs"] = list(mix)
    return figures


def _top_table(context: DashboardContext, regions: list[str], limit: int = 10) -> html.Table:
    columns = (grid_data(context.feed, "facilities") or {}).get("facilities") or {}
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

    period = tick_seconds([p.ts for p in context.feed.history("facilities", last=2)])
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
                    html.Td(emissions_rate(emissions, period), className="num"),
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
                html.Th("Emissions (rate over the last tick)", className="num"),
            ]
        )
    )
    return html.Table([head, html.Tbody(body)], className="table")


@callback(
    Output("market-download", "data"),
    Input("market-export", "n_clicks"),
    State("market-regions", "value"),
    State("tp-url", "search"),
    prevent_initial_call=True,
)
def export_csv(_clicks: int, regions: list[str], search: str | None) -> dict[str, Any]:
    """The rows behind the charts: one per timestamp and region, mix columns per fueltech."""
    context = get_context()
    topic = _topic(context)
    time_range = from_query(dict(parse_qsl((search or "").lstrip("?"))))
    points, _ = _range_points(context, topic, regions or [], time_range, _now(context, topic))
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
EXPORTED_METRICS = (
    "price_aud_per_mwh",
    "demand_mw",
    "generation_mw",
    "net_interchange_mw",
    "emissions_t_per_mwh",
)
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
    market = grid_data(context.feed, topic)
    all_regions = _regions(market)
    zone_name = str((view.get("range") or {}).get("zone") or "UTC")
    zone_name = zone_name if zone_name in ZONES else "UTC"
    updates: Updates = source_updates(PAGE, context.feed, topic, ZONES[zone_name], zone_name, memo)
    if memo.get("all_regions") != all_regions:
        updates.append(
            ("market-regions", {"options": [{"label": r, "value": r} for r in all_regions]})
        )
        view_range = view.get("range") or {}
        if all_regions and not view.get("regions") and not view_range.get("regions_in_url"):
            # The page rendered before the first market frame: show every region, which
            # goes into the URL and reloads the page's range from history.
            updates.append(("market-regions", {"value": all_regions}))
        memo["all_regions"] = all_regions
    regions = [r for r in view.get("regions") or [] if r in all_regions]
    view_range = view.get("range") or {}
    if "held" not in memo:  # a freshly rendered page: its figures hold the loaded range
        memo["held"] = int(view_range.get("held") or 0)
        memo["last"] = view_range.get("last_ts")
        memo["regions"] = regions
    ts = context.feed.latest_ts(topic)
    charted = False
    # Live: one point per step of the range (the same density as the loaded past), each as a
    # Patch of the figures (never extendData: see charts.append_points). A region change
    # reloads the page from history (the regions are in the URL), so the traces stay put.
    fresh = ts and ts != memo.get("ts") and market is not None  # from the source in charge
    if view_range.get("live") and fresh and regions == memo["regions"]:
        step_s = float(view_range.get("step_s") or 1.0)
        last = memo.get("last")
        due = last is None or (parse_utc(ts) - parse_utc(last)).total_seconds() >= step_s - 0.5
        points = context.feed.history(topic, last=1)
        if due and points:
            zone = ZONES.get(str(view_range.get("zone")), UTC)
            x = local(ts, zone)
            mix_now = _mix_series(points, regions)
            latest = {
                name: [_series(points, regions, metric)[r][-1] for r in regions]
                for name, metric in METRICS.items()
            }
            latest["mix"] = [(mix_now.get(t) or [0.0])[-1] for t in view_range.get("techs") or []]
            max_points = int(view_range.get("max_points") or 2)
            held = memo["held"]
            for name in CHARTS:
                patch, memo["held"] = charts.append_points(x, latest[name], held, max_points)
                updates.append((f"market-{name}", {"figure": patch}))
            memo["last"], charted = ts, True
    memo["ts"] = ts
    # The table is ~100 Dash components: re-rendering it every tick was most of the tab's
    # browser CPU (profile: dash-renderer and React, not plotly), so it follows the data at
    # most every dashboard_table_refresh_s of wall time, and only when it shows something new.
    # Once drawn, it waits one round when this one draws chart points: both on a 5 s beat,
    # they would otherwise land together and the charts' paint would wait for the table's.
    facilities_ts = context.feed.latest_ts("facilities")
    refresh_s = context.settings.dashboard_table_refresh_s
    if memo.get("top_ts") != facilities_ts and (
        "top_at" not in memo or time.monotonic() - memo["top_at"] >= refresh_s
    ):
        if charted and "top_at" in memo and not memo.get("top_waited"):
            memo["top_waited"] = True
        else:
            updates.append(("market-top", {"children": _top_table(context, regions)}))
            memo["top_ts"], memo["top_at"] = facilities_ts, time.monotonic()
            memo["top_waited"] = False
    return updates
