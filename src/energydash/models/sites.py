"""Sites and site devices on every face: hub topics, REST bodies, the IoT-mock shapes, MQTT.

Sign convention (one, everywhere): ``net_grid_flow_w = consumption_w - production_w +
storage_flow_w``; ``storage_flow_w`` is positive while charging; a positive net flow imports.

The IoT-mock shapes (``Iot*``) keep that service's names and units so its clients work
unchanged: ``power`` kW, ``energy`` kWh, ``voltage`` V, ``current`` A, camelCase device info.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from energydash.models.devices import CommandAuth

Region = Literal["NSW1", "QLD1", "VIC1", "SA1", "TAS1"]
Kind = Literal["pv", "generator", "load", "pdu", "ev_charger", "battery", "ev"]
Mode = Literal["self_consumption", "time_of_use", "manual"]


# ---------------------------------------------------------------------- hub topics
class SiteStorage(BaseModel):
    total_capacity_wh: float
    current_level_wh: float
    percentage: float = Field(
        description="current_level_wh / total_capacity_wh x 100; 0 without storage"
    )


class SiteEnergy(BaseModel):
    """Energy and money of a period (today in the region's local time, or lifetime)."""

    produced_kwh: float
    consumed_kwh: float
    imported_kwh: float
    exported_kwh: float
    charged_kwh: float
    discharged_kwh: float
    self_consumption_pct: float | None = Field(
        description="Share of produced energy used on site: (produced - exported) / produced"
    )
    import_cost_aud: float = Field(description="Σ imported kWh x the regional 5-minute price")
    export_revenue_aud: float = Field(description="Σ exported kWh x the feed-in tariff")
    net_cost_aud: float = Field(description="import_cost_aud - export_revenue_aud")
    carbon_kg: float = Field(description="Σ imported kWh x the regional emissions intensity")


class SiteStats(BaseModel):
    """Topic ``site/{id}``: the site's meter, storage, price and energy of today and lifetime."""

    site_id: str
    name: str
    owner: str
    region: Region
    timestamp: str
    production_w: float
    consumption_w: float
    storage: SiteStorage
    storage_flow_w: float = Field(description="Positive while charging")
    net_grid_flow_w: float = Field(description="consumption - production + storage flow; + imports")
    curtailed_w: float = Field(description="PV held back by the connection's export limit")
    over_import_limit: bool
    price_aud_per_mwh: float
    emissions_kg_per_kwh: float
    cost_rate_aud_per_h: float = Field(description="Live: import x price - export x feed-in")
    carbon_rate_kg_per_h: float
    local_date: str
    today: SiteEnergy
    lifetime: SiteEnergy


class SiteDeviceView(BaseModel):
    """One site device: identity, live readings and its settable values."""

    device_id: str
    site_id: str
    name: str
    kind: Kind
    role: Literal["production", "consumption", "storage"]
    label: str
    location: str
    enabled: bool
    online: bool
    power_w: float = Field(description="Production and consumption positive; storage + charging")
    voltage_v: float
    current_a: float
    power_factor: float
    phases: int
    energy_kwh: float = Field(description="Lifetime energy through the device (monotonic)")
    level_wh: float | None = None
    capacity_wh: float | None = None
    percentage: float | None = None
    settings: dict[str, Any] = Field(description="The device's settable fields and values")


class SiteDevicesData(BaseModel):
    """Topic ``site/{id}/devices``."""

    site_id: str
    timestamp: str
    devices: list[SiteDeviceView]


class SiteView(BaseModel):
    """A site as REST lists it."""

    site_id: str
    name: str
    owner: str
    region: Region
    lat: float
    lng: float
    import_limit_w: float
    export_limit_w: float
    created_at: str
    device_count: int
    stats: SiteStats


class OutletCostColumns(BaseModel):
    id: list[str]
    energy_kwh: list[float]
    cost_aud: list[float]
    carbon_kg: list[float]


class PduCostData(BaseModel):
    """Topic ``cost/pdu/{id}``: each outlet's lifetime energy priced by its site's region."""

    pdu_id: str
    site_id: str | None
    region: Region
    price_aud_per_mwh: float
    emissions_kg_per_kwh: float
    energy_kwh: float
    cost_aud: float
    carbon_kg: float
    outlets: OutletCostColumns


# ---------------------------------------------------------------------- REST bodies
class SiteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    region: Region | None = None
    lat: float | None = Field(None, ge=-90, le=90)
    lng: float | None = Field(None, ge=-180, le=180)
    import_limit_w: float | None = Field(None, ge=0, le=100e6)
    export_limit_w: float | None = Field(None, ge=0, le=100e6)
    owner: str | None = Field(None, description="Account id of the owner (Administrators only)")


class SiteUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=80)
    region: Region | None = None
    lat: float | None = Field(None, ge=-90, le=90)
    lng: float | None = Field(None, ge=-180, le=180)
    import_limit_w: float | None = Field(None, ge=0, le=100e6)
    export_limit_w: float | None = Field(None, ge=0, le=100e6)
    owner: str | None = Field(None, description="Account id of the new owner (Administrators only)")


