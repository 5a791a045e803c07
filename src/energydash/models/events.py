"""Topic ``pdu/{pdu_id}/events``: the PDU's recent switch, breaker and fault events.

The dashboard draws them as markers on the PDU's charts (outlet on/off and power cycles,
branch breaker trips and resets). Times are the simulation's (the charts' own clock).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


def pdu_events_topic(pdu_id: str) -> str:
    return f"pdu/{pdu_id}/events"


class PduEvent(BaseModel):
    ts: datetime
    kind: str = Field(max_length=64)  # energydash.sim.events.EventKind, e.g. "BreakerTripped"
    resource: str = Field(max_length=16)  # outlet, branch, main, group or pdu
    resource_id: str = Field(max_length=64)
    message: str = Field(max_length=500)
    severity: str = Field(max_length=16)


class PduEventsData(BaseModel):
    """The most recent events of one PDU, oldest first (``pdu_events_kept`` at most)."""

    pdu_id: str
    events: list[PduEvent]
