"""Site topics built from the engine after each tick, through their models in models/sites.py.

``site/{id}`` (SiteStats), ``site/{id}/devices`` (SiteDevicesData) and ``cost/pdu/{id}``
(PduCostData). REST, GraphQL and MQTT build their bodies with the same functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np

from energydash.hub.hub import Hub, iso
from energydash.hub.slices import Sliced
from energydash.models.sites import (
    IotDeviceData,
    IotDeviceInfo,
    OutletCostColumns,
    PduCostData,
    SiteDevicesData,
    SiteDeviceView,
    SiteEnergy,
    SiteStats,
    SiteStorage,
    SiteView,
)
from energydash.sim.engine import Engine
from energydash.sim.grid import NETWORK_REGIONS
from energydash.sim.sites import (
    KINDS,
    LOAD_PROFILES,
    MODES,
    ROLE,
    SITE_COUNTERS,
    SPEC_FIELDS,
    SiteFleet,
    profile_slot,
)

STORAGE_KINDS = ("battery", "ev")


def _energy(sites: SiteFleet, i: int, prefix: str) -> SiteEnergy:
    s = sites.sites.data
    v = {c: float(s[f"{prefix}{c}"][i]) for c in SITE_COUNTERS}
    produced, exported = v["produced_kwh"], v["exported_kwh"]
    pct = None
    if produced > 0:
        pct = float(np.clip((produced - exported) / produced * 100.0, 0.0, 100.0))
    return SiteEnergy(
        produced_kwh=v["produced_kwh"],
        consumed_kwh=v["consumed_kwh"],
        imported_kwh=v["imported_kwh"],
        exported_kwh=exported,
        charged_kwh=v["charged_kwh"],
        discharged_kwh=v["discharged_kwh"],
        self_consumption_pct=pct,
        import_cost_aud=v["import_cost_aud"],
        export_revenue_aud=v["export_revenue_aud"],
        net_cost_aud=v["import_cost_aud"] - v["export_revenue_aud"],
        carbon_kg=v["carbon_kg"],
    )


def storage_of(sites: SiteFleet, indices: np.ndarray) -> SiteStorage:
    totals = sites.site_totals(indices)
    cap, level = totals["capacity_wh"], totals["level_wh"]
    return SiteStorage(
        total_capacity_wh=cap,
        current_level_wh=level,
        percentage=level / cap * 100.0 if cap > 0 else 0.0,
    )


def timestamp(sites: SiteFleet) -> str:
    return iso(sites.now or datetime.now(UTC))


def site_stats(
    sites: SiteFleet, i: int, storage: tuple[np.ndarray, np.ndarray] | None = None
) -> SiteStats:
    """``storage``: ``sites.storage_by_site()`` when building every site (saves a pass each)."""
    s = sites.sites
    net = float(s.net_grid_flow_w[i])
    price = float(s.price_aud_per_mwh[i])
    intensity = float(s.emissions_kg_per_kwh[i])
    fit = sites.settings.site_feed_in_tariff_aud_per_kwh
    import_kw, export_kw = max(net, 0.0) / 1000.0, max(-net, 0.0) / 1000.0
    return SiteStats(
        site_id=s.site_id[i],
        name=s.name[i],
        owner=s.owner[i],
        region=NETWORK_REGIONS[int(s.region[i])],  # type: ignore[arg-type]
        timestamp=timestamp(sites),
        production_w=float(s.production_w[i]),
        consumption_w=float(s.consumption_w[i]),
        storage=storage_of(sites, np.array([i]))
        if storage is None
        else SiteStorage(
            total_capacity_wh=float(storage[0][i]),
            current_level_wh=float(storage[1][i]),
            percentage=float(storage[1][i] / storage[0][i] * 100.0) if storage[0][i] > 0 else 0.0,
        ),
        storage_flow_w=float(s.storage_flow_w[i]),
        net_grid_flow_w=net,
        curtailed_w=float(s.curtailed_w[i]),
        over_import_limit=net > float(s.import_limit_w[i]),
        price_aud_per_mwh=price,
        emissions_kg_per_kwh=intensity,
        cost_rate_aud_per_h=import_kw * price / 1000.0 - export_kw * fit,
        carbon_rate_kg_per_h=import_kw * intensity,
        local_date=sites.local_date(i),
        today=_energy(sites, i, "day_"),
        lifetime=_energy(sites, i, ""),
    )


def device_columns(sites: SiteFleet) -> dict[str, list[Any]]:
    """Every device column as a Python list: one conversion per column for a whole publish,
    instead of a numpy scalar per field per device."""
    return {n: (c if isinstance(c, list) else c.tolist()) for n, c in sites.devices.data.items()}


def device_view(
    sites: SiteFleet, k: int, columns: dict[str, list[Any]] | None = None
) -> SiteDeviceView:
    c = columns if columns is not None else {n: [v] for n, v in sites.devices.row(k).items()}
    if columns is None:
        k = 0
    kind = KINDS[c["kind"][k]]
    level = capacity = pct = None
    if kind in STORAGE_KINDS:
        level, capacity = c["level_wh"][k], c["capacity_wh"][k]
        pct = level / capacity * 100.0 if capacity > 0 else 0.0
    settings = {name: c[name][k] for name in SPEC_FIELDS[kind]}
    if "profile" in settings:
        settings["profile"] = LOAD_PROFILES[profile_slot(settings["profile"])]
    if "mode" in settings:
        settings["mode"] = MODES[settings["mode"]]
    online = c["online"][k]
    return SiteDeviceView(
        device_id=c["device_id"][k],
        site_id=sites.sites.site_id[c["site"][k]],
        name=c["name"][k],
        kind=kind,  # type: ignore[arg-type]
        role=ROLE[kind],  # type: ignore[arg-type]
        label=c["label"][k],
        location=c["location"][k],
        enabled=c["enabled"][k],
        online=online,
        power_w=c["power_w"][k],
        voltage_v=c["voltage_v"][k] if online else 0.0,
        current_a=c["current_a"][k],
        power_factor=c["power_factor"][k],
        phases=c["phases"][k],
        energy_kwh=c["energy_kwh"][k],
        level_wh=level,
        capacity_wh=capacity,
        percentage=pct,
        settings=settings,
    )


def site_devices(
    sites: SiteFleet,
    i: int,
    indices: np.ndarray | None = None,
    columns: dict[str, list[Any]] | None = None,
) -> SiteDevicesData:
    """``indices`` (``sites.site_groups()``) and ``columns`` (``device_columns``) when building
    every site at once."""
    if indices is None:
        indices = np.flatnonzero(sites.devices.site == i)
    return SiteDevicesData(
        site_id=sites.sites.site_id[i],
        timestamp=timestamp(sites),
        devices=[device_view(sites, k, columns) for k in indices.tolist()],
    )


def site_view(sites: SiteFleet, i: int) -> SiteView:
    s = sites.sites
    return SiteView(
        site_id=s.site_id[i],
        name=s.name[i],
        owner=s.owner[i],
        region=NETWORK_REGIONS[int(s.region[i])],  # type: ignore[arg-type]
        lat=float(s.lat[i]),
        lng=float(s.lng[i]),
        import_limit_w=float(s.import_limit_w[i]),
        export_limit_w=float(s.export_limit_w[i]),
        created_at=s.created_at[i],
        device_count=int(np.count_nonzero(sites.devices.site == i)),
        stats=site_stats(sites, i),
    )


def iot_data(sites: SiteFleet, k: int) -> IotDeviceData:
    d = sites.devices
    online = bool(d.online[k])
    return IotDeviceData(
        device_id=d.device_id[k],
        timestamp=timestamp(sites),
        power=round(float(d.power_w[k]) / 1000.0, 3),
        voltage=round(float(d.voltage_v[k]), 1) if online else 0.0,
        current=round(float(d.current_a[k]), 2),
        energy=round(float(d.energy_kwh[k]), 4),
        status="online" if online else "offline",
        enabled=bool(d.enabled[k]),
    )


def iot_info(sites: SiteFleet, k: int) -> dict[str, Any]:
    d = sites.devices
    kind = KINDS[int(d.kind[k])]
    base_w = d.capacity_wh[k] if kind in STORAGE_KINDS else d.rated_w[k]
    if kind in STORAGE_KINDS:
        base_w = d.max_charge_w[k]
    info = IotDeviceInfo(
        id=d.device_id[k],
        name=d.name[k],
        type=d.label[k] or kind,
        location=d.location[k],
        status="online" if d.online[k] else "offline",
        enabled=bool(d.enabled[k]),
        last_seen=timestamp(sites),
        created_at=d.created_at[k],
        firmware="energydash-sim",
        model=f"EnergyDash-{(d.label[k] or kind).upper()}",
        serial_number=f"SN{int(d.device_id[k]):08d}"
        if d.device_id[k].isdigit()
        else d.device_id[k],
        current_readings=iot_data(sites, k),
        base_power=float(base_w) / 1000.0,
        base_voltage=float(d.voltage_v[k]),
        site_id=sites.sites.site_id[int(d.site[k])],
        kind=kind,  # type: ignore[arg-type]
    )
    return info.model_dump(by_alias=True)


def pdu_owners(sites: SiteFleet) -> dict[str, str]:
    """PDU id -> the site that has it as a device (the last such device, as it was added)."""
    devices = sites.devices
    return {
        devices.pdu_id[k]: sites.sites.site_id[int(devices.site[k])]
        for k in np.flatnonzero(devices.kind == KINDS.index("pdu")).tolist()
    }


def pdu_cost(engine: Engine, pdu_index: int, owners: dict[str, str] | None = None) -> PduCostData:
    """One PDU's energy, cost and carbon; ``owners`` (``pdu_owners``) when costing many PDUs:
    finding a PDU's site scans every site device."""
    fleet, sites = engine.fleet, engine.sites
    pdu = fleet.pdus[pdu_index]
    sl = fleet.outlet_slice(pdu.id)
    region = int(sites.outlet_region[sl.start]) if sites.outlet_region.size else 0
    name = NETWORK_REGIONS[region]
    state = engine.grid.regions[name]
    cost = sites.outlet_cost_aud[sl] if sites.outlet_cost_aud.size else np.zeros(sl.stop - sl.start)
    carbon = (
        sites.outlet_carbon_kg[sl] if sites.outlet_carbon_kg.size else np.zeros(sl.stop - sl.start)
    )
    energy = fleet.lifetime_kwh[sl]
    owner_site = (pdu_owners(sites) if owners is None else owners).get(pdu.id)
    return PduCostData(
        pdu_id=pdu.id,
        site_id=owner_site,
        region=name,  # type: ignore[arg-type]
        price_aud_per_mwh=state.price_aud_per_mwh,
        emissions_kg_per_kwh=state.emissions_t_per_mwh,
        energy_kwh=float(energy.sum()),
        cost_aud=float(cost.sum()),
        carbon_kg=float(carbon.sum()),
        outlets=OutletCostColumns(
            id=[o.id for o in pdu.outlets],
            energy_kwh=np.round(energy, 5).tolist(),
            cost_aud=np.round(cost, 6).tolist(),
            carbon_kg=np.round(carbon, 6).tolist(),
        ),
    )