class SiteDeviceFields(BaseModel):
    """The settable device fields; which ones a kind takes is checked by the simulation (422)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=80)
    location: str | None = Field(None, max_length=80)
    label: str | None = Field(None, max_length=80)
    voltage_v: float | None = None
    phases: int | None = None
    enabled: bool | None = None
    online: bool | None = None
    rated_w: float | None = None
    profile: str | None = None
    power_factor: float | None = None
    pdu_id: str | None = Field(None, max_length=64)
    session_kwh: float | None = None
    plug_in_h: float | None = None
    capacity_wh: float | None = None
    level_wh: float | None = None
    max_charge_w: float | None = None
    max_discharge_w: float | None = None
    efficiency: float | None = None
    mode: Mode | None = None
    setpoint_w: float | None = None
    fuel_l: float | None = None
    fuel_l_per_kwh: float | None = None
    startup_s: float | None = None


class SiteDeviceCreate(SiteDeviceFields):
    kind: Kind


class SiteDeviceUpdate(SiteDeviceFields):
    pass


# ---------------------------------------------------------------------- IoT-mock shapes
class IotDeviceData(BaseModel):
    """MQTT ``energy/devices/{id}/data`` and ``GET /api/v1/devices/{id}/readings`` data."""

    device_id: str
    timestamp: str
    power: float = Field(description="kW; storage: positive while charging")
    voltage: float = Field(description="V (line-to-line for three-phase devices)")
    current: float = Field(description="A per phase")
    energy: float = Field(description="kWh, lifetime, monotonic")
    status: Literal["online", "offline"]
    enabled: bool


class IotDeviceStatus(BaseModel):
    """Retained MQTT ``energy/devices/{id}/status``."""

    device_id: str
    status: Literal["online", "offline"]
    online: bool
    enabled: bool
    site_id: str
    ts: str
    last_command: dict[str, Any] | None = None


class IotDeviceInfo(BaseModel):
    """A site device in the IoT-mock service's device-info shape."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    name: str
    type: str
    location: str
    status: Literal["online", "offline"]
    enabled: bool
    last_seen: str = Field(alias="lastSeen")
    created_at: str = Field(alias="createdAt")
    firmware: str
    model: str
    serial_number: str = Field(alias="serialNumber")
    current_readings: IotDeviceData = Field(alias="currentReadings")
    base_power: float = Field(alias="basePower", description="kW")
    base_voltage: float = Field(alias="baseVoltage", description="V")
    site_id: str = Field(alias="siteId")
    kind: Kind


class IotEnvelope(BaseModel):
    """Every IoT-mock response: ``{"success", "data", "message", "errors"}``."""

    success: bool = True
    data: Any = None
    message: str = "Success"
    errors: list[str] | None = None


class IotDeviceCreate(BaseModel):
    """``POST /api/v1/devices`` in the IoT-mock shape (it has ``device_type``)."""

    model_config = ConfigDict(extra="forbid")

    device_type: str = Field(
        min_length=1,
        max_length=40,
        description="hvac, lighting, server, industrial, kitchen (building loads) or a site "
        "device kind: pv, generator, ev_charger",
    )
    name: str = Field(min_length=1, max_length=80)
    location: str = Field("", max_length=80)
    base_power: float = Field(10.0, ge=0.1, le=1000.0, description="kW")
    base_voltage: float = Field(400.0, ge=100.0, le=600.0, description="V")
    site_id: str | None = Field(None, description="Default: the caller's first site")


class IotDeviceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=80)
    location: str | None = Field(None, max_length=80)
    base_power: float | None = Field(None, ge=0.1, le=1000.0, description="kW")
    base_voltage: float | None = Field(None, ge=100.0, le=600.0, description="V")
    enabled: bool | None = None
    online: bool | None = None


class IotDeviceCommand(BaseModel):
    """``POST /api/v1/devices/{id}/command`` and MQTT ``energy/devices/{id}/commands``.

    The IoT-mock form carries ``parameters`` (``{"power": kW}``, ``{"enabled": bool}``,
    ``{"online": bool}``); the outlet form carries ``value``. Storage and generators also take
    ``set_setpoint`` (W; a generator's dispatch, a manual battery's flow) and ``set_mode``.
    """

    model_config = ConfigDict(extra="forbid")

    command: Literal["set_power", "set_enabled", "set_online", "set_setpoint", "set_mode"]
    parameters: dict[str, Any] | None = None
    value: Any = None
    request_id: str | None = Field(None, max_length=100)
    # MQTT only: the sender's credential, checked as for outlet commands (mqtt.senders)
    auth: CommandAuth | None = None


class IotSimulationStatus(BaseModel):
    is_running: bool
    total_devices: int
    online_devices: int
    enabled_devices: int
    mqtt_connected: bool
    simulation_interval: str
