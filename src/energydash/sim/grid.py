"""The grid and market: facilities in the OpenElectricity data model, dispatched every tick.

Per step (vectorised over units; loops only over a handful of fueltech groups):

- regional demand follows a daily shape (morning and evening peaks, a night trough, lower on
  weekends) with AR(1) noise, in each region's local time;
- ``solar_utility``/``solar_rooftop`` follow the sun: output ∝ sin(elevation)^1.2 at the
  facility's lat/lng, exactly zero when the sun is below the horizon, times an AR(1) cloud factor;
- ``wind`` is an AR(1) capacity factor (τ = 6 h) with a regional common component;
- ``hydro`` peaks: it runs more the closer demand is to its daily peak;
- batteries charge when the sun is high and discharge in the evening peak, within their
  storage (state of charge in MWh, 90 % round-trip efficiency charged on the way in);
- coal, gas, distillate and biomass fill the residual demand in merit order (brown coal,
  black coal, biomass, CCGT, gas steam, reciprocating gas, OCGT, distillate) with ramp limits
  (MW/min per fueltech) and a 35 % minimum stable load for coal;
- a balancing pass makes the NEM total exact: a shortfall is met by any headroom (ignoring ramp
  limits, as FCAS would), then left as ``unserved_mw``; a surplus curtails gas, then wind and
  solar, then anything else;
- each region's net import is ``demand - generation``; these sum to zero, and the flows on the
  interconnector tree (QLD1-NSW1, NSW1-VIC1, VIC1-SA1, VIC1-TAS1) follow from them exactly;
- the price of each 5-minute interval rises with the demand/supply ratio (regional blended with
  the network's) and turns negative when wind and solar dominate.

Every unit's output stays within [0, registered capacity]. Loads (``battery_charging``,
``pumps``) report their consumption as positive MW and count against generation. Only
``operating`` units run: ``committed`` and ``retired`` ones produce nothing.

A generated fleet is placed with ``energydash.geo``: each facility near a real town of its region
that suits its kind, inside the region's outline (the map's), named after the town. A user's
fleet comes from ``sim.facility_files`` (``ENERGYDASH_GRID_FACILITIES``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from energydash.geo.outlines import in_region
from energydash.geo.places import PLACE_MARGIN_DEG, Place, places_for

log = logging.getLogger(__name__)

NETWORK_REGIONS = ("NSW1", "QLD1", "VIC1", "SA1", "TAS1")
REGION_UTC_OFFSET_H = {"NSW1": 10.0, "QLD1": 10.0, "VIC1": 10.0, "SA1": 9.5, "TAS1": 10.0}
REGION_DEMAND_SHARE = {"NSW1": 0.37, "QLD1": 0.30, "VIC1": 0.22, "SA1": 0.06, "TAS1": 0.05}
REGION_NAMES = {
    "NSW1": "New South Wales",
    "QLD1": "Queensland",
    "VIC1": "Victoria",
    "SA1": "South Australia",
    "TAS1": "Tasmania",
}
INTERCONNECTORS = (("NSW1", "QLD1"), ("VIC1", "NSW1"), ("VIC1", "SA1"), ("VIC1", "TAS1"))


@dataclass(frozen=True, slots=True)
class Fueltech:
    """Behaviour of a fuel technology: emissions, ramp, dispatch order, generated unit sizes."""

    id: str
    emissions_t_per_mwh: float
    ramp_per_min: float  # fraction of capacity per minute
    merit: int  # dispatch order for the thermal fleet; -1: not merit-dispatched
    unit_mw: tuple[float, float]
    units: tuple[int, int]
    is_load: bool = False


FUELTECHS: dict[str, Fueltech] = {
    f.id: f
    for f in (
        Fueltech("coal_brown", 1.20, 0.008, 0, (350, 560), (2, 4)),
        Fueltech("coal_black", 0.90, 0.010, 1, (300, 700), (2, 4)),
        Fueltech("bioenergy_biomass", 0.05, 0.020, 2, (5, 40), (1, 2)),
        Fueltech("bioenergy_biogas", 0.05, 0.100, 2, (1, 10), (1, 4)),
        Fueltech("gas_ccgt", 0.40, 0.050, 3, (150, 400), (1, 2)),
        Fueltech("gas_steam", 0.55, 0.030, 4, (100, 250), (1, 3)),
        Fueltech("gas_recip", 0.55, 0.200, 5, (20, 60), (2, 6)),
        Fueltech("gas_wcmg", 0.60, 0.200, 5, (5, 15), (2, 6)),
        Fueltech("gas_ocgt", 0.60, 0.200, 6, (40, 160), (1, 4)),
        Fueltech("distillate", 0.80, 0.200, 7, (10, 50), (1, 3)),
        Fueltech("hydro", 0.0, 0.500, -1, (40, 300), (1, 4)),
        Fueltech("wind", 0.0, 1.0, -1, (50, 400), (1, 1)),
        Fueltech("solar_utility", 0.0, 1.0, -1, (20, 300), (1, 1)),
        Fueltech("solar_rooftop", 0.0, 1.0, -1, (200, 1500), (1, 1)),
        Fueltech("battery_discharging", 0.0, 1.0, -1, (20, 300), (1, 1)),
        Fueltech("battery_charging", 0.0, 1.0, -1, (20, 300), (1, 1), is_load=True),
        Fueltech("pumps", 0.0, 0.5, -1, (100, 300), (1, 1), is_load=True),
    )
}
FUELTECH_IDS = tuple(FUELTECHS)
THERMAL = tuple(
    sorted((f.id for f in FUELTECHS.values() if f.merit >= 0), key=lambda i: FUELTECHS[i].merit)
)
COAL_MIN_STABLE = 0.35
# What counts towards the renewables share (OpenElectricity's rule: storage and loads do not).
RENEWABLE = (
    "wind",
    "solar_utility",
    "solar_rooftop",
    "hydro",
    "bioenergy_biomass",
    "bioenergy_biogas",
)
# Balancing: who covers a shortfall (after hydro), and who backs off in a surplus, in order.
RAISE_ORDER = (
    "gas_ocgt",
    "gas_recip",
    "gas_wcmg",
    "distillate",
    "gas_ccgt",
    "gas_steam",
    "coal_black",
    "coal_brown",
    "bioenergy_biomass",
    "bioenergy_biogas",
)
LOWER_ORDER = (
    "distillate",
    "gas_ocgt",
    "gas_recip",
    "gas_wcmg",
    "gas_steam",
    "gas_ccgt",
    "wind",
    "solar_utility",
    "hydro",
    "battery_discharging",
    "coal_black",
    "coal_brown",
    "bioenergy_biomass",
    "bioenergy_biogas",
    "solar_rooftop",
)
BATTERY_EFFICIENCY = 0.9
BATTERY_HOURS = (1.0, 4.0)
PRICE_FLOOR = -1000.0
PRICE_CAP = 17500.0
INTERVAL_S = 300.0
# Generated mixes: relative weights of fueltechs per region (a facility is one fueltech).
REGION_MIX = {
    "NSW1": {
        "coal_black": 3,
        "solar_utility": 6,
        "wind": 3,
        "hydro": 2,
        "gas_ocgt": 2,
        "gas_ccgt": 1,
        "battery": 3,
        "bioenergy_biomass": 1,
        "solar_rooftop": 1,
    },
    "QLD1": {
        "coal_black": 4,
        "solar_utility": 7,
        "wind": 2,
        "hydro": 1,
        "gas_ocgt": 2,
        "gas_recip": 2,
        "battery": 2,
        "distillate": 1,
        "solar_rooftop": 1,
    },
    "VIC1": {
        "coal_brown": 3,
        "wind": 7,
        "solar_utility": 3,
        "hydro": 2,
        "gas_ocgt": 2,
        "gas_steam": 1,
        "battery": 3,
        "solar_rooftop": 1,
    },
    "SA1": {
        "wind": 6,
        "solar_utility": 4,
        "gas_ccgt": 1,
        "gas_ocgt": 2,
        "gas_recip": 2,
        "gas_steam": 1,
        "battery": 3,
        "distillate": 1,
        "solar_rooftop": 1,
    },
    "TAS1": {"hydro": 8, "wind": 3, "gas_ocgt": 1, "solar_utility": 1},
}
REGION_WEIGHT = {"NSW1": 0.28, "QLD1": 0.25, "VIC1": 0.24, "SA1": 0.13, "TAS1": 0.10}
KIND_NAMES = {
    "coal_black": "Power Station",
    "coal_brown": "Power Station",
    "gas_ccgt": "Gas Power Station",
    "gas_ocgt": "Peaking Station",
    "gas_recip": "Gas Engines",
    "gas_steam": "Gas Power Station",
    "distillate": "Diesel Station",
    "hydro": "Hydro Scheme",
    "wind": "Wind Farm",
    "solar_utility": "Solar Farm",
    "solar_rooftop": "Rooftop Solar",
    "battery": "Battery",
    "bioenergy_biomass": "Bioenergy Plant",
}


@dataclass(slots=True)
class UnitInfo:
    code: str
    fueltech_id: str
    status: str
    capacity_registered_mw: float
    emissions_factor_t_per_mwh: float
    storage_mwh: float | None = None


@dataclass(slots=True)
class FacilityInfo:
    code: str
    name: str
    network_region: str
    lat: float
    lng: float
    status: str
    units: list[UnitInfo] = field(default_factory=list)
    network_id: str = "NEM"


@dataclass(slots=True)
class RegionState:
    demand_mw: float = 0.0
    price_aud_per_mwh: float = 0.0
    generation_mw: float = 0.0
    net_interchange_mw: float = 0.0  # positive: the region imports
    generation_by_fueltech_mw: dict[str, float] = field(default_factory=dict)
    emissions_t_per_mwh: float = 0.0
    unserved_mw: float = 0.0
    curtailed_mw: float = 0.0
    renewables_mw: float = 0.0


class GridArrays:
    """Per-unit and per-facility numbers of the last step, updated in place."""

    def __init__(self, units: int, facilities: int) -> None:
        self.unit_power_mw = np.zeros(units)
        self.unit_emissions_t = np.zeros(units)  # over the last step
        self.facility_power_mw = np.zeros(facilities)  # net: generation minus loads
        self.facility_emissions_t = np.zeros(facilities)
        self.battery_soc_mwh = np.zeros(units)  # on battery units (both halves), else 0


class DatasetError(ValueError):
    """A facilities dataset that cannot be used; the message names the file and the place."""


def _solar_sin_elevation(when: datetime, lat_deg: np.ndarray, lng_deg: np.ndarray) -> np.ndarray:
    """sin(solar elevation) at each location (NOAA-style low-precision formula)."""
    doy = when.timetuple().tm_yday
    hours = when.hour + when.minute / 60.0 + when.second / 3600.0
    gamma = 2.0 * math.pi / 365.0 * (doy - 1 + (hours - 12.0) / 24.0)
    decl = (
        0.006918
        - 0.399912 * math.cos(gamma)
        + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma)
        + 0.000907 * math.sin(2 * gamma)
    )
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )
    solar_minutes = hours * 60.0 + eqtime + 4.0 * lng_deg
    hour_angle = np.radians(solar_minutes / 4.0 - 180.0)
    lat = np.radians(lat_deg)
    return np.sin(lat) * math.sin(decl) + np.cos(lat) * math.cos(decl) * np.cos(hour_angle)


def demand_shape(local_hour: float, weekday: int) -> float:
    """Daily demand relative to the peak: morning and evening peaks, a trough at 04:00."""
    h = local_hour
    value = (
        0.68
        + 0.12 * math.exp(-(((h - 8.0) / 2.0) ** 2))
        + 0.28 * math.exp(-(((h - 18.5) / 2.6) ** 2))
        + 0.06 * math.exp(-(((h - 13.0) / 4.0) ** 2))
        - 0.08 * math.exp(-(((h - 4.0) / 2.5) ** 2))
    )
    return value * (0.93 if weekday >= 5 else 1.0)


STATUSES = ("operating", "committed", "retired")  # OpenElectricity's unit status_id values
# Generated fleets: the share of facilities not (or no longer) running, by kind.
RETIRED_SHARE = {"coal_black": 0.12, "coal_brown": 0.12, "gas_steam": 0.15, "distillate": 0.1}
COMMITTED_SHARE = {"wind": 0.08, "solar_utility": 0.08, "battery": 0.12}
SITE_SPREAD_DEG = 0.12  # how far from its town a generated facility sits (1 sigma, ~13 km)


def facility_status(units: list[UnitInfo]) -> str:
    """A facility runs if any unit runs; it is committed while any unit is still to come."""
    statuses = {u.status for u in units}
    if "operating" in statuses:
        return "operating"
    return "committed" if "committed" in statuses else "retired"


def _generated_status(rng: np.random.Generator, kind: str) -> str:
    draw = float(rng.random())
    if draw < RETIRED_SHARE.get(kind, 0.0):
        return "retired"
    if draw < COMMITTED_SHARE.get(kind, 0.0):
        return "committed"
    return "operating"


def _ensure_statuses(facilities: list[FacilityInfo]) -> None:
    """A fleet of 20 or more shows each status at least once (last fitting facility flips)."""
    if len(facilities) < 20:
        return
    wanted = (
        ("committed", ("wind", "solar_utility", "battery_discharging")),
        ("retired", THERMAL),
    )
    for status, kinds in wanted:
        if any(f.status == status for f in facilities):
            continue
        for facility in reversed(facilities):
            fits = any(u.fueltech_id in kinds for u in facility.units)
            if facility.status == "operating" and fits:
                for unit in facility.units:
                    unit.status = status
                facility.status = status
                break


def _code_stem(place: str) -> str:
    return "".join(c for c in place.upper() if c.isalpha())[:4]


def _place_and_name(
    rng: np.random.Generator, region: str, kind: str, taken: set[str]
) -> tuple[Place, str]:
    """A town of the region that suits the kind, and a name not yet taken ("Dubbo Solar Farm")."""
    candidates = places_for(region, kind)
    suffix = KIND_NAMES[kind]
    free = [p for p in candidates if f"{p.name} {suffix}" not in taken]
    if free:
        place = free[int(rng.integers(len(free)))]
        name = f"{place.name} {suffix}"
    else:  # every town has one: a second stage, as real ones are named ("... Wind Farm 2")
        place = candidates[int(rng.integers(len(candidates)))]
        n = 2
        while f"{place.name} {suffix} {n}" in taken:
            n += 1
        name = f"{place.name} {suffix} {n}"
    taken.add(name)
    return place, name


def _position_near(rng: np.random.Generator, region: str, place: Place) -> tuple[float, float]:
    """A seeded point near the town, inside the region's outline and off its edge."""
    stretch = 1.0 / math.cos(math.radians(place.lat))
    for _ in range(32):
        d_lat, d_lng = rng.normal(0.0, SITE_SPREAD_DEG, size=2)
        lat, lng = place.lat + float(d_lat), place.lng + float(d_lng) * stretch
        if in_region(region, lat, lng, PLACE_MARGIN_DEG):
            return round(lat, 4), round(lng, 4)
    return place.lat, place.lng  # the town itself is checked to lie well inside


