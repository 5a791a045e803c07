"""Map: facilities on a dash-leaflet map, sized by capacity, coloured by fuel technology.

The map component is built once per page visit. Ticks change only the facility layer's
``hideout`` (live output as marker fill) and filters change only its filter keys, so pan and
zoom stay where the user left them. The base layer is the Australian state outlines of
``energydash.geo`` (works offline), the same outlines the simulator places its facilities in;
a tile layer is added when ``map_tile_url`` is set.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import dash_leaflet as dl
from dash import Input, Output, Patch, State, callback, clientside_callback, dcc, html

from energydash.dashboard.aggregate import emissions_rate, tick_seconds
from energydash.dashboard.components import charts, fueltech
from energydash.dashboard.components.source import (
    grid_data,
    history_topic,
    source_banner,
    source_updates,
)
from energydash.dashboard.components.timepicker import time_picker
from energydash.dashboard.context import DashboardContext, get_context
from energydash.dashboard.history import load
from energydash.dashboard.live import Updates, streamer
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
from energydash.geo.outlines import outlines_geojson

PAGE = "map"
CENTRE = [-28.0, 134.0]
JS = {f: {"variable": f"energydash.map.{f}"} for f in ("pointToLayer", "clusterToLayer")}
STATE_STYLE = {"color": "#94a3b8", "weight": 1, "fillColor": "#f8fafc", "fillOpacity": 1.0}


def facility_features(
    facilities: dict[str, Any], filters: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """Static GeoJSON of the facilities (position, size, colour) that pass the filters.

    Live output goes in the layer's hideout, indexed by ``i`` (the facility's column index), so
    a tick never resends this. Filtering here rather than in the browser keeps cluster counts
    true to what is shown.
    """
    columns = facilities.get("facilities") or {}
    codes = columns.get("code") or []
    features = []
    for i, code in enumerate(codes):
        lat, lng = _at(columns, "lat", i), _at(columns, "lng", i)
        if lat is None or lng is None or not _passes(columns, i, filters):
            continue
        tech = _at(columns, "fueltech", i) or "unknown"
        name = _at(columns, "name", i) or code
        capacity = float(_at(columns, "capacity_mw", i) or 0.0)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lng, lat]},
                "properties": {
                    "i": i,
                    "code": code,
                    "name": name,
                    "region": _at(columns, "region", i),
                    "fueltech": tech,
                    "status": _at(columns, "status", i),
                    "capacity_mw": capacity,
                    "colour": fueltech.colour(tech),
                    "tooltip": f"<b>{name}</b><br>{fueltech.label(tech)} · {capacity:,.0f} MW"
                    f"<br>{_at(columns, 'region', i) or ''} · {_at(columns, 'status', i) or ''}",
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


FILTER_COLUMNS = {"regions": "region", "fueltechs": "fueltech", "statuses": "status"}


def _passes(columns: dict[str, list[Any]], i: int, filters: dict[str, list[str]] | None) -> bool:
    for key, column in FILTER_COLUMNS.items():
        wanted = (filters or {}).get(key)
        if wanted and _at(columns, column, i) not in wanted:
            return False
    return True


def _at(columns: dict[str, list[Any]], name: str, i: int) -> Any:
    values = columns.get(name) or []
    return values[i] if i < len(values) else None


def facility_key(facilities: dict[str, Any] | None) -> str:
    """Identity of the facility set: the static layer is rebuilt only when it changes."""
    codes = ((facilities or {}).get("facilities") or {}).get("code") or []
    return hashlib.sha1("|".join(map(str, codes)).encode()).hexdigest()[:16]


def fill_fractions(facilities: dict[str, Any]) -> list[float]:
    """Live output as a share of capacity, per facility (0..1, two decimals: small frames)."""
    columns = facilities.get("facilities") or {}
    power = columns.get("power_mw") or []
    capacity = columns.get("capacity_mw") or []
    out = []
    for p, c in zip(power, capacity, strict=False):
        share = (p or 0.0) / c if c else 0.0
        out.append(round(max(0.0, min(1.0, share)), 2))
    return out


def _choices(facilities: dict[str, Any] | None, column: str) -> list[dict[str, str]]:
    values = sorted(
        {v for v in ((facilities or {}).get("facilities") or {}).get(column) or [] if v}
    )
    if column == "fueltech":
        return [{"label": fueltech.label(v), "value": v} for v in fueltech.ordered(values)]
    return [{"label": v, "value": v} for v in values]


def layout(**query: str) -> html.Div:
    context = get_context()
    time_range = from_query(query)
    facilities = grid_data(context.feed, "facilities")  # the sim's or a replay's, never both
    data = (
        facility_features(facilities)
        if facilities
        else {"type": "FeatureCollection", "features": []}
    )
    hideout = {"fill": fill_fractions(facilities) if facilities else [], "selected": None}
    base: list[Any] = []
    if context.settings.map_tile_url:
        base.append(dl.TileLayer(url=context.settings.map_tile_url, maxZoom=18))
    base.append(
        dl.GeoJSON(data=outlines_geojson(), options={"style": STATE_STYLE}, id="states-layer")
    )
    base.append(
        dl.GeoJSON(
            id="facilities-layer",
            data=data,
            cluster=True,
            zoomToBoundsOnClick=True,
            superClusterOptions={"radius": 26, "maxZoom": 5},
            pointToLayer=JS["pointToLayer"],
            clusterToLayer=JS["clusterToLayer"],
            hideout=hideout,
        )
    )
    base.append(dl.ScaleControl(position="bottomleft", imperial=False))
    return html.Div(
        [
            dcc.Store(id="map-mount", data=uuid.uuid4().hex),
            dcc.Store(id="map-key", data=facility_key(facilities) if facilities else None),
            # The time picker's range: a facility's output chart loads it from history.
            dcc.Store(id="map-range", data={"query": time_range.query()}),
            html.Div(
                [
                    html.H1("Facilities map", className="page-title"),
                    time_picker(time_range),
                    source_banner(PAGE, context.feed, "facilities", time_range.tz, time_range.zone),
                ],
                className="page-head",
            ),
            html.Div(
                [
                    _filter("Region", "map-region", _choices(facilities, "region")),
                    _filter("Fuel technology", "map-fueltech", _choices(facilities, "fueltech")),
                    _filter("Status", "map-status", _choices(facilities, "status")),
                    html.Div(id="map-count", className="filter-count"),
                ],
                className="filters",
            ),
            html.Div(
                [
                    html.Section(
                        [
                            dl.Map(
                                base,
                                id="facility-map",
                                center=CENTRE,
                                zoom=4,
                                minZoom=3,
                                maxZoom=12,
                                className="map",
                                attributionControl=bool(context.settings.map_tile_url),
                            )
                        ],
                        className="card map-card",
                    ),
                    html.Section(
                        [
                            html.Div(
                                "Click a facility for its units and recent output.",
                                id="facility-info",
                                className="facility-panel",
                            ),
                            dcc.Graph(
                                id="facility-chart",
                                figure=charts.placeholder("No facility selected"),
                                config=charts.GRAPH_CONFIG,
                            ),
                            html.P(id="facility-chart-note", className="hint"),
                            html.Div(_legend(facilities), className="map-legend", id="map-legend"),
                        ],
                        className="card side",
                    ),
                ],
                className="grid-map",
            ),
        ],
        className="page",
    )


def _filter(label: str, component_id: str, options: list[dict[str, str]]) -> html.Div:
    return html.Div(
        [
            html.Label(label, className="control-label"),
            dcc.Dropdown(id=component_id, options=options, value=[], multi=True, placeholder="All"),
        ]
    )


def _legend(facilities: dict[str, Any] | None) -> list[Any]:
    techs = fueltech.ordered({o["value"] for o in _choices(facilities, "fueltech")})
    return [
        html.Span(
            [
                html.Span(className="dot", style={"background": fueltech.colour(t)}),
                fueltech.label(t),
            ]
        )
        for t in techs
    ] + [html.Span("Marker size: capacity · fill: live output / capacity", className="hint")]


def _chart(times: list[str], power: list[float | None], name: str) -> dict[str, Any]:
    figure = charts.time_figure(
        [{"name": name or "Output", "x": times, "y": power, "colour": "#2563eb"}],
        y_title="MW",
        height=240,
    )
    figure["layout"]["showlegend"] = False
    return figure


clientside_callback(
    """
    function(mount, key, click, regions, fueltechs, statuses, view, timeRange) {
        const trig = (dash_clientside.callback_context.triggered || []).map(t => t.prop_id);
        // The time picker renders the page again: the chosen facility stays chosen.
        let facility = (view && view.page === 'map') ? view.facility : null;
        if (trig.includes('facilities-layer.clickData') && click && click.properties
            && !click.properties.cluster) { facility = click.properties.code; }
        return {page: 'map', mount: mount, key: key, facility: facility,
                filters: {regions: regions || [], fueltechs: fueltechs || [],
                          statuses: statuses || []}, range: timeRange || {}};
    }
    """,
    Output("view", "data", allow_duplicate=True),
    Input("map-mount", "data"),
    Input("map-key", "data"),
    Input("facilities-layer", "clickData"),
    Input("map-region", "value"),
    Input("map-fueltech", "value"),
    Input("map-status", "value"),
    State("view", "data"),
    State("map-range", "data"),
    prevent_initial_call="initial_duplicate",
)


@callback(
    Output("facilities-layer", "data"),
    Output("map-count", "children"),
    Input("map-region", "value"),
    Input("map-fueltech", "value"),
    Input("map-status", "value"),
)
def apply_filters(
    regions: list[str], techs: list[str], statuses: list[str]
) -> tuple[dict[str, Any], str]:
    """Filters replace only the facility layer's features; the map and its view stay put."""
    facilities = grid_data(get_context().feed, "facilities") or {}
    filters = {"regions": regions or [], "fueltechs": techs or [], "statuses": statuses or []}
    data = facility_features(facilities, filters)
    total = len((facilities.get("facilities") or {}).get("code") or [])
    return data, f"{len(data['features'])} of {total} facilities shown"


