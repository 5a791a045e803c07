"""Rules for what physics makes certain, on a PDU's outlets topic (``PduOutletsData``).

Only the outlets topic is read (it is also the PDU's MQTT telemetry), so the in-process
analytics and ``energydash analytics`` on the broker see the same thing and raise the same
alerts: comm loss (every reading null), breaker trips, branch current thresholds, and a
health change of a branch or outlet (sensor faults, relay failures, overloads).
"""

from __future__ import annotations

from typing import Any

from energydash.analytics.alerts import Condition

HEALTH_SEVERITY = {"Warning": "warning", "Critical": "critical"}
BRANCH_WARN_FRACTION = 0.8


def pdu_is_blind(data: dict[str, Any]) -> bool:
    """True when a PDU reports nothing at all: its outlets and branches read null."""
    outlets = data.get("outlets") or {}
    powers = outlets.get("power_w") or []
    branches = data.get("branches") or []
    return (
        bool(powers)
        and all(v is None for v in powers)
        and all(b.get("current_a") is None for b in branches)
    )


def pdu_conditions(data: dict[str, Any], last_data_iso: str | None) -> list[Condition]:
    pdu_id = str(data["pdu_id"])
    name = data.get("name") or f"PDU {pdu_id}"
    root = f"pdu/{pdu_id}"
    if pdu_is_blind(data):
        since = f" since {last_data_iso}" if last_data_iso else ""
        return [
            Condition(
                "comm_loss", "no_data", "critical", root, f"no data from {name}{since}", pdu_id
            )
        ]
    out: list[Condition] = []
    tripped: set[str] = set()
    for branch in data.get("branches") or []:
        bid = str(branch["id"])
        target = f"{root}/branch/{bid}"
        if branch.get("breaker_state") == "Tripped":
            tripped.add(bid)
            out.append(
                Condition(
                    "breaker",
                    "tripped",
                    "critical",
                    target,
                    f"{name} {branch.get('name', bid)} breaker tripped",
                    pdu_id,
                )
            )
            continue
        current, rating = branch.get("current_a"), branch.get("rating_a")
        if isinstance(current, int | float) and isinstance(rating, int | float) and rating > 0:
            if current > rating:
                out.append(
                    Condition(
                        "threshold",
                        "current_high",
                        "critical",
                        target,
                        f"{name} branch {bid} draws {current:.1f} A, above its {rating:g} A rating",
                        pdu_id,
                    )
                )
            elif current > BRANCH_WARN_FRACTION * rating:
                out.append(
                    Condition(
                        "threshold",
                        "current_high",
                        "warning",
                        target,
                        f"{name} branch {bid} draws {current:.1f} A, above 80 % of {rating:g} A",
                        pdu_id,
                    )
                )
        severity = HEALTH_SEVERITY.get(str(branch.get("health")))
        if severity:
            out.append(
                Condition(
                    "health_change",
                    "health",
                    severity,
                    target,
                    f"{name} branch {bid} health {branch.get('health')}",
                    pdu_id,
                )
            )
    outlets = data.get("outlets") or {}
    for oid, bid, health in zip(
        outlets.get("id") or [],
        outlets.get("branch_id") or [],
        outlets.get("health") or [],
        strict=False,
    ):
        severity = HEALTH_SEVERITY.get(str(health))
        if severity and bid not in tripped:  # the trip alert explains its outlets
            out.append(
                Condition(
                    "health_change",
                    "health",
                    severity,
                    f"{root}/{oid}",
                    f"{name} outlet {oid} health {health}",
                    pdu_id,
                )
            )
    return out
