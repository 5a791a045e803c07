"""Events the simulation raises: power changes, breaker trips, threshold crossings, faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

EventKind = Literal[
    "OutletPoweredOn",
    "OutletPoweredOff",
    "BreakerTripped",
    "BreakerReset",
    "CircuitPoweredOn",
    "CircuitPoweredOff",
    "ThresholdCrossed",
    "FaultInjected",
    "FaultCleared",
    "MetricsReset",
    "GroupCreated",
    "GroupDeleted",
]
Resource = Literal["outlet", "branch", "main", "group", "pdu"]
Severity = Literal["OK", "Warning", "Critical"]


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One thing that happened, stamped with sim time; Redfish maps it to a registry message."""

    kind: EventKind
    pdu_id: str
    resource: Resource
    resource_id: str
    message: str
    severity: Severity
    timestamp: datetime
    args: list[str] = field(default_factory=list)