def _facility_panel(
    facilities: dict[str, Any], code: str, period_s: float | None = None
) -> tuple[list[Any], int] | None:
    columns = facilities.get("facilities") or {}
    codes = columns.get("code") or []
    if code not in codes:
        return None
    i = codes.index(code)
    tech = _at(columns, "fueltech", i) or "unknown"
    power = _at(columns, "power_mw", i)
    capacity = _at(columns, "capacity_mw", i) or 0.0
    emissions = _at(columns, "emissions_t", i)
    rows = [
        ("Region", _at(columns, "region", i)),
        ("Status", _at(columns, "status", i)),
        ("Capacity", f"{capacity:,.1f} MW"),
        (
            "Output now",
            "—"
            if power is None
            else f"{power:,.1f} MW ({(power / capacity if capacity else 0):.0%})",
        ),
        ("Emissions", emissions_rate(emissions, period_s)),
    ]
    children: list[Any] = [
        html.H3(_at(columns, "name", i) or code),
        html.Div(
            [
                html.Span(className="tech-chip", style={"background": fueltech.colour(tech)}),
                f"{fueltech.label(tech)} · {code}",
            ],
            className="sub",
        ),
        html.Div(
            [
                html.Div(
                    [
                        html.Span(k, className="reading-key"),
                        html.Span(str(v), className="reading-value"),
                    ],
                    className="reading",
                )
                for k, v in rows
            ]
        ),
    ]
    table = _units_table(facilities, i)
    if table is not None:
        children.append(table)
    return children, i


