"""The GraphQL schema: ``createDevice``, ``updateDevice``, ``allDevices``, ``energyStats``,
``sites`` and ``site(id)``, with the smart-home prototype's camelCase names and validations.

The prototype's device types map onto site devices: ``production`` is PV (``kind: "generator"``
for a generator), ``consumption`` a flat load (or a ``profile``), ``storage`` a battery (or
``kind: "ev"``). Ownership is REST's (``api.sites.can_see``/``can_change``): regular users see
and change their own devices only, Administrators all. Every query is depth- and cost-limited
(``ENERGYDASH_GRAPHQL_MAX_DEPTH``, ``ENERGYDASH_GRAPHQL_MAX_COST``: one per field, x10 inside a
list). GraphiQL answers a browser's GET; queries are POSTed with a credential.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import strawberry
from fastapi import Request
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionSetNode,
    ValidationRule,
)
from strawberry.extensions import AddValidationRules, QueryDepthLimiter
from strawberry.fastapi import GraphQLRouter
from strawberry.scalars import JSON
from strawberry.types import Info

from energydash.api import sites as access
from energydash.api.deps import WWW_AUTHENTICATE, caller_of
from energydash.api.errors import ApiError
from energydash.api.site_audit import audited, origin_of
from energydash.auth import Caller
from energydash.config import Settings
from energydash.hub import site_snapshots as views
from energydash.sim import sites as sim
from energydash.sim.commands import CommandError
from energydash.sim.engine import Engine

DEVICE_TYPES = ("production", "consumption", "storage")
TYPE_FIELDS = {
    "production": {"instantaneous_output_watts"},
    "consumption": {"consumption_rate_watts"},
    "storage": {"total_capacity_wh", "current_level_wh", "charge_discharge_rate_watts"},
}
REQUIRED = {
    "production": {"instantaneous_output_watts"},
    "consumption": {"consumption_rate_watts"},
    "storage": {"total_capacity_wh", "charge_discharge_rate_watts"},
}
CAMEL = {
    "instantaneous_output_watts": "instantaneousOutputWatts",
    "consumption_rate_watts": "consumptionRateWatts",
    "total_capacity_wh": "totalCapacityWh",
    "current_level_wh": "currentLevelWh",
    "charge_discharge_rate_watts": "chargeDischargeRateWatts",
    "device_type": "deviceType",
    "site_id": "siteId",
}
SIM_TO_INPUT = {  # a simulation field at fault -> the input field a client sent
    "capacity_wh": "totalCapacityWh",
    "level_wh": "currentLevelWh",
    "max_charge_w": "chargeDischargeRateWatts",
    "max_discharge_w": "chargeDischargeRateWatts",
    "setpoint_w": "instantaneousOutputWatts",
}
LIST_FIELDS = {"allDevices", "sites", "devices"}


def bad_input(message: str, field: str | None) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT", "field": field})


def forbidden(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "FORBIDDEN"})


# ---------------------------------------------------------------------- types
@strawberry.type
class StorageStats:
    total_capacity_wh: float
    current_level_wh: float
    percentage: float


@strawberry.type
class EnergyToday:
    """Energy of today in the site's region's local time (summed over the caller's sites)."""

    produced_kwh: float
    consumed_kwh: float
    imported_kwh: float
    exported_kwh: float
    self_consumption_pct: float | None
    import_cost_aud: float
    export_revenue_aud: float
    carbon_kg: float


@strawberry.type
class EnergyStats:
    """W now; ``netGridFlow`` = consumption - production + storage flow, positive importing;
    ``currentStorageFlow`` positive while charging; ``timestamp`` in epoch seconds."""

    current_production: float
    current_consumption: float
    current_storage: StorageStats
    current_storage_flow: float
    net_grid_flow: float
    timestamp: int
    today: EnergyToday
    cost_today_aud: float
    carbon_today_kg: float


@strawberry.type
class Device:
    id: strawberry.ID
    name: str
    status: str
    device_type: str
    kind: str
    site_id: strawberry.ID
    power_w: float
    energy_kwh: float
    other_details: JSON


@strawberry.type
class Site:
    id: strawberry.ID
    name: str
    owner: str
    region: str
    lat: float
    lng: float
    import_limit_w: float
    export_limit_w: float

    @strawberry.field
    def devices(self, info: Info) -> list[Device]:
        engine: Engine = info.context["engine"]
        i = engine.sites.site_index(str(self.id))
        return [_device(engine, k) for k in np.flatnonzero(engine.sites.devices.site == i)]

    @strawberry.field
    def stats(self, info: Info) -> EnergyStats:
        engine: Engine = info.context["engine"]
        stats = _stats(engine, [engine.sites.site_index(str(self.id))])
        assert stats is not None
        return stats


@strawberry.input
class DeviceInput:
    """``createDevice`` input: the prototype's fields plus ``kind``, ``siteId``, ``profile``."""

    name: str
    device_type: str
    status: str = "online"
    kind: str | None = None
    site_id: strawberry.ID | None = None
    profile: str | None = None
    instantaneous_output_watts: float | None = None
    total_capacity_wh: float | None = None
    current_level_wh: float | None = None
    charge_discharge_rate_watts: float | None = None
    consumption_rate_watts: float | None = None


@strawberry.input
class DeviceUpdateInput:
    id: strawberry.ID
    device_type: str
    name: str | None = None
    status: str | None = None
    instantaneous_output_watts: float | None = None
    total_capacity_wh: float | None = None
    current_level_wh: float | None = None
    charge_discharge_rate_watts: float | None = None
    consumption_rate_watts: float | None = None


# ---------------------------------------------------------------------- building answers
def _device(engine: Engine, k: int) -> Device:
    d = engine.sites.devices
    kind = sim.KINDS[int(d.kind[k])]
    role = sim.ROLE[kind]
    power = float(d.power_w[k])
    details: dict[str, Any]
    if role == "production":
        details = {"instantaneous_output_watts": power, "rated_watts": float(d.rated_w[k])}
    elif role == "storage":
        details = {
            "total_capacity_wh": float(d.capacity_wh[k]),
            "current_level_wh": float(d.level_wh[k]),
            "charge_discharge_rate_watts": float(d.max_charge_w[k]),
            "storage_flow_watts": power,
            "mode": sim.MODES[int(d.mode[k])],
        }
    else:
        details = {"consumption_rate_watts": power, "rated_watts": float(d.rated_w[k])}
    return Device(
        id=strawberry.ID(d.device_id[k]),
        name=d.name[k],
        status="online" if d.online[k] else "offline",
        device_type=role,
        kind=kind,
        site_id=strawberry.ID(engine.sites.sites.site_id[int(d.site[k])]),
        power_w=power,
        energy_kwh=float(d.energy_kwh[k]),
        other_details=details,
    )


def _site(engine: Engine, i: int) -> Site:
    s = engine.sites.sites
    return Site(
        id=strawberry.ID(s.site_id[i]),
        name=s.name[i],
        owner=s.owner[i],
        region=views.NETWORK_REGIONS[int(s.region[i])],
        lat=float(s.lat[i]),
        lng=float(s.lng[i]),
        import_limit_w=float(s.import_limit_w[i]),
        export_limit_w=float(s.export_limit_w[i]),
    )


def _stats(engine: Engine, indices: list[int]) -> EnergyStats | None:
    if not indices:
        return None
    sites = engine.sites
    s = sites.sites.data
    idx = np.array(indices, dtype=np.intp)

    def total(name: str) -> float:
        return float(s[name][idx].sum())

    storage = views.storage_of(sites, idx)
    produced, exported = total("day_produced_kwh"), total("day_exported_kwh")
    pct = None
    if produced > 0:
        pct = float(np.clip((produced - exported) / produced * 100.0, 0.0, 100.0))
    today = EnergyToday(
        produced_kwh=produced,
        consumed_kwh=total("day_consumed_kwh"),
        imported_kwh=total("day_imported_kwh"),
        exported_kwh=exported,
        self_consumption_pct=pct,
        import_cost_aud=total("day_import_cost_aud"),
        export_revenue_aud=total("day_export_revenue_aud"),
        carbon_kg=total("day_carbon_kg"),
    )
    stamp = int(sites.now.timestamp()) if sites.now else 0
    return EnergyStats(
        current_production=total("production_w"),
        current_consumption=total("consumption_w"),
        current_storage=StorageStats(
            total_capacity_wh=storage.total_capacity_wh,
            current_level_wh=storage.current_level_wh,
            percentage=storage.percentage,
        ),
        current_storage_flow=total("storage_flow_w"),
        net_grid_flow=total("net_grid_flow_w"),
        timestamp=stamp,
        today=today,
        cost_today_aud=today.import_cost_aud - today.export_revenue_aud,
        carbon_today_kg=today.carbon_kg,
    )


def _check_fields(device_type: str, given: dict[str, Any], *, creating: bool) -> None:
    """The prototype's rules: type-specific required fields, no fields of another type."""
    if device_type not in DEVICE_TYPES:
        raise bad_input(
            f"deviceType: one of {', '.join(DEVICE_TYPES)}, got {device_type!r}", "deviceType"
        )
    for other, names in TYPE_FIELDS.items():
        if other == device_type:
            continue
        for name in sorted(names & given.keys()):
            raise bad_input(
                f"{CAMEL[name]}: not a field of a {device_type} device (it is {other}'s)",
                CAMEL[name],
            )
    if creating:
        for name in sorted(REQUIRED[device_type] - given.keys()):
            raise bad_input(f"{CAMEL[name]}: a {device_type} device needs it", CAMEL[name])
    level, capacity = given.get("current_level_wh"), given.get("total_capacity_wh")
    if level is not None and capacity is not None and level > capacity:
        raise bad_input(
            f"currentLevelWh: {level:g} exceeds totalCapacityWh {capacity:g}", "currentLevelWh"
        )


def _spec(device_type: str, kind: str | None, given: dict[str, Any]) -> sim.DeviceSpec:
    values: dict[str, Any] = {}
    if "name" in given:
        values["name"] = given["name"]
    if "status" in given:
        if given["status"] not in ("online", "offline"):
            raise bad_input(f"status: online or offline, got {given['status']!r}", "status")
        values["online"] = given["status"] == "online"
    if device_type == "production":
        if "instantaneous_output_watts" in given:
            values["rated_w"] = given["instantaneous_output_watts"]
            if kind == "generator":
                values["setpoint_w"] = given["instantaneous_output_watts"]
    elif device_type == "consumption":
        if "consumption_rate_watts" in given:
            values["rated_w"] = given["consumption_rate_watts"]
        if given.get("profile"):
            values["profile"] = given["profile"]
    else:
        if "total_capacity_wh" in given:
            values["capacity_wh"] = given["total_capacity_wh"]
        if "current_level_wh" in given:
            values["level_wh"] = given["current_level_wh"]
        if "charge_discharge_rate_watts" in given:
            rate = given["charge_discharge_rate_watts"]
            values["max_charge_w"] = rate
            values["max_discharge_w"] = rate
    return sim.DeviceSpec(**values)


def _kind_for(device_type: str, kind: str | None) -> str:
    allowed = {
        "production": ("pv", "generator"),
        "consumption": ("load", "ev_charger"),
        "storage": ("battery", "ev"),
    }[device_type]
    if kind is None:
        return allowed[0]
    if kind not in allowed:
        raise bad_input(f"kind: a {device_type} device is one of {', '.join(allowed)}", "kind")
    return kind


def _execute(engine: Engine, command: Any) -> str:
    try:
        return engine.execute(command).message
    except CommandError as error:
        field = SIM_TO_INPUT.get(error.field or "", error.field)
        message = error.message
        if error.field in SIM_TO_INPUT:
            message = f"{field}: {message.split(': ', 1)[-1]}"
        raise bad_input(message, field) from None


def _caller(info: Info) -> Caller:
    return info.context["caller"]


def _api(call: Any, *args: Any) -> Any:
    """REST's access checks, their refusals as GraphQL errors."""
    try:
        return call(*args)
    except ApiError as error:
        if error.status_code == 403:
            raise forbidden(error.reason) from None
        raise bad_input(error.reason, CAMEL.get(error.field or "", error.field)) from None


# ---------------------------------------------------------------------- root types
@strawberry.type
class Query:
    @strawberry.field(description="The caller's site devices (every device for Administrators)")
    def all_devices(self, info: Info) -> list[Device]:
        engine: Engine = info.context["engine"]
        mine = set(access.visible_indices(engine, _caller(info)))
        site_of = engine.sites.devices.site
        return [
            _device(engine, k) for k in range(engine.sites.n_devices) if int(site_of[k]) in mine
        ]

    @strawberry.field(description="Live and today's stats over the caller's sites (or one site)")
    def energy_stats(self, info: Info, site_id: strawberry.ID | None = None) -> EnergyStats | None:
        engine: Engine = info.context["engine"]
        caller = _caller(info)
        if site_id is not None:
            return _stats(engine, [_api(access.visible_site, engine, caller, str(site_id))])
        return _stats(engine, access.visible_indices(engine, caller))

    @strawberry.field(description="The caller's sites (every site for Administrators)")
    def sites(self, info: Info) -> list[Site]:
        engine: Engine = info.context["engine"]
        return [_site(engine, i) for i in access.visible_indices(engine, _caller(info))]

    @strawberry.field(description="One site the caller may see, or null")
    def site(self, info: Info, id: strawberry.ID) -> Site | None:
        engine: Engine = info.context["engine"]
        try:
            i = access.visible_site(engine, _caller(info), str(id))
        except ApiError:
            return None
        return _site(engine, i)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a device on the caller's site (siteId, or the first)")
    def create_device(self, info: Info, input: DeviceInput) -> Device:
        with _audited(info, "device.create", f"site/{input.site_id or 'default'}/devices"):
            return _create_device(info, input)

    @strawberry.mutation(description="Change a device the caller owns; deviceType must match")
    def update_device(self, info: Info, input: DeviceUpdateInput) -> Device:
        with _audited(info, "device.update", f"devices/{input.id}"):
            return _update_device(info, input)


def _audited(info: Info, action: str, target: str) -> Any:
    request = info.context["request"]
    caller = info.context["caller"]
    return audited(request.app, caller, "graphql", action, target, origin=origin_of(request))


def _create_device(info: Info, input: DeviceInput) -> Device:
    engine: Engine = info.context["engine"]
    caller = _caller(info)
    given = {k: v for k, v in strawberry.asdict(input).items() if v is not None}
    _check_fields(input.device_type, given, creating=True)
    kind = _kind_for(input.device_type, input.kind)
    if not (access.is_admin(caller) or caller.has(access.CHANGE)):
        raise forbidden(f"role {caller.role_id} lacks the {access.CHANGE} privilege")
    if input.site_id is not None:
        site_id = str(input.site_id)
        _api(access.changeable_site, engine, caller, site_id)
    else:
        site_id = _default_site(info, caller)
    spec = _spec(input.device_type, kind, given)
    spec = sim.DeviceSpec(**{**spec.given(), "kind": kind})
    device_id = _execute(engine, sim.AddSiteDevice(site_id, spec))
    _refresh(info)
    return _device(engine, engine.sites.device_index(device_id))


def _update_device(info: Info, input: DeviceUpdateInput) -> Device:
    engine: Engine = info.context["engine"]
    caller = _caller(info)
    device_id = str(input.id)
    k = _api(access.visible_device, engine, caller, device_id)
    kind = sim.KINDS[int(engine.sites.devices.kind[k])]
    if sim.ROLE[kind] != input.device_type:
        raise bad_input(
            f"deviceType: device {device_id} is a {sim.ROLE[kind]} device", "deviceType"
        )
    given = {k2: v for k2, v in strawberry.asdict(input).items() if v is not None}
    given.pop("id")
    _check_fields(input.device_type, given, creating=False)
    _api(access.changeable_device, engine, caller, device_id)
    _execute(engine, sim.UpdateSiteDevice(device_id, _spec(input.device_type, kind, given)))
    _refresh(info)
    return _device(engine, k)


def _default_site(info: Info, caller: Caller) -> str:
    engine: Engine = info.context["engine"]
    if caller.account_id is not None:
        owned = engine.sites.site_ids(caller.account_id)
        if owned:
            return owned[0]
    if caller.account_id is None:
        raise forbidden("this credential has no account to own a site")
    spec = sim.SiteSpec(name=f"Home of {caller.username}"[:80])
    return _execute(engine, sim.CreateSite(caller.account_id, spec))


def _refresh(info: Info) -> None:
    publisher = getattr(info.context["request"].app.state, "site_snapshots", None)
    if publisher is not None:
        publisher.publish()


# ---------------------------------------------------------------------- limits
def _cost(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    multiplier: int,
    depth: int,
) -> int:
    if selection_set is None:
        return 0
    if depth > 50:  # a fragment cycle (validation reports it too): priced out
        return 10**9
    total = 0
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            total += multiplier
            inner = multiplier * (10 if node.name.value in LIST_FIELDS else 1)
            total += _cost(node.selection_set, fragments, inner, depth + 1)
        elif isinstance(node, FragmentSpreadNode):
            fragment = fragments.get(node.name.value)
            if fragment is not None:
                total += _cost(fragment.selection_set, fragments, multiplier, depth + 1)
        elif isinstance(node, InlineFragmentNode):
            total += _cost(node.selection_set, fragments, multiplier, depth + 1)
    return total


def cost_limit(max_cost: int) -> type[ValidationRule]:
    class CostLimit(ValidationRule):
        def enter_operation_definition(self, node: Any, *_: Any) -> None:
            fragments = {
                d.name.value: d
                for d in self.context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            cost = _cost(node.selection_set, fragments, 1, 0)
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"query cost {cost} exceeds the limit {max_cost} "
                        "(ENERGYDASH_GRAPHQL_MAX_COST; 1 per field, x10 inside a list)",
                        node,
                    )
                )

    return CostLimit


def build_schema(settings: Settings) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=[
            lambda: QueryDepthLimiter(max_depth=settings.graphql_max_depth),
            lambda: AddValidationRules([cost_limit(settings.graphql_max_cost)]),
        ],
    )


def graphql_router(settings: Settings) -> GraphQLRouter:
    async def context(request: Request) -> dict[str, Any]:
        caller = caller_of(request)
        ide = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if caller is None and not ide:
            raise ApiError(401, "authentication required", headers=WWW_AUTHENTICATE)
        engine = request.app.state.engine
        if engine is None:
            raise ApiError(503, "this backend runs without a simulation engine")
        return {"caller": caller, "engine": engine, "request": request}

    return GraphQLRouter(
        build_schema(settings),
        context_getter=context,
        graphql_ide="graphiql",
        allow_queries_via_get=False,  # a GET answers the IDE only
        tags=["graphql"],
    )
