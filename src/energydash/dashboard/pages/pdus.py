"""PDUs: the outlet heat map by bank, branch/mains load against breaker ratings, outlet detail.

Clicking an outlet opens its detail with a live power/energy chart and On/Off/PowerCycle
buttons that go through the backend's REST control API as the logged-in user; the result
(accepted or refused, with the backend's message) is shown under the buttons, and the heat map
shows the new state on the next tick. Each branch lists its breaker state, with a **Reset
breaker** button while it is tripped; outlet groups switch from their own panel. Every control
is disabled, with a tooltip saying why, for a role without ConfigureComponents.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

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
from dash.exceptions import PreventUpdate

from energydash.dashboard.components import charts
from energydash.dashboard.components.charts import GRAPH_CONFIG
from energydash.dashboard.components.controls import guarded_button, refusal, shown, token
from energydash.dashboard.components.heatmap import (
    circuits_figure,
    circuits_patch,
    heatmap_figure,
    heatmap_patch,
    outlet_grid,
)
from energydash.dashboard.components.markers import event_markers, relevant
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
from energydash.models.devices import MAX_NAME_LENGTH as MAX_DEVICE_NAME
from energydash.models.devices import MAX_OUTLET_NAME_LENGTH as MAX_OUTLET_NAME
from energydash.models.events import pdu_events_topic
from energydash.models.faults import ActiveFaultsData

PAGE = "pdus"
HIDDEN = {"display": "none"}
SHOWN = {"display": "block"}


def layout(pdu: str | None = None, **query: str) -> html.Div:
    context = get_context()
    time_range = from_query(query)
    pdu_ids = context.feed.pdu_ids()
    selected = pdu if pdu in pdu_ids else (pdu_ids[0] if pdu_ids else None)
    data = context.feed.latest(f"pdu/{selected}/outlets") if selected else None
    summary = context.feed.latest(f"pdu/{selected}/summary") if selected else None
    settings = context.settings
    heatmap = (
        heatmap_figure(data, fixed_range=False, nominal_voltage_v=settings.pdu_nominal_voltage_v)
        if data
        else _empty("Waiting for the backend…")
    )
    circuits = circuits_figure(data, summary, settings.pdu_main_rating_a) if data else _empty("")
    return html.Div(
        [
            dcc.Store(id="pdus-mount", data=uuid.uuid4().hex),
            # The time picker's range: the outlet chart loads it from history when it opens.
            dcc.Store(id="pdus-range", data={"query": time_range.query()}),
            html.Div(
                [
                    html.H1("PDUs", className="page-title"),
                    html.Div(
                        [
                            html.Label("PDU", htmlFor="pdu-select", className="control-label"),
                            dcc.Dropdown(
                                id="pdu-select",
                                options=_options(context, pdu_ids),
                                value=selected,
                                clearable=False,
                                className="pdu-select",
                            ),
                            *_pdu_rename(str((data or {}).get("name") or "")),
                            html.Label("Colour range", className="control-label"),
                            dcc.RadioItems(
                                id="pdu-range",
                                options=[
                                    {"label": "Auto", "value": "auto"},
                                    {"label": "Fixed (0 – outlet rating)", "value": "fixed"},
                                ],
                                value="auto",
                                inline=True,
                                className="radio",
                            ),
                        ],
                        className="controls",
                    ),
                    time_picker(time_range),
                ],
                className="page-head",
            ),
            html.Div(id="pdu-header", className="pdu-header"),
            html.Ul(id="pdu-faults", className="alerts", **{"aria-label": "Active faults"}),
            html.Div(
                [
                    html.Section(
                        [
                            html.H2("Outlet heat map · live power", className="card-title"),
                            html.Div(
                                [
                                    html.Span(className="swatch swatch-off"),
                                    "Off",
                                    html.Span("▲", className="legend-fault warning"),
                                    "Warning",
                                    html.Span("▲", className="legend-fault critical"),
                                    "Critical / fault",
                                    html.Span(
                                        "Click an outlet for details and control.", className="hint"
                                    ),
                                ],
                                className="legend",
                            ),
                            # Focusable: arrow keys move between outlets (assets/keys.js).
                            html.Div(
                                [
                                    dcc.Graph(
                                        id="pdu-heatmap",
                                        figure=heatmap,
                                        config={"displayModeBar": False},
                                    ),
                                    html.Div(
                                        id="pdu-heatmap-announce",
                                        className="sr-only",
                                        **{"aria-live": "polite"},
                                    ),
                                ],
                                id="pdu-heatmap-keys",
                                tabIndex="0",
                                role="grid",
                                className="heatmap-keys",
                                **{
                                    "aria-label": "Outlets heat map: arrow keys choose an "
                                    "outlet, its details open below"
                                },
                            ),
                        ],
                        className="card grow",
                    ),
                    html.Section(
                        [
                            html.H2(
                                "Branches and mains · current vs breaker rating",
                                className="card-title",
                            ),
                            dcc.Graph(
                                id="pdu-circuits", figure=circuits, config={"displayModeBar": False}
                            ),
                            html.H2("Breakers", className="card-title"),
                            html.Div(
                                breaker_rows(data) if data else [],
                                id="pdu-breakers",
                                className="breakers",
                            ),
                            html.Div(id="breaker-result", className="result"),
                            html.H2("Outlet groups", className="card-title"),
                            _group_panel(),
                        ],
                        className="card side",
                    ),
                ],
                className="grid-main",
            ),
            _detail_panel(),
        ],
        className="page",
    )


def _options(context: DashboardContext, pdu_ids: list[str]) -> list[dict[str, str]]:
    options = []
    for pdu in pdu_ids:
        data = context.feed.latest(f"pdu/{pdu}/outlets") or {}
        name = data.get("name") or f"PDU {pdu}"
        model = data.get("model")
        options.append(
            {"label": f"{pdu} · {name}" + (f" ({model})" if model else ""), "value": pdu}
        )
    return options


def _empty(message: str) -> dict[str, Any]:
    layout = charts.base_layout(height=260)
    layout["xaxis"] = {"visible": False}
    layout["yaxis"] = {"visible": False}
    layout["annotations"] = [
        {"text": message, "showarrow": False, "font": {"size": 14, "color": "#64748b"}}
    ]
    return {"data": [], "layout": layout}


def breaker_rows(data: dict[str, Any], session: Any = None) -> list[html.Div]:
    """One row per branch: its breaker state, and a Reset button (enabled while tripped)."""
    rows = []
    for branch in data.get("branches") or []:
        state = str(branch.get("breaker_state") or "—")
        tripped = state == "Tripped"
        button = guarded_button(
            "Reset breaker",
            {"type": "breaker-reset", "branch": str(branch.get("id"))},
            CONTROL_PRIVILEGE,
            "btn btn-reset",
            session=session,
            extra_reason="" if tripped else "The breaker is not tripped",
            title=f"Close breaker {branch.get('id')} again",
        )
        rows.append(
            html.Div(
                [
                    html.Span(
                        str(branch.get("name") or branch.get("id")), className="breaker-name"
                    ),
                    html.Span(
                        state,
                        className="breaker-state " + ("tripped" if tripped else "normal"),
                        id={"type": "breaker-state", "branch": str(branch.get("id"))},
                    ),
                    button,
                ],
                className="breaker-row",
            )
        )
    return rows


def _breaker_key(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(str(b.get("id")), str(b.get("breaker_state"))) for b in data.get("branches") or []]


def _group_panel() -> html.Div:
    return html.Div(
        [
            dcc.Dropdown(
                id="group-select",
                options=[],
                placeholder="Outlet group…",
                clearable=False,
                className="group-select",
            ),
            html.Div(
                [
                    guarded_button("Group on", "group-on", CONTROL_PRIVILEGE, "btn btn-on"),
                    guarded_button("Group off", "group-off", CONTROL_PRIVILEGE, "btn btn-off"),
                ],
                className="buttons",
            ),
            html.Div(id="group-result", className="result"),
        ],
        className="groups",
    )


def _detail_panel() -> html.Section:
    buttons = [
        guarded_button("On", "outlet-on", CONTROL_PRIVILEGE, "btn btn-on"),
        guarded_button("Off", "outlet-off", CONTROL_PRIVILEGE, "btn btn-off"),
        guarded_button("Power cycle", "outlet-cycle", CONTROL_PRIVILEGE, "btn btn-cycle"),
    ]
    return html.Section(
        [
            html.Div(
                [
                    html.H2(id="outlet-title", className="card-title"),
                    html.Div(buttons, className="buttons"),
                ],
                className="detail-head",
            ),
            html.Div(id="outlet-result", className="result"),
            _rename_panel(),
            html.Div(
                [
                    html.Div(id="outlet-readings", className="readings"),
                    html.Div(
                        [
                            dcc.Graph(
                                id="outlet-chart",
                                figure=_empty(""),
                                className="detail-chart",
                                config=GRAPH_CONFIG,
                            ),
                            html.P(id="outlet-chart-note", className="hint"),
                        ],
                        className="detail-chart-box",
                    ),
                ],
                className="detail-body",
            ),
        ],
        id="outlet-detail",
        className="card detail",
        style=HIDDEN,
    )


def _pdu_rename(name: str) -> list[Any]:
    """The chosen PDU's name, editable by a role with ConfigureComponents."""
    return [
        html.Label("Name", htmlFor="pdu-name", className="control-label"),
        dcc.Input(
            id="pdu-name",
            type="text",
            value=name,
            maxLength=MAX_OUTLET_NAME,
            className="name-input",
            disabled=bool(refusal(CONTROL_PRIVILEGE)),
        ),
        guarded_button("Rename PDU", "pdu-rename", CONTROL_PRIVILEGE, "btn btn-cycle"),
        html.Span(id="pdu-rename-result", className="result"),
    ]


