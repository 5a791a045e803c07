"""Sites: CRUD, devices per site, stats and history, with ownership.

Who may do what (REST and GraphQL alike, through ``can_see``/``can_change``):
- Administrators (role Administrator or the ConfigureUsers privilege) see and change every site;
- everyone else sees only the sites their account owns (``caller.account_id``); someone else's
  site is a 404, so ids do not reveal what exists;
- changing a site or its devices also needs ConfigureComponents: an Operator changes their own
  sites, a ReadOnly account changes nothing (403 naming the privilege).

Every change goes through ``Engine.execute``; a type rule broken (a production device with a
capacity, a storage device without one, a level above capacity) is a 422 naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from energydash.api.deps import CallerDep, EngineDep, HubDep
from energydash.api.errors import ApiError
from energydash.api.site_audit import audit_route
from energydash.api.topics import history as topic_history
from energydash.auth import Caller
from energydash.hub import site_snapshots as views
from energydash.models.sites import (
    PduCostData,
    SiteCreate,
    SiteDeviceCreate,
    SiteDevicesData,
    SiteDeviceUpdate,
    SiteDeviceView,
    SiteStats,
    SiteUpdate,
    SiteView,
)
from energydash.sim import sites as sim
from energydash.sim.engine import Engine

router = APIRouter(tags=["sites"])
CHANGE = "ConfigureComponents"


# ---------------------------------------------------------------------- access
def is_admin(caller: Caller) -> bool:
    return caller.role_id == "Administrator" or caller.has("ConfigureUsers")


def can_see(caller: Caller, owner: str) -> bool:
    return is_admin(caller) or (caller.account_id is not None and owner == caller.account_id)


def can_change(caller: Caller, owner: str) -> bool:
    return can_see(caller, owner) and (is_admin(caller) or caller.has(CHANGE))


def can_see_topic(caller: Caller, topic: str, engine: Engine) -> bool:
    """Whether ``caller`` may read hub topic ``topic`` (for /ws and the generic topic routes)."""
    if not topic.startswith("site/"):
        return True
    site_id = topic.split("/")[1]
    try:
        return can_see(caller, engine.sites.site_owner(site_id))
    except KeyError:
        return is_admin(caller)


def visible_site(engine: Engine, caller: Caller, site_id: str) -> int:
    try:
        i = engine.sites.site_index(site_id)
    except KeyError:
        i = -1
    if i < 0 or not can_see(caller, engine.sites.sites.owner[i]):
        raise ApiError(404, f"no site {site_id!r}", "site_id")
    return i


def changeable_site(engine: Engine, caller: Caller, site_id: str) -> int:
    i = visible_site(engine, caller, site_id)
    if not can_change(caller, engine.sites.sites.owner[i]):
        raise ApiError(403, f"role {caller.role_id} lacks the {CHANGE} privilege")
    return i


def visible_device(engine: Engine, caller: Caller, device_id: str) -> int:
    """Index of a site device the caller may see; 404 otherwise."""
    sites = engine.sites
    if not sites.has_device(device_id):
        raise ApiError(404, f"no device {device_id!r}", "device_id")
    k = sites.device_index(device_id)
    if not can_see(caller, sites.sites.owner[int(sites.devices.site[k])]):
        raise ApiError(404, f"no device {device_id!r}", "device_id")
    return k


def changeable_device(engine: Engine, caller: Caller, device_id: str) -> int:
    k = visible_device(engine, caller, device_id)
    owner = engine.sites.sites.owner[int(engine.sites.devices.site[k])]
    if not can_change(caller, owner):
        raise ApiError(403, f"role {caller.role_id} lacks the {CHANGE} privilege")
    return k


def visible_indices(engine: Engine, caller: Caller) -> list[int]:
    owners = engine.sites.sites.owner
    return [i for i, owner in enumerate(owners) if can_see(caller, owner)]


def owner_for(caller: Caller, requested: str | None, engine_auth: Any) -> str:
    """The owner of a new site: the caller, or (Administrators only) another account."""
    if requested is None or requested == caller.account_id:
        if caller.account_id is None:
            raise ApiError(403, "this credential has no account to own a site")
        return caller.account_id
    if not is_admin(caller):
        raise ApiError(403, "only Administrators create or move sites for other accounts")
    if requested not in engine_auth.accounts:
        raise ApiError(422, f"owner: no account {requested!r}", "owner")
    return requested


def refresh(request: Request) -> None:
    """Fresh site topics at once after a change (no wait for the next tick)."""
    publisher = getattr(request.app.state, "site_snapshots", None)
    if publisher is not None:
        publisher.publish()


def device_spec(body: SiteDeviceCreate | SiteDeviceUpdate) -> sim.DeviceSpec:
    return sim.DeviceSpec(**body.model_dump(exclude_none=True))


# ---------------------------------------------------------------------- sites
@router.get("/sites", summary="The caller's sites (every site for Administrators)")
async def list_sites(engine: EngineDep, caller: CallerDep) -> dict[str, list[SiteView]]:
    sites = engine.sites
    return {"sites": [views.site_view(sites, i) for i in visible_indices(engine, caller)]}


@router.post("/sites", status_code=201, summary="Create a site")
@audit_route("site.create", "sites")
async def create_site(
    body: SiteCreate, engine: EngineDep, caller: CallerDep, request: Request, response: Response
) -> SiteView:
    if not (is_admin(caller) or caller.has(CHANGE)):
        raise ApiError(403, f"role {caller.role_id} lacks the {CHANGE} privilege")
    owner = owner_for(caller, body.owner, request.app.state.auth)
    spec = sim.SiteSpec(**body.model_dump(exclude_none=True, exclude={"owner"}))
    site_id = engine.execute(sim.CreateSite(owner, spec)).message
    refresh(request)
    response.headers["Location"] = f"/api/v1/sites/{site_id}"
    return views.site_view(engine.sites, engine.sites.site_index(site_id))


@router.get("/sites/{site_id}", summary="One site with its live stats")
async def get_site(site_id: str, engine: EngineDep, caller: CallerDep) -> SiteView:
    return views.site_view(engine.sites, visible_site(engine, caller, site_id))


@router.patch("/sites/{site_id}", summary="Change a site's name, region, location or limits")
@audit_route("site.update", "site/{site_id}")
async def update_site(
    site_id: str, body: SiteUpdate, engine: EngineDep, caller: CallerDep, request: Request
) -> SiteView:
    changeable_site(engine, caller, site_id)
    owner = None
    if body.owner is not None:
        owner = owner_for(caller, body.owner, request.app.state.auth)
    spec = sim.SiteSpec(**body.model_dump(exclude_none=True, exclude={"owner"}))
    engine.execute(sim.UpdateSite(site_id, spec, owner))
    refresh(request)
    return views.site_view(engine.sites, engine.sites.site_index(site_id))


@router.delete("/sites/{site_id}", status_code=204, summary="Delete a site and its devices")
@audit_route("site.delete", "site/{site_id}")
async def delete_site(
    site_id: str, engine: EngineDep, hub: HubDep, caller: CallerDep, request: Request
) -> Response:
    changeable_site(engine, caller, site_id)
    engine.execute(sim.DeleteSite(site_id))
    hub.drop(f"site/{site_id}")
    hub.drop(f"site/{site_id}/devices")
    refresh(request)
    return Response(status_code=204)


@router.get("/sites/{site_id}/stats", summary="Meter, storage, cost and carbon of a site")
async def site_stats(site_id: str, engine: EngineDep, caller: CallerDep) -> SiteStats:
    return views.site_stats(engine.sites, visible_site(engine, caller, site_id))


@router.get("/sites/{site_id}/history", summary="History of a site's series; JSON or CSV")
async def site_history(
    site_id: str,
    engine: EngineDep,
    hub: HubDep,
    caller: CallerDep,
    request: Request,
    series: Annotated[list[str] | None, Query(description="Series names; all when omitted")] = None,
    start: Annotated[str | None, Query(description="ISO 8601, inclusive")] = None,
    end: Annotated[str | None, Query(description="ISO 8601, inclusive")] = None,
    step_s: Annotated[float | None, Query(gt=0, description="Average into buckets")] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    visible_site(engine, caller, site_id)
    return await topic_history(
        f"site/{site_id}",
        request=request,
        _caller=caller,
        hub=hub,
        settings=request.app.state.settings,
        series=series,
        start=start,
        end=end,
        step_s=step_s,
        format=format,
    )


# ---------------------------------------------------------------------- devices of a site
@router.get("/sites/{site_id}/devices", summary="A site's devices with live readings")
async def list_site_devices(site_id: str, engine: EngineDep, caller: CallerDep) -> SiteDevicesData:
    return views.site_devices(engine.sites, visible_site(engine, caller, site_id))


@router.post("/sites/{site_id}/devices", status_code=201, summary="Add a device to a site")
@audit_route("site.device.add", "site/{site_id}/devices")
async def add_site_device(
    site_id: str,
    body: SiteDeviceCreate,
    engine: EngineDep,
    caller: CallerDep,
    request: Request,
    response: Response,
) -> SiteDeviceView:
    changeable_site(engine, caller, site_id)
    device_id = engine.execute(sim.AddSiteDevice(site_id, device_spec(body))).message
    refresh(request)
    response.headers["Location"] = f"/api/v1/sites/{site_id}/devices/{device_id}"
    return views.device_view(engine.sites, engine.sites.device_index(device_id))


def _device_of_site(engine: Engine, caller: Caller, site_id: str, device_id: str) -> int:
    visible_site(engine, caller, site_id)
    k = visible_device(engine, caller, device_id)
    if engine.sites.device_site(device_id) != site_id:
        raise ApiError(404, f"no device {device_id!r} on site {site_id!r}", "device_id")
    return k


@router.get("/sites/{site_id}/devices/{device_id}", summary="One site device")
async def get_site_device(
    site_id: str, device_id: str, engine: EngineDep, caller: CallerDep
) -> SiteDeviceView:
    return views.device_view(engine.sites, _device_of_site(engine, caller, site_id, device_id))


@router.patch("/sites/{site_id}/devices/{device_id}", summary="Change a site device")
@audit_route("site.device.update", "site/{site_id}/devices/{device_id}")
async def update_site_device(
    site_id: str,
    device_id: str,
    body: SiteDeviceUpdate,
    engine: EngineDep,
    caller: CallerDep,
    request: Request,
) -> SiteDeviceView:
    _device_of_site(engine, caller, site_id, device_id)
    changeable_device(engine, caller, device_id)
    engine.execute(sim.UpdateSiteDevice(device_id, device_spec(body)))
    refresh(request)
    return views.device_view(engine.sites, engine.sites.device_index(device_id))


@router.delete("/sites/{site_id}/devices/{device_id}", status_code=204, summary="Remove")
@audit_route("site.device.remove", "site/{site_id}/devices/{device_id}")
async def remove_site_device(
    site_id: str, device_id: str, engine: EngineDep, caller: CallerDep, request: Request
) -> Response:
    _device_of_site(engine, caller, site_id, device_id)
    changeable_device(engine, caller, device_id)
    engine.execute(sim.RemoveSiteDevice(device_id))
    refresh(request)
    return Response(status_code=204)


# ---------------------------------------------------------------------- PDU cost and carbon
@router.get("/costs/pdus", summary="Every PDU's energy priced and carbon-counted by its region")
async def pdu_costs(engine: EngineDep, caller: CallerDep) -> dict[str, list[PduCostData]]:
    owners = views.pdu_owners(engine.sites)
    return {"pdus": [views.pdu_cost(engine, p, owners) for p in range(len(engine.fleet.pdus))]}


@router.get("/costs/pdus/{pdu_id}", summary="One PDU's outlets with cost and carbon")
async def pdu_cost(pdu_id: str, engine: EngineDep, caller: CallerDep) -> PduCostData:
    for p, pdu in enumerate(engine.fleet.pdus):
        if pdu.id == pdu_id:
            return views.pdu_cost(engine, p)
    raise ApiError(404, f"no PDU {pdu_id!r}", "pdu_id")
