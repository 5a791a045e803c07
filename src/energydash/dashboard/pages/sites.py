"""Sites: where a site's energy comes from and goes (production, grid import and storage
discharge into consumption, storage charge and grid export, like Home Assistant's energy
Sankey), its storage level, net grid flow over time, energy, cost and carbon today, and its
devices with their controls (the backend checks the role; a refusal is shown as such).

Data comes from the shared live feed's ``site/{id}`` and ``site/{id}/devices`` topics (models
``SiteStats`` and ``SiteDevicesData``); the sign convention is the meter's: net grid flow =
consumption - production + storage flow, positive importing.
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
from energydash.dashboard.gate import current_session
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
from energydash.models.sites import PduCostData, SiteDeviceFields, SiteDevicesData, SiteStats

PAGE = "sites"
SITE_DEVICE_NAME_MAX = next(
    m.max_length for m in SiteDeviceFields.model_fields["name"].metadata if hasattr(m, "max_length")
)
NODES = [
    "Production",
    "Grid import",
    "Battery discharge",
    "Consumption",
    "Battery charge",
    "Grid export",
]
NODE_COLOURS = ["#f59e0b", "#64748b", "#16a34a", "#2563eb", "#16a34a", "#7c3aed"]


def site_ids(context: DashboardContext) -> list[str]:
    """The sites the logged-in user may see: their own, every one for an Administrator.

    The shared feed carries every site (it reads with the service read token), so the page
    applies the backend's ownership rule itself, as /api/v1/sites does.
    """
    session = current_session()
    admin = session is not None and (
        session.role == "Administrator" or session.may("ConfigureUsers")
    )
    topics = context.feed.topics_matching("site/")
    ids = []
    for topic in topics:
        if topic.count("/") != 1:
            continue
        stats = context.feed.latest(topic) or {}
        if admin or (session is not None and stats.get("owner") == session.account_id):
            ids.append(topic.split("/")[1])
    return sorted(ids, key=lambda s: (len(s), s))


def stats_of(context: DashboardContext, site_id: str | None) -> SiteStats | None:
    data = context.feed.latest(f"site/{site_id}") if site_id else None
    return SiteStats.model_validate(data) if data else None


def devices_of(context: DashboardContext, site_id: str | None) -> SiteDevicesData | None:
    data = context.feed.latest(f"site/{site_id}/devices") if site_id else None
    return SiteDevicesData.model_validate(data) if data else None


def flows(stats: SiteStats) -> tuple[list[int], list[int], list[float]]:
    """Sankey links (kW): production first feeds consumption, then charge, then export; grid
    import and discharge cover what is left of consumption (and charge)."""
    supply = {
        0: max(stats.production_w, 0.0),
        1: max(stats.net_grid_flow_w, 0.0),
        2: max(-stats.storage_flow_w, 0.0),
    }
    demand = {
        3: max(stats.consumption_w, 0.0),
        4: max(stats.storage_flow_w, 0.0),
        5: max(-stats.net_grid_flow_w, 0.0),
    }
    order = {0: (3, 4, 5), 2: (3, 5, 4), 1: (3, 4, 5)}
    sources, targets, values = [], [], []
    for source in (0, 2, 1):
        for target in order[source]:
            amount = min(supply[source], demand[target])
            if amount > 1e-6:
                sources.append(source)
                targets.append(target)
                values.append(round(amount / 1000.0, 3))
                supply[source] -= amount
                demand[target] -= amount
    return sources, targets, values


def flow_figure(stats: SiteStats | None) -> dict[str, Any]:
    if stats is None:
        return charts.placeholder("Waiting for site data")
    sources, targets, values = flows(stats)
    return {
        "data": [
            {
                "type": "sankey",
                "arrangement": "snap",
                "valueformat": ".2f",
                "valuesuffix": " kW",
                "node": {
                    "label": NODES,
                    "color": NODE_COLOURS,
                    "pad": 18,
                    "thickness": 16,
                },
                "link": {"source": sources, "target": targets, "value": values},
            }
        ],
        "layout": {**charts.base_layout(height=300), "hovermode": "closest"},
    }


def _data_now(context: DashboardContext, site_id: str) -> datetime:
    return data_now(context.feed.latest_ts(f"site/{site_id}"))


def net_series(
    context: DashboardContext, site_id: str, time_range: TimeRange, now: datetime
) -> tuple[list[str], list[float | None], str]:
    """(UTC times, net grid flow kW, note) over the range: stored history, else the feed's."""
    loaded = load(context, f"site/{site_id}", ["net_grid_flow_w"], time_range, now)
    if not loaded.error:
        watts = loaded.series.get("net_grid_flow_w") or [None] * len(loaded.timestamps)
        return loaded.timestamps, [None if w is None else w / 1000 for w in watts], ""
    start, end = time_range.bounds(now)
    points = [p for p in context.feed.history(f"site/{site_id}") if start <= parse_utc(p.ts) <= end]
    kw = [
        None if p.values.get("net_grid_flow_w") is None else p.values["net_grid_flow_w"] / 1000
        for p in points
    ]
    note = f"Stored history unavailable ({loaded.error}); showing recent live data."
    return [p.ts for p in points], kw, note


