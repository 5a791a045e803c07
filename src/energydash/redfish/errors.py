"""Every Redfish error body: an ``error`` object with Base messages in ``@Message.ExtendedInfo``.

Handlers raise ``RedfishError``; the dispatcher turns it into the status and body. A PATCH that
applies some properties and refuses others is a success carrying the refusals in
``@Message.ExtendedInfo`` of the resource instead (see ``resources``).
"""

from __future__ import annotations

from typing import Any

from energydash.redfish.registries import message


class RedfishError(Exception):
    """An HTTP error status with one or more Base registry messages."""

    def __init__(
        self,
        status: int,
        messages: list[dict[str, Any]],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(messages[0]["Message"] if messages else f"HTTP {status}")
        self.status = status
        self.messages = messages
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        first = self.messages[0] if self.messages else message("Base", "GeneralError")
        return {
            "error": {
                "code": first["MessageId"],
                "message": first["Message"],
                "@Message.ExtendedInfo": self.messages,
            }
        }


def base(status: int, key: str, *args: Any, related: list[str] | None = None) -> RedfishError:
    """A RedfishError with one Base message: ``base(404, "ResourceNotFound", "Outlet", "Z9")``."""
    return RedfishError(status, [message("Base", key, *args, related=related)])


def not_found(resource_type: str, name: str) -> RedfishError:
    return base(404, "ResourceNotFound", resource_type, name)


def insufficient_privilege() -> RedfishError:
    return base(403, "InsufficientPrivilege")


def unauthorized(realm: str = "EnergyDash Redfish") -> RedfishError:
    error = base(401, "NoValidSession")
    error.headers["WWW-Authenticate"] = f'Basic realm="{realm}"'
    return error


def malformed_json() -> RedfishError:
    return base(400, "MalformedJSON")


def method_not_allowed(allow: list[str]) -> RedfishError:
    error = base(405, "OperationNotAllowed")
    error.headers["Allow"] = ", ".join(allow)
    return error


def property_unknown(name: str) -> dict[str, Any]:
    return message("Base", "PropertyUnknown", name, related=[f"#/{name}"])


def property_not_writable(name: str) -> dict[str, Any]:
    return message("Base", "PropertyNotWritable", name, related=[f"#/{name}"])


def value_not_in_list(value: Any, name: str) -> dict[str, Any]:
    return message("Base", "PropertyValueNotInList", value, name, related=[f"#/{name}"])


def value_type_error(value: Any, name: str) -> dict[str, Any]:
    return message("Base", "PropertyValueTypeError", value, name, related=[f"#/{name}"])
