"""Suggestions with an estimated saving (AUD, kg CO2) and a priority, from what the hub holds.

- ``power_down_idle``: outlets switched On with nothing drawing (< ``idle_w``): switching
  them Off saves their standby draw plus the relay coil's hold power for a day. Applied as
  OutletPower Off commands.
- ``shift_load``: flexible loads (HVAC pre-cooling, kitchen appliances) deferred to the
  cheapest / cleanest of the coming ``FORECAST_H`` hours. The forecast scales the region's
  current price and intensity by the grid's daily demand shape (``sim.grid.demand_shape``):
  prices follow demand; a naive forecast, stated as such. Applied as OutletPower Off now; the
  detail says when to switch back On.
- ``rebalance_phases``: a PDU whose phase currents differ by more than ``IMBALANCE`` of
  their mean; the saving is the neutral-conductor loss avoided (estimated). Moving a cord is
  physical work, so it is not appliable through the command API (``appliable`` false).
- ``schedule_maintenance``: equipment whose failure probability is high; the saving is the
  expected cost of an unplanned failure avoided. Applied as the unit's repair (its faults
  cleared), standing in for the maintenance visit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from energydash.models.alerts import Suggestion
from energydash.sim.grid import demand_shape

FORECAST_H = 6
FLEXIBLE_PROFILES = ("hvac", "kitchen_appliance")
IMBALANCE = 0.25
NEUTRAL_LOSS_FRACTION = 0.02  # share of the imbalance power lost in the neutral (estimate)
RELAY_HOLD_W = 0.5  # a switched-On outlet's relay coil draws this much, device or not


def _priority(saving_aud: float) -> str:
    return "high" if saving_aud >= 5.0 else "medium" if saving_aud >= 1.0 else "low"


def forecast(
    price_aud_per_mwh: float, intensity_t_per_mwh: float, local_hour: float, weekday: int
) -> list[tuple[int, float, float]]:
    """(hours ahead, price AUD/MWh, intensity t/MWh) for the coming hours."""
    now = demand_shape(local_hour, weekday)
    out = []
    for ahead in range(FORECAST_H + 1):
        shape = demand_shape((local_hour + ahead) % 24, weekday) / now
        # intensity moves less than price: peaking plant is only part of the mix
        out.append((ahead, price_aud_per_mwh * shape**3, intensity_t_per_mwh * shape**0.5))
    return out


def suggestions(
    outlets: list[dict[str, Any]],
    market: dict[str, Any] | None,
    risk: list[tuple[str, float]],
    *,
    now: datetime,
    local_hour: float,
    weekday: int,
    idle_w: float,
    failure_cost_aud: float,
    risk_probability: float,
) -> list[Suggestion]:
    regions = (market or {}).get("regions") or []
    prices = [r.get("price_aud_per_mwh") for r in regions if r.get("price_aud_per_mwh")]
    intensities = [r.get("emissions_t_per_mwh") for r in regions if r.get("emissions_t_per_mwh")]
    price = sum(prices) / len(prices) if prices else 100.0
    intensity = sum(intensities) / len(intensities) if intensities else 0.7
    aud_per_kwh = max(price, 0.0) / 1000.0
    kg_per_kwh = intensity  # t/MWh == kg/kWh
    out: list[Suggestion] = []
    for data in outlets:
        pdu_id = str(data["pdu_id"])
        cols = data.get("outlets") or {}
        rows = list(
            zip(
                cols.get("id") or [],
                cols.get("power_state") or [],
                cols.get("power_w") or [],
                cols.get("profile") or [],
                cols.get("phase") or [],
                cols.get("current_a") or [],
                strict=False,
            )
        )
        idle = [
            (oid, w)
            for oid, state, w, _profile, _phase, _a in rows
            if state == "On" and w is not None and w < idle_w
        ]
        if idle:
            kwh = sum(w + RELAY_HOLD_W for _, w in idle) * 24 / 1000.0
            saving = kwh * aud_per_kwh
            out.append(
                Suggestion(
                    id=f"idle-{pdu_id}",
                    kind="power_down_idle",
                    title=f"Power down {len(idle)} idle outlets on PDU {pdu_id}",
                    detail=", ".join(o for o, _ in idle[:12])
                    + f": together {sum(w for _, w in idle):.1f} W with nothing drawing",
                    priority=_priority(saving),  # type: ignore[arg-type]
                    saving_aud=round(saving, 2),
                    saving_kg_co2=round(kwh * kg_per_kwh, 2),
                    target=f"pdu/{pdu_id}",
                    appliable=True,
                    commands=[{"pdu_id": pdu_id, "outlet_id": o, "action": "Off"} for o, _ in idle],
                )
            )
        flexible = [
            (oid, w)
            for oid, state, w, profile, _phase, _a in rows
            if state == "On" and w and profile in FLEXIBLE_PROFILES
        ]
        if flexible:
            ahead = forecast(price, intensity, local_hour, weekday)
            best = min(ahead, key=lambda row: row[1])
            if best[0] > 0 and best[1] < ahead[0][1]:
                kwh = sum(w for _, w in flexible) / 1000.0  # one hour of their load
                saving = kwh * (ahead[0][1] - best[1]) / 1000.0
                co2 = kwh * max(ahead[0][2] - best[2], 0.0)
                back_on = (now + timedelta(hours=best[0])).strftime("%H:%M UTC")
                out.append(
                    Suggestion(
                        id=f"shift-{pdu_id}",
                        kind="shift_load",
                        title=f"Shift {len(flexible)} flexible loads on PDU {pdu_id} by "
                        f"{best[0]} h",
                        detail=f"forecast price {best[1]:.0f} vs {ahead[0][1]:.0f} AUD/MWh now; "
                        f"switch them back On at {back_on}",
                        priority=_priority(saving),  # type: ignore[arg-type]
                        saving_aud=round(saving, 2),
                        saving_kg_co2=round(co2, 2),
                        target=f"pdu/{pdu_id}",
                        appliable=True,
                        commands=[
                            {"pdu_id": pdu_id, "outlet_id": o, "action": "Off"} for o, _ in flexible
                        ],
                    )
                )
        phase_a: dict[str, float] = {}
        for _oid, _state, _w, _profile, phase, amps in rows:
            if amps is not None:
                phase_a[phase] = phase_a.get(phase, 0.0) + amps
        if len(phase_a) > 1:
            mean = sum(phase_a.values()) / len(phase_a)
            spread = max(phase_a.values()) - min(phase_a.values())
            if mean > 0 and spread / mean > IMBALANCE:
                heavy = max(phase_a, key=phase_a.__getitem__)
                light = min(phase_a, key=phase_a.__getitem__)
                kwh = spread * 230.0 * NEUTRAL_LOSS_FRACTION * 24 / 1000.0
                out.append(
                    Suggestion(
                        id=f"phases-{pdu_id}",
                        kind="rebalance_phases",
                        title=f"Rebalance PDU {pdu_id}: move {spread / 2:.1f} A from {heavy} "
                        f"to {light}",
                        detail="phase currents "
                        + ", ".join(f"{p} {a:.1f} A" for p, a in sorted(phase_a.items()))
                        + "; move cords by hand (not a command)",
                        priority=_priority(kwh * aud_per_kwh),  # type: ignore[arg-type]
                        saving_aud=round(kwh * aud_per_kwh, 2),
                        saving_kg_co2=round(kwh * kg_per_kwh, 2),
                        target=f"pdu/{pdu_id}",
                        appliable=False,
                    )
                )
    for device, probability in risk:
        if probability < risk_probability:
            continue
        saving = probability * failure_cost_aud
        out.append(
            Suggestion(
                id=f"maint-{device}",
                kind="schedule_maintenance",
                title=f"Schedule maintenance of {device}",
                detail=f"{probability:.0%} chance of failure within the hour",
                priority="high" if probability >= 0.5 else "medium",
                saving_aud=round(saving, 2),
                saving_kg_co2=0.0,
                target=device,
                appliable=True,
                commands=[{"repair": device}],
            )
        )
    order = {"high": 0, "medium": 1, "low": 2}
    return sorted(out, key=lambda s: (order[s.priority], -s.saving_aud))
