"""Figure helpers shared by the pages: one look, timestamps as ISO strings, partial updates."""

from __future__ import annotations

from typing import Any

from dash import Patch

GRAPH_CONFIG = {"displayModeBar": False}
FONT = {"family": "Inter, system-ui, -apple-system, Segoe UI, sans-serif", "size": 12}
RANGE_BUTTONS = [
    {"count": 5, "label": "5m", "step": "minute", "stepmode": "backward"},
    {"count": 15, "label": "15m", "step": "minute", "stepmode": "backward"},
    {"count": 1, "label": "1h", "step": "hour", "stepmode": "backward"},
    {"step": "all", "label": "all"},
]


def base_layout(*, height: int = 280, y_title: str = "", **extra: Any) -> dict[str, Any]:
    layout = {
        "height": height,
        "margin": {"l": 56, "r": 16, "t": 16, "b": 36},
        "font": FONT,
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "rgba(0,0,0,0)",
        "xaxis": {"showgrid": False, "zeroline": False},
        "yaxis": {
            "title": {"text": y_title},
            "gridcolor": "#eef2f7",
            "zeroline": False,
            "rangemode": "tozero",
        },
        "legend": {"orientation": "h", "y": -0.18, "x": 0},
        "hovermode": "x unified",
        "uirevision": "keep",
    }
    layout.update(extra)
    return layout


def time_figure(
    series: list[dict[str, Any]],
    *,
    y_title: str,
    height: int = 280,
    stacked: bool = False,
    range_selector: bool = False,
) -> dict[str, Any]:
    """Line (or stacked area) traces over ISO timestamps; ``series`` items: name, x, y, colour."""
    traces = []
    for item in series:
        trace: dict[str, Any] = {
            "type": "scatter",
            "mode": "lines",
            "name": item["name"],
            "x": item["x"],
            "y": item["y"],
            "line": {"width": 1.6 if not stacked else 0.5, "color": item.get("colour")},
        }
        if item.get("colour") is None:
            trace["line"].pop("color")
        if stacked:
            trace["stackgroup"] = "one"
            trace["fillcolor"] = item.get("colour")
        traces.append(trace)
    layout = base_layout(height=height, y_title=y_title)
    layout["xaxis"] = {"type": "date", "showgrid": False}
    if range_selector:
        layout["xaxis"]["rangeselector"] = {"buttons": RANGE_BUTTONS, "x": 0, "y": 1.08}
        layout["margin"]["t"] = 36
    return {"data": traces, "layout": layout}


def append_points(x: str, ys: list[float | None], held: int, max_points: int) -> tuple[Patch, int]:
    """A figure ``Patch`` adding one point (same ``x``) to each of ``len(ys)`` traces.

    The oldest points go once a trace would hold more than ``max_points``; ``held`` is how many
    each trace holds now, and the second value how many after the patch. A ``Patch`` of the
    figure is used instead of ``extendData``: in dash-core-components 4.4.1 an extension that
    reaches a graph together with a new figure lands in an array shared by every graph and is
    replayed onto other graphs later, so graphs that also get whole figures must never extend.
    """
    patch = Patch()
    drop = max(0, held + 1 - max_points)
    for index, y in enumerate(ys):
        trace = patch["data"][index]
        for _ in range(drop):
            del trace["x"][0]
            del trace["y"][0]
        trace["x"].append(x)
        trace["y"].append(y)
    return patch, held + 1 - drop


def points_held(figure: dict[str, Any]) -> int:
    """How many points the first trace of ``figure`` holds (all traces share their x)."""
    data = figure.get("data") or []
    return len(data[0].get("x") or []) if data else 0


def bar_figure(
    labels: list[str],
    values: list[float],
    colours: list[str] | str,
    *,
    x_title: str = "",
    height: int = 260,
    horizontal: bool = True,
    text: list[str] | None = None,
) -> dict[str, Any]:
    trace: dict[str, Any] = {
        "type": "bar",
        "orientation": "h" if horizontal else "v",
        "x": values if horizontal else labels,
        "y": labels if horizontal else values,
        "marker": {"color": colours},
        "hoverinfo": "x+y",
    }
    if text is not None:
        trace.update(text=text, textposition="auto")
    layout = base_layout(height=height)
    layout["hovermode"] = "closest"
    if horizontal:
        layout["yaxis"] = {"autorange": "reversed", "automargin": True}
        layout["xaxis"] = {
            "title": {"text": x_title},
            "gridcolor": "#eef2f7",
            "rangemode": "tozero",
        }
    else:
        layout["yaxis"]["title"] = {"text": x_title}
    layout["showlegend"] = False
    return {"data": [trace], "layout": layout}


def placeholder(message: str, height: int = 240) -> dict[str, Any]:
    """An empty figure that says why it is empty (no axes from the year 2000)."""
    layout = base_layout(height=height)
    layout["xaxis"] = {"visible": False}
    layout["yaxis"] = {"visible": False}
    layout["annotations"] = [
        {"text": message, "showarrow": False, "font": {"size": 13, "color": "#64748b"}}
    ]
    return {"data": [], "layout": layout}
