"""Managers/BMC: the PDU's management card, its network interface and protocols, its event log.

``Manager.Reset`` reboots the card (the service answers 503 for ``redfish_card_reboot_s``,
outlets keep their power; see ``energydash.redfish.card``).
"""

from __future__ import annotations

from typing import Any

from energydash.redfish import errors, render
from energydash.redfish.http import Request, Response, no_content
from energydash.redfish.resources.certificates import HTTPS_CERTS
from energydash.redfish.resources.common import action_args, action_done
from energydash.redfish.routing import Route

BASE = "/redfish/v1/Managers"
BMC = BASE + "/BMC"
LOG = BMC + "/LogServices/Log"
ETH = BMC + "/EthernetInterfaces"
RESET_TYPES = ["ForceRestart", "GracefulRestart"]


def get_managers(request: Request) -> dict[str, Any]:
    return render.collection(BASE, "ManagerCollection", "Managers", [BMC])


def get_manager(request: Request) -> dict[str, Any]:
    service = request.service
    now = service.now()
    chassis = [render.link(render.chassis_uri(p.id)) for p in service.engine.fleet.pdus]
    return {
        "@odata.id": BMC,
        "@odata.type": "#Manager.v1_24_0.Manager",
        "Id": "BMC",
        "Name": "Rack PDU Network Management Card",
        "ManagerType": "BMC",
        "Manufacturer": "Schneider Electric (simulated by EnergyDash)",
        "Model": "AP9641",
        "FirmwareVersion": service.card.firmware_version,
        "UUID": service.uuid,
        "ServiceEntryPointUUID": service.uuid,
        "DateTime": render.iso(now),
        "DateTimeLocalOffset": "+00:00",
        "Status": {"State": "Enabled", "Health": "OK"},
        "PowerState": "On",
        "NetworkProtocol": render.link(BMC + "/NetworkProtocol"),
        "EthernetInterfaces": render.link(ETH),
        "LogServices": render.link(BMC + "/LogServices"),
        "Links": {
            "ManagerForChassis": chassis,
            "ManagerForChassis@odata.count": len(chassis),
        },
        "Actions": {
            "#Manager.Reset": {
                "target": BMC + "/Actions/Manager.Reset",
                "ResetType@Redfish.AllowableValues": RESET_TYPES,
            }
        },
    }


def reset_manager(request: Request, body: dict[str, Any]) -> Response:
    """Reboot the management card; the answer goes out before it stops answering."""
    action_args(body, "Manager.Reset", {"ResetType": RESET_TYPES})
    request.service.card.reset()
    return action_done()


def get_interfaces(request: Request) -> dict[str, Any]:
    return render.collection(
        ETH, "EthernetInterfaceCollection", "Ethernet Interfaces", [ETH + "/eth0"]
    )


def get_interface(request: Request) -> dict[str, Any]:
    service = request.service
    host = service.settings.host if service.settings.host not in ("", "0.0.0.0") else "127.0.0.1"
    # a locally administered MAC derived from the service UUID: stable across restarts
    mac = ":".join(["02"] + [service.uuid.replace("-", "")[i : i + 2] for i in range(0, 10, 2)])
    return {
        "@odata.id": ETH + "/eth0",
        "@odata.type": "#EthernetInterface.v1_12_4.EthernetInterface",
        "Id": "eth0",
        "Name": "Management Network Interface",
        "Status": {"State": "Enabled", "Health": "OK"},
        "InterfaceEnabled": True,
        "LinkStatus": "LinkUp",
        "MACAddress": mac.upper(),
        "PermanentMACAddress": mac.upper(),
        "SpeedMbps": 1000,
        "FullDuplex": True,
        "AutoNeg": True,
        "HostName": service.hostname,
        "FQDN": service.fqdn,
        "NameServers": [],
        "DHCPv4": {"DHCPEnabled": False},
        "IPv4Addresses": [
            {
                "Address": host,
                "SubnetMask": "255.0.0.0" if host.startswith("127.") else "255.255.255.0",
                "AddressOrigin": "Static",
                "Gateway": "0.0.0.0",
            }
        ],
        "IPv6Addresses": [],
    }