def net_figure(
    context: DashboardContext, site_id: str | None, time_range: TimeRange
) -> tuple[dict[str, Any], int, str | None, str]:
    """The net-flow chart over the picker's range: (figure, points, last UTC time, note)."""
    times: list[str] = []
    kw: list[float | None] = []
    note = ""
    if site_id:
        times, kw, note = net_series(context, site_id, time_range, _data_now(context, site_id))
    figure = charts.time_figure(
        [
            {
                "name": "Net grid flow (+ import)",
                "x": [local(t, time_range.tz) for t in times],
                "y": kw,
                "colour": "#7c3aed",
            }
        ],
        y_title="kW",
    )
    figure["layout"]["yaxis"]["rangemode"] = "normal"
    figure["layout"]["xaxis"]["title"] = {"text": axis_title(time_range.zone)}
    figure["layout"]["showlegend"] = False
    return figure, len(times), (times[-1] if times else None), note


def texts(stats: SiteStats | None) -> dict[str, str]:
    if stats is None:
        return {
            k: "—"
            for k in (
                "sites-storage",
                "sites-net-now",
                "sites-cost",
                "sites-carbon",
                "sites-energy",
                "sites-price",
            )
        }
    today = stats.today
    storage = stats.storage
    self_use = "—" if today.self_consumption_pct is None else f"{today.self_consumption_pct:.0f} %"
    return {
        "sites-storage": (
            f"{storage.percentage:.0f} % · {storage.current_level_wh / 1000:,.1f} of "
            f"{storage.total_capacity_wh / 1000:,.1f} kWh"
            if storage.total_capacity_wh > 0
            else "no storage"
        ),
        "sites-net-now": (
            f"{abs(stats.net_grid_flow_w) / 1000:,.2f} kW "
            + ("importing" if stats.net_grid_flow_w >= 0 else "exporting")
        ),
        "sites-cost": f"${today.net_cost_aud:,.2f} (import ${today.import_cost_aud:,.2f}, "
        f"feed-in ${today.export_revenue_aud:,.2f})",
        "sites-carbon": f"{today.carbon_kg:,.2f} kg CO₂-e",
        "sites-energy": (
            f"produced {today.produced_kwh:,.2f} · consumed {today.consumed_kwh:,.2f} · "
            f"imported {today.imported_kwh:,.2f} · exported {today.exported_kwh:,.2f} kWh · "
            f"self-consumption {self_use}"
        ),
        "sites-price": f"{stats.region} ${stats.price_aud_per_mwh:,.2f}/MWh · "
        f"{stats.emissions_kg_per_kwh:.3f} kg/kWh",
    }


