"""The connection indicator: live, reconnecting, or stale with the age of the last update."""

from __future__ import annotations

from dash import html

from energydash.dashboard.feed import FeedStatus


def connection_badge() -> html.Div:
    return html.Div(
        [html.Span(className="dot"), html.Span("Connecting…", id="conn-text")],
        id="conn-status",
        className="conn conn-connecting",
        title="Connection to the backend",
        role="status",
        **{"aria-label": "Connection to the backend", "aria-live": "polite"},
    )


def describe(status: FeedStatus, stale_after_s: float) -> tuple[str, str]:
    """(text, css class) for a feed status."""
    if status.state == "reconnecting":
        age = "" if status.age_s is None else f" · last update {_age(status.age_s)} ago"
        return f"Reconnecting{age}", "conn conn-reconnecting"
    if status.state == "connecting" or status.age_s is None:
        return "Connecting…", "conn conn-connecting"
    if status.age_s > stale_after_s:
        return f"Stale · {_age(status.age_s)}", "conn conn-stale"
    return "Live", "conn conn-live"


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
