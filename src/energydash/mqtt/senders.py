"""Who sent an MQTT command, and whether they may: checked by the backend, not only the broker.

A broker's ACL is the first gate (``energydash broker`` lets only identities holding
``ConfigureComponents`` write command topics), but the backend cannot see the broker's config:
an external broker may have no ACL at all. So with ``ENERGYDASH_MQTT_COMMAND_AUTH=token`` (the
default) a command is executed only when it carries ``"auth": {"token": "<Redfish session
token>"}`` of an enabled account whose role holds ``ConfigureComponents`` (Operator or
Administrator) — the same account store and privilege rule as REST and Redfish. With ``broker``
the deployment vouches for the broker's ACL and a command without ``auth`` is attributed to the
commander identity; a credential that is given is still verified.

Every decision becomes an ``AuditRecord`` (``audit``); refusals are counted by the publisher.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from energydash.auth import AuthStore, Caller
from energydash.config import Settings
from energydash.models.audit import AuditRecord, Result
from energydash.models.devices import MqttDeviceCommand
from energydash.models.sites import IotDeviceCommand

log = logging.getLogger(__name__)
audit_log = logging.getLogger("energydash.audit")
REQUIRED_PRIVILEGE = "ConfigureComponents"
ACTIONS = {
    "set_power": "outlet.power",
    "set_enabled": "outlet.enabled",
    "set_online": "device.online",
}


class CommandDenied(Exception):
    """``kind`` is ``unauthenticated`` (no or unknown credential) or ``forbidden``."""

    def __init__(self, kind: str, message: str, user: str = "anonymous") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.user = user


@dataclass(frozen=True, slots=True)
class Sender:
    user: str
    role: str | None
    how: str  # "token" or "broker ACL"
    caller: Caller | None = None  # the account behind a token (owners of site devices check it)


class CommandSenders:
    def __init__(self, settings: Settings, auth: AuthStore | None) -> None:
        self.mode = settings.mqtt_command_auth
        self.commander = settings.mqtt_commander_username
        self.auth = auth

    def check(self, request: MqttDeviceCommand | IotDeviceCommand) -> Sender:
        """The sender of ``request``, or CommandDenied saying what is missing."""
        if request.auth is None:
            if self.mode == "broker":
                return Sender(self.commander, None, "broker ACL")
            raise CommandDenied(
                "unauthenticated",
                'unauthenticated: a command must carry "auth": {"token": "<Redfish session '
                f'token>"}} of an account with {REQUIRED_PRIVILEGE}',
            )
        caller = (
            None if self.auth is None else self.auth.authenticate(None, request.auth.token.encode())
        )
        if caller is None:
            raise CommandDenied(
                "unauthenticated", "unauthenticated: unknown or expired session token"
            )
        if not caller.has(REQUIRED_PRIVILEGE):
            raise CommandDenied(
                "forbidden",
                f"forbidden: role {caller.role_id} lacks the {REQUIRED_PRIVILEGE} privilege",
                caller.username,
            )
        return Sender(caller.username, caller.role_id, "token", caller)


def record(
    *,
    user: str,
    role: str | None,
    command: str | None,
    device_id: str,
    result: Result,
    detail: str,
    origin: str,
) -> AuditRecord:
    """The audit record of one MQTT command, already written to the audit log."""
    pdu_id, _, outlet_id = device_id.rpartition("-")
    target = f"pdu/{pdu_id}/outlets/{outlet_id}" if pdu_id else f"devices/{device_id}"
    entry = AuditRecord(
        ts=datetime.now(UTC),
        user=user[:64],
        role=role,
        face="mqtt",
        action=ACTIONS.get(command or "", "device.command"),
        target=target[:200],
        origin=origin[:100],
        result=result,
        detail=detail[:500],
    )
    audit(entry)
    return entry


def audit(entry: AuditRecord) -> None:
    """One audit record to ``logs/`` (logger ``energydash.audit``, one JSON object per line).

    The one place MQTT hands records over: the shared audit trail (Manager log, hub topic
    ``audit``) plugs in here.
    """
    audit_log.info("%s", orjson.dumps(entry.model_dump(mode="json")).decode())