def device_rows(devices: SiteDevicesData | None) -> list[Any]:
    header = html.Tr(
        [html.Th(h) for h in ("Device", "Kind", "Power (kW)", "Energy (kWh)", "Level", "State")]
    )
    rows = [header]
    for d in devices.devices if devices else []:
        level = "" if d.percentage is None else f"{d.percentage:.0f} %"
        state = ("on" if d.enabled else "disabled") + ("" if d.online else ", offline")
        rows.append(
            html.Tr(
                [
                    html.Td(d.name),
                    html.Td(d.kind),
                    html.Td(f"{d.power_w / 1000:,.2f}"),
                    html.Td(f"{d.energy_kwh:,.2f}"),
                    html.Td(level),
                    html.Td(state),
                ]
            )
        )
    return rows


def pdu_cost_rows(context: DashboardContext, devices: SiteDevicesData | None) -> list[Any]:
    """The site's PDUs: their outlets' energy priced and carbon-counted by the site's region."""
    rows = [html.Tr([html.Th(h) for h in ("PDU", "Energy (kWh)", "Cost (AUD)", "Carbon (kg)")])]
    for d in devices.devices if devices else []:
        if d.kind != "pdu":
            continue
        data = context.feed.latest(f"cost/pdu/{d.settings.get('pdu_id')}")
        if not data:
            continue
        cost = PduCostData.model_validate(data)
        rows.append(
            html.Tr(
                [
                    html.Td(d.name),
                    html.Td(f"{cost.energy_kwh:,.3f}"),
                    html.Td(f"{cost.cost_aud:,.4f}"),
                    html.Td(f"{cost.carbon_kg:,.3f}"),
                ]
            )
        )
    return rows


def control_buttons(devices: SiteDevicesData | None) -> list[Any]:
    buttons = []
    for d in devices.devices if devices else []:
        if d.kind == "pdu":
            continue
        label = f"{'Disable' if d.enabled else 'Enable'} {d.name}"
        buttons.append(
            guarded_button(
                label,
                {"type": "sites-toggle", "device": d.device_id, "enable": not d.enabled},
                CONTROL_PRIVILEGE,
                "btn btn-cycle",
            )
        )
    return buttons


def _device_choices(devices: SiteDevicesData | None, locked: bool) -> list[dict[str, Any]]:
    return [
        {"label": d.name, "value": d.device_id, "disabled": locked}
        for d in (devices.devices if devices else [])
    ]


def _rename_form(devices: SiteDevicesData | None) -> html.Div:
    """A site device's name, editable by its owner with ConfigureComponents (the backend
    decides owner and role: PATCH /api/v1/sites/{site}/devices/{device})."""
    locked = bool(refusal(CONTROL_PRIVILEGE))
    return html.Div(
        [
            html.Span("Rename", className="control-label"),
            dcc.RadioItems(
                id="sites-rename-device",
                options=_device_choices(devices, locked),
                inline=True,
                className="checklist",
            ),
            dcc.Input(
                id="sites-rename-name",
                type="text",
                maxLength=SITE_DEVICE_NAME_MAX,
                placeholder="New name",
                className="name-input",
                disabled=locked,
            ),
            guarded_button("Rename device", "sites-rename", CONTROL_PRIVILEGE, "btn btn-cycle"),
            html.Div(id="sites-rename-result", className="result"),
        ],
        className="rename",
    )


def _structure(devices: SiteDevicesData | None) -> list[tuple[str, bool, str]]:
    """What the buttons and the rename choices show: a change (a rename too) redraws them."""
    return [(d.device_id, d.enabled, d.name) for d in (devices.devices if devices else [])]


