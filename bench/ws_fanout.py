"""WebSocket fan-out: tick-to-receipt latency and backend CPU for N clients on ~1,000 outlets.

Starts `energydash serve` as its own process (realtime clock, 1 Hz ticks, 21 PDUs x 48 outlets
= 1,008 outlets, no MQTT), connects N clients subscribed to ``pdu/+/outlets`` (21 frames per
tick each), and for each N prints p50/p99/max of (receipt time - frame ``ts``) and the backend's
CPU use as a share of one core.

Latency is timed on ``--probes`` full WebSocket clients (websockets library, every frame
received and timed); the other N - probes clients are real connections (handshake, subscribe,
the server sends them every frame) whose bytes are drained unparsed, so that one Python client
process does not become the bottleneck it is measuring. Clients and backend share this
machine's cores.

    .venv/bin/python bench/ws_fanout.py                      # 10, 100, 1000 clients, 10 s each
    .venv/bin/python bench/ws_fanout.py --clients 10,100 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
import orjson
import psutil
import websockets
from rich.console import Console
from rich.progress import Progress

from energydash.mqtt.broker import free_port

console = Console()
TS_KEY = b'"ts":"'
TOPIC = ["pdu/+/outlets"]  # set from --topic
READ_TOKEN = secrets.token_urlsafe(24)  # this run's service read token


def frame_ts(raw: bytes) -> float:
    """The envelope's ts without parsing the whole frame (clients here only time frames)."""
    start = raw.index(TS_KEY) + len(TS_KEY)
    end = raw.index(b'"', start)
    return datetime.fromisoformat(raw[start:end].decode().replace("Z", "+00:00")).timestamp()


def start_backend(port: int, pdus: int, workdir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ENERGYDASH_PDU_COUNT": str(pdus),
        "ENERGYDASH_DATA_DIR": str(workdir / "data"),
        "ENERGYDASH_LOG_DIR": str(workdir / "logs"),
        "ENERGYDASH_CLOCK_MODE": "realtime",
        "ENERGYDASH_TICK_S": "1",
        "ENERGYDASH_LOG_LEVEL": "WARNING",
        "ENERGYDASH_WS_IDLE_TIMEOUT_S": "600",
        "ENERGYDASH_WS_PING_INTERVAL_S": "300",
        "ENERGYDASH_READ_TOKEN": READ_TOKEN,  # /ws needs a credential: the read token
    }
    command = [sys.executable, "-m", "energydash", "serve", "--port", str(port), "--no-mqtt"]
    process = subprocess.Popen(
        command, env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise SystemExit(f"backend exited with {process.returncode}; see {workdir}/logs")
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("backend did not become healthy in 60 s")


async def client(
    url: str,
    latencies: list[float],
    ready: asyncio.Event,
    counter: list[int],
    total: int,
    measuring: list[bool],
    stop: asyncio.Event,
) -> None:
    async with websockets.connect(url, max_size=None, max_queue=None) as ws:
        await ws.send(orjson.dumps({"op": "subscribe", "topics": [TOPIC[0]]}).decode())
        counter[0] += 1
        if counter[0] == total:
            ready.set()
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(decode=False), 1.0)
            except TimeoutError:
                continue
            if measuring[0] and raw.startswith(b'{"type":"update"'):
                latencies.append(time.time() - frame_ts(raw))


class Drain(asyncio.Protocol):
    """A load client after its handshake: reads and discards whatever the server sends."""

    def __init__(self, handshake: asyncio.Future[None]) -> None:
        self.handshake = handshake
        self.buffer = b""
        self.bytes = 0

    def data_received(self, data: bytes) -> None:
        self.bytes += len(data)
        if not self.handshake.done():
            self.buffer += data
            if b"\r\n\r\n" in self.buffer:
                ok = self.buffer.startswith(b"HTTP/1.1 101")
                self.handshake.set_result(None) if ok else self.handshake.set_exception(
                    RuntimeError(self.buffer.split(b"\r\n", 1)[0].decode())
                )

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(RuntimeError("closed during handshake"))


def masked_text_frame(text: str) -> bytes:
    payload = text.encode()
    assert len(payload) < 126
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + body


