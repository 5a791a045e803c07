"""Entry points: /redfish, the ServiceRoot, $metadata and the OData service document."""

from __future__ import annotations

from typing import Any

from energydash.redfish import render
from energydash.redfish.http import Request, Response
from energydash.redfish.routing import Route

V1 = "/redfish/v1"
REDFISH_VERSION = "1.22.0"
# (CSDL file stem, versioned namespace or None for collections/abstract ones)
SCHEMAS: list[tuple[str, str | None]] = [
    ("ServiceRoot", "ServiceRoot.v1_20_0"),
    ("AccountService", "AccountService.v1_18_1"),
    ("ManagerAccountCollection", None),
    ("ManagerAccount", "ManagerAccount.v1_14_1"),
    ("RoleCollection", None),
    ("Role", "Role.v1_3_3"),
    ("SessionService", "SessionService.v1_2_0"),
    ("SessionCollection", None),
    ("Session", "Session.v1_8_0"),
    ("EventService", "EventService.v1_12_0"),
    ("EventDestinationCollection", None),
    ("EventDestination", "EventDestination.v1_16_0"),
    ("Event", "Event.v1_7_0"),
    ("ManagerCollection", None),
    ("Manager", "Manager.v1_24_0"),
    ("ManagerNetworkProtocol", "ManagerNetworkProtocol.v1_12_0"),
    ("LogServiceCollection", None),
    ("LogService", "LogService.v1_9_0"),
    ("LogEntryCollection", None),
    ("LogEntry", "LogEntry.v1_21_0"),
    ("ChassisCollection", None),
    ("Chassis", "Chassis.v1_28_0"),
    ("SensorCollection", None),
    ("Sensor", "Sensor.v1_12_0"),
    ("PowerEquipment", "PowerEquipment.v1_2_3"),
    ("PowerDistributionCollection", None),
    ("PowerDistribution", "PowerDistribution.v1_6_0"),
    ("PowerDistributionMetrics", "PowerDistributionMetrics.v1_4_0"),
    ("CircuitCollection", None),
    ("Circuit", "Circuit.v1_9_0"),
    ("OutletCollection", None),
    ("Outlet", "Outlet.v1_4_4"),
    ("OutletGroupCollection", None),
    ("OutletGroup", "OutletGroup.v1_2_0"),
    ("Message", "Message.v1_1_1"),
    ("CertificateService", "CertificateService.v1_2_1"),
    ("CertificateLocations", "CertificateLocations.v1_0_4"),
    ("CertificateCollection", None),
    ("Certificate", "Certificate.v1_11_0"),
    ("ActionInfo", "ActionInfo.v1_5_0"),
    ("UpdateService", "UpdateService.v1_17_0"),
    ("SoftwareInventoryCollection", None),
    ("SoftwareInventory", "SoftwareInventory.v1_13_0"),
    ("TaskService", "TaskService.v1_3_0"),
    ("TaskCollection", None),
    ("Task", "Task.v1_7_4"),
    ("EthernetInterfaceCollection", None),
    ("EthernetInterface", "EthernetInterface.v1_12_4"),
    ("Resource", "Resource.v1_0_0"),
    ("RedfishExtensions", "RedfishExtensions.v1_0_0"),
]
SCHEMA_URI = "http://redfish.dmtf.org/schemas/v1/{}_v1.xml"


def metadata_xml() -> bytes:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">',
    ]
    for stem, versioned in SCHEMAS:
        lines.append(f'  <edmx:Reference Uri="{SCHEMA_URI.format(stem)}">')
        lines.append(f'    <edmx:Include Namespace="{stem}"/>')
        if versioned and stem not in ("Resource", "RedfishExtensions"):
            lines.append(f'    <edmx:Include Namespace="{versioned}"/>')
        if stem == "RedfishExtensions":
            lines[-1] = '    <edmx:Include Namespace="RedfishExtensions.v1_0_0" Alias="Redfish"/>'
        lines.append("  </edmx:Reference>")
    lines += [
        "  <edmx:DataServices>",
        '    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="Service">',
        '      <EntityContainer Name="Service" Extends="ServiceRoot.v1_20_0.ServiceContainer"/>',
        "    </Schema>",
        "  </edmx:DataServices>",
        "</edmx:Edmx>",
    ]
    return ("\n".join(lines) + "\n").encode()


METADATA = metadata_xml()


def get_redfish(request: Request) -> dict[str, Any]:
    return {"v1": V1 + "/"}


def get_service_root(request: Request) -> dict[str, Any]:
    service = request.service
    return {
        "@odata.id": V1,
        "@odata.type": "#ServiceRoot.v1_20_0.ServiceRoot",
        "Id": "RootService",
        "Name": "EnergyDash Redfish Service",
        "RedfishVersion": REDFISH_VERSION,
        "UUID": service.uuid,
        "Vendor": "EnergyDash",
        "Product": "EnergyDash simulated SmartPDU fleet",
        "ProtocolFeaturesSupported": {
            "ExpandQuery": {
                "ExpandAll": True,
                "Levels": True,
                "Links": True,
                "NoLinks": True,
                "MaxLevels": 3,
            },
            "SelectQuery": True,
            "OnlyMemberQuery": True,
            "FilterQuery": True,
            "ExcerptQuery": False,
            "TopSkipQuery": True,
            "DeepOperations": {"DeepPATCH": False, "DeepPOST": False},
            # one connection carries many requests (HTTP/1.1 keep-alive, pipelining)
            "MultipleHTTPRequests": True,
        },
        "AccountService": render.link(V1 + "/AccountService"),
        "CertificateService": render.link(V1 + "/CertificateService"),
        "UpdateService": render.link(V1 + "/UpdateService"),
        "Tasks": render.link(V1 + "/TaskService"),
        "SessionService": render.link(V1 + "/SessionService"),
        "EventService": render.link(V1 + "/EventService"),
        "Managers": render.link(V1 + "/Managers"),
        "Chassis": render.link(V1 + "/Chassis"),
        "PowerEquipment": render.link(V1 + "/PowerEquipment"),
        "Links": {"Sessions": render.link(V1 + "/SessionService/Sessions")},
    }


def get_metadata(request: Request) -> Response:
    return Response(200, METADATA, {"Allow": "GET, HEAD"}, content_type=b"application/xml")


def get_odata(request: Request) -> dict[str, Any]:
    root = get_service_root(request)
    services = [{"name": "Service", "kind": "Singleton", "url": V1 + "/"}]
    for name, value in root.items():
        if isinstance(value, dict) and set(value) == {"@odata.id"}:
            services.append({"name": name, "kind": "Singleton", "url": value["@odata.id"]})
    services.append(
        {"name": "Sessions", "kind": "Singleton", "url": V1 + "/SessionService/Sessions"}
    )
    return {"@odata.context": V1 + "/$metadata", "value": services}


def routes() -> list[Route]:
    return [
        Route("/redfish", "ServiceRoot", get=get_redfish, open_get=True),
        Route(V1, "ServiceRoot", get=get_service_root, open_get=True),
        Route(V1 + "/$metadata", "ServiceRoot", raw_get=get_metadata, open_get=True),
        Route(V1 + "/odata", "ServiceRoot", get=get_odata, open_get=True),
    ]