class SitePublisher:
    """Engine tick → hub: every site's stats and devices, and every PDU's cost."""

    def __init__(self, engine: Engine, hub: Hub) -> None:
        self.engine = engine
        self.hub = hub
        self._published: set[str] = set()
        self._builds = Sliced()

    def attach(self) -> Any:
        return self.engine.on_tick(lambda engine: self.publish())

    def publish(self) -> None:
        """Every site's stats and devices, then every PDU's cost; on a realtime clock the PDU
        costs (one topic per PDU: a thousand with a big fleet) go out in slices."""
        self._builds.start(self._build(), sliced=self.engine.tick_interval_s > 0)

    @property
    def last_build_ms(self) -> float:
        return self._builds.busy_ms

    def _build(self) -> Iterator[None]:
        engine, hub, sites = self.engine, self.hub, self.engine.sites
        now = engine.clock.now()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        current: set[str] = set()
        groups = sites.site_groups()
        storage = sites.storage_by_site()
        columns = device_columns(sites)
        for i in range(sites.n_sites):
            site_id = sites.sites.site_id[i]
            current.add(site_id)
            hub.publish(f"site/{site_id}", site_stats(sites, i, storage).model_dump(), ts=now)
            devices = site_devices(sites, i, groups[i], columns).model_dump()
            hub.publish(f"site/{site_id}/devices", devices, ts=now)
        for gone in self._published - current:
            hub.drop(f"site/{gone}")
            hub.drop(f"site/{gone}/devices")
        self._published = current
        owners = pdu_owners(sites)
        for p in range(len(engine.fleet.pdus)):
            pdu = engine.fleet.pdus[p]
            hub.publish(f"cost/pdu/{pdu.id}", pdu_cost(engine, p, owners).model_dump(), ts=now)
            yield
