"""UpdateService (firmware inventory, SimpleUpdate) and TaskService (the update's progress).

``SimpleUpdate`` with an http(s) ``ImageURI`` answers 202 with a task monitor; the task
downloads the image (progress 0-50 %), checks its version (``VERSION=x.y.z`` in its first
KiB, else a version in its file name), installs (50-100 %), then the card reboots with the new
``FirmwareVersion`` (503 for a few seconds). See ``energydash.redfish.card``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from energydash.redfish import errors, render
from energydash.redfish.card import Task
from energydash.redfish.errors import RedfishError
from energydash.redfish.http import Request, Response
from energydash.redfish.registries import message
from energydash.redfish.resources.common import action_args
from energydash.redfish.routing import Route

UPDATE = "/redfish/v1/UpdateService"
INVENTORY = UPDATE + "/FirmwareInventory"
CARD_FIRMWARE = INVENTORY + "/BMC"
TASKS = "/redfish/v1/TaskService"
MONITORS = TASKS + "/TaskMonitors"
MAX_URI = 2048


def get_update_service(request: Request) -> dict[str, Any]:
    card = request.service.card
    return {
        "@odata.id": UPDATE,
        "@odata.type": "#UpdateService.v1_17_0.UpdateService",
        "Id": "UpdateService",
        "Name": "Update Service",
        "ServiceEnabled": True,
        "Status": {"State": "Updating" if card.updating else "Enabled", "Health": "OK"},
        "FirmwareInventory": render.link(INVENTORY),
        "Actions": {
            "#UpdateService.SimpleUpdate": {
                "target": f"{UPDATE}/Actions/UpdateService.SimpleUpdate",
                "TransferProtocol@Redfish.AllowableValues": ["HTTP", "HTTPS"],
            }
        },
    }


def get_inventory(request: Request) -> dict[str, Any]:
    return render.collection(
        INVENTORY, "SoftwareInventoryCollection", "Firmware Inventory", [CARD_FIRMWARE]
    )


def get_card_firmware(request: Request) -> dict[str, Any]:
    card = request.service.card
    body: dict[str, Any] = {
        "@odata.id": CARD_FIRMWARE,
        "@odata.type": "#SoftwareInventory.v1_13_0.SoftwareInventory",
        "Id": "BMC",
        "Name": "Network management card firmware",
        "Manufacturer": "EnergyDash",
        "Version": card.firmware_version,
        "VersionScheme": "SemVer",
        "Updateable": True,
        "WriteProtected": False,
        "Status": {"State": "Enabled", "Health": "OK"},
        "RelatedItem": [render.link("/redfish/v1/Managers/BMC")],
        "RelatedItem@odata.count": 1,
    }
    if card.last_update is not None:
        body["ReleaseDate"] = render.iso(card.last_update)
    return body


def simple_update(request: Request, body: dict[str, Any]) -> Response:
    args = action_args(
        body,
        "UpdateService.SimpleUpdate",
        {
            "ImageURI": str,
            "TransferProtocol": ["HTTP", "HTTPS"],
            "Username": str,
            "Password": str,
            "Targets": list,
            "@Redfish.OperationApplyTime": None,
        },
        ("ImageURI",),
    )
    uri = args["ImageURI"]
    parts = urlsplit(uri) if len(uri) <= MAX_URI else None
    protocol = args.get("TransferProtocol")
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise errors.base(
            400, "ActionParameterValueFormatError", uri[:80], "ImageURI", "SimpleUpdate"
        )
    if protocol and protocol.lower() != parts.scheme:
        raise errors.base(400, "ActionParameterValueConflict", "TransferProtocol", protocol)
    for target in args.get("Targets", []):
        if target != CARD_FIRMWARE:
            raise errors.base(
                400, "ActionParameterValueNotInList", str(target), "Targets", "SimpleUpdate"
            )
    card = request.service.card
    if card.updating:
        raise RedfishError(409, [message("Update", "UpdateInProgress")])
    auth = (args["Username"], args.get("Password", "")) if "Username" in args else None
    task = card.start_update(uri, auth, request.service.log_update_event)
    return _accepted(task)


def _accepted(task: Task) -> Response:
    monitor = f"{MONITORS}/{task.id}"
    return Response(202, render_task(task), {"Location": monitor, "Retry-After": "1"})


def render_task(task: Task) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@odata.id": f"{TASKS}/Tasks/{task.id}",
        "@odata.type": "#Task.v1_7_4.Task",
        "Id": task.id,
        "Name": task.name,
        "TaskState": task.state,
        "TaskStatus": task.status,
        "PercentComplete": task.percent,
        "StartTime": render.iso(task.started),
        "TaskMonitor": f"{MONITORS}/{task.id}",
        "Messages": task.messages,
        "HidePayload": True,
    }
    if task.ended is not None:
        body["EndTime"] = render.iso(task.ended)
    return body


def get_task_service(request: Request) -> dict[str, Any]:
    return {
        "@odata.id": TASKS,
        "@odata.type": "#TaskService.v1_3_0.TaskService",
        "Id": "TaskService",
        "Name": "Task Service",
        "ServiceEnabled": True,
        "DateTime": render.iso(request.service.now()),
        "CompletedTaskOverWritePolicy": "Oldest",
        "LifeCycleEventOnTaskStateChange": False,
        "Status": {"State": "Enabled", "Health": "OK"},
        "Tasks": render.link(f"{TASKS}/Tasks"),
    }


def get_tasks(request: Request) -> dict[str, Any]:
    ids = list(request.service.card.tasks)
    return render.collection(
        f"{TASKS}/Tasks", "TaskCollection", "Tasks", [f"{TASKS}/Tasks/{i}" for i in ids]
    )


def _task(request: Request) -> Task:
    task = request.service.card.tasks.get(request.params["task"])
    if task is None:
        raise errors.not_found("Task", request.params["task"])
    return task


def get_task(request: Request) -> dict[str, Any]:
    return render_task(_task(request))


def get_monitor(request: Request) -> Response:
    """202 with the task while it runs; the task with 200 once it is done."""
    task = _task(request)
    if not task.done:
        return _accepted(task)
    return Response(200, render_task(task))


def routes() -> list[Route]:
    return [
        Route(UPDATE, "UpdateService", get=get_update_service),
        Route(INVENTORY, "SoftwareInventoryCollection", get=get_inventory),
        Route(CARD_FIRMWARE, "SoftwareInventory", get=get_card_firmware),
        Route(UPDATE + "/Actions/UpdateService.SimpleUpdate", "UpdateService", post=simple_update),
        Route(TASKS, "TaskService", get=get_task_service),
        Route(TASKS + "/Tasks", "TaskCollection", get=get_tasks),
        Route(TASKS + "/Tasks/{task}", "Task", get=get_task),
        Route(MONITORS + "/{task}", "Task", raw_get=get_monitor),
    ]
