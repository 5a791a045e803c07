"""CertificateService: list the HTTPS certificate, GenerateCSR, ReplaceCertificate.

The one certificate is the HTTPS listener's, at
``/redfish/v1/Managers/BMC/NetworkProtocol/HTTPS/Certificates/1``; replacing it reloads the
live TLS context (see ``energydash.redfish.certs``).
"""

from __future__ import annotations

from typing import Any

from energydash.redfish import errors, render
from energydash.redfish.certs import CSR_FIELDS, CertificateError, CertInfo
from energydash.redfish.errors import RedfishError
from energydash.redfish.http import Request, Response
from energydash.redfish.registries import message
from energydash.redfish.resources.common import action_args
from energydash.redfish.routing import Route

SERVICE = "/redfish/v1/CertificateService"
LOCATIONS = SERVICE + "/CertificateLocations"
HTTPS_CERTS = "/redfish/v1/Managers/BMC/NetworkProtocol/HTTPS/Certificates"
HTTPS_CERT = HTTPS_CERTS + "/1"
CSR_INFO = SERVICE + "/GenerateCSRActionInfo"
KEY_ALGORITHMS = ["TPM_ALG_ECC", "TPM_ALG_RSA"]


def get_certificate_service(request: Request) -> dict[str, Any]:
    return {
        "@odata.id": SERVICE,
        "@odata.type": "#CertificateService.v1_2_1.CertificateService",
        "Id": "CertificateService",
        "Name": "Certificate Service",
        "CertificateLocations": render.link(LOCATIONS),
        "Actions": {
            "#CertificateService.GenerateCSR": {
                "target": f"{SERVICE}/Actions/CertificateService.GenerateCSR",
                "@Redfish.ActionInfo": CSR_INFO,
            },
            "#CertificateService.ReplaceCertificate": {
                "target": f"{SERVICE}/Actions/CertificateService.ReplaceCertificate",
                "CertificateType@Redfish.AllowableValues": ["PEM", "PEMchain"],
            },
        },
    }


def get_locations(request: Request) -> dict[str, Any]:
    return {
        "@odata.id": LOCATIONS,
        "@odata.type": "#CertificateLocations.v1_0_4.CertificateLocations",
        "Id": "CertificateLocations",
        "Name": "Certificate Locations",
        "Links": {"Certificates": [render.link(HTTPS_CERT)], "Certificates@odata.count": 1},
    }


def get_csr_info(request: Request) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"Name": "CertificateCollection", "Required": True, "DataType": "Object",
         "ObjectDataType": "#CertificateCollection.CertificateCollection"},
        {"Name": "CommonName", "Required": True, "DataType": "String"},
    ]  # fmt: skip
    parameters += [
        {"Name": name, "Required": False, "DataType": "String"} for name in CSR_FIELDS[1:]
    ]
    parameters.append(
        {"Name": "KeyPairAlgorithm", "Required": False, "DataType": "String",
         "AllowableValues": KEY_ALGORITHMS}
    )  # fmt: skip
    return {
        "@odata.id": CSR_INFO,
        "@odata.type": "#ActionInfo.v1_5_0.ActionInfo",
        "Id": "GenerateCSRActionInfo",
        "Name": "GenerateCSR Action Info",
        "Parameters": parameters,
    }


def get_https_certificates(request: Request) -> dict[str, Any]:
    return render.collection(
        HTTPS_CERTS,
        "CertificateCollection",
        "HTTPS Certificates",
        [HTTPS_CERT],
        {"@Redfish.SupportedCertificates": ["PEM"]},
    )


def render_certificate(info: CertInfo) -> dict[str, Any]:
    return {
        "@odata.id": HTTPS_CERT,
        "@odata.type": "#Certificate.v1_11_0.Certificate",
        "Id": "1",
        "Name": "HTTPS Certificate",
        "CertificateString": info.pem,
        "CertificateType": "PEM",
        "CertificateUsageTypes": ["Web"],
        "Subject": info.subject,
        "Issuer": info.issuer,
        "ValidNotBefore": render.iso(info.not_before),
        "ValidNotAfter": render.iso(info.not_after),
        "SerialNumber": info.serial,
        "Fingerprint": info.fingerprint,
        "FingerprintHashAlgorithm": "TPM_ALG_SHA256",
        "KeyUsage": ["DigitalSignature", "KeyAgreement", "ServerAuthentication"],
    }


def get_https_certificate(request: Request) -> dict[str, Any]:
    return render_certificate(request.service.certs.current())


def _refused(error: CertificateError, action: str, parameter: str) -> RedfishError:
    msg = message("Base", "ActionParameterValueError", parameter, action)
    msg["Message"] += f" {error}"
    return RedfishError(400, [msg])


def generate_csr(request: Request, body: dict[str, Any]) -> Response:
    action = "CertificateService.GenerateCSR"
    allowed: dict[str, Any] = {name: str for name in CSR_FIELDS}
    allowed |= {"CertificateCollection": dict, "KeyPairAlgorithm": KEY_ALGORITHMS}
    args = action_args(body, action, allowed, ("CertificateCollection", "CommonName"))
    collection = args["CertificateCollection"].get("@odata.id", "")
    if collection.rstrip("/") != HTTPS_CERTS:
        raise errors.base(
            400, "ActionParameterValueNotInList", str(collection), "CertificateCollection", action
        )
    subject = {k: args[k] for k in CSR_FIELDS if k in args}
    try:
        csr = request.service.certs.generate_csr(subject, args.get("KeyPairAlgorithm", ""))
    except CertificateError as error:
        raise _refused(error, action, "CommonName") from None
    return Response(
        200,
        {
            "@odata.type": "#CertificateService.v1_2_1.GenerateCSRResponse",
            "CSRString": csr,
            "CertificateCollection": render.link(HTTPS_CERTS),
        },
    )


def replace_certificate(request: Request, body: dict[str, Any]) -> Response:
    action = "CertificateService.ReplaceCertificate"
    args = action_args(
        body,
        action,
        {"CertificateString": str, "CertificateType": ["PEM", "PEMchain"], "CertificateUri": dict},
        ("CertificateString", "CertificateType", "CertificateUri"),
    )
    uri = args["CertificateUri"].get("@odata.id", "")
    if uri.rstrip("/") != HTTPS_CERT:
        raise errors.base(400, "ActionParameterValueNotInList", str(uri), "CertificateUri", action)
    try:
        info = request.service.certs.replace(args["CertificateString"])
    except CertificateError as error:
        raise _refused(error, action, "CertificateString") from None
    return Response(200, render_certificate(info), {"Location": HTTPS_CERT})


def routes() -> list[Route]:
    return [
        Route(SERVICE, "CertificateService", get=get_certificate_service),
        Route(LOCATIONS, "CertificateLocations", get=get_locations),
        Route(CSR_INFO, "ActionInfo", get=get_csr_info),
        Route(
            SERVICE + "/Actions/CertificateService.GenerateCSR",
            "CertificateService",
            post=generate_csr,
        ),
        Route(
            SERVICE + "/Actions/CertificateService.ReplaceCertificate",
            "CertificateService",
            post=replace_certificate,
        ),
        Route(HTTPS_CERTS, "CertificateCollection", get=get_https_certificates),
        Route(HTTPS_CERT, "Certificate", get=get_https_certificate),
    ]