def _rename_panel() -> html.Div:
    """Outlet and device names, editable by a role with ConfigureComponents."""

    def row(
        label: str, input_id: str, button_id: str, button: str, hint: str, longest: int
    ) -> html.Div:
        return html.Div(
            [
                html.Label(label, htmlFor=input_id, className="control-label"),
                dcc.Input(
                    id=input_id,
                    type="text",
                    maxLength=longest,
                    className="name-input",
                    placeholder=hint,
                    disabled=bool(refusal(CONTROL_PRIVILEGE)),
                ),
                guarded_button(button, button_id, CONTROL_PRIVILEGE, "btn btn-cycle"),
            ],
            className="rename-row",
        )

    return html.Div(
        [
            row(
                "Outlet name",
                "outlet-name",
                "outlet-rename",
                "Rename outlet",
                "e.g. db-primary",
                MAX_OUTLET_NAME,
            ),
            row(
                "Device name",
                "device-name",
                "device-rename",
                "Rename device",
                "no device",
                MAX_DEVICE_NAME,
            ),
            html.Div(id="rename-result", className="result"),
        ],
        className="rename",
    )


# The tab's view of this page, in the browser; the live pump reads it.
clientside_callback(
    """
    function(mount, pdu, range, click, view, timeRange) {
        const trig = (dash_clientside.callback_context.triggered || []).map(t => t.prop_id);
        // The time picker renders the page again: the open outlet stays open (same PDU).
        const same = view && view.page === 'pdus' && (view.mount === mount || view.pdu === pdu);
        let cell = same ? view.cell : null;
        if (trig.includes('pdu-select.value') && !trig.includes('pdus-mount.data')) { cell = null; }
        if (trig.includes('pdu-heatmap.clickData') && click && (click.points || []).length) {
            cell = [click.points[0].y, click.points[0].x - 1];  // [bank row, position column]
        }
        return {page: 'pdus', mount: mount, pdu: pdu, fixed: range === 'fixed', cell: cell,
                range: timeRange || {}};
    }
    """,
    Output("view", "data", allow_duplicate=True),
    Input("pdus-mount", "data"),
    Input("pdu-select", "value"),
    Input("pdu-range", "value"),
    Input("pdu-heatmap", "clickData"),
    State("view", "data"),
    State("pdus-range", "data"),
    prevent_initial_call="initial_duplicate",
)


