"""Settings: the one home of every default EnergyDash uses.

Every host, port, credential, rate and size is a field here. Values come from the
environment (prefix ``ENERGYDASH_``), then a ``.env`` file in the working directory,
then the defaults below. ``.env.example`` documents each field; keep the two in step
(``tests/test_config.py`` checks that they are).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Port = Annotated[int, Field(ge=1, le=65535)]
PositiveSeconds = Annotated[float, Field(gt=0)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ENERGYDASH_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    # --- paths and logging -------------------------------------------------------------
    data_dir: Path = Field(Path("data"), description="Datasets, state and generated certs.")
    log_dir: Path = Field(Path("logs"), description="Where each process writes <process>.log.")
    run_dir: Path = Field(Path(".run"), description="PID files of start_all/stop_all.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_max_bytes: int = Field(5_000_000, ge=10_000, description="Rotate a log at this size.")
    log_backups: int = Field(3, ge=0, le=100, description="Rotated log files kept.")

    # --- backend (energydash serve: Redfish, REST, WebSocket) ---------------------------
    host: str = Field("127.0.0.1", description="Backend bind address.")
    port: Port = Field(8000, description="Backend port (Redfish, /api/v1, /ws, /health).")
    shutdown_timeout_s: PositiveSeconds = Field(
        5.0, description="Wait this long for open requests (e.g. SSE streams) at shutdown."
    )
    public_url: str = Field(
        "",
        description="Base URL clients use for the backend; empty means http://{host}:{port}.",
    )

    # --- dashboard (energydash dashboard) ----------------------------------------------
    dashboard_host: str = "127.0.0.1"
    dashboard_port: Port = 8050
    backend_url: str = Field(
        "",
        description="Backend the dashboard reads from; empty means http://{host}:{port}.",
    )
    map_tile_url: str = Field(
        "",
        description="Optional XYZ tile URL for the map; empty uses the shipped state outlines.",
    )
    dashboard_stale_after_s: PositiveSeconds = Field(
        5.0, description="The connection badge says 'stale' after this long without data."
    )
    dashboard_history_points: int = Field(
        900, ge=10, le=100_000, description="Frames per topic the dashboard keeps for charts."
    )
    dashboard_reconnect_max_s: PositiveSeconds = Field(
        5.0, description="Longest wait between the dashboard's reconnects to the backend."
    )
    # dashboard logins (dashauth): the cookie session map of one dashboard process
    dashboard_max_sessions: int = Field(
        1000, ge=1, le=100_000, description="Logins a dashboard keeps; past it the oldest goes."
    )
    dashboard_session_check_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="Check a login's Redfish session with the backend at most this often.",
    )

    # --- simulation: clock -------------------------------------------------------------
    seed: int = Field(42, description="Seed of every random stream; same seed, same numbers.")
    clock_mode: Literal["realtime", "accelerated", "stepped"] = "realtime"
    speed: float = Field(1.0, gt=0, le=100_000, description="Sim seconds per wall second.")
    tick_s: PositiveSeconds = Field(1.0, description="Simulated seconds per tick.")
    state_save_interval_s: PositiveSeconds = Field(30.0, description="Periodic state save.")
    sim_start_time: datetime = Field(
        datetime(2025, 1, 15, tzinfo=UTC),
        description="Sim clock start in stepped mode (realtime and accelerated start at now).",
    )
    site_utc_offset_h: float = Field(
        10.0, ge=-12, le=14, description="Local time of the simulated site (daily load shapes)."
    )
    max_tick_rate_hz: float = Field(
        20.0,
        gt=0,
        le=1000,
        description="Cap on ticks per wall second; faster speeds take larger steps.",
    )

    # --- simulation: PDU fleet ---------------------------------------------------------
    pdu_count: int = Field(4, ge=0, le=10_000)
    pdu_input: Literal["single_phase", "three_phase_wye", "three_phase_delta"] = "three_phase_wye"
    pdu_nominal_voltage_v: float = Field(
        230.0, gt=0, le=480, description="Line-to-neutral (wye/single) or line-to-line (delta)."
    )
    pdu_frequency_hz: Literal[50, 60] = 50
    pdu_mains: int = Field(1, ge=1, le=4, description="Mains circuits (inputs) per PDU.")
    pdu_branches: int = Field(3, ge=1, le=48, description="Branch circuits per PDU.")
    pdu_outlets_per_branch: int = Field(16, ge=1, le=64)
    pdu_branch_rating_a: float = Field(16.0, gt=0, description="Branch breaker rating.")
    pdu_main_rating_a: float = Field(32.0, gt=0, description="Mains input rating per phase.")
    pdu_outlet_rating_a: float = Field(10.0, gt=0, description="Outlet rating (C13: 10 A).")
    pdu_outlet_type: str = Field("IEC_60320_C13", description="Redfish OutletType.")
    pdu_group_size: int = Field(8, ge=0, description="Outlets per default outlet group; 0: none.")
    outlet_power_on_delay_s: float = Field(
        2.0, ge=0, description="Default delay before an outlet switched On gets power."
    )
    power_cycle_delay_s: float = Field(5.0, ge=0, description="Off time of a PowerCycle.")
    faults: str = Field(
        "",
        description=(
            "Faults injected at start, ';'-separated 'kind:target[:param]', e.g. "
            "'sensor_stuck:1/A3;overload:2/B'."
        ),
    )

    # --- simulation: grid and market ---------------------------------------------------
    grid_network: str = "NEM"
    grid_facility_count: int = Field(120, ge=0, le=20_000, description="Generated facilities.")
    grid_dataset: Path | None = Field(
        None, description="Facilities JSON/CSV to load instead of generating them."
    )

    # --- hub and history ---------------------------------------------------------------
    history_length: int = Field(3600, ge=10, le=1_000_000, description="Points kept per series.")
    history_resolution_s: PositiveSeconds = Field(5.0, description="Seconds per history point.")

    # --- stored history (dashboard, issue 15) -----------------------------------------
    history_store: Literal["sqlite", "none"] = Field(
        "sqlite", description="Where every topic's series is stored: <DATA_DIR>/history/ or off."
    )
    history_raw_keep_s: PositiveSeconds = Field(
        6 * 3600.0, description="Keep every message's values this long."
    )
    history_1m_keep_s: PositiveSeconds = Field(
        30 * 86400.0, description="Keep 1-minute means this long."
    )
    history_5m_keep_s: PositiveSeconds = Field(
        365 * 86400.0, description="Keep 5-minute means this long."
    )
    history_30m_keep_s: PositiveSeconds = Field(
        10 * 365 * 86400.0, description="Keep 30-minute means this long."
    )
    history_flush_s: PositiveSeconds = Field(
        1.0, description="Write queued history in one transaction this often."
    )
    history_queue_max: int = Field(
        20_000, ge=100, le=1_000_000, description="Messages queued for writing; oldest go."
    )
    history_query_max_rows: int = Field(
        10_000, ge=10, le=1_000_000, description="Rows one history answer holds at most."
    )

    # --- WebSocket stream --------------------------------------------------------------
    ws_queue_size: int = Field(
        16, ge=1, le=10_000, description="Frames queued per client and subscribed topic."
    )
    ws_ping_interval_s: PositiveSeconds = 15.0
    ws_idle_timeout_s: PositiveSeconds = Field(60.0, description="Close a silent client after.")
    ws_token: SecretStr | None = Field(None, description="Require ?token= on /ws when set.")
    ws_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated Origins allowed on /ws besides loopback ones.",
    )

    # --- Redfish -----------------------------------------------------------------------
    redfish_user: str = Field("admin", min_length=1, description="First Administrator account.")
    redfish_password: SecretStr = Field(
        SecretStr("energydash"), description="Mock password of the first Administrator."
    )
    redfish_operator_user: str = Field("", description="Seed an Operator account when set.")
    redfish_operator_password: SecretStr = SecretStr("")
    redfish_readonly_user: str = Field("", description="Seed a ReadOnly account when set.")
    redfish_readonly_password: SecretStr = SecretStr("")
    redfish_session_timeout_s: int = Field(1800, ge=30, le=86_400)
    redfish_lockout_threshold: int = Field(5, ge=0, description="Failed logins before lockout.")
    redfish_lockout_duration_s: int = Field(60, ge=0)
    redfish_tls: bool = Field(False, description="Serve HTTPS with a self-signed certificate.")
    redfish_event_retry_attempts: int = Field(3, ge=0, le=100)
    redfish_event_retry_interval_s: int = Field(5, ge=1, le=3600)

    # --- MQTT --------------------------------------------------------------------------
    mqtt_host: str = "127.0.0.1"
    mqtt_port: Port = 1883
    mqtt_username: str = ""
    mqtt_password: SecretStr = SecretStr("")
    mqtt_tls: bool = False
    mqtt_client_id: str = Field("energydash", description="Client id prefix; a suffix is added.")
    mqtt_qos: Literal[0, 1, 2] = 1
    mqtt_keepalive_s: int = Field(30, ge=5, le=3600)
    mqtt_max_inflight: int = Field(100, ge=1, le=65535)
    mqtt_publish: bool = Field(True, description="Publish PDU and device telemetry.")
    mqtt_ingest: bool = Field(True, description="Subscribe to replay and device topics.")
    mqtt_pdu_root: str = "energydash/pdu"
    mqtt_device_root: str = "energy/devices"
    mqtt_facility_root: str = "energydash/facilities"
    mqtt_market_root: str = "energydash/market"
    mqtt_share_group: str = Field(
        "", description="Shared-subscription group ($share/<group>/...) for several backends."
    )
    mqtt_ingest_flush_s: PositiveSeconds = Field(
        0.5, description="Ingested rows are merged and sent to the hub at most this often."
    )
    broker_dir: Path = Field(Path("data/broker"), description="Broker config and persistence.")

    # --- data tools --------------------------------------------------------------------
    openelectricity_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices(
            "OPENELECTRICITY_API_KEY", "ENERGYDASH_OPENELECTRICITY_API_KEY"
        ),
        description="OpenElectricity API key, read from OPENELECTRICITY_API_KEY only.",
    )
    openelectricity_base_url: str = "https://api.openelectricity.org.au/v4/"
    acquire_timeout_s: PositiveSeconds = 30.0
    acquire_retries: int = Field(4, ge=0, le=20)
    acquire_backoff_s: PositiveSeconds = Field(
        1.0, description="First wait before an acquire retry; doubles on each further retry."
    )
    replay_queue_size: int = Field(
        10_000, ge=1, le=1_000_000, description="Messages replay queues beyond the in-flight ones."
    )

    @field_validator("ws_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("host", "dashboard_host", "mqtt_host")
    @classmethod
    def _host_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    # --- derived values ----------------------------------------------------------------
    @property
    def backend_base_url(self) -> str:
        """The URL the dashboard and tools use to reach the backend."""
        if self.backend_url:
            return self.backend_url.rstrip("/")
        scheme = "https" if self.redfish_tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def state_dir(self) -> Path:
        return self.data_dir / "state"


class SettingsError(Exception):
    """Settings that cannot be used; the message names every offending setting."""


def env_name(field: str) -> str:
    """The environment variable of a Settings field (the API key keeps the SDK's own name)."""
    if field == "openelectricity_api_key":
        return "OPENELECTRICITY_API_KEY"
    return f"ENERGYDASH_{field.upper()}"


def describe_validation_error(error: ValidationError) -> str:
    """Turn pydantic's error into lines that name the environment variable at fault."""
    lines = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "?"
        value = item.get("input")
        shown = "" if isinstance(value, dict) or value is None else f" (got {value!r})"
        lines.append(f"invalid setting {env_name(field)}{shown}: {item['msg']}")
    return "\n".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning validation errors into a SettingsError naming the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, loaded once (tests build their own with load_settings)."""
    return load_settings()
