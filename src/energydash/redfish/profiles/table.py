"""The route table as a profiled PDU's clients see it.

``ProfiledTable.match`` is the one door every lookup goes through (a request, ``$expand``,
``only``, ``$filter``), so a PDU with a non-``dmtf`` profile is shaped everywhere at once: its
URIs are turned back into the engine's tree, the matched route's handlers are wrapped to shape
what they answer, and the routes only a profile has (the Schneider mock's load segments) live
here. PDUs with the ``dmtf`` profile, and the rest of the service, match the plain table.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from energydash.redfish import errors
from energydash.redfish.profiles.shaper import Shaper
from energydash.redfish.profiles.vendors import DMTF, Profile, assign
from energydash.redfish.routing import Route, RouteTable

if TYPE_CHECKING:
    from energydash.redfish.http import Request, Response

LOAD_SEGMENT = "/redfish/v1/PowerDistribution/{pdu}/PowerControl/Loadsegment/{segment}"
SEGMENT_ACTIONS = {"on": "On", "off": "Off", "cycle": "PowerCycle"}


def _pdu_of(parts: list[str]) -> str | None:
    """The PDU a path is about: ``RackPDUs/{id}``, ``Chassis/{id}``, ``PowerDistribution/{id}``."""
    if len(parts) < 4 or parts[0] != "redfish" or parts[1] != "v1":
        return None
    if parts[2] == "PowerEquipment":
        return parts[4] if len(parts) > 4 and parts[3] == "RackPDUs" else None
    if parts[2] in ("Chassis", "PowerDistribution"):
        return parts[3]
    return None


class ProfiledTable(RouteTable):
    """The service's ``RouteTable``, shaping the PDUs whose profile is not ``dmtf``."""

    def __init__(
        self,
        base: RouteTable,
        profile_of: Callable[[str], Profile],
        outlet_ids: Callable[[str], list[str]],
    ) -> None:
        super().__init__()  # its own routes stay empty: every route lives in ``base``
        self.base = base
        self.profile_of = profile_of
        self.outlet_ids = outlet_ids
        self._shapers: dict[str, Shaper] = {}
        self._wrapped: dict[tuple[int, str], Route] = {}
        self.extras = RouteTable()
        self.extras.add(Route(LOAD_SEGMENT, "Circuit", post=post_load_segment))

    def __iter__(self) -> Iterator[Route]:
        return iter(self.base)

    def add(self, *routes: Route) -> None:
        self.base.add(*routes)

    def shaper(self, pdu_id: str) -> Shaper | None:
        profile = self.profile_of(pdu_id)
        if profile is DMTF:
            return None
        shaper = self._shapers.get(pdu_id)
        if shaper is None or shaper.profile is not profile:
            try:
                ids = self.outlet_ids(pdu_id)
            except KeyError:
                return None
            shaper = self._shapers[pdu_id] = Shaper(profile, pdu_id, ids)
        return shaper

    def uri_out(self, uri: str) -> str:
        """An engine URI (an event's origin) as its PDU's profile names it."""
        pdu_id = _pdu_of(uri.strip("/").split("/"))
        shaper = None if pdu_id is None else self.shaper(pdu_id)
        return uri if shaper is None else shaper.uri_out(uri)

    def match(self, path: str) -> tuple[Route, dict[str, str]] | None:
        parts = path.strip("/").split("/")
        pdu_id = _pdu_of(parts)
        shaper = None if pdu_id is None else self.shaper(pdu_id)
        if shaper is None:
            return self.base.match(path)
        if parts[2] == "PowerDistribution":
            return self.extras.match(path) if shaper.profile.load_segments else None
        canonical = shaper.uri_in(path if len(path) <= 1 else path.rstrip("/"))
        if canonical is None:
            return None
        matched = self.base.match(canonical)
        if matched is None:
            return None
        route, params = matched
        return self._wrap(route, shaper), params

    def _wrap(self, route: Route, shaper: Shaper) -> Route:
        key = (id(route), shaper.pdu_id)
        wrapped = self._wrapped.get(key)
        if wrapped is not None and self._shapers.get(shaper.pdu_id) is shaper:
            return wrapped
        changes: dict[str, Any] = {}
        if route.get is not None:
            get = route.get
            changes["get"] = lambda request: shaper.shape(get(request), request)
        if route.patch is not None:
            patch = route.patch
            changes["patch"] = lambda request, body: _shaped(
                patch(request, shaper.body_in(body)), shaper, request
            )
        if route.post is not None:
            post = route.post

            async def shaped_post(request: Request, body: dict[str, Any]) -> Response:
                response = post(request, shaper.body_in(body))
                if inspect.isawaitable(response):
                    response = await response
                return _shaped(response, shaper, request)

            changes["post"] = shaped_post
        wrapped = dataclasses.replace(route, **changes)
        self._wrapped[key] = wrapped
        return wrapped


