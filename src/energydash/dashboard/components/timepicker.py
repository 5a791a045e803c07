"""The time picker every page with charts shows: presets, custom, live or fixed, timezone.

Its controls write the range into the page URL (``tp-url``, a ``callback-nav`` Location of the
shell), and Dash pages renders the page again with the new query: the page then loads that
range from the backend's history. One picker per page, shared by all of the page's charts.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from energydash.dashboard import timerange
from energydash.dashboard.timerange import PRESET_LABELS, ZONE_LABELS, TimeRange


def time_picker(time_range: TimeRange) -> html.Div:
    custom = time_range.preset == "custom"
    tz = time_range.tz
    return html.Div(
        [
            html.Span("Range", className="control-label", id="tp-label"),
            dcc.RadioItems(
                id="tp-range",
                options=[{"label": PRESET_LABELS[k], "value": k} for k in PRESET_LABELS]
                + [{"label": "Custom", "value": "custom"}],
                value=time_range.preset,
                inline=True,
                className="tp-presets",
                inputClassName="tp-input",
                labelClassName="tp-option",
            ),
            html.Div(
                [
                    html.Label(
                        [
                            html.Span(f"From ({time_range.zone})", className="tp-caption"),
                            dcc.Input(
                                id="tp-from",
                                type="datetime-local",
                                debounce=True,
                                value=_wall(time_range.start, tz),
                            ),
                        ]
                    ),
                    html.Label(
                        [
                            html.Span("To (empty: now)", className="tp-caption"),
                            dcc.Input(
                                id="tp-to",
                                type="datetime-local",
                                debounce=True,
                                value=_wall(time_range.end, tz),
                            ),
                        ]
                    ),
                ],
                className="tp-custom",
                style={} if custom else {"display": "none"},
            ),
            dcc.Checklist(
                id="tp-live",
                options=[{"label": "Live", "value": "live"}],
                value=["live"] if time_range.live else [],
                inline=True,
                className="tp-live",
            ),
            dcc.RadioItems(
                id="tp-tz",
                options=[{"label": ZONE_LABELS[z], "value": z} for z in ZONE_LABELS],
                value=time_range.zone,
                inline=True,
                className="tp-zones",
            ),
        ],
        className="time-picker",
        role="group",
        **{"aria-label": "Time range of the charts"},
    )


def _wall(at: datetime | None, tz: tzinfo) -> str | None:
    return at.astimezone(tz).strftime("%Y-%m-%dT%H:%M") if at else None


@callback(
    Output("tp-url", "search", allow_duplicate=True),
    Input("tp-range", "value"),
    Input("tp-from", "value"),
    Input("tp-to", "value"),
    Input("tp-live", "value"),
    Input("tp-tz", "value"),
    State("tp-url", "search"),
    prevent_initial_call=True,
)
def range_to_url(
    preset: str | None,
    start: str | None,
    end: str | None,
    live: list[str] | None,
    zone: str | None,
    search: str | None,
) -> str:
    """The picker's state as the page URL's query (other parameters, such as ``pdu``, kept)."""
    current = timerange.from_query(dict(_pairs(search)))
    query: dict[str, Any] = {"range": preset or current.preset, "tz": zone or current.zone}
    query["live"] = "1" if live else "0"
    if query["range"] == "custom":
        if not start:
            # Custom starts from the window shown now, so the user edits rather than types.
            begin, _ = current.bounds(datetime.now(UTC))
            start = begin.astimezone(timerange.ZONES[query["tz"]]).strftime("%Y-%m-%dT%H:%M")
        query["from"] = start
        if end:
            query["to"] = end
    wanted = timerange.from_query(query)
    if wanted == current:
        # Dash fires this when the page is rendered again with the range it already shows.
        raise PreventUpdate
    return timerange.with_range(search, wanted)


def _pairs(search: str | None) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl((search or "").lstrip("?"))