def facility_units(facilities: dict[str, Any], index: int) -> list[dict[str, Any]]:
    """The units of the facility in row ``index`` with their live output (``units`` table)."""
    units = facilities.get("units") or {}
    rows = []
    for k, owner in enumerate(units.get("facility") or []):
        if owner == index:
            rows.append({name: _at(units, name, k) for name in UNIT_FIELDS})
    return rows


UNIT_FIELDS = ("code", "fueltech", "status", "capacity_mw", "power_mw")


def _mw(value: Any) -> str:
    return "—" if not isinstance(value, int | float) else f"{value:,.1f}"


def _units_table(facilities: dict[str, Any], index: int) -> html.Div | None:
    units = facility_units(facilities, index)
    if not units:
        return None
    mixed = len({u["fueltech"] for u in units}) > 1  # e.g. a battery's charging half
    head = ["Unit", "Status", "Output MW", "Capacity MW"] + (["Fuel tech"] if mixed else [])
    rows = []
    for u in units:
        cells = [
            html.Td(u["code"], className="unit-code"),
            html.Td(u["status"], className=f"status status-{u['status']}"),
            html.Td(_mw(u["power_mw"]), className="num unit-power"),
            html.Td(_mw(u["capacity_mw"]), className="num"),
        ]
        if mixed:
            cells.append(html.Td(fueltech.label(str(u["fueltech"] or ""))))
        rows.append(html.Tr(cells, **{"data-unit": str(u["code"])}))
    table = html.Table(
        [
            html.Thead(html.Tr([html.Th(h, className="num" if "MW" in h else None) for h in head])),
            html.Tbody(rows),
        ],
        className="units",
        id="facility-units",
    )
    return html.Div(table, className="units-wrap")