def _shaped(response: Response, shaper: Shaper, request: Request) -> Response:
    if isinstance(response.body, dict):
        response.body = shaper.shape(response.body, request)
    location = response.headers.get("Location")
    if location:
        response.headers["Location"] = shaper.uri_out(location)
    return response


def post_load_segment(request: Request, body: dict[str, Any]) -> Response:
    """The Schneider mock's load segment switch: segment n is branch n's outlets.

    Body ``{"Action": "On" | "Off" | "Cycle"}`` (any case, as the mock reads it); the answer
    is the mock's 200 with the segment, the action and the first and last outlet numbers.
    """
    from energydash.redfish.http import Response
    from energydash.redfish.registries import message
    from energydash.redfish.resources.common import execute
    from energydash.sim import commands as cmd

    fleet = request.service.engine.fleet
    pdu_id = request.params["pdu"]
    if not fleet.has_pdu(pdu_id):
        raise errors.not_found("PowerDistribution", pdu_id)
    pdu = fleet.pdu_info(pdu_id)
    segment = request.params["segment"]
    if not segment.isdigit() or not 1 <= int(segment) <= len(pdu.branches):
        raise errors.not_found("Loadsegment", segment[:16])
    unknown = [name for name in body if name not in ("Action", "action")]
    if unknown:
        raise errors.RedfishError(
            400, [message("Base", "ActionParameterUnknown", "Loadsegment", unknown[0][:40])]
        )
    action = body.get("Action", body.get("action"))
    if not isinstance(action, str) or action.strip().lower() not in SEGMENT_ACTIONS:
        raise errors.RedfishError(
            400,
            [
                message(
                    "Base",
                    "ActionParameterValueNotInList",
                    str(action)[:40],
                    "Action",
                    "Loadsegment",
                )
            ],
        )
    branch = pdu.branches[int(segment) - 1]
    chosen = SEGMENT_ACTIONS[action.strip().lower()]
    execute(request, cmd.CircuitPower(pdu_id, branch.id, chosen))
    numbers = [n for n, o in enumerate(pdu.outlets, 1) if o.id in set(branch.outlet_ids)]
    uri = f"/redfish/v1/PowerDistribution/{pdu_id}/PowerControl/Loadsegment/{segment}/"
    return Response(
        200,
        {
            "@odata.id": uri,
            "@odata.type": "#ActionResponse.v1_0_0.ActionResponse",
            "Id": f"Loadsegment-{segment}",
            "Name": "Loadsegment PowerControl Result",
            "PduId": pdu_id,
            "LoadSegment": int(segment),
            "ActionApplied": action.strip().lower(),
            "OutletsAffected": [min(numbers), max(numbers)] if numbers else [],
        },
    )


def profiled_table(
    table: RouteTable, fleet: Any, setting: str, single_pdu: str | None
) -> RouteTable:
    """The service's table: ``table`` itself when every PDU it serves has the ``dmtf`` profile.

    ``single_pdu``: a per-PDU endpoint (its PDU is ``1`` there, with that real PDU's profile).
    """
    real_ids = [p.id for p in fleet.pdus] if single_pdu is None else None
    if single_pdu is not None:
        from energydash.redfish.endpoints import LOCAL_ID

        # the endpoint's fleet view shows only its PDU; its profile is the real PDU's
        own = assign(setting, _real_pdu_ids(fleet))[single_pdu]
        profiles = {LOCAL_ID: own}
    else:
        profiles = assign(setting, real_ids or [])
    if all(p is DMTF for p in profiles.values()):
        return table

    def outlet_ids(pdu_id: str) -> list[str]:
        return [o.id for o in fleet.pdu_info(pdu_id).outlets]

    return ProfiledTable(table, lambda pdu_id: profiles.get(pdu_id, DMTF), outlet_ids)


def _real_pdu_ids(fleet: Any) -> list[str]:
    inner = getattr(fleet, "_fleet", fleet)  # endpoints.PduView wraps the whole fleet
    return [p.id for p in inner.pdus]
