"""PowerEquipment: RackPDUs with Mains, Branches, Outlets, OutletGroups, Metrics and their actions.

Every GET reads the fleet at that moment; every action and group change goes through
``engine.execute`` so the next reading shows it.
"""

from __future__ import annotations

import re
from typing import Any

from energydash.redfish import assets, errors, render
from energydash.redfish.http import Request, Response, created, no_content
from energydash.redfish.registries import message
from energydash.redfish.resources.common import action_args, action_done, apply_patch, execute
from energydash.redfish.routing import Route
from energydash.sim import commands as cmd
from energydash.sim.pdu import RESTORE_POLICIES, CircuitInfo, PduInfo

BASE = "/redfish/v1/PowerEquipment"
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # ids a client chooses land in URIs: ASCII only
RACK = BASE + "/RackPDUs/{pdu}"


def _pdu(request: Request) -> PduInfo:
    pdu_id = request.params["pdu"]
    fleet = request.service.engine.fleet
    if not fleet.has_pdu(pdu_id):
        raise errors.not_found("PowerDistribution", pdu_id)
    return fleet.pdu_info(pdu_id)


def _circuit(request: Request, kind: str) -> tuple[PduInfo, CircuitInfo]:
    pdu = _pdu(request)
    circuit_id = request.params["circuit"]
    for info in pdu.mains if kind == "main" else pdu.branches:
        if info.id == circuit_id:
            return pdu, info
    raise errors.not_found("Circuit", circuit_id)


def _outlet_id(request: Request) -> str:
    pdu = _pdu(request)
    outlet_id = request.params["outlet"]
    try:
        request.service.engine.fleet.outlet_info(pdu.id, outlet_id)
    except KeyError:
        raise errors.not_found("Outlet", outlet_id) from None
    return outlet_id


def _group_id(request: Request) -> str:
    pdu = _pdu(request)
    group_id = request.params["group"]
    if not any(g.id == group_id for g in pdu.groups):
        raise errors.not_found("OutletGroup", group_id)
    return group_id


# ---------------------------------------------------------------------- GET
def get_power_equipment(request: Request) -> dict[str, Any]:
    return {
        "@odata.id": BASE,
        "@odata.type": "#PowerEquipment.v1_2_3.PowerEquipment",
        "Id": "PowerEquipment",
        "Name": "Power Equipment",
        "Status": {"State": "Enabled", "Health": _worst(request)},
        "RackPDUs": render.link(f"{BASE}/RackPDUs"),
    }


def _worst(request: Request) -> str:
    fleet = request.service.engine.fleet
    health = fleet.arrays.outlet_health
    worst = int(health.max()) if len(health) else 0
    return ("OK", "Warning", "Critical")[worst]


def get_rack_pdus(request: Request) -> dict[str, Any]:
    pdus = request.service.engine.fleet.pdus
    return render.collection(
        f"{BASE}/RackPDUs",
        "PowerDistributionCollection",
        "Rack PDUs",
        [render.pdu_uri(p.id) for p in pdus],
    )


def get_rack_pdu(request: Request) -> dict[str, Any]:
    pdu = _pdu(request)
    fleet = request.service.engine.fleet
    asset = request.service.assets.of(pdu).fields()
    return render.rack_pdu(pdu, fleet.pdu(pdu.id), request.service.firmware_version, asset)


def patch_rack_pdu(request: Request, body: dict[str, Any]) -> Response:
    asset = request.service.assets.of(_pdu(request))
    return apply_patch(
        request, body, get_rack_pdu(request), assets.asset_setters(asset), get_rack_pdu
    )


def get_mains(request: Request) -> dict[str, Any]:
    pdu = _pdu(request)
    uri = f"{render.pdu_uri(pdu.id)}/Mains"
    return render.collection(
        uri, "CircuitCollection", "Mains", [f"{uri}/{c.id}" for c in pdu.mains]
    )


def get_branches(request: Request) -> dict[str, Any]:
    pdu = _pdu(request)
    uri = f"{render.pdu_uri(pdu.id)}/Branches"
    return render.collection(
        uri, "CircuitCollection", "Branch Circuits", [f"{uri}/{c.id}" for c in pdu.branches]
    )