@callback(
    Output("outlet-result", "children"),
    Output("outlet-result", "className"),
    Input("outlet-on", "n_clicks"),
    Input("outlet-off", "n_clicks"),
    Input("outlet-cycle", "n_clicks"),
    State("view", "data"),
    prevent_initial_call=True,
)
async def switch_outlet(_on: int, _off: int, _cycle: int, view: dict[str, Any]) -> tuple[str, str]:
    """Send the chosen action through the backend's control API and say what happened."""
    action = {"outlet-on": "On", "outlet-off": "Off", "outlet-cycle": "PowerCycle"}.get(
        str(ctx.triggered_id)
    )
    context = get_context()
    outlet = selected_outlet(context, view)
    if not action or outlet is None:
        return no_update, no_update
    target = f"PDU {view['pdu']} outlet {outlet}"
    reason = refusal(CONTROL_PRIVILEGE)
    if reason:
        return f"✖ {target}: {action} not sent — {reason}", "result result-error"
    result = await context.control.outlet_power(view["pdu"], outlet, action, token())
    return shown(target, action, result)


@callback(
    Output("rename-result", "children"),
    Output("rename-result", "className"),
    Input("outlet-rename", "n_clicks"),
    Input("device-rename", "n_clicks"),
    State("outlet-name", "value"),
    State("device-name", "value"),
    State("view", "data"),
    prevent_initial_call=True,
)
async def rename(
    _outlet: int, _device: int, outlet_name: str | None, device_name: str | None, view: Any
) -> tuple[str, str]:
    """Rename the outlet (or its device) through the backend's REST API as the user."""
    which = str(ctx.triggered_id)
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        return no_update, no_update
    context = get_context()
    outlet = selected_outlet(context, view)
    if outlet is None:
        return no_update, no_update
    device = which == "device-rename"
    target = f"PDU {view['pdu']} outlet {outlet}" + (" device" if device else "")
    name = ((device_name if device else outlet_name) or "").strip()
    reason = refusal(CONTROL_PRIVILEGE)
    if reason:
        return f"✖ {target}: rename not sent — {reason}", "result result-error"
    if not name:
        return f"✖ {target}: rename not sent — give a name", "result result-error"
    control = context.control
    send = control.rename_device if device else control.rename_outlet
    result = await send(view["pdu"], outlet, name, token())
    return shown(target, f"rename to {name!r}", result)