def layout(**query: str) -> html.Div:
    context = get_context()
    time_range = from_query(query)
    ids = site_ids(context)
    options = []
    for site_id in ids:
        stats = stats_of(context, site_id)
        options.append({"label": stats.name if stats else site_id, "value": site_id})
    chosen = ids[0] if ids else None
    stats = stats_of(context, chosen)
    devices = devices_of(context, chosen)
    values = texts(stats)
    net, _, _, net_note = net_figure(context, chosen, time_range)

    def kpi(title: str, element_id: str) -> html.Div:
        return html.Div(
            [
                html.Div(title, className="kpi-label"),
                html.Div(values[element_id], id=element_id, className="kpi-value"),
            ],
            className="kpi",
        )

    return html.Div(
        [
            dcc.Store(id="sites-mount", data=uuid.uuid4().hex),
            dcc.Store(id="sites-range", data={"query": time_range.query()}),
            html.Div(
                [
                    html.H1("Sites", className="page-title"),
                    html.Div(
                        [
                            html.Label("Site", className="control-label"),
                            dcc.RadioItems(
                                id="sites-site",
                                options=options,
                                value=chosen,
                                inline=True,
                                className="checklist",
                            ),
                        ],
                        className="controls",
                    ),
                    time_picker(time_range),
                    html.P(net_note, id="sites-history-note", className="hint"),
                ],
                className="page-head",
            ),
            html.Div(
                [
                    kpi("Storage", "sites-storage"),
                    kpi("Grid now", "sites-net-now"),
                    kpi("Cost today", "sites-cost"),
                    kpi("Carbon today", "sites-carbon"),
                ],
                className="kpi-row",
            ),
            html.Div(
                [
                    card(
                        "Energy flow now (kW)",
                        dcc.Graph(id="sites-flow", figure=flow_figure(stats), config=GRAPH_CONFIG),
                    ),
                    card(
                        "Net grid flow (kW, + importing)",
                        dcc.Graph(id="sites-net", figure=net, config=GRAPH_CONFIG),
                    ),
                ],
                className="grid-2",
            ),
            card(
                "Today",
                html.Div(
                    [
                        html.P(values["sites-energy"], id="sites-energy"),
                        html.P(values["sites-price"], id="sites-price"),
                    ]
                ),
            ),
            card(
                "Devices",
                html.Div(
                    [
                        html.Table(device_rows(devices), id="sites-devices", className="table"),
                        html.Div(
                            control_buttons(devices), id="sites-controls", className="controls"
                        ),
                        html.Div(id="sites-control-result", className="result"),
                        _rename_form(devices),
                    ]
                ),
            ),
            card(
                "PDU outlets' energy cost and carbon (lifetime)",
                html.Table(
                    pdu_cost_rows(context, devices), id="sites-pdu-costs", className="table"
                ),
            ),
        ],
        className="page",
    )


clientside_callback(
    """function(mount, site, range) {
        return {page: 'sites', mount: mount, site: site, range: range || {}};
    }""",
    Output("view", "data", allow_duplicate=True),
    Input("sites-mount", "data"),
    Input("sites-site", "value"),
    State("sites-range", "data"),
    prevent_initial_call="initial_duplicate",
)


@callback(
    Output("sites-control-result", "children"),
    Output("sites-control-result", "className"),
    Input({"type": "sites-toggle", "device": ALL, "enable": ALL}, "n_clicks"),
    State("view", "data"),
    prevent_initial_call=True,
)
async def toggle_device(clicks: list[int], view: dict[str, Any]) -> tuple[str, str]:
    """Enable or disable a site device through the backend, as the dashboard's caller."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not any(clicks or []):
        return no_update, no_update
    device_id, enable = str(trigger["device"]), bool(trigger["enable"])
    action = "enable" if enable else "disable"
    target = f"device {device_id}"
    reason = refusal(CONTROL_PRIVILEGE)
    if reason:
        return f"✖ {target}: {action} not sent — {reason}", "result result-error"
    result = await get_context().control.site_device_enabled(device_id, enable, token())
    return shown(target, action, result)


@callback(
    Output("sites-rename-result", "children"),
    Output("sites-rename-result", "className"),
    Input("sites-rename", "n_clicks"),
    State("sites-rename-device", "value"),
    State("sites-rename-name", "value"),
    State("view", "data"),
    prevent_initial_call=True,
)
async def rename_device(
    clicks: int, device_id: str | None, name: str | None, view: dict[str, Any] | None
) -> tuple[str, str]:
    """Rename a site device through the backend, as the dashboard's caller."""
    site_id = (view or {}).get("site")
    if not clicks or not site_id:
        return no_update, no_update
    target = f"device {device_id or '—'}"
    name = (name or "").strip()
    reason = refusal(CONTROL_PRIVILEGE)
    if reason:
        return f"✖ {target}: rename not sent — {reason}", "result result-error"
    if not device_id or not name:
        return f"✖ {target}: rename not sent — choose a device and give a name", (
            "result result-error"
        )
    result = await get_context().control.rename_site_device(str(site_id), device_id, name, token())
    return shown(target, f"rename to {name!r}", result)


