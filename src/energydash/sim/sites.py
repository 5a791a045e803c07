"""Sites: production, consumption and storage behind one grid meter, vectorised over every site.

A site (a home, a building) sits in a NEM region at a lat/lng, has a grid connection with import
and export limits, and holds devices of three roles:

- production: ``pv`` (the grid's solar model at the site: ``rated * 0.9 * sin(elevation)^1.2 *
  cloud``, exactly 0 with the sun below the horizon; one AR(1) cloud factor per site, τ = 2 h) and
  ``generator`` (dispatchable by ``setpoint_w``, produces only after ``startup_s`` of start-up,
  burns ``fuel_l_per_kwh`` and stops when the tank is empty);
- consumption: ``load`` (a documented profile of ``sim.profiles`` at building scale, or
  ``constant``), ``pdu`` (a PDU of the fleet: its mains energy counts) and ``ev_charger`` (one
  charging session a day from ``plug_in_h`` local time until ``session_kwh`` is delivered);
- storage: ``battery`` and ``ev`` with capacity, level, max charge/discharge, round-trip
  efficiency (charged on the way in, as the grid's batteries) and a control mode:
  ``self_consumption`` (soak up surplus, cover deficit), ``time_of_use`` (charge below, discharge
  above the regional price thresholds) or ``manual`` (``setpoint_w``). The level stays in
  [0, capacity].

The meter's one sign convention: ``net_grid_flow_w = consumption_w - production_w +
storage_flow_w``, where ``storage_flow_w`` is positive while charging; positive means importing.
Export beyond the connection's export limit curtails PV first. Import and export energy are
separate monotonic counters; every counter integrates power over sim time (``P * dt``), so over
any window ``produced + imported + discharged == consumed + exported + charged``.

Cost and carbon: imported kWh x the region's live 5-minute price, exported kWh x the feed-in
tariff, imported kWh x the region's emissions intensity, both lifetime and per local day (the
region's time). The same price and intensity give every PDU outlet's energy a cost and carbon.

Every number lives in numpy columns; a tick loops over device kinds, regions and profiles,
never over devices. Changes come in as commands through ``Engine.execute``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from energydash.sim.commands import CommandError, CommandResult, parse_flag
from energydash.sim.grid import NETWORK_REGIONS, REGION_UTC_OFFSET_H, _solar_sin_elevation
from energydash.sim.profiles import PROFILES, SPECS, ProfileState, demand_fraction

if TYPE_CHECKING:
    from energydash.config import Settings
    from energydash.sim.grid import Grid
    from energydash.sim.pdu import Fleet

KINDS: tuple[str, ...] = ("pv", "generator", "load", "pdu", "ev_charger", "battery", "ev")
ROLE: dict[str, str] = {
    "pv": "production",
    "generator": "production",
    "load": "consumption",
    "pdu": "consumption",
    "ev_charger": "consumption",
    "battery": "storage",
    "ev": "storage",
}
KIND_CODE = {k: i for i, k in enumerate(KINDS)}
PV, GEN, LOAD, PDU, EVC, BAT, EV = range(len(KINDS))
STORAGE_CODES = (BAT, EV)
PRODUCTION_CODES = (PV, GEN)
CONSUMPTION_CODES = (LOAD, PDU, EVC)
MODES: tuple[str, ...] = ("self_consumption", "time_of_use", "manual")
LOAD_PROFILES: tuple[str, ...] = (*(p for p in PROFILES if p != "empty"), "constant")
CONSTANT = len(PROFILES)  # profile code of a flat load (not one of sim.profiles)
REGION_OFFSET_H = np.array([REGION_UTC_OFFSET_H[r] for r in NETWORK_REGIONS])
SQRT3 = math.sqrt(3.0)
CLOUD_TAU_S = 7200.0
MARKET_OVERRIDE_S = 30.0  # as the hub's ingest precedence: a replay that stops hands back
MAX_POWER_W = 100e6
MAX_ENERGY_WH = 1e10

# what a spec may carry per kind (besides the common fields); the first group is required
COMMON = {"name", "location", "voltage_v", "phases", "enabled", "online", "label"}
KIND_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "pv": ({"rated_w"}, set()),
    "generator": ({"rated_w"}, {"fuel_l", "fuel_l_per_kwh", "startup_s", "setpoint_w"}),
    "load": ({"rated_w"}, {"profile", "power_factor"}),
    "pdu": ({"pdu_id"}, set()),
    "ev_charger": ({"rated_w"}, {"session_kwh", "plug_in_h"}),
    "battery": (
        {"capacity_wh", "max_charge_w"},
        {"level_wh", "max_discharge_w", "efficiency", "mode", "setpoint_w"},
    ),
}
KIND_FIELDS["ev"] = KIND_FIELDS["battery"]
SPEC_FIELDS = {k: sorted(req | opt | COMMON) for k, (req, opt) in KIND_FIELDS.items()}

DEVICE_FLOATS = (
    "rated_w",
    "power_factor",
    "voltage_v",
    "capacity_wh",
    "level_wh",
    "max_charge_w",
    "max_discharge_w",
    "efficiency",
    "setpoint_w",
    "fuel_l",
    "fuel_l_per_kwh",
    "startup_s",
    "start_left_s",
    "session_kwh",
    "session_left_kwh",
    "plug_in_h",
    "power_w",
    "current_a",
    "energy_kwh",
)
DEVICE_INTS = ("kind", "site", "profile", "mode", "phases", "session_day")
DEVICE_BOOLS = ("enabled", "online")
DEVICE_STRS = ("device_id", "name", "location", "label", "pdu_id", "created_at")
SITE_COUNTERS = (
    "imported_kwh",
    "exported_kwh",
    "produced_kwh",
    "consumed_kwh",
    "charged_kwh",
    "discharged_kwh",
    "import_cost_aud",
    "export_revenue_aud",
    "carbon_kg",
)
SITE_FLOATS = (
    "lat",
    "lng",
    "import_limit_w",
    "export_limit_w",
    "cloud",
    *SITE_COUNTERS,
    *(f"day_{c}" for c in SITE_COUNTERS),
    "production_w",
    "consumption_w",
    "storage_flow_w",
    "net_grid_flow_w",
    "curtailed_w",
    "price_aud_per_mwh",
    "emissions_kg_per_kwh",
)
SITE_INTS = ("region", "day_key")
SITE_STRS = ("site_id", "name", "owner", "created_at")

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------- commands
@dataclass(frozen=True, slots=True)
class SiteSpec:
    """A site's settable fields; None leaves a field as it is (on update) or at its default."""

    name: str | None = None
    region: str | None = None
    lat: float | None = None
    lng: float | None = None
    import_limit_w: float | None = None
    export_limit_w: float | None = None


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """A device's settable fields. Which ones a kind takes is ``KIND_FIELDS``."""

    kind: str | None = None
    name: str | None = None
    location: str | None = None
    label: str | None = None
    voltage_v: float | None = None
    phases: int | None = None
    enabled: bool | None = None
    online: bool | None = None
    rated_w: float | None = None
    profile: str | None = None
    power_factor: float | None = None
    pdu_id: str | None = None
    session_kwh: float | None = None
    plug_in_h: float | None = None
    capacity_wh: float | None = None
    level_wh: float | None = None
    max_charge_w: float | None = None
    max_discharge_w: float | None = None
    efficiency: float | None = None
    mode: str | None = None
    setpoint_w: float | None = None
    fuel_l: float | None = None
    fuel_l_per_kwh: float | None = None
    startup_s: float | None = None

    def given(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


@dataclass(frozen=True, slots=True)
class CreateSite:
    owner: str
    spec: SiteSpec


@dataclass(frozen=True, slots=True)
class UpdateSite:
    site_id: str
    spec: SiteSpec
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteSite:
    site_id: str


@dataclass(frozen=True, slots=True)
class AddSiteDevice:
    site_id: str
    spec: DeviceSpec


@dataclass(frozen=True, slots=True)
class UpdateSiteDevice:
    device_id: str
    spec: DeviceSpec


@dataclass(frozen=True, slots=True)
class RemoveSiteDevice:
    device_id: str


SiteCommand = (
    CreateSite | UpdateSite | DeleteSite | AddSiteDevice | UpdateSiteDevice | RemoveSiteDevice
)
SITE_COMMANDS = (
    CreateSite,
    UpdateSite,
    DeleteSite,
    AddSiteDevice,
    UpdateSiteDevice,
    RemoveSiteDevice,
)


# ---------------------------------------------------------------------- validation
def _bounded(name: str, value: float, lo: float, hi: float, *, open_lo: bool = False) -> float:
    v = float(value)
    if not math.isfinite(v) or v > hi or v < lo or (open_lo and v <= lo):
        low = f"> {lo:g}" if open_lo else f">= {lo:g}"
        raise CommandError(f"{name}: must be {low} and <= {hi:g}, got {value!r}", name)
    return v


def check_site_spec(spec: SiteSpec, *, creating: bool) -> None:
    if creating and not spec.name:
        raise CommandError("name: a site needs a name", "name")
    if spec.name is not None and not 0 < len(spec.name.strip()) <= 80:
        raise CommandError("name: 1 to 80 characters", "name")
    if spec.region is not None and spec.region not in NETWORK_REGIONS:
        raise CommandError(
            f"region: one of {', '.join(NETWORK_REGIONS)}, got {spec.region!r}", "region"
        )
    if spec.lat is not None:
        _bounded("lat", spec.lat, -90, 90)
    if spec.lng is not None:
        _bounded("lng", spec.lng, -180, 180)
    if spec.import_limit_w is not None:
        _bounded("import_limit_w", spec.import_limit_w, 0, MAX_POWER_W)
    if spec.export_limit_w is not None:
        _bounded("export_limit_w", spec.export_limit_w, 0, MAX_POWER_W)


def check_device_spec(kind: str, spec: DeviceSpec, current: dict[str, Any] | None = None) -> None:
    """Type rules: fields of another kind are refused, required ones demanded, values bounded.

    ``current`` (on update) supplies what the spec leaves out, e.g. the capacity a new level
    must not exceed. CommandError names the field.
    """
    if kind not in KIND_FIELDS:
        raise CommandError(f"kind: one of {', '.join(KINDS)}, got {kind!r}", "kind")
    required, optional = KIND_FIELDS[kind]
    given = spec.given()
    given.pop("kind", None)
    for name in given:
        if name not in COMMON and name not in required and name not in optional:
            raise CommandError(f"{name}: a {ROLE[kind]} device ({kind}) cannot have {name}", name)
    if current is None:
        for name in sorted(required):
            if name not in given:
                raise CommandError(f"{name}: a {ROLE[kind]} device ({kind}) needs {name}", name)
    merged = {**(current or {}), **given}
    if "name" in given and not 0 < len(str(given["name"]).strip()) <= 80:
        raise CommandError("name: 1 to 80 characters", "name")
    for name in ("location", "label"):
        if name in given and len(str(given[name])) > 80:
            raise CommandError(f"{name}: at most 80 characters", name)
    for name in ("rated_w", "max_charge_w", "max_discharge_w"):
        if name in given:
            _bounded(name, given[name], 0, MAX_POWER_W, open_lo=name == "rated_w")
    if "setpoint_w" in given:
        lo = 0.0 if kind == "generator" else -MAX_POWER_W
        _bounded("setpoint_w", given["setpoint_w"], lo, MAX_POWER_W)
    if "capacity_wh" in given:
        _bounded("capacity_wh", given["capacity_wh"], 0, MAX_ENERGY_WH, open_lo=True)
    if "level_wh" in given:
        _bounded("level_wh", given["level_wh"], 0, MAX_ENERGY_WH)
    if kind in ("battery", "ev"):
        level, capacity = merged.get("level_wh"), merged.get("capacity_wh")
        if level is not None and capacity is not None and level > capacity:
            raise CommandError(
                f"level_wh: {level:g} Wh exceeds capacity_wh {capacity:g} Wh", "level_wh"
            )
    if "efficiency" in given:
        _bounded("efficiency", given["efficiency"], 0, 1, open_lo=True)
    if "mode" in given and given["mode"] not in MODES:
        raise CommandError(f"mode: one of {', '.join(MODES)}, got {given['mode']!r}", "mode")
    if "profile" in given and given["profile"] not in LOAD_PROFILES:
        raise CommandError(
            f"profile: one of {', '.join(LOAD_PROFILES)}, got {given['profile']!r}", "profile"
        )
    if "power_factor" in given:
        _bounded("power_factor", given["power_factor"], 0, 1, open_lo=True)
    if "voltage_v" in given:
        _bounded("voltage_v", given["voltage_v"], 1, 100_000)
    if "phases" in given and given["phases"] not in (1, 3):
        raise CommandError(f"phases: 1 or 3, got {given['phases']!r}", "phases")
    if "session_kwh" in given:
        _bounded("session_kwh", given["session_kwh"], 0, 10_000)
    if "plug_in_h" in given:
        _bounded("plug_in_h", given["plug_in_h"], 0, 23.99)
    for name, hi in (("fuel_l", 1e7), ("fuel_l_per_kwh", 10.0), ("startup_s", 3600.0)):
        if name in given:
            _bounded(name, given[name], 0, hi)


# ---------------------------------------------------------------------- the columns
def _utc_now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class _Columns:
    """Named numpy columns of one table (sites or devices) that grow and shrink together."""

    def __init__(
        self,
        floats: tuple[str, ...],
        ints: tuple[str, ...],
        bools: tuple[str, ...],
        strs: tuple[str, ...],
    ) -> None:
        self.floats, self.ints, self.bools, self.strs = floats, ints, bools, strs
        self.data: dict[str, Any] = {}
        for name in floats:
            self.data[name] = np.zeros(0)
        for name in ints:
            self.data[name] = np.zeros(0, dtype=np.int64)
        for name in bools:
            self.data[name] = np.zeros(0, dtype=bool)
        for name in strs:
            self.data[name] = []

    def __len__(self) -> int:
        return len(self.data[self.strs[0]])

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["data"][name]
        except KeyError:
            raise AttributeError(name) from None

    def append(self, row: dict[str, Any]) -> int:
        for name, column in self.data.items():
            value = row.get(name)
            if isinstance(column, list):
                column.append("" if value is None else str(value))
            else:
                fill = 0 if value is None else value
                self.data[name] = np.append(column, np.array([fill], dtype=column.dtype))
        return len(self) - 1

    def extend(self, rows: list[dict[str, Any]]) -> None:
        """Append many rows with one copy per column (building 100k devices one by one would
        copy every column 100k times)."""
        for name, column in self.data.items():
            values = [row.get(name) for row in rows]
            if isinstance(column, list):
                column.extend("" if v is None else str(v) for v in values)
            else:
                fresh = np.array([0 if v is None else v for v in values], dtype=column.dtype)
                self.data[name] = np.concatenate([column, fresh])

    def delete(self, index: np.ndarray | int) -> None:
        drop = np.atleast_1d(np.asarray(index, dtype=np.intp))
        keep = np.ones(len(self), dtype=bool)
        keep[drop] = False
        for name, column in self.data.items():
            if isinstance(column, list):
                self.data[name] = [v for v, k in zip(column, keep.tolist(), strict=True) if k]
            else:
                self.data[name] = column[keep]

    def row(self, index: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, column in self.data.items():
            value = column[index]
            out[name] = value.item() if isinstance(value, np.generic) else value
        return out

    def to_state(self) -> dict[str, list[Any]]:
        return {
            name: (list(c) if isinstance(c, list) else c.tolist()) for name, c in self.data.items()
        }

    def load(self, saved: Any, where: str) -> dict[str, Any]:
        """Parsed columns of a saved table (nothing assigned yet); ValueError naming the column."""
        if not isinstance(saved, dict):
            raise ValueError(f"{where} must be an object of columns")
        lengths = set()
        parsed: dict[str, Any] = {}
        for name, column in self.data.items():
            values = saved.get(name)
            if not isinstance(values, list):
                raise ValueError(f"{where}.{name} must be a list")
            lengths.add(len(values))
            if isinstance(column, list):
                parsed[name] = [str(v) for v in values]
            else:
                try:
                    parsed[name] = np.array(values, dtype=column.dtype)
                except (TypeError, ValueError):
                    raise ValueError(f"{where}.{name} holds a value that is not a number") from None
                if column.dtype == float and not np.all(np.isfinite(parsed[name])):
                    raise ValueError(f"{where}.{name} holds a value that is not finite")
        if len(lengths) > 1:
            raise ValueError(f"{where}: columns of different lengths")
        return parsed


# ---------------------------------------------------------------------- the model
@dataclass(slots=True)
class TickFlows:
    """Per-site energy of the last tick (kWh) and the price and intensity it was charged at."""

    dt_s: float = 0.0
    imported_kwh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    exported_kwh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    produced_kwh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    consumed_kwh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    charged_kwh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    discharged_kwh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    price_aud_per_mwh: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass(slots=True)
class _Plan:
    flat_loads: np.ndarray  # positions within the loads
    load_groups: list[tuple[int, dict[int, np.ndarray], np.ndarray]]  # region, by profile, all
    production: np.ndarray  # 1.0 on production devices
    consumption: np.ndarray
    storage: np.ndarray  # device indices of batteries and EVs
    storage_site: np.ndarray
    pv_site: np.ndarray
    pv_lat: np.ndarray
    pv_lng: np.ndarray
    current_divisor: np.ndarray  # I = |P| / divisor: sqrt(3) V_LL PF or V PF


class SiteFleet:
    """Every site and site device, their meters, and the cost and carbon of every PDU outlet."""

    def __init__(self, settings: Settings, rng: np.random.Generator) -> None:
        self.settings = settings
        self.rng = rng
        self.sites = _Columns(SITE_FLOATS, SITE_INTS, (), SITE_STRS)
        self.devices = _Columns(DEVICE_FLOATS, DEVICE_INTS, DEVICE_BOOLS, DEVICE_STRS)
        self.noise = ProfileState(0, rng)
        self.next_site = 1
        self.next_device = 1
        self.now: datetime | None = None
        self.last = TickFlows()
        self.version = 0  # bumps on every structural change (faces rebuild their views)
        self._site_index: dict[str, int] = {}
        self._device_index: dict[str, int] = {}
        self._by_kind: list[np.ndarray] = [np.zeros(0, dtype=np.intp) for _ in KINDS]
        self._pdu_index = np.zeros(0, dtype=np.intp)
        # per-outlet cost and carbon of the PDU fleet (lifetime, since tracking began)
        self.outlet_cost_aud = np.zeros(0)
        self.outlet_carbon_kg = np.zeros(0)
        self.outlet_region = np.zeros(0, dtype=np.intp)
        self._outlet_prev_kwh: np.ndarray | None = None
        self._pdu_power_w = np.zeros(0)
        self._plan: _Plan | None = None
        # region -> (price AUD/MWh, intensity t/MWh or None, monotonic time): a replayed market
        self.market_override: dict[str, tuple[float, float | None, float]] = {}
        self._plan_version = -1

    # ------------------------------------------------------------------ lookups
    @property
    def n_sites(self) -> int:
        return len(self.sites)

    @property
    def n_devices(self) -> int:
        return len(self.devices)

    def site_index(self, site_id: str) -> int:
        try:
            return self._site_index[str(site_id)]
        except KeyError:
            raise KeyError(f"no site {site_id!r}") from None

    def device_index(self, device_id: str) -> int:
        try:
            return self._device_index[str(device_id)]
        except KeyError:
            raise KeyError(f"no site device {device_id!r}") from None

    def has_device(self, device_id: str) -> bool:
        return str(device_id) in self._device_index

    def site_ids(self, owner: str | None = None) -> list[str]:
        ids = self.sites.site_id
        if owner is None:
            return list(ids)
        return [s for s, o in zip(ids, self.sites.owner, strict=True) if o == owner]

    def site_owner(self, site_id: str) -> str:
        return self.sites.owner[self.site_index(site_id)]

    def device_site(self, device_id: str) -> str:
        return self.sites.site_id[int(self.devices.site[self.device_index(device_id)])]

    def devices_of(self, site_id: str) -> np.ndarray:
        return np.flatnonzero(self.devices.site == self.site_index(site_id))

    def _reindex(self) -> None:
        self._site_index = {s: i for i, s in enumerate(self.sites.site_id)}
        self._device_index = {d: i for i, d in enumerate(self.devices.device_id)}
        kind = self.devices.kind
        self._by_kind = [np.flatnonzero(kind == code) for code in range(len(KINDS))]
        self.version += 1

    def _resolve_pdus(self, fleet: Fleet | None) -> None:
        ids = self.devices.pdu_id
        index = np.full(self.n_devices, -1, dtype=np.intp)
        if fleet is not None:
            known = {p.id: p.index for p in fleet.pdus}
            for k in self._by_kind[PDU].tolist():
                index[k] = known.get(ids[k], -1)
        self._pdu_index = index
        if fleet is not None:
            self._outlet_regions(fleet)

    def _outlet_regions(self, fleet: Fleet) -> None:
        default = NETWORK_REGIONS.index(self.settings.site_default_region)
        per_pdu = np.full(len(fleet.pdus), default, dtype=np.intp)
        pdu_devices = self._by_kind[PDU]
        ok = self._pdu_index[pdu_devices] >= 0
        per_pdu[self._pdu_index[pdu_devices][ok]] = self.sites.region[
            self.devices.site[pdu_devices][ok]
        ]
        n = fleet.n_outlets
        self.outlet_region = np.repeat(per_pdu, n // max(len(fleet.pdus), 1))
        if self.outlet_cost_aud.shape[0] != n:
            self.outlet_cost_aud = np.zeros(n)
            self.outlet_carbon_kg = np.zeros(n)

    # ------------------------------------------------------------------ commands
    def apply(self, command: SiteCommand, fleet: Fleet | None = None) -> CommandResult:
        """Validate fully, then change; CommandError (naming the field) having changed nothing."""
        if isinstance(command, CreateSite):
            return self._create_site(command)
        if isinstance(command, UpdateSite):
            return self._update_site(command)
        if isinstance(command, DeleteSite):
            i = self._known_site(command.site_id)
            self.devices.delete(np.flatnonzero(self.devices.site == i))
            self.sites.delete(i)
            self.devices.data["site"] = np.where(
                self.devices.site > i, self.devices.site - 1, self.devices.site
            )
            self._changed(fleet)
            return CommandResult(True, f"site {command.site_id} deleted")
        if isinstance(command, AddSiteDevice):
            return self._add_device(command, fleet)
        if isinstance(command, UpdateSiteDevice):
            return self._update_device(command, fleet)
        if isinstance(command, RemoveSiteDevice):
            k = self._known_device(command.device_id)
            self.devices.delete(k)
            self._changed(fleet)
            return CommandResult(True, f"device {command.device_id} removed")
        raise CommandError(f"unknown site command {type(command).__name__}", "command")

    def _changed(self, fleet: Fleet | None) -> None:
        self._reindex()
        self.noise = _resize_noise(self.noise, int(self._by_kind[LOAD].size), self.rng)
        self._resolve_pdus(fleet)

    def _known_site(self, site_id: str) -> int:
        try:
            return self.site_index(site_id)
        except KeyError as error:
            raise CommandError(str(error).strip("'\""), "site_id") from None

    def _known_device(self, device_id: str) -> int:
        try:
            return self.device_index(device_id)
        except KeyError as error:
            raise CommandError(str(error).strip("'\""), "device_id") from None

    def _create_site(self, command: CreateSite) -> CommandResult:
        spec = command.spec
        check_site_spec(spec, creating=True)
        if self.n_sites >= self.settings.site_max_sites:
            raise CommandError(
                f"site limit reached ({self.settings.site_max_sites}, ENERGYDASH_SITE_MAX_SITES)",
                "site_id",
            )
        region = spec.region or self.settings.site_default_region
        lat0, lng0 = DEFAULT_LOCATION[region]
        site_id = str(self.next_site)
        self.next_site += 1
        i = self.sites.append(
            {
                "site_id": site_id,
                "name": (spec.name or "").strip(),
                "owner": command.owner,
                "created_at": _utc_now_iso(),
                "region": NETWORK_REGIONS.index(region),
                "lat": lat0 if spec.lat is None else spec.lat,
                "lng": lng0 if spec.lng is None else spec.lng,
                "import_limit_w": 100_000.0 if spec.import_limit_w is None else spec.import_limit_w,
                "export_limit_w": 10_000.0 if spec.export_limit_w is None else spec.export_limit_w,
                "day_key": -1,
                "price_aud_per_mwh": 0.0,
            }
        )
        self.sites.cloud[i] = float(self.rng.standard_normal()) * 0.5
        self._reindex()
        return CommandResult(True, site_id)

    def _update_site(self, command: UpdateSite) -> CommandResult:
        i = self._known_site(command.site_id)
        spec = command.spec
        check_site_spec(spec, creating=False)
        if spec.name is not None:
            self.sites.name[i] = spec.name.strip()
        if spec.region is not None:
            self.sites.region[i] = NETWORK_REGIONS.index(spec.region)
        for name in ("lat", "lng", "import_limit_w", "export_limit_w"):
            value = getattr(spec, name)
            if value is not None:
                self.sites.data[name][i] = float(value)
        if command.owner is not None:
            self.sites.owner[i] = command.owner
        self.version += 1
        return CommandResult(True, f"site {command.site_id} updated")

    def _add_device(self, command: AddSiteDevice, fleet: Fleet | None) -> CommandResult:
        i = self._known_site(command.site_id)
        spec = command.spec
        kind = spec.kind or ""
        check_device_spec(kind, spec)
        if int(np.count_nonzero(self.devices.site == i)) >= self.settings.site_max_devices_per_site:
            raise CommandError(
                f"device limit of site {command.site_id} reached "
                f"({self.settings.site_max_devices_per_site}, "
                "ENERGYDASH_SITE_MAX_DEVICES_PER_SITE)",
                "site_id",
            )
        if kind == "pdu":
            if fleet is not None and spec.pdu_id not in {p.id for p in fleet.pdus}:
                raise CommandError(f"pdu_id: no PDU {spec.pdu_id!r} in the fleet", "pdu_id")
            taken = [self.devices.pdu_id[k] for k in self._by_kind[PDU].tolist()]
            if spec.pdu_id in taken:
                raise CommandError(f"pdu_id: PDU {spec.pdu_id} already belongs to a site", "pdu_id")
        row = _device_defaults(kind, spec)
        device_id = str(self.next_device)
        self.next_device += 1
        row.update(device_id=device_id, site=i, created_at=_utc_now_iso(), kind=KIND_CODE[kind])
        self.devices.append(row)
        self._changed(fleet)
        return CommandResult(True, device_id)

    def device_spec_values(self, k: int) -> dict[str, Any]:
        """The settable values of device ``k`` (what an update merges its fields into)."""
        data = self.devices.data
        kind = KINDS[int(data["kind"][k])]
        out: dict[str, Any] = {}
        for name in SPEC_FIELDS[kind]:
            value = data[name][k]
            out[name] = value.item() if isinstance(value, np.generic) else value
        if "profile" in out:
            out["profile"] = LOAD_PROFILES[profile_slot(int(out["profile"]))]
        if "mode" in out:
            out["mode"] = MODES[int(out["mode"])]
        return out

    def site_groups(self) -> list[np.ndarray]:
        """Each site's device indices, in one pass (faces building every site at once)."""
        site = self.devices.site
        order = np.argsort(site, kind="stable")
        bounds = np.searchsorted(site[order], np.arange(self.n_sites + 1))
        return [order[bounds[i] : bounds[i + 1]] for i in range(self.n_sites)]

    def storage_by_site(self) -> tuple[np.ndarray, np.ndarray]:
        """(capacity Wh, level Wh) summed per site."""
        d = self.devices
        st = np.concatenate([self._by_kind[BAT], self._by_kind[EV]])
        at = d.site[st]
        return (
            np.bincount(at, weights=d.capacity_wh[st], minlength=self.n_sites),
            np.bincount(at, weights=d.level_wh[st], minlength=self.n_sites),
        )

    def _update_device(self, command: UpdateSiteDevice, fleet: Fleet | None) -> CommandResult:
        k = self._known_device(command.device_id)
        kind = KINDS[int(self.devices.kind[k])]
        spec = command.spec
        if spec.kind is not None and spec.kind != kind:
            raise CommandError(
                f"kind: device {command.device_id} is a {kind}, not {spec.kind}", "kind"
            )
        check_device_spec(kind, spec, self.device_spec_values(k))
        if "pdu_id" in spec.given():
            raise CommandError("pdu_id: remove the device and add the other PDU", "pdu_id")
        for name, value in spec.given().items():
            if name == "kind":
                continue
            if name == "profile":
                value = _profile_code(value)
            elif name == "mode":
                value = MODES.index(value)
            column = self.devices.data[name]
            if isinstance(column, list):
                column[k] = str(value)
            else:
                column[k] = value
        self.version += 1
        return CommandResult(True, f"device {command.device_id} updated")

    def add_sites(
        self,
        owner: str,
        sites: list[tuple[SiteSpec, list[DeviceSpec]]],
        fleet: Fleet | None = None,
    ) -> list[str]:
        """Create many sites with their devices at once (benchmarks, bulk seeding); every spec
        is checked before anything is added. PDU devices are not taken here."""
        site_rows: list[dict[str, Any]] = []
        device_rows: list[dict[str, Any]] = []
        if self.n_sites + len(sites) > self.settings.site_max_sites:
            raise CommandError(
                f"site limit reached ({self.settings.site_max_sites}, ENERGYDASH_SITE_MAX_SITES)",
                "site_id",
            )
        for site_spec, devices in sites:
            check_site_spec(site_spec, creating=True)
            if len(devices) > self.settings.site_max_devices_per_site:
                raise CommandError("too many devices for one site", "site_id")
            for spec in devices:
                if spec.kind == "pdu":
                    raise CommandError("kind: add PDU devices one by one", "kind")
                check_device_spec(spec.kind or "", spec)
        now = _utc_now_iso()
        ids = []
        for n, (site_spec, devices) in enumerate(sites):
            region = site_spec.region or self.settings.site_default_region
            lat0, lng0 = DEFAULT_LOCATION[region]
            site_id = str(self.next_site)
            self.next_site += 1
            ids.append(site_id)
            site_rows.append(
                {
                    "site_id": site_id,
                    "name": (site_spec.name or "").strip(),
                    "owner": owner,
                    "created_at": now,
                    "region": NETWORK_REGIONS.index(region),
                    "lat": lat0 if site_spec.lat is None else site_spec.lat,
                    "lng": lng0 if site_spec.lng is None else site_spec.lng,
                    "import_limit_w": site_spec.import_limit_w or 100_000.0,
                    "export_limit_w": site_spec.export_limit_w or 10_000.0,
                    "day_key": -1,
                }
            )
            for spec in devices:
                row = _device_defaults(spec.kind or "", spec)
                row.update(
                    device_id=str(self.next_device),
                    site=self.n_sites + n,
                    created_at=now,
                    kind=KIND_CODE[spec.kind or ""],
                )
                self.next_device += 1
                device_rows.append(row)
        self.sites.extend(site_rows)
        self.devices.extend(device_rows)
        self._changed(fleet)
        return ids

    # ------------------------------------------------------------------ the tick
    def prime(self, now: datetime, grid: Grid, fleet: Fleet | None) -> None:
        self._resolve_pdus(fleet)
        if fleet is not None:
            self._outlet_prev_kwh = fleet.lifetime_kwh.copy()
        self._live_market(grid)
        self.now = now

    def set_market(
        self, region: str, price_aud_per_mwh: float, emissions_t_per_mwh: float | None
    ) -> None:
        """A region's price (and intensity) from a replayed market; it wins over the simulated
        grid while fresher than MARKET_OVERRIDE_S."""
        if region in NETWORK_REGIONS and math.isfinite(price_aud_per_mwh):
            self.market_override[region] = (
                float(price_aud_per_mwh),
                emissions_t_per_mwh,
                time.monotonic(),
            )

    def _live_market(self, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
        price_r = np.array([grid.regions[r].price_aud_per_mwh for r in NETWORK_REGIONS])
        # t/MWh == kg/kWh
        intensity_r = np.array([grid.regions[r].emissions_t_per_mwh for r in NETWORK_REGIONS])
        fresh_after = time.monotonic() - MARKET_OVERRIDE_S
        for region, (price, intensity, at) in self.market_override.items():
            if at >= fresh_after:
                r = NETWORK_REGIONS.index(region)
                price_r[r] = price
                if intensity is not None and math.isfinite(intensity):
                    intensity_r[r] = intensity
        region = self.sites.region
        self.sites.data["price_aud_per_mwh"] = price_r[region]
        self.sites.data["emissions_kg_per_kwh"] = intensity_r[region]
        return price_r, intensity_r

    def step(self, now: datetime, dt_s: float, grid: Grid, fleet: Fleet | None) -> None:
        """Advance every site by ``dt_s`` seconds ending at sim time ``now`` (UTC)."""
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        price_r, intensity_r = self._live_market(grid)
        if fleet is not None:
            self._outlets(fleet, dt_s, price_r, intensity_r)
        self.now = now
        n, ns = self.n_devices, self.n_sites
        if ns == 0:
            return
        d, s = self.devices, self.sites
        dt_h = dt_s / 3600.0
        t = now.timestamp()
        site_of = d.site
        active = d.enabled & d.online
        power = np.zeros(n)
        local_h = (t / 3600.0 + REGION_OFFSET_H[s.region]) % 24.0  # per site
        day_key = np.floor((t + REGION_OFFSET_H[s.region] * 3600.0) / 86400.0).astype(np.int64)

        # production: PV by the sun at the site, generators after start-up while fuel lasts
        a = math.exp(-dt_s / CLOUD_TAU_S)
        s.data["cloud"] = a * s.cloud + math.sqrt(1.0 - a * a) * self.rng.standard_normal(ns)
        plan = self._tick_plan()
        pv = self._by_kind[PV]
        if pv.size:
            at = plan.pv_site
            sin_el = _solar_sin_elevation(now, plan.pv_lat, plan.pv_lng)
            clear = np.power(np.clip(sin_el, 0.0, None), 1.2)
            cloud = np.clip(0.85 + 0.12 * s.cloud[at], 0.2, 1.0)
            power[pv] = d.rated_w[pv] * 0.9 * clear * cloud * active[pv]
        gen = self._by_kind[GEN]
        if gen.size:
            want = active[gen] & (d.setpoint_w[gen] > 0) & (d.fuel_l[gen] > 0)
            left = np.where(want, d.start_left_s[gen] - dt_s, d.startup_s[gen])
            d.start_left_s[gen] = np.maximum(left, 0.0)
            running = want & (left <= 0)
            out = np.where(running, np.minimum(d.setpoint_w[gen], d.rated_w[gen]), 0.0)
            per_kwh = d.fuel_l_per_kwh[gen]
            with np.errstate(divide="ignore", invalid="ignore"):
                fuel_cap_w = np.where(per_kwh > 0, d.fuel_l[gen] / per_kwh / dt_h * 1000.0, np.inf)
            out = np.minimum(out, fuel_cap_w)
            d.fuel_l[gen] = np.maximum(d.fuel_l[gen] - out * dt_h / 1000.0 * per_kwh, 0.0)
            power[gen] = out

        # consumption: profile loads by the region's local time, PDU mains, EV sessions
        loads = self._by_kind[LOAD]
        if loads.size:
            # the noise and the shapes run over the loads only (positions within ``loads``)
            self.noise.advance(dt_s, self.rng)
            frac = np.zeros(loads.size)
            frac[plan.flat_loads] = 1.0
            tmp = np.zeros(loads.size)
            for r, index, every in plan.load_groups:
                local = now + timedelta(hours=float(REGION_OFFSET_H[r]))
                hour = local.hour + local.minute / 60.0 + local.second / 3600.0
                demand_fraction(
                    index, self.noise, t, hour, local.weekday(), tmp, local.timetuple().tm_yday
                )
                frac[every] = tmp[every]
            power[loads] = d.rated_w[loads] * frac * active[loads]
        pdus = self._by_kind[PDU]
        if pdus.size:
            idx = self._pdu_index[pdus]
            known = idx >= 0
            mains = np.zeros(pdus.size)
            if self._pdu_power_w.size:
                mains[known] = self._pdu_power_w[idx[known]]
            power[pdus] = mains * active[pdus]
        evc = self._by_kind[EVC]
        if evc.size:
            at = site_of[evc]
            fresh = (day_key[at] != d.session_day[evc]) & (local_h[at] >= d.plug_in_h[evc])
            d.session_left_kwh[evc] = np.where(fresh, d.session_kwh[evc], d.session_left_kwh[evc])
            d.session_day[evc] = np.where(fresh, day_key[at], d.session_day[evc])
            p = np.minimum(d.rated_w[evc], d.session_left_kwh[evc] * 1000.0 / dt_h) * active[evc]
            d.session_left_kwh[evc] = np.maximum(d.session_left_kwh[evc] - p * dt_h / 1000.0, 0.0)
            power[evc] = p

        production = np.bincount(site_of, weights=power * plan.production, minlength=ns)
        consumption = np.bincount(site_of, weights=power * plan.consumption, minlength=ns)

        # storage
        st = plan.storage
        flow = np.zeros(ns)
        charged = np.zeros(ns)
        discharged = np.zeros(ns)
        if st.size:
            at = plan.storage_site
            surplus = production - consumption
            mode = d.mode[st]
            ok = active[st]
            sc = ok & (mode == 0)
            chg_max, dis_max = d.max_charge_w[st], d.max_discharge_w[st]
            share_c = np.bincount(at, weights=np.where(sc, chg_max, 0.0), minlength=ns)
            share_d = np.bincount(at, weights=np.where(sc, dis_max, 0.0), minlength=ns)
            sur = surplus[at]
            with np.errstate(divide="ignore", invalid="ignore"):
                want_sc = np.where(
                    sur >= 0,
                    np.where(share_c[at] > 0, sur * chg_max / share_c[at], 0.0),
                    np.where(share_d[at] > 0, sur * dis_max / share_d[at], 0.0),
                )
            price = s.price_aud_per_mwh[at]
            want_tou = np.where(
                price < self.settings.site_tou_charge_below_aud_per_mwh,
                chg_max,
                np.where(price > self.settings.site_tou_discharge_above_aud_per_mwh, -dis_max, 0.0),
            )
            want = np.select([mode == 0, mode == 1], [want_sc, want_tou], d.setpoint_w[st])
            want = np.clip(want, -dis_max, chg_max) * ok
            eff = d.efficiency[st]
            level, cap = d.level_wh[st], d.capacity_wh[st]
            room_w = np.maximum(cap - level, 0.0) / (eff * dt_h)
            have_w = np.maximum(level, 0.0) / dt_h
            f = np.clip(want, -have_w, room_w)
            d.level_wh[st] = np.clip(
                level + (np.maximum(f, 0.0) * eff + np.minimum(f, 0.0)) * dt_h, 0.0, cap
            )
            power[st] = f
            charged = np.bincount(at, weights=np.maximum(f, 0.0), minlength=ns)
            discharged = np.bincount(at, weights=np.maximum(-f, 0.0), minlength=ns)
            flow = charged - discharged

        # the meter: export beyond the connection's limit curtails PV
        net = consumption - production + flow
        over = np.maximum(-net - s.export_limit_w, 0.0)
        curtailed = np.zeros(ns)
        if pv.size and np.any(over > 0):
            pv_site = np.bincount(site_of[pv], weights=power[pv], minlength=ns)
            curtailed = np.minimum(over, pv_site)
            with np.errstate(divide="ignore", invalid="ignore"):
                keep = np.where(pv_site > 0, 1.0 - curtailed / pv_site, 1.0)
            power[pv] *= keep[site_of[pv]]
            production = production - curtailed
            net = consumption - production + flow
        s.data["production_w"] = production
        s.data["consumption_w"] = consumption
        s.data["storage_flow_w"] = flow
        s.data["net_grid_flow_w"] = net
        s.data["curtailed_w"] = curtailed

        # integrate power over sim time; a new local day starts the day counters afresh (a tick
        # belongs to the day it started in, so the one ending at midnight closes the old day)
        tick_day = np.floor((t - dt_s + REGION_OFFSET_H[s.region] * 3600.0) / 86400.0).astype(
            np.int64
        )
        new_day = tick_day != s.day_key
        if np.any(new_day):
            for c in SITE_COUNTERS:
                s.data[f"day_{c}"][new_day] = 0.0
            s.data["day_key"] = tick_day
        k = dt_h / 1000.0
        flows = TickFlows(
            dt_s=dt_s,
            imported_kwh=np.maximum(net, 0.0) * k,
            exported_kwh=np.maximum(-net, 0.0) * k,
            produced_kwh=production * k,
            consumed_kwh=consumption * k,
            charged_kwh=charged * k,
            discharged_kwh=discharged * k,
            price_aud_per_mwh=s.price_aud_per_mwh.copy(),
        )
        add = {
            "imported_kwh": flows.imported_kwh,
            "exported_kwh": flows.exported_kwh,
            "produced_kwh": flows.produced_kwh,
            "consumed_kwh": flows.consumed_kwh,
            "charged_kwh": flows.charged_kwh,
            "discharged_kwh": flows.discharged_kwh,
            "import_cost_aud": flows.imported_kwh * s.price_aud_per_mwh / 1000.0,
            "export_revenue_aud": flows.exported_kwh
            * self.settings.site_feed_in_tariff_aud_per_kwh,
            "carbon_kg": flows.imported_kwh * s.emissions_kg_per_kwh,
        }
        for c, value in add.items():
            s.data[c] += value
            s.data[f"day_{c}"] += value
        self.last = flows

        # device readings: V, I and PF consistent (three-phase P = sqrt(3) V_LL I PF)
        d.data["power_w"] = power
        d.energy_kwh[:] += np.abs(power) * k
        d.data["current_a"] = np.abs(power) / plan.current_divisor

    def _tick_plan(self) -> _Plan:
        """Index arrays and constants that change only with a command (every command bumps
        ``version``), built once per change instead of once per tick."""
        if self._plan is not None and self._plan_version == self.version:
            return self._plan
        d = self.devices
        loads = self._by_kind[LOAD]
        profile = d.profile[loads]
        regions = self.sites.region[d.site[loads]]
        groups = []
        shaped = np.flatnonzero(profile != CONSTANT)
        for r in np.unique(regions[shaped]).tolist():
            mine = shaped[regions[shaped] == r]
            codes = profile[mine]
            index = {int(c): mine[codes == c] for c in np.unique(codes).tolist()}
            groups.append((int(r), index, mine))
        kind = d.kind
        storage = np.concatenate([self._by_kind[BAT], self._by_kind[EV]])
        pv_site = d.site[self._by_kind[PV]]
        self._plan = _Plan(
            flat_loads=np.flatnonzero(profile == CONSTANT),
            load_groups=groups,
            production=np.isin(kind, PRODUCTION_CODES).astype(float),
            consumption=np.isin(kind, CONSUMPTION_CODES).astype(float),
            storage=storage,
            storage_site=d.site[storage],
            pv_site=pv_site,
            pv_lat=self.sites.lat[pv_site],
            pv_lng=self.sites.lng[pv_site],
            current_divisor=np.where(d.phases == 3, SQRT3, 1.0)
            * np.maximum(d.voltage_v, 1.0)
            * np.where(d.power_factor > 0, d.power_factor, 1.0),
        )
        self._plan_version = self.version
        return self._plan

    def _outlets(
        self, fleet: Fleet, dt_s: float, price_r: np.ndarray, intensity_r: np.ndarray
    ) -> None:
        """Price each outlet's energy of the tick by its PDU's site region; PDU mains power."""
        lifetime = fleet.lifetime_kwh
        if self._outlet_prev_kwh is None or self._outlet_prev_kwh.shape != lifetime.shape:
            self._outlet_prev_kwh = lifetime.copy()
        if self.outlet_region.shape != lifetime.shape:
            self._outlet_regions(fleet)
        delta = np.maximum(lifetime - self._outlet_prev_kwh, 0.0)  # a restore never bills back
        np.copyto(self._outlet_prev_kwh, lifetime)
        self.outlet_cost_aud += delta * price_r[self.outlet_region] / 1000.0
        self.outlet_carbon_kg += delta * intensity_r[self.outlet_region]
        pdus = max(len(fleet.pdus), 1)
        self._pdu_power_w = delta.reshape(pdus, -1).sum(axis=1) * 3.6e6 / max(dt_s, 1e-9)

    # ------------------------------------------------------------------ views
    def site_totals(self, indices: np.ndarray) -> dict[str, float]:
        """Storage capacity and level summed over the storage devices of the given sites."""
        d = self.devices
        st = np.concatenate([self._by_kind[BAT], self._by_kind[EV]])
        mine = st[np.isin(d.site[st], indices)]
        return {
            "capacity_wh": float(d.capacity_wh[mine].sum()),
            "level_wh": float(d.level_wh[mine].sum()),
        }

    def local_date(self, i: int) -> str:
        key = int(self.sites.day_key[i])
        if key < 0:
            return ""
        return (datetime(1970, 1, 1) + timedelta(days=key)).date().isoformat()

    # ------------------------------------------------------------------ persistence
    def to_state(self) -> dict[str, Any]:
        return {
            "next_site": self.next_site,
            "next_device": self.next_device,
            "sites": self.sites.to_state(),
            "devices": self.devices.to_state(),
            "outlet_cost_aud": self.outlet_cost_aud.tolist(),
            "outlet_carbon_kg": self.outlet_carbon_kg.tolist(),
        }

    def restore(self, saved: Any, fleet: Fleet | None) -> bool:
        """Apply a saved ``sites`` section; ValueError naming the place, nothing changed."""
        if saved is None:
            return False
        if not isinstance(saved, dict):
            raise ValueError("sites must be an object")
        sites = self.sites.load(saved.get("sites"), "sites.sites")
        devices = self.devices.load(saved.get("devices"), "sites.devices")
        n_sites = len(sites["site_id"])
        if devices["site"].size and (devices["site"].min() < 0 or devices["site"].max() >= n_sites):
            raise ValueError("sites.devices.site names a site that is not there")
        if devices["kind"].size and (
            devices["kind"].min() < 0 or devices["kind"].max() >= len(KINDS)
        ):
            raise ValueError("sites.devices.kind holds an unknown kind")
        if np.any(devices["level_wh"] < 0) or np.any(devices["level_wh"] > devices["capacity_wh"]):
            raise ValueError("sites.devices.level_wh must be within [0, capacity_wh]")
        for name in SITE_COUNTERS:
            if np.any(sites[name] < 0) and name not in ("import_cost_aud",):
                raise ValueError(f"sites.sites.{name} must be >= 0")
        try:
            next_site, next_device = int(saved["next_site"]), int(saved["next_device"])
        except (KeyError, TypeError, ValueError):
            raise ValueError("sites.next_site and sites.next_device must be numbers") from None
        self.sites.data.update(sites)
        self.devices.data.update(devices)
        self.next_site = max(next_site, n_sites + 1)
        self.next_device = max(next_device, len(devices["device_id"]) + 1)
        self._changed(fleet)
        cost, carbon = saved.get("outlet_cost_aud"), saved.get("outlet_carbon_kg")
        if fleet is not None and isinstance(cost, list) and len(cost) == fleet.n_outlets:
            self.outlet_cost_aud = np.array(cost, dtype=float)
            if isinstance(carbon, list) and len(carbon) == fleet.n_outlets:
                self.outlet_carbon_kg = np.array(carbon, dtype=float)
        return True

    # ------------------------------------------------------------------ defaults
    def seed_demo(self, accounts: list[tuple[str, str, str]], fleet: Fleet | None) -> None:
        """A demo home per account and, for the first Administrator, Building A.

        ``accounts`` are (account_id, username, role_id). Building A is the seed-style
        building: the five loads at building scale, rooftop PV, a battery, a standby diesel
        generator, two EV chargers and every PDU of the fleet (its mains power counts).
        """
        for n, (account_id, username, _role) in enumerate(accounts):
            region = DEMO_REGIONS[n % len(DEMO_REGIONS)]
            result = self.apply(
                CreateSite(
                    account_id,
                    SiteSpec(
                        name=f"Home of {username}",
                        region=region,
                        import_limit_w=20_000,
                        export_limit_w=5_000,
                    ),
                )
            )
            site = result.message
            for spec in DEMO_HOME:
                self.apply(AddSiteDevice(site, spec), fleet)
        admins = [a for a in accounts if a[2] == "Administrator"]
        if not admins:
            return
        result = self.apply(
            CreateSite(
                admins[0][0],
                SiteSpec(
                    name="Building A",
                    region="NSW1",
                    lat=-33.8688,
                    lng=151.2093,
                    import_limit_w=400_000,
                    export_limit_w=100_000,
                ),
            )
        )
        site = result.message
        for spec in BUILDING_A:
            self.apply(AddSiteDevice(site, spec), fleet)
        if fleet is not None:
            # a big fleet does not fit one site: Building A takes the PDUs it has room for
            room = max(self.settings.site_max_devices_per_site - len(BUILDING_A), 0)
            if len(fleet.pdus) > room:
                log.info(
                    "Building A holds the first %d of %d PDUs "
                    "(ENERGYDASH_SITE_MAX_DEVICES_PER_SITE=%d)",
                    room,
                    len(fleet.pdus),
                    self.settings.site_max_devices_per_site,
                )
            for pdu in fleet.pdus[:room]:
                self.apply(
                    AddSiteDevice(
                        site,
                        DeviceSpec(
                            kind="pdu",
                            name=f"PDU {pdu.name}",
                            pdu_id=pdu.id,
                            location="Data centre",
                            voltage_v=pdu.nominal_voltage_v,
                            phases=1 if pdu.input_type == "single_phase" else 3,
                        ),
                    ),
                    fleet,
                )


def _profile_code(name: str) -> int:
    return CONSTANT if name == "constant" else PROFILES.index(name)


def profile_slot(code: int) -> int:
    return len(LOAD_PROFILES) - 1 if code == CONSTANT else LOAD_PROFILES.index(PROFILES[code])


def _resize_noise(state: ProfileState, n: int, rng: np.random.Generator) -> ProfileState:
    if state.noise.shape[0] == n:
        return state
    fresh = ProfileState(n, rng)
    keep = min(n, state.noise.shape[0])
    fresh.noise[:keep] = state.noise[:keep]
    fresh.phase[:keep] = state.phase[:keep]
    return fresh


def _device_defaults(kind: str, spec: DeviceSpec) -> dict[str, Any]:
    """A new device's full row: what the spec gives, sensible values for the rest."""
    given = spec.given()
    building = spec.phases == 3 or (spec.voltage_v or 0) >= 380
    row: dict[str, Any] = {
        "name": given.get("name", kind.replace("_", " ").title()),
        "location": given.get("location", ""),
        "label": given.get("label", kind),
        "enabled": given.get("enabled", True),
        "online": given.get("online", True),
        "voltage_v": given.get("voltage_v", 400.0 if building else 230.0),
        "phases": given.get("phases", 3 if building else 1),
        "power_factor": 1.0,
        "efficiency": 1.0,
        "session_day": -1,
        "pdu_id": given.get("pdu_id", ""),
    }
    for name in ("rated_w", "setpoint_w", "fuel_l", "startup_s", "capacity_wh"):
        if name in given:
            row[name] = float(given[name])
    if kind == "load":
        profile = given.get("profile", "constant")
        row["profile"] = _profile_code(profile)
        spec_pf = SPECS[profile].power_factor if profile in SPECS else 0.95
        row["power_factor"] = given.get("power_factor", spec_pf)
    elif kind == "pv":
        row["power_factor"] = 1.0
    elif kind == "generator":
        row["power_factor"] = 0.8
        row["fuel_l"] = given.get("fuel_l", 500.0)
        row["fuel_l_per_kwh"] = given.get("fuel_l_per_kwh", 0.27)
        row["startup_s"] = given.get("startup_s", 30.0)
        row["start_left_s"] = row["startup_s"]
        row["setpoint_w"] = given.get("setpoint_w", 0.0)
    elif kind == "ev_charger":
        row["session_kwh"] = given.get("session_kwh", 30.0)
        row["plug_in_h"] = given.get("plug_in_h", 18.0)
    elif kind in ("battery", "ev"):
        capacity = float(given["capacity_wh"])
        row["level_wh"] = float(given.get("level_wh", capacity / 2.0))
        row["max_charge_w"] = float(given["max_charge_w"])
        row["max_discharge_w"] = float(given.get("max_discharge_w", given["max_charge_w"]))
        row["efficiency"] = float(given.get("efficiency", 0.9))
        row["mode"] = MODES.index(given.get("mode", "self_consumption"))
        row["setpoint_w"] = float(given.get("setpoint_w", 0.0))
    return row


DEFAULT_LOCATION = {  # a capital city of each region
    "NSW1": (-33.8688, 151.2093),
    "QLD1": (-27.4698, 153.0251),
    "VIC1": (-37.8136, 144.9631),
    "SA1": (-34.9285, 138.6007),
    "TAS1": (-42.8821, 147.3272),
}
DEMO_REGIONS = ("NSW1", "VIC1", "QLD1", "SA1", "TAS1")
DEMO_HOME = (
    DeviceSpec(kind="pv", name="Rooftop PV", rated_w=6_600, location="Roof"),
    DeviceSpec(
        kind="battery",
        name="Home Battery",
        capacity_wh=13_500,
        level_wh=6_750,
        max_charge_w=5_000,
        location="Garage",
    ),
    DeviceSpec(
        kind="load", name="Air Conditioner", profile="hvac", rated_w=3_500, location="Living room"
    ),
    DeviceSpec(kind="load", name="Lighting", profile="led_lighting", rated_w=400, location="House"),
    DeviceSpec(
        kind="load", name="Kitchen", profile="kitchen_appliance", rated_w=2_400, location="Kitchen"
    ),
    DeviceSpec(
        kind="ev_charger",
        name="EV Charger",
        rated_w=7_000,
        session_kwh=20,
        plug_in_h=18.0,
        location="Garage",
    ),
)
BUILDING_A = (
    DeviceSpec(
        kind="load",
        label="hvac",
        name="HVAC System",
        profile="hvac",
        rated_w=25_000,
        location="Building A HVAC",
        voltage_v=400,
        phases=3,
    ),
    DeviceSpec(
        kind="load",
        label="lighting",
        name="LED Lighting",
        profile="led_lighting",
        rated_w=8_500,
        location="Office lighting",
        voltage_v=400,
        phases=3,
    ),
    DeviceSpec(
        kind="load",
        label="server",
        name="Server Rack",
        profile="server",
        rated_w=45_000,
        location="Data centre",
        voltage_v=400,
        phases=3,
    ),
    DeviceSpec(
        kind="load",
        label="industrial",
        name="Production Line",
        profile="production_line",
        rated_w=120_000,
        location="Industrial",
        voltage_v=400,
        phases=3,
    ),
    DeviceSpec(
        kind="load",
        label="kitchen",
        name="Kitchen Equipment",
        profile="kitchen_appliance",
        rated_w=15_000,
        location="Cafeteria",
        voltage_v=400,
        phases=3,
    ),
    DeviceSpec(
        kind="pv",
        name="Rooftop PV array",
        rated_w=100_000,
        location="Roof",
        voltage_v=400,
        phases=3,
    ),
    DeviceSpec(
        kind="battery",
        name="Building battery",
        capacity_wh=200_000,
        level_wh=100_000,
        max_charge_w=100_000,
        mode="time_of_use",
        location="Plant room",
        voltage_v=400,
        phases=3,
    ),
    DeviceSpec(
        kind="generator",
        name="Standby diesel generator",
        rated_w=150_000,
        fuel_l=1_000,
        startup_s=60,
        location="Plant room",
        voltage_v=400,
        phases=3,
    ),
    DeviceSpec(
        kind="ev_charger",
        name="Fleet EV charger 1",
        rated_w=22_000,
        session_kwh=60,
        plug_in_h=8.5,
        location="Car park",
        voltage_v=400,
        phases=3,
    ),
    DeviceSpec(
        kind="ev_charger",
        name="Fleet EV charger 2",
        rated_w=22_000,
        session_kwh=40,
        plug_in_h=13.0,
        location="Car park",
        voltage_v=400,
        phases=3,
    ),
)

__all__ = [
    "KINDS",
    "MODES",
    "ROLE",
    "SITE_COMMANDS",
    "AddSiteDevice",
    "CreateSite",
    "DeleteSite",
    "DeviceSpec",
    "RemoveSiteDevice",
    "SiteFleet",
    "SiteSpec",
    "UpdateSite",
    "UpdateSiteDevice",
    "check_device_spec",
]


# ---------------------------------------------------------------------- device commands
IOT_TYPES: dict[str, tuple[str, str | None]] = {  # IoT-mock device_type -> (kind, profile)
    "hvac": ("load", "hvac"),
    "lighting": ("load", "led_lighting"),
    "server": ("load", "server"),
    "industrial": ("load", "production_line"),
    "production_line": ("load", "production_line"),
    "kitchen": ("load", "kitchen_appliance"),
    "load": ("load", "constant"),
    "pv": ("pv", None),
    "solar": ("pv", None),
    "generator": ("generator", None),
    "ev_charger": ("ev_charger", None),
}


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CommandError(f"{where}: must be a number, got {value!r}", where)
    try:
        number = float(value)
    except ValueError:
        raise CommandError(f"{where}: must be a number, got {value!r}", where) from None
    if not math.isfinite(number):
        raise CommandError(f"{where}: must be a finite number", where)
    return number


def command_spec(
    kind: str, command: str, parameters: dict[str, Any] | None, value: Any
) -> DeviceSpec:
    """A device command (IoT-mock ``parameters`` form or outlet ``value`` form) as a spec.

    ``set_power``: ``parameters.power`` kW sets a load's, PV's or charger's rating, a
    generator's dispatch and a storage device's manual flow (+ charging); ``value`` "On"/"Off"
    switches the device. ``set_enabled``/``set_online``: ``parameters.enabled``/``.online`` or
    ``value``. ``set_setpoint``: W. ``set_mode``: a storage control mode.
    """
    params = parameters or {}
    if command == "set_power":
        if "power" in params:
            watts = _number(params["power"], "parameters.power") * 1000.0
            if kind == "generator":
                return DeviceSpec(setpoint_w=watts)
            if kind in ("battery", "ev"):
                return DeviceSpec(setpoint_w=watts, mode="manual")
            if kind == "pdu":
                raise CommandError("parameters.power: a PDU's power is its outlets'", "parameters")
            return DeviceSpec(rated_w=watts)
        if value in ("On", "Off"):
            return DeviceSpec(enabled=value == "On")
        raise CommandError(
            'set_power: give parameters {"power": kW} or value "On"/"Off"', "parameters"
        )
    if command in ("set_enabled", "set_online"):
        key = command[4:]
        raw = params.get(key, value)
        if raw is None:
            raise CommandError(f"{command}: give parameters {{{key!r}: bool}}", "parameters")
        where = f"parameters.{key}" if key in params else "value"
        flag = parse_flag(raw, f"{where}:", where)
        return DeviceSpec(enabled=flag) if key == "enabled" else DeviceSpec(online=flag)
    if command == "set_setpoint":
        raw = params.get("setpoint_w", value)
        return DeviceSpec(setpoint_w=_number(raw, "parameters.setpoint_w"))
    if command == "set_mode":
        raw = params.get("mode", value)
        if raw not in MODES:
            raise CommandError(f"parameters.mode: one of {', '.join(MODES)}", "parameters.mode")
        return DeviceSpec(mode=str(raw))
    raise CommandError(f"command: unknown {command!r}", "command")


def iot_create_spec(
    device_type: str, name: str, location: str, base_power_kw: float, base_voltage_v: float
) -> DeviceSpec:
    """The spec of an IoT-mock ``POST /devices`` body; CommandError naming device_type."""
    if device_type not in IOT_TYPES:
        raise CommandError(
            f"device_type: one of {', '.join(IOT_TYPES)} (storage needs a capacity: use "
            "POST /api/v1/sites/{{id}}/devices), got {device_type!r}".replace("{{", "{").replace(
                "}}", "}"
            ),
            "device_type",
        )
    kind, profile = IOT_TYPES[device_type]
    return DeviceSpec(
        kind=kind,
        profile=profile,
        label=device_type,
        name=name,
        location=location,
        rated_w=base_power_kw * 1000.0,
        voltage_v=base_voltage_v,
        phases=3 if base_voltage_v >= 380 else 1,
    )