@callback(
    Output("pdu-rename-result", "children"),
    Output("pdu-rename-result", "className"),
    Input("pdu-rename", "n_clicks"),
    State("pdu-select", "value"),
    State("pdu-name", "value"),
    prevent_initial_call=True,
)
async def rename_pdu(clicks: int, pdu: str | None, name: str | None) -> tuple[str, str]:
    """Rename the chosen PDU through the backend's REST API as the user."""
    if not clicks or not pdu:
        return no_update, no_update
    target = f"PDU {pdu}"
    name = (name or "").strip()
    reason = refusal(CONTROL_PRIVILEGE)
    if reason:
        return f"✖ {target}: rename not sent — {reason}", "result result-error"
    if not name:
        return f"✖ {target}: rename not sent — give a name", "result result-error"
    result = await get_context().control.rename_pdu(pdu, name, token())
    return shown(target, f"rename to {name!r}", result)


@callback(
    Output("breaker-result", "children"),
    Output("breaker-result", "className"),
    Input({"type": "breaker-reset", "branch": ALL}, "n_clicks"),
    State("view", "data"),
    prevent_initial_call=True,
)
async def reset_breaker(clicks: list[int | None], view: dict[str, Any]) -> tuple[str, str]:
    """Close a tripped branch breaker (Redfish Circuit.BreakerControl) as the user."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not any(clicks) or not ctx.triggered[0].get("value"):
        return no_update, no_update  # a re-rendered row, not a click
    context = get_context()
    pdu = (view or {}).get("pdu") or (context.feed.pdu_ids() or [None])[0]
    if pdu is None:
        return no_update, no_update
    target = f"PDU {pdu} branch {trigger['branch']}"
    reason = refusal(CONTROL_PRIVILEGE)
    if reason:
        return f"✖ {target}: breaker reset not sent — {reason}", "result result-error"
    result = await context.control.breaker_reset(pdu, trigger["branch"], token())
    return shown(target, "breaker reset", result)


@callback(
    Output("group-select", "options"),
    Output("group-select", "value"),
    Input("pdu-select", "value"),
)
async def load_groups(pdu: str | None) -> tuple[list[dict[str, str]], str | None]:
    """The PDU's outlet groups (Redfish OutletGroups), read as the user."""
    if not pdu:
        return [], None
    groups = await get_context().control.outlet_groups(pdu, token())
    options = [{"label": f"{name} ({gid})", "value": gid} for gid, name in groups]
    return options, (options[0]["value"] if options else None)


