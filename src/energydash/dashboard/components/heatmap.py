"""The outlet heat map: a PDU's outlets laid out bank by bank, coloured by live power.

Rows are branch circuits (the PDU's outlet banks), columns are positions within a bank. Four
traces, always in this order, so a live update is a small `Patch` of arrays and never a new
figure: 0 power (blue -> yellow -> red with a colour bar; empty outlets have none), 1 grey
cover over outlets without power (Off, the off period of a power cycle, a tripped branch), 2
hatch strokes over them, 3 fault markers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dash import Patch

POWER_COLOURSCALE = [[0.0, "#2563eb"], [0.5, "#facc15"], [1.0, "#dc2626"]]
OFF_GREY = "#9ca3af"
HATCH_OFFSETS = (-0.3, 0.0, 0.3)
HEALTH_COLOURS = {"Warning": "#f59e0b", "Critical": "#b91c1c"}
HOVER = (
    "<b>%{customdata[1]}</b> (%{customdata[0]})<br>"
    "State: %{customdata[2]}<br>"
    "Power: %{customdata[3]} W<br>"
    "Current: %{customdata[4]} A<br>"
    "Voltage: %{customdata[5]} V<br>"
    "Power factor: %{customdata[6]}<br>"
    "Energy: %{customdata[7]} kWh<br>"
    "Health: %{customdata[8]}<br>"
    "Device: %{customdata[9]}<extra></extra>"
)


@dataclass(frozen=True)
class OutletGrid:
    """Where each outlet sits: row (bank) and column (position), plus axis labels."""

    row_ids: list[str]
    row_labels: list[str]
    columns: int
    cells: list[tuple[int, int]]  # per outlet, in the order of the columnar arrays


def outlet_grid(data: dict[str, Any]) -> OutletGrid:
    """Lay outlets out by branch, in the order the PDU lists its branches and outlets."""
    outlets = data.get("outlets") or {}
    branch_of = outlets.get("branch_id") or []
    branches = data.get("branches") or []
    row_ids = [b["id"] for b in branches]
    for branch_id in branch_of:  # outlets on a branch the header does not list still show
        if branch_id not in row_ids:
            row_ids.append(branch_id)
    phases = {b["id"]: "/".join(b.get("phases") or []) for b in branches}
    row_labels = [f"{rid} · {phases[rid]}" if phases.get(rid) else rid for rid in row_ids]
    position: dict[str, int] = {}
    cells = []
    for branch_id in branch_of:
        column = position.get(branch_id, 0)
        position[branch_id] = column + 1
        cells.append((row_ids.index(branch_id), column))
    columns = max(position.values(), default=0)
    return OutletGrid(row_ids, row_labels, columns, cells)


def _fmt(value: Any, digits: int) -> str:
    if value is None:
        return "—"
    if isinstance(value, float | int):
        return f"{value:.{digits}f}"
    return str(value)


def power_range_w(data: dict[str, Any], nominal_voltage_v: float) -> float:
    """Top of the fixed colour range: the highest outlet rating at the nominal voltage."""
    ratings = [r for r in (data.get("outlets") or {}).get("rating_a") or [] if r]
    return max(ratings, default=10.0) * nominal_voltage_v


def dead_branches(data: dict[str, Any]) -> dict[str, str]:
    """Branches whose breaker is not closed (``Tripped``, ``Off``): id -> breaker state."""
    return {
        str(b.get("id")): str(b.get("breaker_state"))
        for b in data.get("branches") or []
        if b.get("breaker_state") not in (None, "Normal")
    }


def outlets_live(data: dict[str, Any]) -> int:
    """Outlets that deliver power: On, on a branch whose breaker is closed."""
    outlets = data.get("outlets") or {}
    dead = dead_branches(data)
    return sum(
        1
        for state, branch in zip(
            outlets.get("power_state") or [], outlets.get("branch_id") or [], strict=False
        )
        if state == "On" and branch not in dead
    )


def heatmap_arrays(data: dict[str, Any], grid: OutletGrid | None = None) -> dict[str, Any]:
    """The per-tick arrays of the four traces, from one ``pdu/{id}/outlets`` frame."""
    grid = grid or outlet_grid(data)
    outlets = data.get("outlets") or {}
    n_rows, n_cols = len(grid.row_ids), grid.columns
    z: list[list[float | None]] = [[None] * n_cols for _ in range(n_rows)]
    off: list[list[int | None]] = [[None] * n_cols for _ in range(n_rows)]
    custom: list[list[list[str]]] = [[[""] * 10 for _ in range(n_cols)] for _ in range(n_rows)]
    hatch_x: list[float] = []
    hatch_y: list[float] = []
    fault_x: list[float] = []
    fault_y: list[float] = []
    fault_colour: list[str] = []

    def col(name: str) -> list[Any]:
        values = outlets.get(name)
        return values if values is not None else [None] * len(grid.cells)

    ids, names, states = col("id"), col("name"), col("power_state")
    power, current, voltage = col("power_w"), col("current_a"), col("voltage_v")
    factor, energy, health, device = (
        col("power_factor"),
        col("energy_kwh"),
        col("health"),
        col("device"),
    )
    dead = dead_branches(data)
    branch_of = col("branch_id")
    for i, (row, column) in enumerate(grid.cells):
        state = states[i] or "Unknown"
        if state == "On" and branch_of[i] in dead:
            state = f"On, no power (branch {branch_of[i]} {dead[branch_of[i]].lower()})"
        # An empty outlet is drawn empty (no colour), not as a 0 W device.
        z[row][column] = power[i] if power[i] is not None and device[i] else None
        custom[row][column] = [
            str(ids[i]),
            str(names[i] or ids[i]),
            state,
            _fmt(power[i], 1),
            _fmt(current[i], 2),
            _fmt(voltage[i], 1),
            _fmt(factor[i], 2),
            _fmt(energy[i], 3),
            str(health[i] or "OK"),
            str(device[i] or "empty"),
        ]
        if state != "On":  # Off, PoweringOn (a power cycle's off period), dead branch
            off[row][column] = 1
            for dx in HATCH_OFFSETS:
                hatch_x.append(column + 1 + dx)
                hatch_y.append(row)
        if health[i] in HEALTH_COLOURS:
            fault_x.append(column + 1 + 0.32)
            fault_y.append(row - 0.28)
            fault_colour.append(HEALTH_COLOURS[health[i]])
    # The off cover is hovered only where it is drawn: its hover text elsewhere stays empty, so
    # a tick without switched-off outlets leaves it unchanged (and out of the patch).
    off_custom = [
        [custom[r][c] if off[r][c] else [""] * 10 for c in range(n_cols)] for r in range(n_rows)
    ]
    return {
        "z": z,
        "off": off,
        "custom": custom,
        "off_custom": off_custom,
        "hatch_x": hatch_x,
        "hatch_y": hatch_y,
        "fault_x": fault_x,
        "fault_y": fault_y,
        "fault_colour": fault_colour,
    }


def heatmap_figure(
    data: dict[str, Any], *, fixed_range: bool, nominal_voltage_v: float
) -> dict[str, Any]:
    """The whole figure, built once when a PDU is chosen; ticks then patch its arrays."""
    grid = outlet_grid(data)
    arrays = heatmap_arrays(data, grid)
    x = list(range(1, grid.columns + 1))
    y = list(range(len(grid.row_ids)))
    power = {
        "type": "heatmap",
        "x": x,
        "y": y,
        "z": arrays["z"],
        "customdata": arrays["custom"],
        "hovertemplate": HOVER,
        "colorscale": POWER_COLOURSCALE,
        "xgap": 3,
        "ygap": 3,
        "colorbar": {"title": {"text": "Power (W)"}, "thickness": 14, "len": 0.9},
        **_range(data, fixed_range, nominal_voltage_v),
    }
    off_cover = {
        "type": "heatmap",
        "x": x,
        "y": y,
        "z": arrays["off"],
        "customdata": arrays["off_custom"],
        "hovertemplate": HOVER,
        "colorscale": [[0, OFF_GREY], [1, OFF_GREY]],
        "showscale": False,
        "xgap": 3,
        "ygap": 3,
        "zmin": 0,
        "zmax": 1,
        "name": "Off",
    }
    hatch = {
        "type": "scatter",
        "mode": "markers",
        "x": arrays["hatch_x"],
        "y": arrays["hatch_y"],
        "marker": {"symbol": "line-ne", "size": 16, "line": {"width": 1.4, "color": "#4b5563"}},
        "hoverinfo": "skip",
        "showlegend": False,
    }
    faults = {
        "type": "scatter",
        "mode": "markers",
        "x": arrays["fault_x"],
        "y": arrays["fault_y"],
        "marker": {
            "symbol": "triangle-up",
            "size": 11,
            "color": arrays["fault_colour"],
            "line": {"width": 1, "color": "#ffffff"},
        },
        "hoverinfo": "skip",
        "showlegend": False,
    }
    layout = {
        "margin": {"l": 90, "r": 10, "t": 10, "b": 40},
        "height": 120 + 62 * max(len(y), 1),
        "plot_bgcolor": "#f8fafc",
        "paper_bgcolor": "rgba(0,0,0,0)",
        "xaxis": {
            "title": {"text": "Outlet position in bank"},
            "tickmode": "array",
            "tickvals": x,
            "range": [0.5, grid.columns + 0.5],
            "showgrid": False,
            "zeroline": False,
            "fixedrange": True,
        },
        "yaxis": {
            "tickmode": "array",
            "tickvals": y,
            "ticktext": grid.row_labels,
            "autorange": "reversed",
            "showgrid": False,
            "zeroline": False,
            "fixedrange": True,
        },
        "uirevision": data.get("pdu_id"),
        "font": {"family": "Inter, system-ui, sans-serif", "size": 12},
    }
    return {"data": [power, off_cover, hatch, faults], "layout": layout}


def _range(data: dict[str, Any], fixed_range: bool, nominal_voltage_v: float) -> dict[str, Any]:
    if fixed_range:
        return {"zauto": False, "zmin": 0, "zmax": power_range_w(data, nominal_voltage_v)}
    return {"zauto": True, "zmin": None, "zmax": None}


def heatmap_patch(
    data: dict[str, Any],
    *,
    fixed_range: bool | None = None,
    nominal_voltage_v: float = 230.0,
    sent: dict[str, Any] | None = None,
) -> Patch:
    """A tick's change: only the arrays (and the range when the toggle moved).

    With ``sent`` (the caller's memory of the arrays the graph holds, updated here), an array
    equal to the one sent before is left out: the off cover, hatching and fault marks change
    only on a switch or fault, so most ticks carry the power values and their hover text only.
    """
    arrays = heatmap_arrays(data)
    patch = Patch()
    paths = {
        (0, "z"): arrays["z"],
        (0, "customdata"): arrays["custom"],
        (1, "z"): arrays["off"],
        (1, "customdata"): arrays["off_custom"],
        (2, "x"): arrays["hatch_x"],
        (2, "y"): arrays["hatch_y"],
        (3, "x"): arrays["fault_x"],
        (3, "y"): arrays["fault_y"],
    }
    for (trace, key), value in paths.items():
        if sent is not None and sent.get(f"{trace}.{key}") == value:
            continue
        patch["data"][trace][key] = value
        if sent is not None:
            sent[f"{trace}.{key}"] = value
    if sent is None or sent.get("3.colour") != arrays["fault_colour"]:
        patch["data"][3]["marker"]["color"] = arrays["fault_colour"]
        if sent is not None:
            sent["3.colour"] = arrays["fault_colour"]
    if fixed_range is not None:
        for key, value in _range(data, fixed_range, nominal_voltage_v).items():
            patch["data"][0][key] = value
    return patch


def circuits_figure(
    data: dict[str, Any], summary: dict[str, Any] | None, main_rating_a: float
) -> dict[str, Any]:
    """Branch and mains current against breaker rating, as horizontal bars."""
    labels, current, rating = _circuit_rows(data, summary, main_rating_a)
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": labels,
                "x": current,
                "marker": {"color": _utilisation_colours(current, rating)},
                "text": _utilisation_text(current, rating),
                "textposition": "outside",
                "cliponaxis": False,
                "hovertemplate": "%{y}: %{x:.2f} A<extra></extra>",
                "name": "Current",
            },
            {
                "type": "scatter",
                "mode": "markers",
                "y": labels,
                "x": rating,
                "marker": {
                    "symbol": "line-ns",
                    "size": 22,
                    "line": {"width": 3, "color": "#111827"},
                },
                "hovertemplate": "%{y} breaker rating: %{x:.0f} A<extra></extra>",
                "name": "Breaker rating",
            },
        ],
        "layout": {
            "margin": {"l": 90, "r": 40, "t": 10, "b": 40},
            "height": 80 + 34 * max(len(labels), 1),
            "barmode": "overlay",
            "showlegend": False,
            "xaxis": {"title": {"text": "Current (A)"}, "rangemode": "tozero"},
            "yaxis": {"autorange": "reversed"},
            "plot_bgcolor": "#ffffff",
            "paper_bgcolor": "rgba(0,0,0,0)",
            "font": {"family": "Inter, system-ui, sans-serif", "size": 12},
            "uirevision": data.get("pdu_id"),
        },
    }


def circuits_patch(
    data: dict[str, Any], summary: dict[str, Any] | None, main_rating_a: float
) -> Patch:
    labels, current, rating = _circuit_rows(data, summary, main_rating_a)
    patch = Patch()
    patch["data"][0]["x"] = current
    patch["data"][0]["y"] = labels
    patch["data"][0]["marker"]["color"] = _utilisation_colours(current, rating)
    patch["data"][0]["text"] = _utilisation_text(current, rating)
    patch["data"][1]["x"] = rating
    patch["data"][1]["y"] = labels
    return patch


def _circuit_rows(
    data: dict[str, Any], summary: dict[str, Any] | None, main_rating_a: float
) -> tuple[list[str], list[float], list[float]]:
    labels: list[str] = []
    current: list[float] = []
    rating: list[float] = []
    for phase in (summary or {}).get("phases") or []:
        labels.append(f"Mains {phase.get('phase')}")
        current.append(phase.get("current_a") or 0.0)
        rating.append(main_rating_a)
    for branch in data.get("branches") or []:
        state = branch.get("breaker_state") or "Normal"
        suffix = "" if state == "Normal" else f" ({state})"
        labels.append(f"Branch {branch.get('id')}{suffix}")
        current.append(branch.get("current_a") or 0.0)
        rating.append(branch.get("rating_a") or 0.0)
    return labels, current, rating


def _utilisation_colours(current: list[float], rating: list[float]) -> list[str]:
    colours = []
    for amps, limit in zip(current, rating, strict=True):
        share = amps / limit if limit else 0.0
        colours.append("#16a34a" if share < 0.6 else "#f59e0b" if share < 0.8 else "#dc2626")
    return colours


def _utilisation_text(current: list[float], rating: list[float]) -> list[str]:
    return [
        f"{amps:.1f} A · {amps / limit:.0%}" if limit else f"{amps:.1f} A"
        for amps, limit in zip(current, rating, strict=True)
    ]
