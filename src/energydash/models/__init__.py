"""Wire models shared by the WebSocket stream, MQTT and REST: one definition per message."""

from energydash.models.envelope import (
    AuthFrame,
    AuthOp,
    ClientOp,
    Envelope,
    ErrorFrame,
    PingFrame,
    parse_client_op,
)
from energydash.models.sources import ReplayedTopic, SourcesData
from energydash.models.topics import (
    Branch,
    DeviceData,
    FacilitiesData,
    FacilityColumns,
    MarketData,
    MarketRegion,
    OutletColumns,
    PduOutletsData,
    PduSummaryData,
    PhaseSummary,
)

__all__ = [
    "AuthFrame",
    "AuthOp",
    "Branch",
    "ClientOp",
    "DeviceData",
    "Envelope",
    "ErrorFrame",
    "FacilitiesData",
    "FacilityColumns",
    "MarketData",
    "MarketRegion",
    "OutletColumns",
    "PduOutletsData",
    "PduSummaryData",
    "PhaseSummary",
    "PingFrame",
    "ReplayedTopic",
    "SourcesData",
    "parse_client_op",
]