@callback(
    Output("group-result", "children"),
    Output("group-result", "className"),
    Input("group-on", "n_clicks"),
    Input("group-off", "n_clicks"),
    State("pdu-select", "value"),
    State("group-select", "value"),
    prevent_initial_call=True,
)
async def switch_group(_on: int, _off: int, pdu: str | None, group: str | None) -> tuple[str, str]:
    action = {"group-on": "On", "group-off": "Off"}.get(str(ctx.triggered_id))
    if not action or not pdu or not group:
        return no_update, no_update
    target = f"PDU {pdu} group {group}"
    reason = refusal(CONTROL_PRIVILEGE)
    if reason:
        return f"✖ {target}: {action} not sent — {reason}", "result result-error"
    result = await get_context().control.group_power(pdu, group, action, token())
    return shown(target, action, result)


def selected_outlet(context: DashboardContext, view: dict[str, Any] | None) -> str | None:
    """The outlet id under the cell the user clicked (the view keeps [row, column])."""
    if not view or not view.get("pdu") or not view.get("cell"):
        return None
    data = context.feed.latest(f"pdu/{view['pdu']}/outlets")
    return outlet_at(data, view["cell"]) if data else None


def outlet_at(data: dict[str, Any], cell: list[int]) -> str | None:
    try:
        row, column = int(cell[0]), int(cell[1])
    except (TypeError, ValueError, IndexError):
        return None
    ids = (data.get("outlets") or {}).get("id") or []
    for index, position in enumerate(outlet_grid(data).cells):
        if position == (row, column) and index < len(ids):
            return ids[index]
    return None


def _outlet_index(data: dict[str, Any], outlet_id: str) -> int | None:
    ids = (data.get("outlets") or {}).get("id") or []
    return ids.index(outlet_id) if outlet_id in ids else None


def _readings(data: dict[str, Any], index: int) -> list[html.Div]:
    outlets = data.get("outlets") or {}

    def value(name: str) -> Any:
        column = outlets.get(name) or []
        return column[index] if index < len(column) else None

    def fmt(name: str, unit: str, digits: int) -> str:
        v = value(name)
        return "—" if v is None else f"{v:,.{digits}f} {unit}"

    rows = [
        ("State", str(value("power_state") or "—")),
        ("Power", fmt("power_w", "W", 1)),
        ("Current", fmt("current_a", "A", 2)),
        ("Voltage", fmt("voltage_v", "V", 1)),
        ("Power factor", fmt("power_factor", "", 2)),
        ("Energy", fmt("energy_kwh", "kWh", 3)),
        ("Health", str(value("health") or "—")),
        (
            "Device",
            f"{value('device') or 'empty'}"
            + (f" ({value('profile')})" if value("profile") else ""),
        ),
        ("Branch / phase", f"{value('branch_id') or '—'} / {value('phase') or '—'}"),
        ("Rating", fmt("rating_a", "A", 0)),
    ]
    return [
        html.Div(
            [html.Span(k, className="reading-key"), html.Span(v, className="reading-value")],
            className="reading",
        )
        for k, v in rows
    ]


def _data_now(context: DashboardContext, pdu: str) -> datetime:
    return data_now(context.feed.latest_ts(f"pdu/{pdu}/outlets"))


