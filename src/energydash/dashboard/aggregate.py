"""Totals the pages show, computed from wire frames (pure functions, easy to test)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FleetTotals:
    power_w: float = 0.0
    energy_kwh: float = 0.0
    outlets_on: int = 0
    outlets_total: int = 0
    breakers_tripped: int = 0
    phase_current_a: dict[str, float] = field(default_factory=dict)
    phase_power_w: dict[str, float] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    pdus: int = 0
    unknown: list[str] = field(default_factory=list)  # PDUs reporting no data (comm lost)

    @property
    def partial(self) -> bool:
        """True when some PDU reports nothing: the totals leave it out, they do not count it 0."""
        return bool(self.unknown)


def fleet_totals(summaries: list[dict[str, Any]]) -> FleetTotals:
    """Add up ``pdu/{id}/summary`` frames; per-phase loads are summed by phase name."""
    totals = FleetTotals()
    current: dict[str, float] = defaultdict(float)
    power: dict[str, float] = defaultdict(float)
    for summary in summaries:
        totals.pdus += 1
        if summary.get("power_w") is None:
            totals.unknown.append(str(summary.get("pdu_id")))
        totals.power_w += summary.get("power_w") or 0.0
        totals.energy_kwh += summary.get("energy_kwh") or 0.0
        totals.outlets_on += summary.get("outlets_on") or 0
        totals.outlets_total += summary.get("outlets_total") or 0
        totals.breakers_tripped += summary.get("breakers_tripped") or 0
        for phase in summary.get("phases") or []:
            current[phase.get("phase", "?")] += phase.get("current_a") or 0.0
            power[phase.get("phase", "?")] += phase.get("power_w") or 0.0
        name = summary.get("name") or f"PDU {summary.get('pdu_id')}"
        totals.alerts += [f"{name}: {alert}" for alert in summary.get("alerts") or []]
    totals.phase_current_a = dict(sorted(current.items()))
    totals.phase_power_w = dict(sorted(power.items()))
    return totals


@dataclass
class GridTotals:
    demand_mw: float = 0.0
    generation_mw: float = 0.0
    price_aud_per_mwh: float | None = None  # demand-weighted across regions
    emissions_t_per_mwh: float | None = None  # generation-weighted across regions
    generation_by_fueltech_mw: dict[str, float] = field(default_factory=dict)
    regions: int = 0
    renewables_share: float | None = None  # of gross generation (loads not netted off)
    curtailed_mw: float | None = None
    interconnectors: list[tuple[str, str, float]] = field(default_factory=list)  # from, to, MW
    # False when no region sent the figure (a replay of facilities or of prices alone): "—", not 0
    has_demand: bool = False
    has_generation: bool = False


def grid_totals(market: dict[str, Any] | None, regions: list[str] | None = None) -> GridTotals:
    """Totals of a ``market/{network}`` frame, over all regions or only ``regions``."""
    totals = GridTotals()
    mix: dict[str, float] = defaultdict(float)
    price_weighted = 0.0
    intensity_weighted = 0.0
    for region in (market or {}).get("regions") or []:
        if regions is not None and region.get("region") not in regions:
            continue
        totals.regions += 1
        demand = region.get("demand_mw") or 0.0
        generation = region.get("generation_mw") or 0.0
        totals.has_demand |= isinstance(region.get("demand_mw"), int | float)
        totals.has_generation |= isinstance(region.get("generation_mw"), int | float)
        totals.demand_mw += demand
        totals.generation_mw += generation
        price_weighted += (region.get("price_aud_per_mwh") or 0.0) * demand
        intensity_weighted += (region.get("emissions_t_per_mwh") or 0.0) * generation
        for fueltech, mw in (region.get("generation_by_fueltech_mw") or {}).items():
            mix[fueltech] += mw or 0.0
    if totals.demand_mw > 0:
        totals.price_aud_per_mwh = price_weighted / totals.demand_mw
    if totals.generation_mw > 0:
        totals.emissions_t_per_mwh = intensity_weighted / totals.generation_mw
    totals.generation_by_fueltech_mw = dict(mix)
    _renewables_and_flows(totals, market, regions)
    return totals


LOAD_FUELTECHS = frozenset({"battery_charging", "pumps"})


def _renewables_and_flows(
    totals: GridTotals, market: dict[str, Any] | None, regions: list[str] | None
) -> None:
    """Renewables share, curtailment and flows, where the source sends them (the simulator)."""
    renewables: list[float] = []
    curtailed: list[float] = []
    for region in (market or {}).get("regions") or []:
        if regions is not None and region.get("region") not in regions:
            continue
        if isinstance(region.get("renewables_mw"), int | float):
            renewables.append(region["renewables_mw"])
        if isinstance(region.get("curtailed_mw"), int | float):
            curtailed.append(region["curtailed_mw"])
    gross = sum(
        mw for tech, mw in totals.generation_by_fueltech_mw.items() if tech not in LOAD_FUELTECHS
    )
    if renewables and gross > 0:
        totals.renewables_share = sum(renewables) / gross
    if curtailed:
        totals.curtailed_mw = sum(curtailed)
    for flow in (market or {}).get("interconnectors") or []:
        a, b, mw = flow.get("from_region"), flow.get("to_region"), flow.get("flow_mw")
        if isinstance(mw, int | float) and a and b:
            totals.interconnectors.append((a, b, float(mw)) if mw >= 0 else (b, a, -float(mw)))


def tick_seconds(timestamps: list[str]) -> float | None:
    """Seconds of data time between the last two frames: the period a per-tick figure covers."""
    if len(timestamps) < 2:
        return None
    from datetime import datetime

    try:
        a, b = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in timestamps[-2:])
    except ValueError:
        return None
    seconds = (b - a).total_seconds()
    return seconds if seconds > 0 else None


def emissions_rate(emissions_t: float | None, period_s: float | None) -> str:
    """A facility's emissions of one tick as a rate with its period: "1.23 t/h (5 s tick)"."""
    if emissions_t is None:
        return "—"
    if not period_s:
        return f"{emissions_t:,.2f} t (last tick)"
    return f"{emissions_t * 3600 / period_s:,.1f} t/h ({period_s:g} s tick)"