@streamer(PAGE)
def stream(view: dict[str, Any], context: DashboardContext, memo: dict[str, Any]) -> Updates:
    site_id = view.get("site")
    updates: Updates = []
    ids = site_ids(context)
    if memo.get("sites_ids") != ids:  # sites appeared (the page may render before the feed)
        options = []
        for known in ids:
            known_stats = stats_of(context, known)
            options.append({"label": known_stats.name if known_stats else known, "value": known})
        updates.append(("sites-site", {"options": options}))
        memo["sites_ids"] = ids
    if site_id not in ids:
        if ids:
            updates.append(("sites-site", {"value": ids[0]}))
        return updates
    stats = stats_of(context, site_id)
    devices = devices_of(context, site_id)
    entering = memo.get("page") != PAGE or memo.get("site") != site_id
    for element_id, text in texts(stats).items():
        if entering or memo.get(element_id) != text:
            updates.append((element_id, {"children": text}))
            memo[element_id] = text
    if stats is not None:
        time_range = from_query((view.get("range") or {}).get("query") or {})
        if entering:
            updates.append(("sites-flow", {"figure": flow_figure(stats)}))
            figure, held, last, note = net_figure(context, site_id, time_range)
            memo["sites_net_held"], memo["sites_net_last"] = held, last
            updates.append(("sites-net", {"figure": figure}))
            updates.append(("sites-history-note", {"children": note}))
        else:
            sources, targets, values = flows(stats)
            patch = Patch()
            patch["data"][0]["link"] = {"source": sources, "target": targets, "value": values}
            updates.append(("sites-flow", {"figure": patch}))
            # Live: one point per step of the range, as a Patch (see charts.append_points).
            ts = context.feed.latest_ts(f"site/{site_id}")
            fresh = ts is not None and ts != memo.get("sites_last_ts")
            if ts is not None and fresh and due(time_range, memo.get("sites_net_last"), ts):
                patch, memo["sites_net_held"] = charts.append_points(
                    local(ts, time_range.tz),
                    [stats.net_grid_flow_w / 1000],
                    memo.get("sites_net_held", 0),
                    points_for(time_range, parse_utc(ts)),
                )
                memo["sites_net_last"] = ts
                updates.append(("sites-net", {"figure": patch}))
        memo["sites_last_ts"] = context.feed.latest_ts(f"site/{site_id}")
    updates.append(("sites-devices", {"children": device_rows(devices)}))
    updates.append(("sites-pdu-costs", {"children": pdu_cost_rows(context, devices)}))
    structure = _structure(devices)
    if entering or memo.get("sites_structure") != structure:
        updates.append(("sites-controls", {"children": control_buttons(devices)}))
        locked = bool(refusal(CONTROL_PRIVILEGE))
        updates.append(("sites-rename-device", {"options": _device_choices(devices, locked)}))
        memo["sites_structure"] = structure
    memo["page"] = PAGE
    memo["site"] = site_id
    return updates