async def load_client(port: int) -> asyncio.Transport:
    loop = asyncio.get_running_loop()
    handshake: asyncio.Future[None] = loop.create_future()
    transport, _ = await loop.create_connection(lambda: Drain(handshake), "127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    transport.write(
        (
            f"GET /ws?token={READ_TOKEN} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await asyncio.wait_for(handshake, 30)
    transport.write(
        masked_text_frame(orjson.dumps({"op": "subscribe", "topics": [TOPIC[0]]}).decode())
    )
    return transport  # type: ignore[return-value]


async def run_level(
    url: str, port: int, n: int, probes: int, seconds: float, backend: psutil.Process
) -> dict:
    latencies: list[float] = []
    ready, stop = asyncio.Event(), asyncio.Event()
    counter, measuring = [0], [False]
    probes = min(probes, n)
    transports = []
    for start in range(0, n - probes, 50):  # batches: a burst of handshakes is not the test
        batch = [load_client(port) for _ in range(min(50, n - probes - start))]
        transports.extend(await asyncio.gather(*batch))
    tasks = [
        asyncio.create_task(client(url, latencies, ready, counter, probes, measuring, stop))
        for _ in range(probes)
    ]
    await asyncio.wait_for(ready.wait(), 120)
    await asyncio.sleep(2.0)  # let the snapshots drain
    me = psutil.Process()  # the clients' own CPU: they share the two cores with the backend
    cpu_before, own_before = backend.cpu_times(), me.cpu_times()
    wall_before = time.monotonic()
    measuring[0] = True
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"{n} clients", total=seconds)
        for _ in range(int(seconds * 10)):
            await asyncio.sleep(0.1)
            progress.advance(task, 0.1)
    measuring[0] = False
    cpu_after, own_after = backend.cpu_times(), me.cpu_times()
    wall = time.monotonic() - wall_before
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    for transport in transports:
        transport.close()
    await asyncio.sleep(0.5)
    cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    own = (own_after.user + own_after.system) - (own_before.user + own_before.system)
    values = np.array(latencies) * 1000.0
    return {
        "clients": n,
        "probes": probes,
        "frames": values.size,
        "p50_ms": float(np.percentile(values, 50)) if values.size else float("nan"),
        "p99_ms": float(np.percentile(values, 99)) if values.size else float("nan"),
        "max_ms": float(values.max()) if values.size else float("nan"),
        "cpu_core_share": cpu / wall,
        "client_cpu_core_share": own / wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="10,100,1000", help="comma-separated client counts")
    parser.add_argument("--seconds", type=float, default=10.0, help="measurement per level")
    parser.add_argument("--pdus", type=int, default=21, help="PDUs of 48 outlets (21: 1,008)")
    parser.add_argument("--probes", type=int, default=10, help="timed clients per level")
    parser.add_argument("--topic", default="pdu/+/outlets", help="what every client subscribes to")
    args = parser.parse_args()
    levels = [int(x) for x in args.clients.split(",") if x.strip()]
    TOPIC[0] = args.topic
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="ws-fanout-") as tmp:
        process = start_backend(port, args.pdus, Path(tmp))
        backend = psutil.Process(process.pid)
        results = []
        try:
            for n in levels:
                url = f"ws://127.0.0.1:{port}/ws?token={READ_TOKEN}"
                result = asyncio.run(run_level(url, port, n, args.probes, args.seconds, backend))
                results.append(result)
                console.print(
                    f"{n:>5} clients ({result['probes']} timed, {result['frames']} frames)  "
                    f"p50 {result['p50_ms']:7.1f} ms  p99 {result['p99_ms']:7.1f} ms  "
                    f"max {result['max_ms']:7.1f} ms  backend CPU {result['cpu_core_share']:.0%} "
                    f"of one core, clients {result['client_cpu_core_share']:.0%}"
                )
        finally:
            process.terminate()
            process.wait(20)
    outlets = args.pdus * 48
    worst = max(results, key=lambda r: r["clients"])
    verdict = "meets" if worst["p99_ms"] < 100 else "misses"
    console.print(
        f"ws_fanout: {outlets} outlets at 1 Hz, clients on {args.topic!r}, "
        f"p99 at {worst['clients']} clients {worst['p99_ms']:.1f} ms "
        f"({verdict} the 100 ms target), "
        f"{os.cpu_count()} cores shared by backend and clients"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
