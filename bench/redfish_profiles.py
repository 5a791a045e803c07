"""What a device profile costs a Redfish GET: in-process, through ``RedfishApp.handle``.

Run: ``.venv/bin/python bench/redfish_profiles.py [--requests 3000]``. Builds a 4-PDU fleet
with one PDU of every profile (``ENERGYDASH_PDU_PROFILES=dmtf,schneider-mock,raritan-px3,
enlogic``) plus a dmtf-only fleet (the plain route table), and times GET Outlet, GET Sensor and
GET Outlets?$expand=. of each PDU in its own profile's URIs, Basic auth on every request.
Prints the CPU cost per request in ms: this process's CPU time, best of 5 rounds, no HTTP, so
the shaping itself is what differs and the shared box's other load counts little.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from energydash.config import PDU_PROFILES, load_settings
from energydash.redfish import RedfishService
from energydash.sim.engine import Engine

USER, PASSWORD = "bench", "bench-password-1"
RACK = "/redfish/v1/PowerEquipment/RackPDUs"
# per profile: (outlet URI id of outlet 7, sensor id of its power)
NAMES = {
    "dmtf": ("A7", "/redfish/v1/Chassis/{pdu}/Sensors/PowerA7"),
    "schneider-mock": ("7", f"{RACK}/{{pdu}}/Sensors/PowerOUTLET7"),
    "raritan-px3": ("7", "/redfish/v1/Chassis/{pdu}/Sensors/PowerA7"),
    "enlogic": ("OUTLET7", f"{RACK}/{{pdu}}/Sensors/PowerOUTLET7"),
}


def build(root: Path, profiles: str) -> RedfishService:
    settings = load_settings(
        data_dir=root / "data",
        log_dir=root / "logs",
        clock_mode="stepped",
        pdu_count=4,
        pdu_profiles=profiles,
        redfish_user=USER,
        redfish_password=PASSWORD,
    )
    engine = Engine.from_settings(settings, restore=False)
    engine.step()
    return RedfishService(engine, settings)


async def timed(service: RedfishService, path: str, query: bytes, n: int) -> float:
    headers = {b"authorization": b"Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode())}
    first = await service.app.handle("GET", path, query, headers, b"", "127.0.0.1:1")
    assert first.status == 200, (path, first.status)
    for _ in range(max(1, n // 10)):  # warm caches (the shaper, wrapped routes) first
        await service.app.handle("GET", path, query, headers, b"", "127.0.0.1:1")
    best = float("inf")
    rounds = 5
    per_round = max(1, n // rounds)
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(per_round):
            await service.app.handle("GET", path, query, headers, b"", "127.0.0.1:1")
        best = min(best, (time.process_time() - start) / per_round * 1000.0)
    return best


async def main(n: int) -> None:
    table = Table(title=f"GET cost per request, in-process ({n} requests each)")
    for column in ("fleet", "PDU profile", "GET Outlet ms", "GET Sensor ms", "$expand=. ms"):
        table.add_column(column)
    with tempfile.TemporaryDirectory() as tmp:
        plain = build(Path(tmp) / "plain", "dmtf")
        mixed = build(Path(tmp) / "mixed", ",".join(PDU_PROFILES))
        rows = [("dmtf only", plain, "1", "dmtf")]
        rows += [("one per profile", mixed, str(k), p) for k, p in enumerate(PDU_PROFILES, 1)]
        for fleet, service, pdu, profile in rows:
            outlet, sensor = NAMES[profile]
            outlet_ms = await timed(service, f"{RACK}/{pdu}/Outlets/{outlet}", b"", n)
            sensor_ms = await timed(service, sensor.format(pdu=pdu), b"", n)
            expand_ms = await timed(service, f"{RACK}/{pdu}/Outlets", b"$expand=.", max(1, n // 50))
            table.add_row(
                fleet, profile, f"{outlet_ms:.3f}", f"{sensor_ms:.3f}", f"{expand_ms:.2f}"
            )
        for service in (plain, mixed):
            service.close()
    Console().print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    asyncio.run(main(parser.parse_args().requests))
