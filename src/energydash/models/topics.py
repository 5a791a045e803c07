"""The data of each hub topic, as sent on `/ws`, served by REST and published on MQTT.

Rows that come in hundreds (outlets, facilities) are columnar: one list per field, so a frame
stays small and cheap to encode. Every model describes a full state: a client always replaces.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from energydash.models.sources import Source


class Branch(BaseModel):
    id: str
    name: str
    phases: list[str]
    rating_a: float
    current_a: float | None
    power_w: float | None
    breaker_state: str
    health: str


class OutletColumns(BaseModel):
    id: list[str]
    name: list[str]
    branch_id: list[str]
    phase: list[str]
    power_state: list[str]
    power_w: list[float | None]
    current_a: list[float | None]
    voltage_v: list[float | None]
    power_factor: list[float | None]
    energy_kwh: list[float | None]
    health: list[str]
    device: list[str | None]
    profile: list[str | None]
    rating_a: list[float]


class PduOutletsData(BaseModel):
    """Topic ``pdu/{id}/outlets``."""

    pdu_id: str
    name: str
    model: str
    branches: list[Branch]
    outlets: OutletColumns


class PhaseSummary(BaseModel):
    phase: str
    voltage_v: float | None
    current_a: float | None
    power_w: float | None


class PduSummaryData(BaseModel):
    """Topic ``pdu/{id}/summary``."""

    pdu_id: str
    name: str
    power_w: float | None
    energy_kwh: float | None
    phases: list[PhaseSummary]
    breakers_tripped: int
    outlets_on: int
    outlets_total: int
    health: str
    alerts: list[str]


class FacilityColumns(BaseModel):
    code: list[str]
    name: list[str]
    region: list[str | None]
    fueltech: list[str | None] = Field(description="The dominant fueltech of the facility.")
    status: list[str | None]
    lat: list[float | None]
    lng: list[float | None]
    capacity_mw: list[float | None]
    power_mw: list[float | None]
    emissions_t: list[float | None]


class UnitColumns(BaseModel):
    """The units of every facility, one row per unit (``facility``: its facility's row)."""

    facility: list[int]
    code: list[str]
    fueltech: list[str]
    status: list[str]
    capacity_mw: list[float]
    power_mw: list[float | None] = Field(description="Live output; loads count positive.")


class FacilitiesData(BaseModel):
    """Topic ``facilities``."""

    network: str
    interval: str | None
    facilities: FacilityColumns
    units: UnitColumns | None = Field(None, description="Absent when the source has no units.")
    source: Source = Field("sim", description="sim, or replay (a dataset fed over MQTT ingest).")
    dataset: str | None = Field(None, description="The replayed dataset's name, if it sent one.")


class MarketRegion(BaseModel):
    region: str
    price_aud_per_mwh: float | None = None
    demand_mw: float | None = None
    generation_mw: float | None = None
    net_interchange_mw: float | None = None
    emissions_t_per_mwh: float | None = None
    generation_by_fueltech_mw: dict[str, float] = Field(default_factory=dict)
    renewables_mw: float | None = Field(None, description="Wind, solar, hydro and bioenergy.")
    curtailed_mw: float | None = Field(None, description="Wind and solar held back.")
    unserved_mw: float | None = None


class InterconnectorFlow(BaseModel):
    """Flow on one interconnector; positive from ``from_region`` to ``to_region``."""

    id: str
    from_region: str
    to_region: str
    flow_mw: float


class MarketData(BaseModel):
    """Topic ``market/{network}``.

    In a replay, a region's ``generation_mw`` and ``generation_by_fueltech_mw`` the market rows
    lack are the sums of the replayed facilities of that region (``generation_from``).
    """

    network: str
    interval: str | None
    regions: list[MarketRegion]
    interconnectors: list[InterconnectorFlow] = Field(default_factory=list)
    source: Source = Field("sim", description="sim, or replay (a dataset fed over MQTT ingest).")
    dataset: str | None = Field(None, description="The replayed dataset's name, if it sent one.")
    generation_from: Literal["market", "facilities"] | None = Field(
        None, description="Where a replay's generation figures come from (None: the simulator)."
    )


class DeviceData(BaseModel):
    """Topic ``devices/{id}``; device id is ``{pdu_id}-{outlet_id}``."""

    device_id: str
    pdu_id: str | None
    outlet_id: str | None
    name: str | None
    profile: str | None
    online: bool
    power_state: str | None
    power_w: float | None
    energy_kwh: float | None