def _outlet_series(
    context: DashboardContext,
    pdu: str,
    outlet: str,
    index: int,
    time_range: TimeRange,
    now: datetime,
) -> tuple[list[str], list[float | None], list[float | None], str]:
    """(UTC times, power, energy, note) of the outlet over the range: stored history, else
    the feed's recent frames. History keeps outlet power only, so energy is drawn live."""
    loaded = load(context, f"pdu/{pdu}/outlets", [f"{outlet}.power_w"], time_range, now)
    if not loaded.error:
        power = loaded.series.get(f"{outlet}.power_w") or [None] * len(loaded.timestamps)
        return loaded.timestamps, power, [None] * len(power), ""
    start, end = time_range.bounds(now)
    times: list[str] = []
    power: list[float | None] = []
    energy: list[float | None] = []
    for point in context.feed.history(f"pdu/{pdu}/outlets"):
        if not start <= parse_utc(point.ts) <= end:
            continue
        p, e = point.values.get("power_w") or [], point.values.get("energy_kwh") or []
        times.append(point.ts)
        power.append(p[index] if index < len(p) else None)
        energy.append(e[index] if index < len(e) else None)
    return times, power, energy, f"Stored history unavailable ({loaded.error}); recent live data."


def _outlet_chart(
    times: list[str],
    power: list[float | None],
    energy: list[float | None],
    time_range: TimeRange,
    markers: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> dict[str, Any]:
    xs = [local(t, time_range.tz) for t in times]
    figure = charts.time_figure(
        [
            {"name": "Power (W)", "x": xs, "y": power, "colour": "#2563eb"},
            {"name": "Energy (kWh, live)", "x": list(xs), "y": energy, "colour": "#f59e0b"},
        ],
        y_title="W",
        height=260,
    )
    figure["data"][1]["yaxis"] = "y2"
    figure["layout"]["yaxis2"] = {
        "title": {"text": "kWh"},
        "overlaying": "y",
        "side": "right",
        "showgrid": False,
        "zeroline": False,
        "tickformat": ",.4~f",
        "rangemode": "tozero",
    }
    figure["layout"]["xaxis"]["title"] = {"text": axis_title(time_range.zone)}
    figure["layout"]["margin"]["r"] = 64
    figure["layout"]["margin"]["t"] = 28  # room for the event labels
    figure["layout"]["shapes"], figure["layout"]["annotations"] = markers
    return figure


def _markers(
    context: DashboardContext,
    pdu: str,
    outlet: str,
    branch: str | None,
    time_range: TimeRange,
    now: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Markers of the outlet's and its branch's events inside the range shown at ``now``."""
    events = (context.feed.latest(pdu_events_topic(pdu)) or {}).get("events") or []
    start, end = time_range.bounds(now)
    fixed_end = end if not time_range.live else None
    return event_markers(relevant(events, outlet, branch), time_range.tz, start, fixed_end)


@streamer(PAGE)
def stream(view: dict[str, Any], context: DashboardContext, memo: dict[str, Any]) -> Updates:
    feed = context.feed
    settings = context.settings
    updates: Updates = []
    pdu_ids = feed.pdu_ids()
    # PDUs appear, or one is renamed: the selector's labels follow.
    names = [(p, (feed.latest(f"pdu/{p}/outlets") or {}).get("name")) for p in pdu_ids]
    if memo.get("pdu_ids") != names:
        memo["pdu_ids"] = names
        props: dict[str, Any] = {"options": _options(context, pdu_ids)}
        if view.get("pdu") not in pdu_ids and pdu_ids:
            props["value"] = pdu_ids[0]
        updates.append(("pdu-select", props))
    pdu = view.get("pdu") if view.get("pdu") in pdu_ids else (pdu_ids[0] if pdu_ids else None)
    if pdu is None:
        return updates
    data = feed.latest(f"pdu/{pdu}/outlets")
    summary = feed.latest(f"pdu/{pdu}/summary")
    if not data:
        return updates
    fixed = bool(view.get("fixed"))
    voltage = settings.pdu_nominal_voltage_v
    # The frames these charts show: a round woken by another topic redraws nothing.
    frames = (feed.latest_ts(f"pdu/{pdu}/outlets"), feed.latest_ts(f"pdu/{pdu}/summary"))
    if memo.get("pdu") != pdu:
        updates.append(
            (
                "pdu-heatmap",
                {"figure": heatmap_figure(data, fixed_range=fixed, nominal_voltage_v=voltage)},
            )
        )
        updates.append(
            ("pdu-circuits", {"figure": circuits_figure(data, summary, settings.pdu_main_rating_a)})
        )
        memo["heatmap_sent"] = {}
    else:
        range_changed = memo.get("fixed") != fixed
        if range_changed or frames[0] != (memo.get("frames") or (None,))[0]:
            patch = heatmap_patch(
                data,
                fixed_range=fixed if range_changed else None,
                nominal_voltage_v=voltage,
                sent=memo.setdefault("heatmap_sent", {}),
            )
            updates.append(("pdu-heatmap", {"figure": patch}))
        if frames != memo.get("frames"):
            circuits = circuits_patch(data, summary, settings.pdu_main_rating_a)
            updates.append(("pdu-circuits", {"figure": circuits}))
    memo["fixed"] = fixed
    memo["frames"] = frames

    breakers = _breaker_key(data)
    if memo.get("breakers") != breakers or memo.get("breakers_pdu") != pdu:
        updates.append(("pdu-breakers", {"children": breaker_rows(data, current_session())}))
        memo["breakers"], memo["breakers_pdu"] = breakers, pdu

    if memo.get("pdu_name") != (pdu, data.get("name")):
        updates.append(("pdu-name", {"value": data.get("name") or ""}))
        memo["pdu_name"] = (pdu, data.get("name"))

    header = _header_values(data, summary)
    if memo.get("header") != header:
        updates.append(("pdu-header", {"children": _header(header)}))
        memo["header"] = header

    faults = fault_lines(feed.latest("faults"), pdu)
    if memo.get("faults") != faults:
        items = [html.Li(text, className="alert") for text in faults]
        updates.append(("pdu-faults", {"children": items}))
        memo["faults"] = faults

    outlet = outlet_at(data, view["cell"]) if view.get("cell") else None
    index = _outlet_index(data, outlet) if outlet else None
    ts = feed.latest_ts(f"pdu/{pdu}/outlets")
    if index is None:
        if memo.get("outlet_shown", True):
            updates.append(("outlet-detail", {"style": HIDDEN}))
            memo["outlet_shown"] = False
        memo["outlet"] = None
    else:
        outlets = data.get("outlets") or {}
        name = (outlets.get("name") or [outlet] * (index + 1))[index] or outlet
        device = (outlets.get("device") or [None] * (index + 1))[index]
        branch = (outlets.get("branch_id") or [None] * (index + 1))[index]
        time_range = from_query((view.get("range") or {}).get("query") or {})
        if memo.get("outlet") != (pdu, outlet):
            updates.append(("outlet-detail", {"style": SHOWN}))
            now = _data_now(context, pdu)
            times, power, energy, note = _outlet_series(
                context, pdu, outlet, index, time_range, now
            )
            markers = _markers(context, pdu, outlet, branch, time_range, now)
            updates.append(
                (
                    "outlet-chart",
                    {"figure": _outlet_chart(times, power, energy, time_range, markers)},
                )
            )
            updates.append(("outlet-chart-note", {"children": note}))
            memo["outlet_held"] = len(times)
            memo["outlet_last"] = times[-1] if times else None
            memo["outlet_markers"] = markers
            memo["outlet"] = (pdu, outlet)
            memo["outlet_shown"] = True
            memo["outlet_name"] = memo["outlet_device"] = None
        elif ts != memo.get("outlet_ts"):
            # Live: one point per step of the range, as a Patch (never extendData: see
            # charts.append_points); the event markers change in the same Patch.
            patch = None
            if ts and due(time_range, memo.get("outlet_last"), ts):
                power = (outlets.get("power_w") or [None] * (index + 1))[index]
                energy = (outlets.get("energy_kwh") or [None] * (index + 1))[index]
                patch, memo["outlet_held"] = charts.append_points(
                    local(ts, time_range.tz),
                    [power, energy],
                    memo.get("outlet_held", 0),
                    points_for(time_range, parse_utc(ts)),
                )
                memo["outlet_last"] = ts
            markers = _markers(context, pdu, outlet, branch, time_range, _data_now(context, pdu))
            if markers != memo.get("outlet_markers"):
                patch = patch if patch is not None else Patch()
                patch["layout"]["shapes"], patch["layout"]["annotations"] = markers
                memo["outlet_markers"] = markers
            if patch is not None:
                updates.append(("outlet-chart", {"figure": patch}))
        if memo.get("outlet_name") != name or memo.get("outlet_device") != device:
            label = name if outlet in str(name) else f"{name} ({outlet})"
            updates.append(("outlet-title", {"children": f"{label} · PDU {pdu}"}))
            updates.append(("outlet-name", {"value": name}))
            reason = refusal(CONTROL_PRIVILEGE) or ("" if device else "No device is plugged in")
            updates.append(("device-name", {"value": device or "", "disabled": bool(reason)}))
            updates.append(
                (
                    "device-rename",
                    {
                        "disabled": bool(reason),
                        "title": reason,
                        "className": "btn btn-cycle" + (" btn-locked" if reason else ""),
                    },
                )
            )
            memo["outlet_name"], memo["outlet_device"] = name, device
        updates.append(("outlet-readings", {"children": _readings(data, index)}))
        memo["outlet_ts"] = ts
    memo["pdu"] = pdu
    return updates


def fault_lines(data: dict[str, Any] | None, pdu: str) -> list[str]:
    """The active faults (topic ``faults``) on this PDU or on URIs of every PDU, one line each."""
    lines = []
    for fault in ActiveFaultsData.model_validate(data).faults if data else []:
        if fault.pdu_id not in (pdu, None):
            continue
        where = f"PDU {pdu}" + (f" {fault.target}" if fault.pdu_id and fault.target else "")
        if fault.pdu_id is None:
            where = f"URIs {fault.target}"
        until = f" until {fault.ends_at[11:19]} UTC" if fault.ends_at else ""
        lines.append(f"Fault {fault.fault_id} ({fault.layer}): {fault.kind} on {where}{until}")
    return lines


def _header_values(data: dict[str, Any], summary: dict[str, Any] | None) -> list[tuple[str, str]]:
    summary = summary or {}
    if summary and summary.get("power_w") is None:  # comm lost: unknown, never 0 kW
        return [
            ("PDU", f"{data.get('name') or data.get('pdu_id')}"),
            ("Model", str(data.get("model") or "—")),
            ("Power", "unknown · no data"),
            ("Health", str(summary.get("health") or "—")),
        ]
    return [
        ("PDU", f"{data.get('name') or data.get('pdu_id')}"),
        ("Model", str(data.get("model") or "—")),
        ("Power", f"{(summary.get('power_w') or 0.0) / 1000:,.2f} kW"),
        ("Energy", f"{summary.get('energy_kwh') or 0.0:,.2f} kWh"),
        ("Outlets on", f"{summary.get('outlets_on', '—')} / {summary.get('outlets_total', '—')}"),
        ("Breakers tripped", str(summary.get("breakers_tripped", 0))),
        ("Health", str(summary.get("health") or "—")),
    ]


def _header(parts: list[tuple[str, str]]) -> list[Any]:
    return [
        html.Div(
            [html.Span(k, className="stat-key"), html.Span(v, className="stat-value")],
            className="stat",
        )
        for k, v in parts
    ]


@callback(
    Output("tp-url", "search", allow_duplicate=True),
    Input("pdu-select", "value"),
    State("tp-url", "search"),
    prevent_initial_call=True,
)
def pdu_to_url(pdu: str | None, search: str | None) -> str:
    """``?pdu=`` follows the chosen PDU, so a reload or a shared link opens the same one."""
    pairs = parse_qsl((search or "").lstrip("?"), keep_blank_values=True)
    if not pdu or dict(pairs).get("pdu") == pdu:
        raise PreventUpdate
    if "pdu" not in dict(pairs) and pdu == (get_context().feed.pdu_ids() or [None])[0]:
        raise PreventUpdate  # the page's default PDU: the URL need not say it
    return "?" + urlencode([*[(k, v) for k, v in pairs if k != "pdu"], ("pdu", pdu)])
