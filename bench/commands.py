"""Commands per second over REST and MQTT against a real backend, and the ticks they cost.

Run: ``.venv/bin/python bench/commands.py [--commands N] [--concurrency C] [--pdus P]``.
Starts mosquitto and `energydash serve` (realtime clock, 1 Hz ticks, MQTT publishing on) as
subprocesses, then sends N outlet power commands over REST (C connections at once) and N over
MQTT (``energy/devices/{id}/commands``, QoS 1), and prints commands/s for each and how many
ticks the engine missed meanwhile (due ticks minus ticks made). Target: >= 1,000/s each with
no tick missed. Also prints the backend's CPU time per command (from /proc): on a shared
machine the achieved rate depends on the CPU the backend gets; the CPU cost does not.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console
from rich.table import Table

from energydash.mqtt.broker import BrokerProcess
from energydash.net import free_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from processes import admin_auth, backend  # noqa: E402

ADMIN = admin_auth()  # generated for this run by the test helpers


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process used so far (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric(url: str, name: str) -> float:
    text = httpx.get(url + "/metrics", auth=ADMIN, timeout=10).text
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def rest_phase(url: str, devices: list[dict], count: int, concurrency: int) -> float:
    """C keep-alive connections, each sending its share of the commands one after another.

    A minimal HTTP/1.1 client on asyncio streams: httpx spends more CPU per request than the
    backend does, and on a small machine the bench would measure itself.
    """
    host, port = url.removeprefix("http://").split(":")
    auth = "Basic " + base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
    failures = 0

    async def connection(share: range) -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for k in share:
                device = devices[k % len(devices)]
                action = "Off" if (k // len(devices)) % 2 == 0 else "On"
                body = orjson.dumps({"action": action})
                path = f"/api/v1/pdus/{device['pdu_id']}/outlets/{device['outlet_id']}/power"
                writer.write(
                    (
                        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n"
                        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                    ).encode()
                    + body
                )
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                match = re.search(rb"(?i)content-length: *(\d+)", head)
                await reader.readexactly(int(match.group(1)) if match else 0)
                if status != 200:
                    failures += 1
        finally:
            writer.close()

    shares = [range(c, count, concurrency) for c in range(concurrency)]
    started = time.perf_counter()
    await asyncio.gather(*(connection(share) for share in shares))
    elapsed = time.perf_counter() - started
    if failures:
        print(f"REST: {failures} commands refused")
    return elapsed


def session_token(url: str) -> str:
    """A Redfish session token: MQTT commands carry one (``mqtt_command_auth=token``)."""
    response = httpx.post(
        url + "/redfish/v1/SessionService/Sessions",
        json={"UserName": ADMIN[0], "Password": ADMIN[1]},
        timeout=10,
    )
    response.raise_for_status()
    return response.headers["X-Auth-Token"]


def mqtt_phase(url: str, port: int, devices: list[dict], count: int) -> float:
    done_before = metric(url, "energydash_mqtt_publisher_commands_ok") + metric(
        url, "energydash_mqtt_publisher_commands_refused"
    )
    auth = {"token": session_token(url)}
    refused_before = metric(url, "energydash_mqtt_publisher_commands_refused")
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-commands")
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    started = time.perf_counter()
    infos = []
    for k in range(count):
        device = devices[k % len(devices)]
        action = "Off" if (k // len(devices)) % 2 == 0 else "On"
        body = orjson.dumps({"command": "set_power", "value": action, "auth": auth})
        infos.append(client.publish(f"energy/devices/{device['device_id']}/commands", body, qos=1))
    for info in infos:
        info.wait_for_publish(60)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = metric(url, "energydash_mqtt_publisher_commands_ok") + metric(
            url, "energydash_mqtt_publisher_commands_refused"
        )
        if done - done_before >= count:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    client.loop_stop()
    client.disconnect()
    refused = metric(url, "energydash_mqtt_publisher_commands_refused") - refused_before
    if refused:
        print(f"MQTT: {refused:.0f} commands refused")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pdus", type=int, default=4)
    args = parser.parse_args()
    console = Console(width=150)
    with tempfile.TemporaryDirectory() as tmp:
        broker = BrokerProcess("mosquitto", port=free_port(), broker_dir=Path(tmp) / "broker")
        with broker:
            svc = backend(
                Path(tmp),
                pdus=args.pdus,
                facilities=120,
                ENERGYDASH_MQTT_PUBLISH="true",
                ENERGYDASH_MQTT_INGEST="false",
                ENERGYDASH_MQTT_PORT=str(broker.port),
            ).start()
            try:
                devices = httpx.get(svc.url + "/api/v1/devices", auth=ADMIN).json()["devices"]
                table = Table(title=f"commands against {args.pdus} PDUs, 1 Hz ticks, MQTT on")
                columns = ("face", "commands", "seconds", "commands/s", "ticks due", "missed")
                for column in (*columns, "backend CPU ms/command"):
                    table.add_column(column, justify="right")
                for face in ("REST", "MQTT"):
                    ticks_before = metric(svc.url, "energydash_engine_ticks_total")
                    assert svc.process is not None
                    cpu_before = cpu_seconds(svc.process.pid)
                    t0 = time.perf_counter()
                    if face == "REST":
                        elapsed = asyncio.run(
                            rest_phase(svc.url, devices, args.commands, args.concurrency)
                        )
                    else:
                        elapsed = mqtt_phase(svc.url, broker.port, devices, args.commands)
                    wall = time.perf_counter() - t0
                    cpu = cpu_seconds(svc.process.pid) - cpu_before
                    made = metric(svc.url, "energydash_engine_ticks_total") - ticks_before
                    due = int(wall)  # one tick per second is due
                    table.add_row(
                        face,
                        str(args.commands),
                        f"{elapsed:.2f}",
                        f"{args.commands / elapsed:,.0f}",
                        str(due),
                        str(max(due - int(made), 0)),
                        f"{cpu / args.commands * 1000:.2f}",
                    )
                console.print(table)
            finally:
                svc.stop()


if __name__ == "__main__":
    main()
