"""Topic data built from the engine after each tick: one build per topic per tick.

Bulk numbers come from the fleet's numpy arrays (``tolist()`` per PDU slice), so a
1,000-outlet fleet costs a handful of array copies per tick, not 1,000 reading objects.
NaN (a sensor in dropout) becomes ``null`` when orjson encodes the frame.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import numpy as np

from energydash.hub.hub import Hub, iso
from energydash.hub.slices import Sliced
from energydash.models.topics import (
    FacilitiesData,
    FacilityColumns,
    InterconnectorFlow,
    MarketData,
    MarketRegion,
    UnitColumns,
)
from energydash.sim.engine import Engine
from energydash.sim.pdu import Fleet
from energydash.sim.topology import PduInfo

log = logging.getLogger(__name__)

HEALTH = ("OK", "Warning", "Critical")


def _num(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _rounded(value: float | None, decimals: int) -> float | None:
    number = _num(value)
    return None if number is None else round(number, decimals)


def _power_states(fleet: Fleet, sl: slice) -> list[str]:
    on = fleet.relay_on[sl] if hasattr(fleet, "relay_on") else fleet.arrays.outlet_on[sl]
    pending = getattr(fleet, "pending_on_at", None)
    powering = ~np.isnan(pending[sl]) if pending is not None else np.zeros(on.size, dtype=bool)
    return np.where(on, "On", np.where(powering, "PoweringOn", "Off")).tolist()


def pdu_outlets(fleet: Fleet, pdu: PduInfo) -> dict[str, Any]:
    sl = fleet.outlet_slice(pdu.id)
    arr = fleet.arrays
    blind = bool(fleet.comm_lost[pdu.index]) if hasattr(fleet, "comm_lost") else False
    devices = [fleet.device(o.index) for o in pdu.outlets]

    def column(values: np.ndarray, decimals: int) -> list[float | None]:
        if blind:
            return [None] * len(pdu.outlets)
        # Rounded to meter resolution: full float64 digits tripled the frame size for no
        # information, and frame bytes are what /ws fan-out to 1,000 clients costs.
        return np.round(values[sl], decimals).tolist()

    branches = []
    for branch in pdu.branches:
        reading = fleet.circuit(pdu.id, branch.id)
        branches.append(
            {
                "id": branch.id,
                "name": branch.name,
                "phases": branch.phases,
                "rating_a": branch.rating_a,
                # meter resolution, as the outlet columns: every /ws update carries these
                "current_a": _rounded(reading.current_a, 3),
                "power_w": _rounded(reading.power_w, 1),
                "breaker_state": reading.breaker_state,
                "health": reading.health,
            }
        )
    return {
        "pdu_id": pdu.id,
        "name": pdu.name,
        "model": pdu.model,
        "branches": branches,
        "outlets": {
            "id": [o.id for o in pdu.outlets],
            "name": [o.name for o in pdu.outlets],
            "branch_id": [o.branch_id for o in pdu.outlets],
            "phase": [o.phase for o in pdu.outlets],
            "power_state": _power_states(fleet, sl),
            "power_w": column(arr.outlet_power_w, 1),
            "current_a": column(arr.outlet_current_a, 3),
            "voltage_v": column(arr.outlet_voltage_v, 1),
            "power_factor": column(arr.outlet_power_factor, 3),
            "energy_kwh": column(arr.outlet_energy_kwh, 5),
            "health": [HEALTH[h] for h in arr.outlet_health[sl].tolist()],
            "device": [d.name if d else None for d in devices],
            "profile": [d.profile if d else None for d in devices],
            "rating_a": [o.rating_a for o in pdu.outlets],
        },
    }


def pdu_summary(fleet: Fleet, pdu: PduInfo, outlets: dict[str, Any]) -> dict[str, Any]:
    reading = fleet.pdu(pdu.id)
    branches = outlets["branches"]
    tripped = [b for b in branches if b["breaker_state"] == "Tripped"]
    alerts = list(reading.health_reasons)
    if not reading.comm_ok and "communication lost" not in " ".join(alerts).lower():
        alerts.append("communication lost")
    states = outlets["outlets"]["power_state"]
    dead = {b["id"] for b in branches if b["breaker_state"] != "Normal"}
    return {
        "pdu_id": pdu.id,
        "name": pdu.name,
        "power_w": _num(reading.power_w),
        "energy_kwh": _num(reading.energy_kwh),
        "phases": [
            {
                "phase": label,
                "voltage_v": _num(phase.voltage_v),
                "current_a": _num(phase.current_a),
                "power_w": _num(phase.power_w),
            }
            for label, phase in reading.phases.items()
        ],
        "breakers_tripped": len(tripped),
        # An outlet on a tripped branch is switched On but delivers nothing: it is not on.
        "outlets_on": sum(
            1
            for state, branch in zip(states, outlets["outlets"]["branch_id"], strict=True)
            if state == "On" and branch not in dead
        ),
        "outlets_total": len(states),
        "health": reading.health,
        "alerts": alerts,
    }


def devices(
    fleet: Fleet, pdu: PduInfo, outlets: dict[str, Any], only: set[str] | None = None
) -> dict[str, dict[str, Any]]:
    """``devices/{pdu}-{outlet}`` for every outlet with a device plugged in (or those of
    ``only``)."""
    cols = outlets["outlets"]
    out = {}
    for k, info in enumerate(pdu.outlets):
        if only is not None and info.id not in only:
            continue
        device = fleet.device(info.index)
        if device is None:
            continue
        device_id = f"{pdu.id}-{info.id}"
        out[f"devices/{device_id}"] = {
            "device_id": device_id,
            "pdu_id": pdu.id,
            "outlet_id": info.id,
            "name": device.name,
            "profile": device.profile,
            "online": device.online,
            "power_state": cols["power_state"][k],
            "power_w": _num(cols["power_w"][k]),
            "energy_kwh": _num(cols["energy_kwh"][k]),
        }
    return out


def facilities(engine: Engine) -> dict[str, Any]:
    """Topic ``facilities`` (FacilitiesData): each facility and each of its units, live."""
    grid = engine.grid
    arrays = grid.arrays
    rows = grid.facilities
    fueltechs = []
    capacity = []
    for facility in rows:
        best: dict[str, float] = {}
        for unit in facility.units:
            best[unit.fueltech_id] = best.get(unit.fueltech_id, 0.0) + unit.capacity_registered_mw
        fueltechs.append(max(best, key=best.__getitem__) if best else None)
        capacity.append(sum(u.capacity_registered_mw for u in facility.units))
    units = grid.units
    data = FacilitiesData(
        network=grid.network,
        interval=iso(grid.interval_start) if grid.interval_start else None,
        facilities=FacilityColumns(
            code=[f.code for f in rows],
            name=[f.name for f in rows],
            region=[f.network_region for f in rows],
            fueltech=fueltechs,
            status=[f.status for f in rows],
            lat=[f.lat for f in rows],
            lng=[f.lng for f in rows],
            capacity_mw=capacity,
            power_mw=arrays.facility_power_mw.tolist(),
            emissions_t=arrays.facility_emissions_t.tolist(),
        ),
        units=UnitColumns(
            facility=grid.unit_facility.tolist(),
            code=[u.code for u in units],
            fueltech=[u.fueltech_id for u in units],
            status=[u.status for u in units],
            capacity_mw=[u.capacity_registered_mw for u in units],
            power_mw=np.round(arrays.unit_power_mw, 3).tolist(),  # kW resolution: small frames
        ),
    )
    return data.model_dump()


def market(engine: Engine) -> dict[str, Any]:
    """Topic ``market/{network}`` (MarketData): regions and interconnector flows."""
    grid = engine.grid
    data = MarketData(
        network=grid.network,
        interval=iso(grid.interval_start) if grid.interval_start else None,
        regions=[
            MarketRegion(
                region=code,
                price_aud_per_mwh=state.price_aud_per_mwh,
                demand_mw=state.demand_mw,
                generation_mw=state.generation_mw,
                net_interchange_mw=state.net_interchange_mw,
                emissions_t_per_mwh=state.emissions_t_per_mwh,
                generation_by_fueltech_mw=dict(state.generation_by_fueltech_mw),
                renewables_mw=state.renewables_mw,
                curtailed_mw=state.curtailed_mw,
                unserved_mw=state.unserved_mw,
            )
            for code, state in grid.regions.items()
        ],
        interconnectors=[
            InterconnectorFlow(id=key, from_region=a, to_region=b, flow_mw=flow)
            for key, flow in grid.interconnectors.items()
            for a, b in [key.split("->")]
        ],
    )
    return data.model_dump()


class SnapshotPublisher:
    """Engine tick → hub: every PDU's outlets and summary, devices, facilities and market."""

    def __init__(self, engine: Engine, hub: Hub) -> None:
        self.engine = engine
        self.hub = hub
        self.last_pdu_sent_ms = 0.0
        self.last_refresh_ms = 0.0
        self.refreshes = 0
        self.refresh_requests = 0
        self.commands_coalesced = 0
        self.device_pdus_deferred = 0
        self.pdus_deferred = 0
        self._pdu_cursor = 0
        self._device_cursor = 0
        self.publish_count = 0
        self._refresh_pending = False
        self._builds = Sliced()  # the tick's build, in slices on a realtime clock

    def attach(self) -> Any:
        return self.engine.on_tick(lambda engine: self.publish())

    def refresh_soon(self) -> None:
        """After a change made outside a tick (Redfish, REST, MQTT command): publish what it
        touched within ``command_refresh_s``, unless a tick publishes first.

        Commands arriving meanwhile share that one refresh (``commands_coalesced``): at
        thousands of commands a second the faces get at most one refresh per window, not one
        per command. ``flush()`` publishes a pending refresh at once (a REST read does).
        """
        self.refresh_requests += 1
        if self._refresh_pending:
            self.commands_coalesced += 1
            return
        delay = self.engine.settings.command_refresh_s
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.publish_touched()  # no loop (a script driving the engine): at once
            return
        if delay <= 0:
            self.publish_touched()
            return
        self._refresh_pending = True
        loop.call_later(delay, self.flush)

    def flush(self) -> None:
        """Publish a pending refresh now (idempotent)."""
        if self._refresh_pending:
            self._refresh_pending = False
            self.publish_touched()

    def _now(self) -> Any:
        now = self.engine.clock.now()
        return now.replace(tzinfo=UTC) if now.tzinfo is None else now

    def _publish_pdu(self, pdu: PduInfo, now: Any, only: set[str] | None = None) -> None:
        fleet, hub = self.engine.fleet, self.hub
        outlets = pdu_outlets(fleet, pdu)
        hub.publish(f"pdu/{pdu.id}/outlets", outlets, ts=now)
        hub.publish(f"pdu/{pdu.id}/summary", pdu_summary(fleet, pdu, outlets), ts=now)
        for topic, data in devices(fleet, pdu, outlets, only).items():
            hub.publish(topic, data, ts=now)

    def publish_touched(self) -> int:
        """After commands: refresh only the PDUs (and device topics) they changed.

        A command costs one PDU's two topics plus its changed devices, not every topic of the
        fleet; the MQTT messages that follow from them are as few. Returns topics published.
        """
        touched = self.engine.pop_touched()
        if not touched:
            return 0
        started = time.perf_counter()
        before = self.hub.published_total
        now = self._now()
        fleet = self.engine.fleet
        for pdu_id, only in touched.items():
            self._publish_pdu(fleet.pdu_info(pdu_id), now, only)
        self.last_refresh_ms = (time.perf_counter() - started) * 1000.0
        self.refreshes += 1
        return self.hub.published_total - before

    def publish(self) -> None:
        """Every topic of a tick, within a time budget of ``snapshot_budget_fraction`` of the
        tick interval (a stepped clock has none and publishes everything at once).

        PDU outlets and summaries (and the MQTT telemetry that follows them) come first: the
        PDUs commands touched, then the others in rotation, until 70 % of the budget is spent;
        the rest wait for a later tick (``pdus_deferred``). Device topics, the bulk of a large
        fleet (one per outlet with a device), follow in their own rotation until the budget is
        spent (``device_pdus_deferred``). Both are counted in /metrics.

        With a budget the build runs in slices (``hub.slices``) with the event loop free
        between them: a 1,000-PDU tick builds for half a second, and in one piece it held
        every REST answer and /ws write back that long (GET p99 740 ms). A tick that comes
        while the last one's build is still going ends that build; what it had not reached
        is counted as deferred, and the rotation resumes there.
        """
        budgeted = self.engine.tick_interval_s > 0 and self.engine.settings.snapshot_budget_fraction
        self._builds.start(self._build(), sliced=bool(budgeted))

    @property
    def last_build_ms(self) -> float:
        """The last tick build's own time (without the work that ran between its slices)."""
        return self._builds.busy_ms

    @property
    def slices(self) -> int:
        return self._builds.slices

    def _build(self) -> Iterator[None]:
        """The tick's topics, yielding after each PDU table and each PDU's devices."""
        started = time.perf_counter()
        self.publish_count += 1
        engine, hub = self.engine, self.hub
        touched = engine.pop_touched()
        now = self._now()
        fleet = engine.fleet
        pdus = fleet.pdus
        count = len(pdus)
        interval = engine.tick_interval_s
        budget = engine.settings.snapshot_budget_fraction * interval if interval > 0 else None

        def over(share: float) -> bool:
            return budget is not None and time.perf_counter() - started > budget * share

        def publish_pdu(pdu: PduInfo) -> None:
            outlets = pdu_outlets(fleet, pdu)
            hub.publish(f"pdu/{pdu.id}/outlets", outlets, ts=now)
            hub.publish(f"pdu/{pdu.id}/summary", pdu_summary(fleet, pdu, outlets), ts=now)

        # What a build ended early (the budget, or the next tick) did not reach is deferred.
        built = devices_done = 0
        try:
            seen: set[str] = set()
            for pdu_id in touched:  # what commands changed goes first
                if built and over(0.7):
                    break
                seen.add(pdu_id)
                publish_pdu(fleet.pdu_info(pdu_id))
                built += 1
                yield
            cursor = self._pdu_cursor
            for k in range(count):
                pdu = pdus[(cursor + k) % count]
                if pdu.id not in seen:
                    if built and over(0.7):
                        break
                    seen.add(pdu.id)
                    publish_pdu(pdu)
                    built += 1
                self._pdu_cursor = (cursor + k + 1) % count  # the rotation resumes after it
                yield
            # the PDU tables go out to /ws clients now; device topics and the grid follow
            hub.flush()
            self.last_pdu_sent_ms = (time.perf_counter() - started) * 1000.0
            for _ in range(count):
                if devices_done and over(1.0):
                    break
                pdu = pdus[self._device_cursor]
                state = hub.latest(f"pdu/{pdu.id}/outlets")
                if state is not None:  # the latest outlets table, this tick's or an earlier one
                    for topic, data in devices(fleet, pdu, state.data).items():
                        hub.publish(topic, data, ts=now)
                devices_done += 1
                self._device_cursor = (self._device_cursor + 1) % count
                yield
        finally:
            self.pdus_deferred += count - built
            self.device_pdus_deferred += count - devices_done
        grid = engine.grid
        hub.sources.expire()
        # While a replay feeds any grid topic, it has the whole grid (hub.sources): a
        # simulated price beside replayed facilities would be a mix of two worlds.
        if not hub.sources.replaying:
            if grid.facilities:
                hub.publish("facilities", facilities(engine), ts=now)
            if grid.regions:
                hub.publish(f"market/{grid.network}", market(engine), ts=now)
