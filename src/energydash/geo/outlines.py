"""NEM region outlines: the simplified state outlines the map draws, and point-in-region tests.

One file (``au_states.geojson``) is both the map's base layer and what the simulator places its
facilities in, so a generated facility can never be drawn outside its own region. NSW1 is the
NSW outline (the ACT lies inside it, as it lies inside the NSW1 market region).
"""

from __future__ import annotations

import math
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson

OUTLINE_FILE = Path(__file__).with_name("au_states.geojson")
REGION_STATE = {"NSW1": "NSW", "QLD1": "QLD", "VIC1": "VIC", "SA1": "SA", "TAS1": "TAS"}
Ring = tuple[tuple[float, float], ...]  # (lng, lat) vertices, closed


@cache
def outlines_geojson() -> dict[str, Any]:
    """The state outlines as GeoJSON (the map's base layer)."""
    return orjson.loads(OUTLINE_FILE.read_bytes())


@cache
def region_rings() -> dict[str, Ring]:
    """The outer ring of each NEM region's outline, by region code."""
    by_state = {
        f["properties"]["code"]: f["geometry"]["coordinates"][0]
        for f in outlines_geojson()["features"]
    }
    return {
        region: tuple((float(x), float(y)) for x, y in by_state[state])
        for region, state in REGION_STATE.items()
    }


def _inside(ring: Ring, lng: float, lat: float) -> bool:
    """Even-odd ray casting."""
    inside = False
    for (x1, y1), (x2, y2) in pairwise(ring):
        if (y1 > lat) != (y2 > lat):
            x = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            if x > lng:
                inside = not inside
    return inside


def _edge_distance_deg(ring: Ring, lng: float, lat: float) -> float:
    """Distance to the ring's nearest edge in degrees of latitude (longitude scaled by cos lat)."""
    k = math.cos(math.radians(lat))
    best = math.inf
    for (x1, y1), (x2, y2) in pairwise(ring):
        ax, ay, bx, by = (x1 - lng) * k, y1 - lat, (x2 - lng) * k, y2 - lat
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length2))
        best = min(best, math.hypot(ax + t * dx, ay + t * dy))
    return best


def in_region(region: str, lat: float, lng: float, margin_deg: float = 0.0) -> bool:
    """Whether (lat, lng) lies inside ``region``'s outline, at least ``margin_deg`` from its edge.

    The margin keeps points off the simplified coastline (about 11 km per 0.1°), so a point
    inside the drawn outline is also on land.
    """
    ring = region_rings().get(region)
    if ring is None or not _inside(ring, lng, lat):
        return False
    return margin_deg <= 0 or _edge_distance_deg(ring, lng, lat) >= margin_deg


def region_of(lat: float, lng: float) -> str | None:
    """The NEM region whose outline holds the point, if any."""
    for region, ring in region_rings().items():
        if _inside(ring, lng, lat):
            return region
    return None


# Where a facility without a location is drawn: a point well inside each region.
REGION_CENTRES = {
    "NSW1": (-32.5, 147.5),
    "QLD1": (-23.5, 146.5),
    "VIC1": (-37.0, 144.5),
    "SA1": (-33.0, 139.5),
    "TAS1": (-42.0, 146.6),
}
