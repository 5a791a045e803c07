"""A titled card: the panel every page lays its figures out in.

A card whose body is a chart (``dcc.Graph``) is labelled for screen readers (``role=figure``,
``aria-label``) and gets a **CSV** button: ``assets/export.js``
turns the rows the chart shows into a CSV file in the browser, so every chart exports exactly
what is on screen.
"""

from __future__ import annotations

from typing import Any

from dash import dcc, html


def card(title: str, body: Any) -> html.Section:
    heading: Any = html.H2(title, className="card-title")
    if isinstance(body, dcc.Graph) and isinstance(getattr(body, "id", None), str):
        heading = html.Div(
            [
                heading,
                html.Button(
                    "CSV",
                    className="btn btn-small csv-export",
                    title=f"Download the rows of “{title}” as CSV",
                    **{"data-graph": body.id, "aria-label": f"Export {title} as CSV"},
                ),
            ],
            className="card-head",
        )
        # Screen readers get the chart's name (a plotly SVG has none of its own).
        body = html.Div(body, role="figure", **{"aria-label": f"Chart: {title}"})
    return html.Section([heading, body], className="card")
