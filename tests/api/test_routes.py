"""The REST routers may be matched in any order: no two routes take the same method and path.

``api.routes.ROUTERS`` puts the command routes first so that FastAPI, which tries routes in
order, reaches them soonest; that is only harmless while no path of one route is also a path
of another route with the same method.
"""

from __future__ import annotations

import re
from itertools import combinations

from fastapi.routing import APIRoute

from energydash.api import routes


def a_path(template: str) -> str:
    """A concrete path of a route template: each ``{param}`` (or ``{param:path}``) filled in."""
    return re.sub(r"\{[^}]+\}", "x1", template)


def test_no_two_rest_routes_answer_the_same_method_and_path() -> None:
    api_routes = [
        route for router in routes.ROUTERS for route in router.routes if isinstance(route, APIRoute)
    ]
    assert len(api_routes) > 40  # every router was walked
    clashes = [
        f"{sorted(a.methods & b.methods)} {a.path} / {b.path}"
        for a, b in combinations(api_routes, 2)
        if a.methods & b.methods
        and (a.path_regex.match(a_path(b.path)) or b.path_regex.match(a_path(a.path)))
    ]
    assert clashes == []


def test_the_command_routes_are_matched_first() -> None:
    first = routes.ROUTERS[0]
    paths = {route.path for route in first.routes if isinstance(route, APIRoute)}
    assert "/pdus/{pdu_id}/outlets/{outlet_id}/power" in paths
