"""A PDU that reports nothing is unknown: fleet totals leave it out and say they are partial."""

from __future__ import annotations

from energydash.dashboard.aggregate import fleet_totals


def summary(pdu_id: str, power_w: float | None) -> dict:
    return {
        "pdu_id": pdu_id,
        "name": f"Rack PDU {pdu_id}",
        "power_w": power_w,
        "energy_kwh": None if power_w is None else 3.0,
        "phases": [
            {"phase": "L1", "current_a": None if power_w is None else 2.0, "power_w": power_w}
        ],
        "breakers_tripped": 0,
        "outlets_on": 4,
        "outlets_total": 4,
        "alerts": [],
    }


def test_comm_lost_pdu_is_unknown_and_totals_are_partial() -> None:
    totals = fleet_totals([summary("1", 1200.0), summary("2", None)])
    assert totals.partial and totals.unknown == ["2"]
    assert totals.power_w == 1200.0 and totals.pdus == 2


def test_totals_of_a_fully_reporting_fleet_are_not_partial() -> None:
    totals = fleet_totals([summary("1", 1200.0), summary("2", 800.0)])
    assert not totals.partial and totals.power_w == 2000.0