class Grid:
    """Facilities and units of one network, with regional demand, dispatch and prices."""

    def __init__(self, facilities: list[FacilityInfo], seed: int = 0, network: str = "NEM") -> None:
        self.network = network
        self.facilities = facilities
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
        units = [(f_i, f, u) for f_i, f in enumerate(facilities) for u in f.units]
        self.units: list[UnitInfo] = [u for _, _, u in units]
        n = len(units)
        self.unit_facility = np.array([f_i for f_i, _, _ in units], dtype=np.intp)
        self.unit_region = np.array(
            [NETWORK_REGIONS.index(f.network_region) for _, f, _ in units], dtype=np.intp
        )
        self.unit_fueltech = [u.fueltech_id for u in self.units]
        self.capacity_mw = np.array([u.capacity_registered_mw for u in self.units], dtype=float)
        operating = np.array([u.status == "operating" for u in self.units], dtype=bool)
        self.capacity_mw = np.where(operating, self.capacity_mw, 0.0)
        self.emission_factor = np.array(
            [u.emissions_factor_t_per_mwh for u in self.units], dtype=float
        )
        self.ramp_forced = np.zeros(len(self.units), dtype=bool)  # set by each step
        self.ramp_mw_per_min = (
            np.array(
                [
                    FUELTECHS[ft].ramp_per_min if ft in FUELTECHS else 1.0
                    for ft in self.unit_fueltech
                ]
            )
            * self.capacity_mw
        )
        self.unit_lat = np.array([f.lat for _, f, _ in units], dtype=float)
        self.unit_lng = np.array([f.lng for _, f, _ in units], dtype=float)
        self._by_tech = {
            ft: np.flatnonzero(np.array([t == ft for t in self.unit_fueltech], dtype=bool))
            for ft in FUELTECH_IDS
        }
        tech_code = np.array([FUELTECH_IDS.index(ft) for ft in self.unit_fueltech], dtype=np.intp)
        self._region_tech = self.unit_region * len(FUELTECH_IDS) + tech_code
        self._present = (
            np.bincount(
                self._region_tech, minlength=len(NETWORK_REGIONS) * len(FUELTECH_IDS)
            ).reshape(len(NETWORK_REGIONS), len(FUELTECH_IDS))
            > 0
        )
        self.is_load = np.zeros(n, dtype=bool)
        for ft in ("battery_charging", "pumps"):
            self.is_load[self._by_tech[ft]] = True
        thermal = [i for ft in THERMAL for i in self._by_tech[ft]]
        self._thermal = np.array(thermal, dtype=np.intp)
        self._coal = np.concatenate([self._by_tech["coal_black"], self._by_tech["coal_brown"]])
        # batteries: pair the charging and discharging units of a facility
        pairs: list[tuple[int, int, float]] = []
        halves: dict[int, tuple[list[int], list[int]]] = {}  # facility -> (discharging, charging)
        for side, ft in enumerate(("battery_discharging", "battery_charging")):
            for k in self._by_tech[ft].tolist():
                halves.setdefault(int(self.unit_facility[k]), ([], []))[side].append(k)
        for f_i in sorted(halves):
            dis, chg = halves[f_i]
            for k in dis:
                c = chg.pop(0) if chg else -1
                storage = self.units[k].storage_mwh or self.capacity_mw[k] * 2.0
                pairs.append((k, c, storage))
            for c in chg:
                pairs.append((-1, c, self.units[c].storage_mwh or self.capacity_mw[c] * 2.0))
        self._bat_dis = np.array([p[0] for p in pairs], dtype=np.intp)
        self._bat_chg = np.array([p[1] for p in pairs], dtype=np.intp)
        self._bat_storage = np.array([p[2] for p in pairs], dtype=float)
        self._bat_soc = self._bat_storage * 0.5
        self._bat_region = np.array(
            [self.unit_region[d if d >= 0 else c] for d, c, _ in pairs], dtype=np.intp
        )
        dis_cap = np.where(self._bat_dis >= 0, self.capacity_mw[np.maximum(self._bat_dis, 0)], 0.0)
        chg_cap = np.where(self._bat_chg >= 0, self.capacity_mw[np.maximum(self._bat_chg, 0)], 0.0)
        self._bat_dis_cap, self._bat_chg_cap = dis_cap, chg_cap

        # demand scaled to what the fleet can serve at its evening peak
        firm = (
            self.capacity_mw[self._thermal].sum() + self.capacity_mw[self._by_tech["hydro"]].sum()
        )
        variable = self.capacity_mw[self._by_tech["wind"]].sum() * 0.25 + dis_cap.sum() * 0.8
        peak_mw = 0.8 * (firm + variable)
        if peak_mw <= 0:
            peak_mw = 0.3 * self.capacity_mw.sum()
        self.peak_demand_mw = {r: peak_mw * REGION_DEMAND_SHARE[r] for r in NETWORK_REGIONS}
        self._demand_noise = np.zeros(len(NETWORK_REGIONS))
        self._wind_state = self.rng.standard_normal(n) * 0.5
        self._wind_common = self.rng.standard_normal(len(NETWORK_REGIONS)) * 0.5
        self._cloud = self.rng.standard_normal(n) * 0.5
        self._has_output = False

        self.arrays = GridArrays(n, len(facilities))
        self.regions: dict[str, RegionState] = {r: RegionState() for r in NETWORK_REGIONS}
        self.interconnectors: dict[str, float] = {f"{a}->{b}": 0.0 for a, b in INTERCONNECTORS}
        self.interval_start: datetime | None = None
        self.now: datetime | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def generate(cls, seed: int, facility_count: int, network: str = "NEM") -> Grid:
        """A plausible NEM-like fleet of ``facility_count`` facilities, same seed same fleet."""
        rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
        regions = list(REGION_WEIGHT)
        facilities: list[FacilityInfo] = []
        region_of = rng.choice(
            len(regions), size=facility_count, p=np.array(list(REGION_WEIGHT.values()))
        )
        if facility_count >= len(regions):  # every region gets at least one facility
            region_of[: len(regions)] = np.arange(len(regions))
        names: set[str] = set()
        for i in range(facility_count):
            region = regions[int(region_of[i])]
            mix = REGION_MIX[region]
            kinds = list(mix)
            weights = np.array(list(mix.values()), dtype=float)
            kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
            place, name = _place_and_name(rng, region, kind, names)
            lat, lng = _position_near(rng, region, place)
            code = f"{_code_stem(place.name)}{i + 1:03d}"
            status = _generated_status(rng, kind)
            units: list[UnitInfo] = []
            if kind == "battery":
                mw = float(round(rng.uniform(20, 300)))
                hours = float(rng.uniform(*BATTERY_HOURS))
                storage = round(mw * hours, 1)
                units.append(
                    UnitInfo(f"{code}_DIS", "battery_discharging", status, mw, 0.0, storage)
                )
                units.append(UnitInfo(f"{code}_CHG", "battery_charging", status, mw, 0.0, storage))
            else:
                tech = FUELTECHS[kind]
                count = int(rng.integers(tech.units[0], tech.units[1] + 1))
                size = float(round(rng.uniform(*tech.unit_mw)))
                for u in range(count):
                    factor = tech.emissions_t_per_mwh * float(rng.uniform(0.95, 1.05))
                    unit_status = (
                        "retired" if count > 1 and u == count - 1 and rng.random() < 0.1 else status
                    )
                    units.append(
                        UnitInfo(f"{code}_{u + 1}", kind, unit_status, size, round(factor, 4))
                    )
            facilities.append(
                FacilityInfo(code, name, region, lat, lng, facility_status(units), units, network)
            )
        _ensure_statuses(facilities)
        return cls(facilities, seed=seed, network=network)

    @classmethod
    def from_dataset(cls, path: str | Path, seed: int = 0, max_facilities: int = 20_000) -> Grid:
        """The facilities of a user's dataset: see ``sim.facility_files`` for what is read.

        Raises DatasetError naming the file and the line, row or JSON path at fault.
        """
        from energydash.sim import facility_files  # it builds this module's FacilityInfo

        loaded = facility_files.load(Path(path), max_facilities=max_facilities)
        log.info("grid facilities from %s", loaded.line(Path(path)))
        return cls(loaded.facilities, seed=seed, network="NEM")

    def to_openelectricity(self) -> list[dict[str, Any]]:
        """The facilities as OpenElectricity v4 facility records (what ``/facilities`` returns)."""
        out = []
        for f in self.facilities:
            out.append(
                {
                    "code": f.code,
                    "name": f.name,
                    "network_id": f.network_id,
                    "network_region": f.network_region,
                    "description": None,
                    "location": {"lat": f.lat, "lng": f.lng},
                    "units": [
                        {
                            "code": u.code,
                            "fueltech_id": u.fueltech_id,
                            "status_id": u.status,
                            "capacity_registered": u.capacity_registered_mw,
                            "capacity_storage": u.storage_mwh,
                            "emissions_factor_co2": u.emissions_factor_t_per_mwh,
                            "dispatch_type": "LOAD"
                            if FUELTECHS.get(u.fueltech_id) and FUELTECHS[u.fueltech_id].is_load
                            else "GENERATOR",
                        }
                        for u in f.units
                    ],
                }
            )
        return out

    # ------------------------------------------------------------------ the step
    def step(self, now: datetime, dt_s: float) -> None:
        """Advance to sim time ``now`` (UTC) after ``dt_s`` seconds."""
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        now = now.astimezone(UTC)
        rng = self.rng
        n = self.capacity_mw.shape[0]
        nr = len(NETWORK_REGIONS)
        cap = self.capacity_mw
        prev = self.arrays.unit_power_mw.copy()
        draws = rng.standard_normal(3 * n + 2 * nr)
        wind_draw, cloud_draw, noise_draw = draws[:n], draws[n : 2 * n], draws[2 * n : 3 * n]
        region_draw, common_draw = draws[3 * n : 3 * n + nr], draws[3 * n + nr :]
        del noise_draw

        # demand per region in local time
        demand = np.zeros(nr)
        shape = np.zeros(nr)
        a_d = math.exp(-dt_s / 3600.0)
        self._demand_noise = a_d * self._demand_noise + math.sqrt(1 - a_d * a_d) * region_draw
        for r, region in enumerate(NETWORK_REGIONS):
            local = now + timedelta(hours=REGION_UTC_OFFSET_H[region])
            hour = local.hour + local.minute / 60.0 + local.second / 3600.0
            shape[r] = demand_shape(hour, local.weekday())
            demand[r] = (
                self.peak_demand_mw[region] * shape[r] * (1.0 + 0.02 * self._demand_noise[r])
            )
        out = np.zeros(n)

        # solar: the sun at each site, zero at night
        solar = np.concatenate([self._by_tech["solar_utility"], self._by_tech["solar_rooftop"]])
        a_c = math.exp(-dt_s / 7200.0)
        self._cloud = a_c * self._cloud + math.sqrt(1 - a_c * a_c) * cloud_draw
        if solar.size:
            sin_el = _solar_sin_elevation(now, self.unit_lat[solar], self.unit_lng[solar])
            clear = np.power(np.clip(sin_el, 0.0, None), 1.2)
            cloud = np.clip(0.85 + 0.12 * self._cloud[solar], 0.2, 1.0)
            out[solar] = cap[solar] * 0.9 * clear * cloud

        # wind: AR(1) around a 35 % capacity factor with a regional common part
        a_w = math.exp(-dt_s / 21600.0)
        self._wind_state = a_w * self._wind_state + math.sqrt(1 - a_w * a_w) * wind_draw
        self._wind_common = a_w * self._wind_common + math.sqrt(1 - a_w * a_w) * common_draw
        wind = self._by_tech["wind"]
        if wind.size:
            x = 0.6 * self._wind_state[wind] + 0.8 * self._wind_common[self.unit_region[wind]]
            out[wind] = cap[wind] * np.clip(0.35 + 0.22 * x, 0.0, 1.0)

        # hydro peaks with demand
        hydro = self._by_tech["hydro"]
        if hydro.size:
            peakness = np.clip((shape[self.unit_region[hydro]] - 0.80) / 0.20, 0.0, 1.0)
            target = cap[hydro] * (0.10 + 0.80 * peakness)
            out[hydro] = self._ramp(hydro, target, prev, dt_s)

        # batteries: charge under the sun, discharge into the evening peak
        dt_h = max(dt_s, 1e-6) / 3600.0
        if self._bat_storage.size:
            region_hour = np.array(
                [
                    (
                        (now + timedelta(hours=REGION_UTC_OFFSET_H[r])).hour
                        + (now + timedelta(hours=REGION_UTC_OFFSET_H[r])).minute / 60.0
                    )
                    for r in NETWORK_REGIONS
                ]
            )[self._bat_region]
            charging = (region_hour >= 9.5) & (region_hour < 15.5)
            discharging = (region_hour >= 17.0) & (region_hour < 21.5)
            room = (self._bat_storage - self._bat_soc) / (BATTERY_EFFICIENCY * dt_h)
            chg = np.where(
                charging, np.minimum(self._bat_chg_cap * 0.8, np.maximum(room, 0.0)), 0.0
            )
            dis = np.where(
                discharging, np.minimum(self._bat_dis_cap * 0.9, self._bat_soc / dt_h), 0.0
            )
            has_dis, has_chg = self._bat_dis >= 0, self._bat_chg >= 0
            out[self._bat_dis[has_dis]] = dis[has_dis]
            out[self._bat_chg[has_chg]] = chg[has_chg]

        # pumps stay idle: pumped hydro is not modelled beyond its load unit

        # thermal merit order over the whole network
        fixed = np.setdiff1d(np.arange(n), self._thermal, assume_unique=False)
        loads_mw = out[self.is_load].sum()
        residual = demand.sum() + loads_mw - out[fixed][~self.is_load[fixed]].sum()
        th = self._thermal
        if th.size:
            cap_th = cap[th]
            before = np.cumsum(cap_th) - cap_th
            target = np.clip(residual - before, 0.0, cap_th)
            is_coal = np.isin(th, self._coal)
            target = np.where(is_coal, np.maximum(target, COAL_MIN_STABLE * cap_th), target)
            out[th] = self._ramp(th, target, prev, dt_s)

        # balance the network exactly: thermal and hydro within their ramps first
        self.ramp_forced = np.zeros(n, dtype=bool)  # units the last resort dropped past their ramp
        if self._has_output:
            step = self.ramp_mw_per_min * dt_s / 60.0
            lo, hi = np.maximum(prev - step, 0.0), np.minimum(prev + step, cap)
        else:
            lo, hi = np.zeros(n), cap.copy()
        gen_mask = ~self.is_load
        mismatch = demand.sum() + out[self.is_load].sum() - out[gen_mask].sum()
        unserved = 0.0
        curtailed = np.zeros(n)
        if mismatch > 1e-9:
            order = np.concatenate([hydro, *(self._by_tech[ft] for ft in RAISE_ORDER)])
            mismatch = _allocate(out, order, hi[order] - out[order], mismatch, +1.0)
            if mismatch > 1e-9:
                unserved = mismatch
        elif mismatch < -1e-9:
            surplus = -mismatch
            order = np.concatenate([*(self._by_tech[ft] for ft in LOWER_ORDER)])
            ramped = np.isin(order, self._thermal) | np.isin(order, hydro)
            room = np.where(ramped, out[order] - lo[order], out[order])
            before_cut = out.copy()
            surplus = _allocate(out, order, room, surplus, -1.0)
            if surplus > 1e-9:  # last resort: thermal units drop faster than their ramp
                surplus = _allocate(out, order, out[order].copy(), surplus, -1.0)
                self.ramp_forced = out < lo - 1e-9
            curtailed = before_cut - out
            curtailed[~np.isin(np.arange(n), np.concatenate([wind, solar]))] = 0.0
        np.clip(out, 0.0, cap, out=out)

        # battery state of charge from the final outputs
        if self._bat_storage.size:
            has_dis, has_chg = self._bat_dis >= 0, self._bat_chg >= 0
            dis = np.where(has_dis, out[np.maximum(self._bat_dis, 0)], 0.0)
            chg = np.where(has_chg, out[np.maximum(self._bat_chg, 0)], 0.0)
            self._bat_soc = np.clip(
                self._bat_soc + (chg * BATTERY_EFFICIENCY - dis) * dt_h, 0.0, self._bat_storage
            )
            soc_units = self.arrays.battery_soc_mwh
            soc_units[:] = 0.0
            soc_units[self._bat_dis[has_dis]] = self._bat_soc[has_dis]
            soc_units[self._bat_chg[has_chg]] = self._bat_soc[has_chg]

        # served demand per region: shed proportionally if the network ran short
        total_demand = demand.sum()
        served = demand * (1.0 - unserved / total_demand) if total_demand > 0 else demand
        arrays = self.arrays
        arrays.unit_power_mw[:] = out
        np.multiply(out, self.emission_factor * dt_h, out=arrays.unit_emissions_t)
        signed = np.where(self.is_load, -out, out)
        arrays.facility_power_mw[:] = np.bincount(
            self.unit_facility, weights=signed, minlength=len(self.facilities)
        )
        arrays.facility_emissions_t[:] = np.bincount(
            self.unit_facility, weights=arrays.unit_emissions_t, minlength=len(self.facilities)
        )

        gen_r = np.bincount(self.unit_region, weights=signed, minlength=nr)
        emis_rate_r = np.bincount(
            self.unit_region, weights=out * self.emission_factor, minlength=nr
        )
        curtailed_r = np.bincount(self.unit_region, weights=curtailed, minlength=nr)
        nft = len(FUELTECH_IDS)
        by_ft = np.bincount(self._region_tech, weights=out, minlength=nr * nft).reshape(nr, nft)
        gross_r = np.bincount(
            self.unit_region, weights=np.where(self.is_load, 0.0, out), minlength=nr
        )
        net_import = served - gen_r
        net_import -= net_import.sum() / nr  # remove floating-point residue so flows close
        new_interval = self.interval_start is None or now >= self.interval_start + timedelta(
            seconds=INTERVAL_S
        )
        for r, region in enumerate(NETWORK_REGIONS):
            state = self.regions[region]
            state.demand_mw = float(served[r])
            state.generation_mw = float(gen_r[r])
            state.net_interchange_mw = float(served[r] - gen_r[r])
            state.unserved_mw = float(demand[r] - served[r])
            state.curtailed_mw = float(curtailed_r[r])
            state.generation_by_fueltech_mw = {
                ft: float(by_ft[r, c]) for c, ft in enumerate(FUELTECH_IDS) if self._present[r, c]
            }
            state.renewables_mw = float(sum(by_ft[r, FUELTECH_IDS.index(ft)] for ft in RENEWABLE))
            gross = float(gross_r[r])
            state.emissions_t_per_mwh = float(emis_rate_r[r] / gross) if gross > 0 else 0.0
        self._flows(net_import)
        if new_interval:
            self.interval_start = now.replace(second=0, microsecond=0) - timedelta(
                minutes=now.minute % 5
            )
            self._price(demand, out)
        self.now = now
        self._has_output = True

    def _ramp(
        self, idx: np.ndarray, target: np.ndarray, prev: np.ndarray, dt_s: float
    ) -> np.ndarray:
        cap = self.capacity_mw[idx]
        if not self._has_output:
            return np.clip(target, 0.0, cap)
        step = self.ramp_mw_per_min[idx] * dt_s / 60.0
        return np.clip(np.clip(target, prev[idx] - step, prev[idx] + step), 0.0, cap)

    def _flows(self, net_import: np.ndarray) -> None:
        """Flows on the interconnector tree from each region's net import (leaves first)."""
        imp = dict(zip(NETWORK_REGIONS, net_import.tolist(), strict=True))
        qld = imp["QLD1"]
        self.interconnectors["NSW1->QLD1"] = qld
        self.interconnectors["VIC1->NSW1"] = imp["NSW1"] + qld
        self.interconnectors["VIC1->SA1"] = imp["SA1"]
        self.interconnectors["VIC1->TAS1"] = imp["TAS1"]

    def _price(self, demand: np.ndarray, out: np.ndarray) -> None:
        cap = self.capacity_mw
        nr = len(NETWORK_REGIONS)
        variable = np.zeros(cap.shape[0], dtype=bool)
        for ft in ("wind", "solar_utility", "solar_rooftop"):
            variable[self._by_tech[ft]] = True
        available = np.where(variable, out, cap)
        available[self.is_load] = 0.0
        avail_r = np.bincount(self.unit_region, weights=available, minlength=nr)
        vre_r = np.bincount(self.unit_region, weights=np.where(variable, out, 0.0), minlength=nr)
        total_ratio = demand.sum() / max(avail_r.sum(), 1.0)
        noise = self.rng.standard_normal(nr)
        for r, region in enumerate(NETWORK_REGIONS):
            regional = demand[r] / max(avail_r[r], 1.0)
            ratio = 0.6 * total_ratio + 0.4 * min(regional, 2.0)
            price = 30.0 + 120.0 * math.exp(8.0 * (ratio - 0.8))
            vre_share = vre_r[r] / demand[r] if demand[r] > 0 else 0.0
            price -= 150.0 * max(0.0, vre_share - 0.6) / 0.4
            price *= 1.0 + 0.05 * noise[r]
            self.regions[region].price_aud_per_mwh = float(min(max(price, PRICE_FLOOR), PRICE_CAP))

    # ------------------------------------------------------------------ accessors
    def state(self) -> dict[str, Any]:
        """What a restart must keep: battery charge and the wind's slow weather state."""
        return {
            "unit_codes": [u.code for u in self.units],
            "battery_soc_mwh": self._bat_soc.tolist(),
            "wind_state": self._wind_state.tolist(),
            "wind_common": self._wind_common.tolist(),
        }

    def restore_state(self, saved: dict[str, Any]) -> bool:
        """Apply ``state()`` of the same grid; False (nothing changed) for another grid."""
        try:
            if saved.get("unit_codes") != [u.code for u in self.units]:
                return False
            soc = np.array(saved["battery_soc_mwh"], dtype=float)
            wind = np.array(saved["wind_state"], dtype=float)
            common = np.array(saved["wind_common"], dtype=float)
        except (AttributeError, KeyError, TypeError, ValueError):
            return False
        shapes = (soc.shape, wind.shape, common.shape)
        if shapes != (self._bat_soc.shape, self._wind_state.shape, self._wind_common.shape):
            return False
        if not all(np.all(np.isfinite(a)) for a in (soc, wind, common)):
            return False
        self._bat_soc = np.clip(soc, 0.0, self._bat_storage)
        self._wind_state = wind
        self._wind_common = common
        return True

    def facility_index(self, code: str) -> int:
        for i, f in enumerate(self.facilities):
            if f.code == code:
                return i
        raise KeyError(f"no facility {code!r}")

    def unit_slice(self, facility_index: int) -> np.ndarray:
        return np.flatnonzero(self.unit_facility == facility_index)


def _allocate(
    out: np.ndarray, order: np.ndarray, room: np.ndarray, amount: float, sign: float
) -> float:
    """Move ``amount`` MW into (+1) or out of (-1) ``out[order]`` within ``room``; return rest."""
    if order.size == 0 or amount <= 0:
        return amount
    room = np.maximum(room, 0.0)
    before = np.cumsum(room) - room
    take = np.clip(amount - before, 0.0, room)
    np.add.at(out, order, sign * take)
    return max(0.0, amount - float(take.sum()))