def get_main(request: Request) -> dict[str, Any]:
    pdu, info = _circuit(request, "main")
    labels = request.service.assets.of(pdu).circuit_labels
    reading = request.service.engine.fleet.circuit(pdu.id, info.id)
    return render.circuit(pdu, info, reading, labels.get(info.id, info.name))


def patch_main(request: Request, body: dict[str, Any]) -> Response:
    pdu, info = _circuit(request, "main")
    labels = request.service.assets.of(pdu).circuit_labels

    def set_label(value: Any) -> dict[str, Any] | None:
        if not isinstance(value, str) or len(value) > assets.MAX_TEXT:
            return errors.value_type_error(value, "UserLabel")
        labels[info.id] = value
        return None

    return apply_patch(request, body, get_main(request), {"UserLabel": set_label}, get_main)


def get_branch(request: Request) -> dict[str, Any]:
    pdu, info = _circuit(request, "branch")
    fleet = request.service.engine.fleet
    body = render.circuit(pdu, info, fleet.circuit(pdu.id, info.id))
    body["PowerRestorePolicy"] = _branch_policy(request, pdu, info)
    return body


def _branch_policy(request: Request, pdu: PduInfo, info: CircuitInfo) -> str:
    """The policy its outlets follow (the most common one when they differ)."""
    fleet = request.service.engine.fleet
    codes = [int(fleet.restore_policy[fleet.outlet_info(pdu.id, o).index]) for o in info.outlet_ids]
    return RESTORE_POLICIES[max(range(len(RESTORE_POLICIES)), key=codes.count)]


def patch_branch(request: Request, body: dict[str, Any]) -> Response:
    """PowerRestorePolicy of a branch sets it on every outlet of the branch."""
    pdu, info = _circuit(request, "branch")

    def set_policy(value: Any) -> dict[str, Any] | None:
        if value not in RESTORE_POLICIES:
            return errors.value_not_in_list(value, "PowerRestorePolicy")
        for outlet_id in info.outlet_ids:
            execute(request, cmd.SetRestorePolicy(pdu.id, outlet_id, value))
        return None

    setters = {"PowerRestorePolicy": set_policy}
    return apply_patch(request, body, get_branch(request), setters, get_branch)


def get_outlets(request: Request) -> dict[str, Any]:
    pdu = _pdu(request)
    uri = f"{render.pdu_uri(pdu.id)}/Outlets"
    return render.collection(
        uri, "OutletCollection", "Outlets", [f"{uri}/{o.id}" for o in pdu.outlets]
    )


def get_outlet(request: Request) -> dict[str, Any]:
    fleet = request.service.engine.fleet
    pdu = _pdu(request)
    try:
        info = fleet.outlet_info(pdu.id, request.params["outlet"])
    except KeyError:
        raise errors.not_found("Outlet", request.params["outlet"]) from None
    policy = RESTORE_POLICIES[int(fleet.restore_policy[info.index])]
    return render.outlet(pdu, info, fleet.outlet(pdu.id, info.id), policy)


def get_groups(request: Request) -> dict[str, Any]:
    pdu = _pdu(request)
    uri = f"{render.pdu_uri(pdu.id)}/OutletGroups"
    return render.collection(
        uri, "OutletGroupCollection", "Outlet Groups", [f"{uri}/{g.id}" for g in pdu.groups]
    )


def get_group(request: Request) -> dict[str, Any]:
    pdu = _pdu(request)
    group_id = _group_id(request)
    fleet = request.service.engine.fleet
    return render.group(pdu, fleet.group_info(pdu.id, group_id), fleet.group(pdu.id, group_id))


def get_metrics(request: Request) -> dict[str, Any]:
    pdu = _pdu(request)
    return render.metrics(pdu, request.service.engine.fleet.pdu(pdu.id))


