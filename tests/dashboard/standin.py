"""A wire-format stand-in for the backend, used only while developing the dashboard alone.

It speaks the documented /ws envelope and the outlet power REST call with made-up numbers.
The browser tests run against the real `energydash serve`; this is for quick local runs:
`python tests/dashboard/standin.py 8765`. It has no Redfish SessionService, so the dashboard's
login (which every page needs) cannot pass against it: log in against `energydash serve`.
"""

from __future__ import annotations

import asyncio
import math
import random
import sys
from datetime import UTC, datetime

import orjson
import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

PDUS, BRANCHES, PER_BRANCH, FACILITIES = 8, 3, 16, 500
TECHS = ["coal_black", "gas_ccgt", "wind", "solar_utility", "hydro", "battery_discharging"]
REGIONS = ["NSW1", "QLD1", "VIC1", "SA1", "TAS1"]
app = FastAPI()
state = {
    (p, f"{b}{i}"): "On"
    for p in range(1, PDUS + 1)
    for b in "ABC"[:BRANCHES]
    for i in range(1, PER_BRANCH + 1)
}
rng = random.Random(1)
fac = [
    (
        f"F{i:03d}",
        f"Facility {i}",
        REGIONS[i % 5],
        TECHS[i % 6],
        -25 - 12 * rng.random(),
        138 + 14 * rng.random(),
        20 + 600 * rng.random(),
    )
    for i in range(FACILITIES)
]


def frames(t: float) -> dict[str, dict]:
    out = {}
    for p in range(1, PDUS + 1):
        ids = [f"{b}{i}" for b in "ABC"[:BRANCHES] for i in range(1, PER_BRANCH + 1)]
        on = [state[(p, o)] for o in ids]
        power = [
            0.0 if s == "Off" else 50 + 400 * (0.5 + 0.5 * math.sin(t / 7 + k + p))
            for k, s in enumerate(on)
        ]
        out[f"pdu/{p}/outlets"] = {
            "pdu_id": str(p),
            "name": f"Rack {p}",
            "model": "AP8886",
            "branches": [
                {
                    "id": b,
                    "name": b,
                    "phases": [f"L{j + 1}"],
                    "rating_a": 16.0,
                    "current_a": sum(power[j * PER_BRANCH : (j + 1) * PER_BRANCH]) / 230,
                    "power_w": 0,
                    "breaker_state": "Normal",
                    "health": "OK",
                }
                for j, b in enumerate("ABC"[:BRANCHES])
            ],
            "outlets": {
                "id": ids,
                "name": [f"srv-{o}" for o in ids],
                "branch_id": [o[0] for o in ids],
                "phase": ["L1"] * len(ids),
                "power_state": on,
                "power_w": power,
                "current_a": [w / 230 for w in power],
                "voltage_v": [230.0] * len(ids),
                "power_factor": [0.95] * len(ids),
                "energy_kwh": [t / 3600 * w / 1000 for w in power],
                "health": ["Warning" if k == 5 else "OK" for k in range(len(ids))],
                "device": ["server"] * len(ids),
                "profile": ["server"] * len(ids),
                "rating_a": [10.0] * len(ids),
            },
        }
        out[f"pdu/{p}/summary"] = {
            "pdu_id": str(p),
            "name": f"Rack {p}",
            "power_w": sum(power),
            "energy_kwh": t / 3600 * sum(power) / 1000,
            "phases": [
                {
                    "phase": f"L{j + 1}",
                    "voltage_v": 230.0,
                    "current_a": sum(power[j * 16 : (j + 1) * 16]) / 230,
                    "power_w": sum(power[j * 16 : (j + 1) * 16]),
                }
                for j in range(3)
            ],
            "breakers_tripped": 0,
            "outlets_on": on.count("On"),
            "outlets_total": len(on),
            "health": "OK",
            "alerts": [],
        }
    out["facilities"] = {
        "network": "NEM",
        "interval": _iso(),
        "facilities": {
            "code": [f[0] for f in fac],
            "name": [f[1] for f in fac],
            "region": [f[2] for f in fac],
            "fueltech": [f[3] for f in fac],
            "status": ["operating"] * len(fac),
            "lat": [f[4] for f in fac],
            "lng": [f[5] for f in fac],
            "capacity_mw": [f[6] for f in fac],
            "power_mw": [f[6] * (0.5 + 0.5 * math.sin(t / 11 + i)) for i, f in enumerate(fac)],
            "emissions_t": [0.1] * len(fac),
        },
    }
    out["market/NEM"] = {
        "network": "NEM",
        "interval": _iso(),
        "regions": [
            {
                "region": r,
                "price_aud_per_mwh": 80 + 40 * math.sin(t / 30 + j),
                "demand_mw": 5000 + 1000 * j,
                "generation_mw": 5100 + 900 * j,
                "net_interchange_mw": 0,
                "emissions_t_per_mwh": 0.6,
                "generation_by_fueltech_mw": {
                    "coal_black": 3000,
                    "wind": 900 + 300 * math.sin(t / 20),
                    "solar_utility": 700,
                },
            }
            for j, r in enumerate(REGIONS)
        ],
    }
    return out


def _iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@app.get("/health")
async def health() -> dict:
    return {"status": "ok"}


@app.post("/api/v1/pdus/{pdu}/outlets/{outlet}/power")
async def power(pdu: int, outlet: str, body: dict) -> dict:
    state[(pdu, outlet)] = "Off" if body["action"] == "Off" else "On"
    return {"ok": True, "message": f"{body['action']} done"}


@app.websocket("/ws")
async def ws(socket: WebSocket) -> None:
    await socket.accept()
    await socket.receive_text()
    seq, t0 = 0, asyncio.get_running_loop().time()
    try:
        while True:
            t = asyncio.get_running_loop().time() - t0
            for topic, data in frames(t).items():
                seq += 1
                await socket.send_text(
                    orjson.dumps(
                        {"type": "update", "topic": topic, "seq": seq, "ts": _iso(), "data": data}
                    ).decode()
                )
            await asyncio.sleep(1.0)
    except WebSocketDisconnect:
        pass


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
