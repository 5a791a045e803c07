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

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Port = Annotated[int, Field(ge=1, le=65535)]
PositiveSeconds = Annotated[float, Field(gt=0)]
# Redfish device profiles (``energydash.redfish.profiles``): the tree shapes a PDU can have
PDU_PROFILES = ("dmtf", "schneider-mock", "raritan-px3", "enlogic")


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
    # dashboard first load and browser cost
    dashboard_static_cache_mb: int = Field(
        16,
        ge=0,
        le=1024,
        description="MB of gzip-compressed static files the dashboard keeps in memory (0: off).",
    )
    dashboard_table_refresh_s: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="Redraw a live table (Market top facilities) at most this often (seconds).",
    )

    # --- simulation: clock -------------------------------------------------------------
    seed: int = Field(42, description="Seed of every random stream; same seed, same numbers.")
    clock_mode: Literal["realtime", "accelerated", "stepped"] = "realtime"
    speed: float = Field(1.0, ge=0.1, le=100_000, description="Sim seconds per wall second.")
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
    # grid facilities from a user's OpenElectricity dataset (map, issue 15)
    grid_facilities: Path | None = Field(
        None,
        description="OpenElectricity facilities to simulate instead of generated ones: a "
        "/facilities JSON response (acquire) or convert's facilities.csv/.parquet, or its folder.",
    )
    grid_facilities_max: int = Field(
        20_000, ge=1, le=200_000, description="Facilities a GRID_FACILITIES dataset may hold."
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

    # --- anomaly scores in stored history ------------------------
    history_scores_max_series: int = Field(
        1_000,
        ge=0,
        le=2_000,
        description="analytics/scores series stored in history (first N as published; 0: none).",
    )

    # --- PDU events on the dashboard's charts ------------------
    pdu_events_kept: int = Field(
        200, ge=1, le=10_000, description="Recent switch/breaker events kept per PDU for charts."
    )

    # --- WebSocket stream --------------------------------------------------------------
    ws_queue_size: int = Field(
        16, ge=1, le=10_000, description="Frames queued per client and subscribed topic."
    )
    ws_ping_interval_s: PositiveSeconds = 15.0
    ws_idle_timeout_s: PositiveSeconds = Field(60.0, description="Close a silent client after.")
    ws_token: SecretStr | None = Field(
        None, description="Deprecated: the old /ws token; now taken as ENERGYDASH_READ_TOKEN."
    )
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
    redfish_lockout_duration_s: int = Field(
        60, ge=0, le=3600, description="Seconds an account stays locked (at most 3600)."
    )
    redfish_tls: bool = Field(False, description="Deprecated alias of ENERGYDASH_TLS.")
    redfish_event_retry_attempts: int = Field(3, ge=0, le=100)
    redfish_event_retry_interval_s: int = Field(5, ge=1, le=3600)
    # --- Redfish: OCP Rack PDU profile (issue 12, redfish) ------------------------------
    pdu_power_restore_policy: Literal["AlwaysOn", "AlwaysOff", "LastState"] = Field(
        "LastState", description="Outlet PowerRestorePolicy after a PDU power loss."
    )
    redfish_card_reboot_s: float = Field(
        5.0, ge=0.1, le=300, description="Management card reboot (Redfish 503) after Reset."
    )
    redfish_update_install_s: float = Field(
        3.0, ge=0.1, le=600, description="Simulated firmware install time of SimpleUpdate."
    )
    redfish_http_redirect_port: int = Field(
        0, ge=0, le=65535, description="With TLS on: plain HTTP port redirecting to HTTPS (0: off)."
    )
    scenario_file: str = Field(
        "", description="Scenario (YAML/JSON) of faults and actions to run at start."
    )
    redfish_port_base: int = Field(
        0, ge=0, le=65535, description="PDU k also answers on 127.0.0.1:(base+k-1) (0: off)."
    )
    redfish_page_size: int = Field(
        1000, ge=1, le=100_000, description="Collection members per page (Members@odata.nextLink)."
    )
    redfish_update_max_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, le=1 << 30, description="Largest firmware image downloaded."
    )

    # --- Redfish: device profiles ----------------------------------
    pdu_profiles: str = Field(
        "dmtf",
        description="Redfish tree shape per PDU, comma-separated and cycled over the fleet: "
        "dmtf, schneider-mock, raritan-px3, enlogic.",
    )

    # --- identity and access (auth): every face, persistence, hardening, audit, TLS -----
    read_token: SecretStr | None = Field(
        None,
        description="Service read token (ReadOnly: REST GETs, /ws); empty: generated into "
        "<DATA_DIR>/secrets/read_token.",
    )
    tls: bool = Field(
        False, description="Serve REST, /ws and Redfish over HTTPS with the generated certificate."
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated Host names served besides loopback, the bind address and "
        "PUBLIC_URL's host; '*' serves any.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated Origins given CORS headers; none: no CORS.",
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, le=1_073_741_824, description="Largest request body (413 beyond)."
    )
    metrics_public: bool = Field(False, description="Serve /metrics without a credential.")
    ws_auth_timeout_s: float = Field(
        5.0, gt=0, le=60, description="Time a /ws client has to send its auth frame."
    )
    auth_admin_loopback_unlock: bool = Field(
        True,
        description="The last Administrator may still log in from loopback while locked out.",
    )
    audit_recent: int = Field(
        100, ge=1, le=10_000, description="Audit records kept for GET /api/v1/audit and the hub."
    )
    audit_anonymous_window_s: float = Field(
        60.0,
        ge=1,
        le=3600,
        description="Anonymous refusals and failed logins: one summary log entry per window.",
    )

    # --- MQTT --------------------------------------------------------------------------
    mqtt_host: str = "127.0.0.1"
    mqtt_port: Port = 1883
    mqtt_username: str = Field("backend", description="The backend's MQTT identity.")
    mqtt_password: SecretStr = Field(
        SecretStr(""), description="Empty: generated into <DATA_DIR>/secrets/mqtt-backend."
    )
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

    # --- MQTT identities, command senders and broker bounds (mqttauth) ------------------
    mqtt_replay_username: str = Field("replay", description="Identity of replay and record.")
    mqtt_replay_password: SecretStr = Field(
        SecretStr(""), description="Empty: generated into <DATA_DIR>/secrets/mqtt-replay."
    )
    mqtt_commander_username: str = Field(
        "commander", description="The operator's MQTT identity, the one allowed to command."
    )
    mqtt_commander_password: SecretStr = Field(
        SecretStr(""), description="Empty: generated into <DATA_DIR>/secrets/mqtt-commander."
    )
    mqtt_command_auth: Literal["token", "broker"] = Field(
        "token",
        description="token: a command must carry auth.token, a Redfish session token with "
        "ConfigureComponents; broker: trust the broker's ACL (energydash broker's own).",
    )
    mqtt_max_device_identities: int = Field(
        10_000, ge=1, le=1_000_000, description="Device identities `broker add-device` keeps."
    )
    broker_max_queued_messages: int = Field(
        10_000,
        ge=0,
        le=10_000_000,
        description="QoS 1/2 messages the broker queues per client beyond in-flight; 0: no bound.",
    )
    broker_max_queued_bytes: int = Field(
        64 * 1024 * 1024,
        ge=0,
        le=2**40,
        description="Bytes the broker queues per client beyond in-flight; 0: no bound.",
    )
    broker_persistent_client_expiration: str = Field(
        "1h",
        pattern=r"^[1-9][0-9]{0,5}[hdwmy]$",
        description="Drop a persistent session unused this long (mosquitto: <n>h|d|w|m|y).",
    )

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
    # data tools: replay connections / MQTT 5 and record (issue 16)
    replay_connections: int = Field(
        1, ge=1, le=64, description="Publisher connections of replay; rows sharded by facility."
    )
    replay_message_expiry_s: int = Field(
        0, ge=0, le=86_400 * 30, description="MQTT 5 message expiry of replayed messages; 0: none."
    )
    tools_mqtt_version: Literal["3.1.1", "5"] = Field(
        "3.1.1", description="MQTT protocol of replay and record (3.1.1 or 5)."
    )
    record_max_rows: int = Field(
        10_000_000, ge=1, description="record stops after this many rows (a bound on its input)."
    )

    # --- sites: homes and buildings behind a grid meter (issue 13) ---------------------
    sites_enabled: bool = Field(True, description="Simulate sites (production, loads, storage).")
    sites_demo: bool = Field(
        True, description="Seed a demo home per account and Building A when no site is saved."
    )
    site_default_region: Literal["NSW1", "QLD1", "VIC1", "SA1", "TAS1"] = Field(
        "NSW1", description="NEM region of new sites and of PDUs not assigned to a site."
    )
    site_feed_in_tariff_aud_per_kwh: float = Field(
        0.05, ge=0, le=10, description="What exported energy earns (AUD per kWh)."
    )
    site_tou_charge_below_aud_per_mwh: float = Field(
        60.0, description="Time-of-use storage charges while the regional price is below this."
    )
    site_tou_discharge_above_aud_per_mwh: float = Field(
        150.0, description="Time-of-use storage discharges while the regional price is above this."
    )
    site_max_sites: int = Field(
        200,
        ge=1,
        le=100_000,
        description="Bound on sites (their topics cost ~0.2 ms each per tick to publish).",
    )
    site_max_devices_per_site: int = Field(
        100, ge=1, le=10_000, description="Devices one site may hold."
    )
    graphql_max_depth: int = Field(8, ge=2, le=50, description="Deepest GraphQL selection.")
    graphql_max_cost: int = Field(
        500, ge=10, le=100_000, description="GraphQL query cost: fields, x10 inside lists."
    )

    # --- robustness: crash-safe state, bounds, stalls (issue 11) -----------------------
    state_save_after_change_s: PositiveSeconds = Field(
        1.0, description="Save the state file this soon after a command changed something."
    )
    health_max_lag_s: PositiveSeconds = Field(
        5.0, description="/health is degraded when the engine is this far behind its clock."
    )
    command_refresh_s: float = Field(
        0.02,
        ge=0,
        le=1.0,
        description="Topics a command changed are republished within this; 0: at once.",
    )
    snapshot_budget_fraction: float = Field(
        0.5,
        gt=0,
        le=1.0,
        description="Share of a tick interval topic building may take; device topics wait.",
    )
    mqtt_max_payload_bytes: int = Field(
        1_048_576,
        ge=1024,
        le=268_435_455,
        description="Larger MQTT messages are counted as oversized and dropped before parsing.",
    )
    ingest_max_devices: int = Field(
        1000, ge=1, le=1_000_000, description="Devices ingest keeps; the least recent goes first."
    )
    ingest_device_ttl_s: PositiveSeconds = Field(
        900.0, description="An ingested device silent this long is forgotten (topic, history)."
    )
    ingest_max_facilities: int = Field(
        20_000, ge=1, le=1_000_000, description="Facility codes ingest accepts; more are refused."
    )
    ingest_max_market_regions: int = Field(
        256, ge=1, le=100_000, description="Market (network, region) pairs ingest accepts."
    )

    # --- Replay takeover of the grid topics -------------------------------------
    replay_timeout_s: float = Field(
        15.0,
        ge=1.0,
        le=86_400.0,
        description="A replay silent this long (wall s) hands the grid topics back to the sim.",
    )
    mqtt_outbound_queue_limit: int = Field(
        2000,
        ge=10,
        le=10_000_000,
        description="Telemetry is dropped (newest sent on reconnect) above this MQTT backlog.",
    )
    mqtt_inbox_limit: int = Field(
        50_000,
        ge=100,
        le=10_000_000,
        description="Received MQTT messages waiting for the event loop; more are dropped.",
    )
    ws_max_patterns: int = Field(
        256, ge=1, le=100_000, description="Subscription patterns one WebSocket client may hold."
    )

    # --- analytics: equipment sensors, detection, alerts (issue 14) --------------------
    analytics: bool = Field(True, description="Run analytics (alerts, scores) in the backend.")
    equipment_hvac_units: int = Field(24, ge=0, le=10_000, description="HVAC compressors.")
    equipment_motor_units: int = Field(40, ge=0, le=10_000, description="Production motors.")
    equipment_pump_units: int = Field(30, ge=0, le=10_000, description="Pumps.")
    analytics_max_alerts: int = Field(
        10_000,
        ge=10,
        le=1_000_000,
        description="Alerts kept in memory, resolved ones dropped first.",
    )
    analytics_stale_after_s: PositiveSeconds = Field(
        30.0, description="A PDU feed silent this long (data time) raises a stale_feed alert."
    )
    analytics_publish_interval_s: PositiveSeconds = Field(
        10.0, description="Data seconds between analytics/scores and analytics/risk publishes."
    )
    analytics_timeline_points: int = Field(
        720, ge=10, le=100_000, description="Score points kept per series for timelines."
    )
    analytics_resolve_hold_s: float = Field(
        120.0, ge=0, le=86_400, description="A score alert resolves after this long without it."
    )
    analytics_risk_alert_probability: float = Field(
        0.5, gt=0, le=1, description="Failure probability that raises a failure_risk alert."
    )
    analytics_idle_outlet_w: float = Field(
        5.0, ge=0, le=1000, description="An outlet On below this draw is idle (suggestions)."
    )
    analytics_failure_cost_aud: float = Field(
        2000.0, ge=0, description="Cost of an unplanned equipment failure (maintenance saving)."
    )
    analytics_share_group: str = Field(
        "", description="energydash analytics: $share group so several workers split the messages."
    )
    mqtt_alerts_topic: str = Field("energydash/alerts", description="MQTT topic of AlertsData.")
    mqtt_equipment_topic: str = Field(
        "energydash/equipment/telemetry", description="MQTT topic of the equipment sensors."
    )

    @field_validator("ws_allowed_origins", "allowed_hosts", "cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("pdu_profiles")
    @classmethod
    def _known_profiles(cls, value: str) -> str:
        names = [part.strip() for part in value.split(",") if part.strip()]
        if not names:
            raise ValueError(f"name at least one profile of {', '.join(PDU_PROFILES)}")
        if len(names) > 10_000:
            raise ValueError("at most 10000 entries (one per PDU)")
        for name in names:
            if name not in PDU_PROFILES:
                raise ValueError(f"unknown profile {name!r}; known: {', '.join(PDU_PROFILES)}")
        return ",".join(names)

    @field_validator("host", "dashboard_host", "mqtt_host")
    @classmethod
    def _host_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @model_validator(mode="after")
    def _deprecated_aliases(self) -> Settings:
        # REDFISH_TLS and WS_TOKEN keep working: each feeds the setting that replaced it
        if self.redfish_tls and not self.tls:
            self.tls = True
        self.redfish_tls = self.tls
        if self.read_token is None and self.ws_token is not None:
            self.read_token = self.ws_token
        return self

    # --- derived values ----------------------------------------------------------------
    @property
    def backend_base_url(self) -> str:
        """The URL the dashboard and tools use to reach the backend."""
        if self.backend_url:
            return self.backend_url.rstrip("/")
        scheme = "https" if self.tls else "http"
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