# ---------------------------------------------------------------------- PATCH
def patch_outlet(request: Request, body: dict[str, Any]) -> Response:
    pdu = _pdu(request)
    outlet_id = _outlet_id(request)
    current = get_outlet(request)

    def set_enabled(value: Any) -> dict[str, Any] | None:
        if not isinstance(value, bool):
            return errors.value_type_error(value, "PowerEnabled")
        execute(request, cmd.SetOutletEnabled(pdu.id, outlet_id, value))
        return None

    def set_policy(value: Any) -> dict[str, Any] | None:
        if value not in RESTORE_POLICIES:
            return errors.value_not_in_list(value, "PowerRestorePolicy")
        execute(request, cmd.SetRestorePolicy(pdu.id, outlet_id, value))
        return None

    setters = {"PowerEnabled": set_enabled, "PowerRestorePolicy": set_policy}
    return apply_patch(request, body, current, setters, get_outlet)


# ---------------------------------------------------------------------- groups
def post_group(request: Request, body: dict[str, Any]) -> Response:
    """Create a user outlet group: Name and Links.Outlets (URIs of this PDU's outlets)."""
    pdu = _pdu(request)
    problems = []
    allowed = {"Name", "Links", "Id", "@odata.type"}
    for name in body:
        if name not in allowed:
            problems.append(errors.property_unknown(name))
    links = body.get("Links")
    outlets = links.get("Outlets") if isinstance(links, dict) else None
    if not isinstance(outlets, list) or not outlets:
        problems.append(_missing("Links/Outlets"))
    name = body.get("Name", "")
    if not isinstance(name, str):
        problems.append(errors.value_type_error(name, "Name"))
    if problems:
        raise errors.RedfishError(400, problems)
    prefix = f"{render.pdu_uri(pdu.id)}/Outlets/"
    outlet_ids = []
    assert isinstance(outlets, list)
    for entry in outlets:
        uri = entry.get("@odata.id") if isinstance(entry, dict) else None
        if not isinstance(uri, str) or not uri.rstrip("/").startswith(prefix):
            raise errors.RedfishError(400, [errors.value_not_in_list(str(uri), "Links/Outlets")])
        outlet_ids.append(uri.rstrip("/")[len(prefix) :])
    group_id = body.get("Id")
    if group_id is not None and (
        not isinstance(group_id, str) or not CLIENT_ID.fullmatch(group_id)
    ):
        raise errors.RedfishError(
            400, [message("Base", "PropertyValueFormatError", str(group_id)[:64], "Id")]
        )
    result = execute(
        request,
        cmd.CreateGroup(pdu.id, name or "Outlet Group", tuple(outlet_ids), group_id),
    )
    new_id = result.group_id or group_id
    uri = f"{render.pdu_uri(pdu.id)}/OutletGroups/{new_id}"
    fleet = request.service.engine.fleet
    body_out = render.group(
        pdu, fleet.group_info(pdu.id, str(new_id)), fleet.group(pdu.id, str(new_id))
    )
    return created(uri, body_out)


def _missing(name: str) -> dict[str, Any]:
    return message("Base", "CreateFailedMissingReqProperties", name)


def delete_group(request: Request) -> Response:
    pdu = _pdu(request)
    group_id = _group_id(request)
    execute(request, cmd.DeleteGroup(pdu.id, group_id))
    return no_content()


# ---------------------------------------------------------------------- actions
def outlet_power(request: Request, body: dict[str, Any]) -> Response:
    pdu = _pdu(request)
    outlet_id = _outlet_id(request)
    args = action_args(
        body, "Outlet.PowerControl", {"PowerState": render.POWER_ACTIONS}, ("PowerState",)
    )
    return action_done(execute(request, cmd.OutletPower(pdu.id, outlet_id, args["PowerState"])))


def outlet_reset(request: Request, body: dict[str, Any]) -> Response:
    pdu = _pdu(request)
    outlet_id = _outlet_id(request)
    action_args(body, "Outlet.ResetMetrics", {})
    return action_done(execute(request, cmd.ResetMetrics(pdu.id, "outlet", outlet_id)))


def group_power(request: Request, body: dict[str, Any]) -> Response:
    pdu = _pdu(request)
    group_id = _group_id(request)
    args = action_args(
        body, "OutletGroup.PowerControl", {"PowerState": render.POWER_ACTIONS}, ("PowerState",)
    )
    return action_done(execute(request, cmd.GroupPower(pdu.id, group_id, args["PowerState"])))