def get_network_protocol(request: Request) -> dict[str, Any]:
    settings = request.service.settings
    tls = settings.redfish_tls
    return {
        "@odata.id": BMC + "/NetworkProtocol",
        "@odata.type": "#ManagerNetworkProtocol.v1_12_0.ManagerNetworkProtocol",
        "Id": "NetworkProtocol",
        "Name": "Manager Network Protocol",
        "HostName": request.service.hostname,
        "FQDN": request.service.fqdn,
        "Status": {"State": "Enabled", "Health": "OK"},
        "HTTP": {
            "ProtocolEnabled": not tls or bool(settings.redfish_http_redirect_port),
            "Port": settings.redfish_http_redirect_port if tls else settings.port,
        },
        "HTTPS": {
            "ProtocolEnabled": tls,
            "Port": settings.port,
            "Certificates": render.link(HTTPS_CERTS),
        },
    }


def get_log_services(request: Request) -> dict[str, Any]:
    return render.collection(BMC + "/LogServices", "LogServiceCollection", "Log Services", [LOG])


def get_log_service(request: Request) -> dict[str, Any]:
    return {
        "@odata.id": LOG,
        "@odata.type": "#LogService.v1_9_0.LogService",
        "Id": "Log",
        "Name": "PDU Event Log",
        "ServiceEnabled": True,
        "MaxNumberOfRecords": request.service.events.log.maxlen,
        "OverWritePolicy": "WrapsWhenFull",
        "LogEntryType": "Event",
        "DateTime": render.iso(request.service.now()),
        "DateTimeLocalOffset": "+00:00",
        "Status": {"State": "Enabled", "Health": "OK"},
        "Entries": render.link(LOG + "/Entries"),
        "Actions": {"#LogService.ClearLog": {"target": LOG + "/Actions/LogService.ClearLog"}},
    }


def get_entries(request: Request) -> dict[str, Any]:
    """LogEntry collections are AutoExpand in the schema: members come inline."""
    records = list(request.service.events.log)
    body = render.collection(LOG + "/Entries", "LogEntryCollection", "Log Entries", [])
    body["Members"] = [render_entry(r) for r in records]
    body["Members@odata.count"] = len(records)
    return body


def get_entry(request: Request) -> dict[str, Any]:
    entry_id = request.params["entry"]
    for record in request.service.events.log:
        if record.event_id == entry_id:
            return render_entry(record)
    raise errors.not_found("LogEntry", entry_id)


def render_entry(record: Any) -> dict[str, Any]:
    msg = record.message
    body: dict[str, Any] = {
        "@odata.id": f"{LOG}/Entries/{record.event_id}",
        "@odata.type": "#LogEntry.v1_21_0.LogEntry",
        "Id": record.event_id,
        "Name": "Log Entry",
        "EntryType": "Event",
        "Severity": msg["MessageSeverity"],
        "Created": render.iso(record.timestamp),
        "Message": msg["Message"],
    }
    if msg.get("MessageId"):
        body["MessageId"] = msg["MessageId"]
        body["MessageArgs"] = msg["MessageArgs"]
    if record.origin:
        body["Links"] = {"OriginOfCondition": render.link(record.origin)}
    return body


def clear_log(request: Request, body: dict[str, Any]) -> Response:
    action_args(body, "LogService.ClearLog", {})
    request.service.events.log.clear()
    return no_content()


def routes() -> list[Route]:
    return [
        Route(BASE, "ManagerCollection", get=get_managers),
        Route(BMC, "Manager", get=get_manager),
        Route(BMC + "/Actions/Manager.Reset", "Manager", post=reset_manager),
        Route(ETH, "EthernetInterfaceCollection", get=get_interfaces),
        Route(ETH + "/eth0", "EthernetInterface", get=get_interface),
        Route(BMC + "/NetworkProtocol", "ManagerNetworkProtocol", get=get_network_protocol),
        Route(BMC + "/LogServices", "LogServiceCollection", get=get_log_services),
        Route(LOG, "LogService", get=get_log_service),
        Route(LOG + "/Entries", "LogEntryCollection", get=get_entries),
        Route(LOG + "/Entries/{entry}", "LogEntry", get=get_entry),
        Route(LOG + "/Actions/LogService.ClearLog", "LogService", post=clear_log),
    ]
