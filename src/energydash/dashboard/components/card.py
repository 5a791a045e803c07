"""A titled card: the panel every page lays its figures out in."""

from __future__ import annotations

from typing import Any

from dash import html


def card(title: str, body: Any) -> html.Section:
    return html.Section([html.H2(title, className="card-title"), body], className="card")
