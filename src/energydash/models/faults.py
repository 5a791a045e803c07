"""Topic ``faults``: the faults active now, simulation and wire, for the dashboard.

The same faults ``GET /api/v1/faults`` lists, reduced to what a reader needs to see which PDU
or URIs suffer what and until when. Published by ``energydash.hub.faults`` when the set changes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class ActiveFault(BaseModel):
    fault_id: str
    kind: str
    layer: Literal["sim", "wire"]
    pdu_id: str | None
    target: str | None  # the outlet/branch id of a sim fault, the URI glob of a wire fault
    ends_at: str | None  # ISO 8601 UTC; None: until cleared


class ActiveFaultsData(BaseModel):
    faults: list[ActiveFault]
