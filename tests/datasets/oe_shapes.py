"""Responses in the OpenElectricity v4 shapes, with the units real exports have.

A battery is listed the way the API lists it: one BIDIRECTIONAL unit (``battery``, net output)
plus its split twins ``battery_discharging`` (GENERATOR) and ``battery_charging`` (LOAD, charging
as a positive number). Pumped hydro has ``hydro`` generators and ``pumps`` loads. Every unit and
facility field of the v4 ``/facilities/`` response is present, dates with their offsets.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

START = datetime.fromisoformat("2025-01-13T00:00:00+10:00")
STAMPS = [(START + timedelta(minutes=5 * i)).isoformat() for i in range(4)]


def unit(
    code: str,
    fueltech: str,
    dispatch: str,
    capacity: float,
    *,
    storage: float | None = None,
    status: str = "operating",
) -> dict[str, Any]:
    return {
        "code": code,
        "fueltech_id": fueltech,
        "status_id": status,
        "capacity_registered": capacity,
        "capacity_maximum": capacity,
        "capacity_storage": storage,
        "emissions_factor_co2": 0.0,
        "data_first_seen": "2020-03-01T10:05:00+10:00",
        "data_last_seen": "2025-01-20T09:55:00+10:00",
        "dispatch_type": dispatch,
        "commencement_date": "2017-12-01T00:00:00+10:00",
        "commencement_date_specificity": "month",
        "commencement_date_display": "Dec 2017",
        "closure_date": None,
        "closure_date_specificity": None,
        "closure_date_display": None,
        "expected_operation_date": None,
        "expected_operation_date_specificity": None,
        "expected_operation_date_display": None,
        "expected_closure_date": "2045-06-30T00:00:00+10:00",
        "expected_closure_date_specificity": "year",
        "expected_closure_date_display": "2045",
        "construction_start_date": None,
        "construction_start_date_specificity": None,
        "construction_start_date_display": None,
        "project_approval_date": None,
        "project_approval_date_specificity": None,
        "project_approval_date_display": None,
        "project_lodgement_date": None,
        "created_at": "2023-01-31T12:00:00+00:00",
        "updated_at": "2025-01-02T03:04:05+00:00",
    }


def facility(code: str, name: str, region: str, units: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "network_id": "NEM",
        "network_region": region,
        "description": f"<p>{name}</p>",
        "npi_id": None,
        "location": {"lat": -33.1, "lng": 138.2},
        "units": units,
        "created_at": "2023-01-31T12:00:00+00:00",
        "updated_at": "2025-01-02T03:04:05+00:00",
        "fueltech_group_hint": "mixed",  # a field the SDK 0.12 does not model
    }


FACILITIES = [
    facility("HORNSDALE", "Hornsdale Power Reserve", "SA1", [
        unit("HPR1", "battery", "BIDIRECTIONAL", 150.0, storage=194.0),
        unit("HPRG1", "battery_discharging", "GENERATOR", 150.0, storage=194.0),
        unit("HPRL1", "battery_charging", "LOAD", 150.0, storage=194.0),
    ]),
    facility("TUMUT3", "Tumut 3", "NSW1", [
        unit("TUMUT3_1", "hydro", "GENERATOR", 250.0),
        unit("TUMUT3_2", "hydro", "GENERATOR", 250.0),
        unit("SNOWYP", "pumps", "LOAD", 200.0),
    ]),
    facility("MIXED", "Wind Sun and Store", "VIC1", [
        unit("MIXW1", "wind", "GENERATOR", 100.0),
        unit("MIXS1", "solar_utility", "GENERATOR", 100.0),
        unit("MIXBG1", "battery_discharging", "GENERATOR", 50.0, storage=100.0),
        unit("MIXBL1", "battery_charging", "LOAD", 50.0, storage=100.0),
    ]),
]  # fmt: skip

# Power per unit at STAMPS (MW, as the API reports: loads positive, bidirectional signed).
POWER: dict[str, list[float | None]] = {
    "HPR1": [100.0, -80.0, None, 50.0],
    "HPRG1": [100.0, 0.0, 30.0, 50.0],
    "HPRL1": [0.0, 80.0, 0.0, 0.0],
    "TUMUT3_1": [150.0, 0.0, 0.0, 100.0],
    "TUMUT3_2": [150.0, 0.0, 0.0, 0.0],
    "SNOWYP": [0.0, 200.0, 150.0, 0.0],
    "MIXW1": [40.0, 41.0, 42.0, 43.0],
    "MIXS1": [10.0, 11.0, 12.0, 13.0],
    "MIXBG1": [5.0, 0.0, 0.0, 0.0],
    "MIXBL1": [0.0, 7.0, 0.0, 0.0],
}
# What the facility's power must be: the bidirectional battery once, loads negative.
EXPECTED_POWER = {
    "HORNSDALE": [100.0, -80.0, 30.0, 50.0],  # t2: the battery is silent, its twins stand in
    "TUMUT3": [300.0, -200.0, -150.0, 100.0],
    "MIXED": [55.0, 45.0, 54.0, 56.0],
}


def envelope(data: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": "4.3.0",
        "created_at": "2025-01-13T01:00:00+10:00",
        "success": True,
        "error": None,
        "data": data,
        "total_records": len(data),
    }


def facilities_response() -> dict[str, Any]:
    return envelope(FACILITIES)


def facility_data_response(codes: list[str] | None = None) -> dict[str, Any]:
    """``/data/facilities/NEM`` for the units of ``codes`` (default: all)."""
    owner = {u["code"]: f["code"] for f in FACILITIES for u in f["units"]}
    results = [
        {
            "name": f"power_{code}",
            "date_start": STAMPS[0],
            "date_end": STAMPS[-1],
            "columns": {"unit_code": code},
            "data": [[s, v] for s, v in zip(STAMPS, values, strict=True)],
        }
        for code, values in POWER.items()
        if codes is None or owner[code] in codes
    ]
    return envelope(
        [
            {
                "network_code": "NEM",
                "metric": "power",
                "unit": "MW",
                "interval": "5m",
                "groupings": [],
                "results": results,
                "network_timezone_offset": "+10:00",
            }
        ]
    )


def market_response(stamps: list[str] = STAMPS) -> dict[str, Any]:
    """Price per region; at STAMPS[2] every region's price is null (a real export has these)."""
    results = [
        {
            "name": f"price_{region}",
            "date_start": stamps[0],
            "date_end": stamps[-1],
            "columns": {"region": region},
            "data": [[s, None if i == 2 else 50.0 + i] for i, s in enumerate(stamps)],
        }
        for region in ("NSW1", "SA1")
    ]
    return envelope(
        [
            {
                "network_code": "NEM",
                "metric": "price",
                "unit": "$/MWh",
                "interval": "5m",
                "groupings": ["network_region"],
                "results": results,
                "network_timezone_offset": "+10:00",
            }
        ]
    )