def group_reset(request: Request, body: dict[str, Any]) -> Response:
    pdu = _pdu(request)
    group_id = _group_id(request)
    action_args(body, "OutletGroup.ResetMetrics", {})
    return action_done(execute(request, cmd.ResetMetrics(pdu.id, "group", group_id)))


def branch_power(request: Request, body: dict[str, Any]) -> Response:
    pdu, info = _circuit(request, "branch")
    args = action_args(
        body, "Circuit.PowerControl", {"PowerState": render.POWER_ACTIONS}, ("PowerState",)
    )
    return action_done(execute(request, cmd.CircuitPower(pdu.id, info.id, args["PowerState"])))


def branch_breaker(request: Request, body: dict[str, Any]) -> Response:
    pdu, info = _circuit(request, "branch")
    args = action_args(
        body, "Circuit.BreakerControl", {"PowerState": ["On", "Off"]}, ("PowerState",)
    )
    return action_done(execute(request, cmd.BreakerControl(pdu.id, info.id, args["PowerState"])))


def circuit_reset(kind: str):  # type: ignore[no-untyped-def]
    def handler(request: Request, body: dict[str, Any]) -> Response:
        pdu, info = _circuit(request, kind)
        action_args(body, "Circuit.ResetMetrics", {})
        return action_done(execute(request, cmd.ResetMetrics(pdu.id, kind, info.id)))

    return handler


def metrics_reset(request: Request, body: dict[str, Any]) -> Response:
    pdu = _pdu(request)
    action_args(body, "PowerDistributionMetrics.ResetMetrics", {})
    return action_done(execute(request, cmd.ResetMetrics(pdu.id, "pdu")))


def routes() -> list[Route]:
    act = "/Actions/"
    return [
        Route(BASE, "PowerEquipment", get=get_power_equipment),
        Route(BASE + "/RackPDUs", "PowerDistributionCollection", get=get_rack_pdus),
        Route(RACK, "PowerDistribution", get=get_rack_pdu, patch=patch_rack_pdu),
        Route(RACK + "/Mains", "CircuitCollection", get=get_mains),
        Route(RACK + "/Mains/{circuit}", "Circuit", get=get_main, patch=patch_main),
        Route(RACK + "/Branches", "CircuitCollection", get=get_branches),
        Route(RACK + "/Branches/{circuit}", "Circuit", get=get_branch, patch=patch_branch),
        Route(RACK + "/Outlets", "OutletCollection", get=get_outlets),
        Route(RACK + "/Outlets/{outlet}", "Outlet", get=get_outlet, patch=patch_outlet),
        Route(RACK + "/OutletGroups", "OutletGroupCollection", get=get_groups, post=post_group),
        Route(RACK + "/OutletGroups/{group}", "OutletGroup", get=get_group, delete=delete_group),
        Route(RACK + "/Metrics", "PowerDistributionMetrics", get=get_metrics),
        Route(
            RACK + "/Outlets/{outlet}" + act + "Outlet.PowerControl", "Outlet", post=outlet_power
        ),
        Route(
            RACK + "/Outlets/{outlet}" + act + "Outlet.ResetMetrics", "Outlet", post=outlet_reset
        ),
        Route(
            RACK + "/OutletGroups/{group}" + act + "OutletGroup.PowerControl",
            "OutletGroup",
            post=group_power,
        ),
        Route(
            RACK + "/OutletGroups/{group}" + act + "OutletGroup.ResetMetrics",
            "OutletGroup",
            post=group_reset,
        ),
        Route(
            RACK + "/Branches/{circuit}" + act + "Circuit.PowerControl",
            "Circuit",
            post=branch_power,
        ),
        Route(
            RACK + "/Branches/{circuit}" + act + "Circuit.BreakerControl",
            "Circuit",
            post=branch_breaker,
        ),
        Route(
            RACK + "/Branches/{circuit}" + act + "Circuit.ResetMetrics",
            "Circuit",
            post=circuit_reset("branch"),
        ),
        Route(
            RACK + "/Mains/{circuit}" + act + "Circuit.ResetMetrics",
            "Circuit",
            post=circuit_reset("main"),
        ),
        Route(
            RACK + "/Metrics" + act + "PowerDistributionMetrics.ResetMetrics",
            "PowerDistributionMetrics",
            post=metrics_reset,
        ),
    ]
