"""Rows that arrive over MQTT from `energydash replay` or real devices, validated liberally.

Replay sends CSV rows as JSON objects (numbers may arrive as strings, empty cells as ""), one
row per message or grouped as ``{"timestamp": ..., "dataset": ..., "rows": [...]}``
(``dataset``, the replayed file's name, labels the replay on every face; older replays omit
it). Field names follow the project's CSV columns; a few common spellings are accepted too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from energydash.models.sources import MAX_DATASET_NAME


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and value.strip() in ("", "null", "None", "nan", "NaN"):
        return None
    return value


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    @field_validator("*", mode="before")
    @classmethod
    def _blanks(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("timestamp", mode="after", check_fields=False)
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class FacilityRow(_Row):
    facility_code: str = Field(validation_alias=AliasChoices("facility_code", "code", "facility"))
    timestamp: datetime | None = Field(
        None, validation_alias=AliasChoices("timestamp", "interval", "ts")
    )
    power_mw: float | None = Field(
        None, validation_alias=AliasChoices("power_mw", "power", "value")
    )
    emissions_t: float | None = Field(
        None, validation_alias=AliasChoices("emissions_t", "emissions")
    )
    name: str | None = Field(None, validation_alias=AliasChoices("name", "facility_name"))
    region: str | None = Field(
        None, validation_alias=AliasChoices("region", "network_region", "region_code")
    )
    network: str | None = Field(
        None, validation_alias=AliasChoices("network", "network_id", "network_code")
    )
    fueltech: str | None = Field(None, validation_alias=AliasChoices("fueltech", "fueltech_id"))
    status: str | None = Field(None, validation_alias=AliasChoices("status", "status_id"))
    lat: float | None = Field(None, ge=-90, le=90, validation_alias=AliasChoices("lat", "latitude"))
    lng: float | None = Field(
        None, ge=-180, le=180, validation_alias=AliasChoices("lng", "lon", "longitude")
    )
    capacity_mw: float | None = Field(
        None, validation_alias=AliasChoices("capacity_mw", "capacity_registered_mw", "capacity")
    )


# Metric names in datasets → the field of MarketRegion they feed.
MARKET_METRICS = {
    "price": "price_aud_per_mwh",
    "price_aud_per_mwh": "price_aud_per_mwh",
    "demand": "demand_mw",
    "demand_mw": "demand_mw",
    "generation": "generation_mw",
    "generation_mw": "generation_mw",
    "net_interchange": "net_interchange_mw",
    "net_interchange_mw": "net_interchange_mw",
    "emissions_intensity": "emissions_t_per_mwh",
    "emissions_t_per_mwh": "emissions_t_per_mwh",
}


class MarketRow(_Row):
    region: str | None = Field(
        None, validation_alias=AliasChoices("region", "network_region", "region_code")
    )
    network: str | None = Field(
        None, validation_alias=AliasChoices("network", "network_id", "network_code")
    )
    timestamp: datetime | None = Field(
        None, validation_alias=AliasChoices("timestamp", "interval", "ts")
    )
    metric: str | None = None
    value: float | None = None
    price_aud_per_mwh: float | None = Field(
        None, validation_alias=AliasChoices("price_aud_per_mwh", "price")
    )
    demand_mw: float | None = Field(None, validation_alias=AliasChoices("demand_mw", "demand"))
    generation_mw: float | None = Field(
        None, validation_alias=AliasChoices("generation_mw", "generation")
    )
    net_interchange_mw: float | None = Field(
        None, validation_alias=AliasChoices("net_interchange_mw", "net_interchange")
    )
    emissions_t_per_mwh: float | None = Field(
        None, validation_alias=AliasChoices("emissions_t_per_mwh", "emissions_intensity")
    )

    def values(self, topic_metric: str | None = None) -> dict[str, float]:
        """The MarketRegion fields this row sets (a metric/value pair or columns)."""
        out = {
            name: getattr(self, name)
            for name in set(MARKET_METRICS.values())
            if getattr(self, name) is not None
        }
        metric = self.metric or topic_metric
        if self.value is not None and metric:
            field = MARKET_METRICS.get(metric.lower())
            if field is None:
                raise ValueError(f"metric: unknown {metric!r}; known: {sorted(MARKET_METRICS)}")
            out[field] = self.value
        return out


class DeviceRow(_Row):
    """Telemetry of a real (not simulated) device on ``{device_root}/{id}/data``."""

    timestamp: datetime | None = Field(None, validation_alias=AliasChoices("timestamp", "ts"))
    name: str | None = None
    profile: str | None = None
    online: bool = True
    power_state: str | None = None
    power_w: float | None = Field(None, validation_alias=AliasChoices("power_w", "power"))
    energy_kwh: float | None = Field(None, validation_alias=AliasChoices("energy_kwh", "energy"))


class ReplayGroup(BaseModel):
    """One interval of a grouped replay: what ``energydash replay --preset ...`` sends."""

    model_config = ConfigDict(extra="ignore")

    timestamp: str | None = None
    dataset: str | None = Field(None, max_length=MAX_DATASET_NAME)
    rows: list[dict[str, Any]]

    def wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {"timestamp": self.timestamp}
        if self.dataset:
            body["dataset"] = self.dataset
        body["rows"] = self.rows
        return body


def dataset_of(payload: Any) -> str | None:
    """The dataset name a grouped payload carries; None when absent or not a short string."""
    if not isinstance(payload, dict):
        return None
    name = payload.get("dataset")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_DATASET_NAME:
        return None
    return name.strip()


def rows_of(payload: Any) -> tuple[list[dict[str, Any]], Any]:
    """(rows, group timestamp) of a payload: one object or ``{"timestamp", "rows": [...]}``."""
    if isinstance(payload, dict) and isinstance(payload.get("rows"), list):
        rows = payload["rows"]
        if not all(isinstance(row, dict) for row in rows):
            raise ValueError("rows: every row must be a JSON object")
        return rows, payload.get("timestamp")
    if isinstance(payload, list):
        if not all(isinstance(row, dict) for row in payload):
            raise ValueError("every row must be a JSON object")
        return payload, None
    if isinstance(payload, dict):
        return [payload], None
    raise ValueError("payload must be a JSON object, a list of objects or {rows: [...]}")
