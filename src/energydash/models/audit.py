"""Audit records: who did what to which target, from where, and how it ended.

Every control action on every face (REST, Redfish, MQTT, the dashboard, GraphQL) produces one
``AuditRecord``; it goes to the Redfish Manager log, to ``logs/audit.log`` and to the hub topic
``audit`` (``AuditData``: the most recent records, newest last), which the dashboard's
"recent actions" list shows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

AUDIT_TOPIC = "audit"
Face = Literal["rest", "redfish", "ws", "mqtt", "dashboard", "graphql"]
Result = Literal["ok", "refused", "failed"]


class AuditRecord(BaseModel):
    ts: datetime
    user: str = Field(max_length=64)  # "anonymous" when no credential was given
    role: str | None = None
    face: Face
    action: str = Field(max_length=64)  # e.g. "outlet.power", "breaker.reset", "sim.speed"
    target: str = Field(max_length=200)  # e.g. "pdu/1/outlets/A3"
    origin: str = Field("", max_length=100)  # client address (host:port) or broker client id
    result: Result
    detail: str = Field("", max_length=500)  # the refusal reason or the requested value


class AuditData(BaseModel):
    """Topic ``audit``: the most recent records, oldest first."""

    records: list[AuditRecord]