def _facility_series(
    context: DashboardContext, code: str, index: int, time_range: TimeRange, ts: str | None
) -> tuple[list[str], list[float | None], str]:
    """(UTC times, MW, note) of a facility over the range: stored history, else the feed's."""
    now = data_now(ts)
    loaded = load(
        context, history_topic(context.feed, "facilities"), [f"{code}.power_mw"], time_range, now
    )
    if not loaded.error:
        power = loaded.series.get(f"{code}.power_mw") or [None] * len(loaded.timestamps)
        return loaded.timestamps, power, ""
    start, end = time_range.bounds(now)
    times: list[str] = []
    power = []
    for point in context.feed.history("facilities"):
        if start <= parse_utc(point.ts) <= end:
            values = point.values.get("power_mw") or []
            times.append(point.ts)
            power.append(values[index] if index < len(values) else None)
    return times, power, f"Stored history unavailable ({loaded.error}); recent live data."


@streamer(PAGE)
def stream(view: dict[str, Any], context: DashboardContext, memo: dict[str, Any]) -> Updates:
    time_range = from_query((view.get("range") or {}).get("query") or {})
    label = source_updates(PAGE, context.feed, "facilities", time_range.tz, time_range.zone, memo)
    facilities = grid_data(context.feed, "facilities")
    if not facilities:
        return label
    updates: Updates = label
    key = facility_key(facilities)
    if view.get("key") != key and memo.get("key") != key:
        # The facility set changed (or arrived after the page rendered): new static layer.
        updates.append(
            ("facilities-layer", {"data": facility_features(facilities, view.get("filters"))})
        )
        for column, component in (
            ("region", "map-region"),
            ("fueltech", "map-fueltech"),
            ("status", "map-status"),
        ):
            updates.append((component, {"options": _choices(facilities, column)}))
        updates.append(("map-legend", {"children": _legend(facilities)}))
    memo["key"] = key
    hideout = Patch()
    hideout["fill"] = fill_fractions(facilities)
    code = view.get("facility")
    if memo.get("selected") != code:
        hideout["selected"] = code
    updates.append(("facilities-layer", {"hideout": hideout}))

    ts = context.feed.latest_ts("facilities")
    if code:
        period = tick_seconds([p.ts for p in context.feed.history("facilities", last=2)])
        panel = _facility_panel(facilities, code, period)
        if panel is not None:
            children, index = panel
            updates.append(("facility-info", {"children": children}))
            if memo.get("selected") != code:
                times, power, note = _facility_series(context, code, index, time_range, ts)
                figure = _chart([local(t, time_range.tz) for t in times], power, code)
                figure["layout"]["xaxis"]["title"] = {"text": axis_title(time_range.zone)}
                updates.append(("facility-chart", {"figure": figure}))
                updates.append(("facility-chart-note", {"children": note}))
                memo["held"], memo["chart_last"] = len(times), (times[-1] if times else None)
            elif ts and ts != memo.get("ts") and due(time_range, memo.get("chart_last"), ts):
                # Live: one point per step of the range, a Patch (see charts.append_points).
                power_now = _at(facilities.get("facilities") or {}, "power_mw", index)
                patch, memo["held"] = charts.append_points(
                    local(ts, time_range.tz),
                    [power_now],
                    memo.get("held", 0),
                    points_for(time_range, parse_utc(ts)),
                )
                memo["chart_last"] = ts
                updates.append(("facility-chart", {"figure": patch}))
    memo["selected"] = code
    memo["ts"] = ts
    return updates
