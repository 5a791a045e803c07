"""WebSocket fan-out: tick-to-receipt latency and backend CPU for N clients on ~1,000 outlets.

Starts `energydash serve` as its own process (realtime clock, 1 Hz ticks, 21 PDUs x 48 outlets
= 1,008 outlets, no MQTT), connects N clients subscribed to ``pdu/+/outlets`` (21 frames per
tick each), and for each N prints p50/p99/max of (receipt time - frame ``ts``) and the backend's
CPU use as a share of one core.

Latency is timed on ``--probes`` full WebSocket clients (websockets library, every frame
received and timed); the other N - probes clients are real connections (handshake, subscribe,
the server sends them every frame) whose bytes are drained unparsed, so that one Python client
process does not become the bottleneck it is measuring: they live in a process of their own
(plain sockets, epoll, ``recv_into``), and the soft RLIMIT_NOFILE is raised for 10,000 of them
(the backend inherits it). Clients and backend share this machine's cores.

Targets (issue 11): p99 under 100 ms at 1,000 clients, under 250 ms at 10,000.

    .venv/bin/python bench/ws_fanout.py                      # 10, 100, 1000 clients, 10 s each
    .venv/bin/python bench/ws_fanout.py --clients 1000,10000 --seconds 20
    .venv/bin/python bench/ws_fanout.py --clients 10,100 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import multiprocessing
import os
import re
import resource
import secrets
import select
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
import numpy as np
import orjson
import psutil
import websockets
from rich.console import Console
from rich.progress import Progress

from energydash.net import free_port

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


def masked_text_frame(text: str) -> bytes:
    payload = text.encode()
    assert len(payload) < 126
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + body


def raise_fd_limit(needed: int) -> None:
    """Each load client is a socket here and one in the backend: lift the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, needed + 256))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < needed + 256:
        raise SystemExit(f"RLIMIT_NOFILE hard limit {hard} is too low for {needed} clients")


def open_load_socket(port: int, topic: str, token: str) -> socket.socket:
    """A real WebSocket client up to its subscription; afterwards only its bytes are read."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("closed during handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
    sock.sendall(masked_text_frame(orjson.dumps({"op": "subscribe", "topics": [topic]}).decode()))
    sock.setblocking(False)
    return sock


def drain_process(port: int, n: int, topic: str, token: str, pipe: Connection) -> None:
    """The load clients, in a process of their own: epoll and recv_into, no Python per frame.

    Says "ready" once all ``n`` are subscribed, drains until told "stop", then answers the
    bytes it read.
    """
    raise_fd_limit(n)
    sockets: dict[int, socket.socket] = {}
    for _ in range(n):
        sock = open_load_socket(port, topic, token)
        sockets[sock.fileno()] = sock
    poller = select.epoll()
    for fd in sockets:
        poller.register(fd, select.EPOLLIN)
    pipe.send("ready")
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    total = 0
    while not pipe.poll():
        for fd, _ in poller.poll(0.1):
            with contextlib.suppress(BlockingIOError):  # another event woke the poll
                total += sockets[fd].recv_into(view)
    pipe.recv()
    for sock in sockets.values():
        sock.close()
    pipe.send(total)


async def server_sent_ms(client: httpx.AsyncClient) -> float:
    """The backend's own view of the last tick: compute, then its PDU tables written to every
    up-to-date client (``/metrics``); what the clients measure adds their wait for a core."""
    text = (await client.get("/metrics", timeout=10)).text
    values = dict(re.findall(r"^(energydash_[a-z_]+) (\S+)$", text, re.MULTILINE))
    return float(values.get("energydash_engine_tick_ms", "nan")) + float(
        values.get("energydash_snapshot_pdu_sent_ms", "nan")
    )


async def run_level(
    url: str, port: int, n: int, probes: int, seconds: float, backend: psutil.Process
) -> dict:
    latencies: list[float] = []
    ready, stop = asyncio.Event(), asyncio.Event()
    counter, measuring = [0], [False]
    probes = min(probes, n)
    parent, child = multiprocessing.Pipe()
    drainer = multiprocessing.Process(
        target=drain_process, args=(port, n - probes, TOPIC[0], READ_TOKEN, child), daemon=True
    )
    drainer.start()
    while not parent.poll(0.5):  # the handshakes; a burst of them is not the test
        if not drainer.is_alive():
            raise SystemExit("the load clients' process failed")
    parent.recv()
    tasks = [
        asyncio.create_task(client(url, latencies, ready, counter, probes, measuring, stop))
        for _ in range(probes)
    ]
    await asyncio.wait_for(ready.wait(), 120)
    await asyncio.sleep(2.0)  # let the snapshots drain
    me = psutil.Process()  # the clients' own CPU: they share the two cores with the backend
    load = psutil.Process(drainer.pid)
    cpu_before, own_before = backend.cpu_times(), me.cpu_times()
    load_before = load.cpu_times()
    wall_before = time.monotonic()
    measuring[0] = True
    server_ms: list[float] = []
    metrics = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {READ_TOKEN}"}
    )
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"{n} clients", total=seconds)
        for step in range(int(seconds * 10)):
            await asyncio.sleep(0.1)
            progress.advance(task, 0.1)
            if step % 10 == 5:
                server_ms.append(await server_sent_ms(metrics))
    measuring[0] = False
    await metrics.aclose()
    cpu_after, own_after = backend.cpu_times(), me.cpu_times()
    load_after = load.cpu_times()
    wall = time.monotonic() - wall_before
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    parent.send("stop")
    drained = parent.recv() if parent.poll(60) else 0
    drainer.join(30)
    await asyncio.sleep(0.5)
    cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    own = (own_after.user + own_after.system) - (own_before.user + own_before.system)
    own += (load_after.user + load_after.system) - (load_before.user + load_before.system)
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
        "drained_mb": drained / 1e6,
        "server_p50_ms": float(np.median(server_ms)) if server_ms else float("nan"),
        "server_max_ms": max(server_ms, default=float("nan")),
    }


def target_ms(clients: int) -> int:
    return 100 if clients <= 1000 else 250


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
    raise_fd_limit(max(levels, default=0))  # before the backend starts: it inherits it
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
                    f"of one core, clients {result['client_cpu_core_share']:.0%}, "
                    f"{result['drained_mb']:.0f} MB drained, load {os.getloadavg()[0]:.1f}; "
                    f"server tick to sent p50 {result['server_p50_ms']:.1f} ms, "
                    f"max {result['server_max_ms']:.1f} ms"
                )
        finally:
            process.terminate()
            process.wait(20)
    outlets = args.pdus * 48
    for result in results:
        target = target_ms(result["clients"])
        verdict = "meets" if result["p99_ms"] < target else "misses"
        console.print(
            f"ws_fanout: {outlets} outlets at 1 Hz, clients on {args.topic!r}, "
            f"p99 at {result['clients']} clients {result['p99_ms']:.1f} ms "
            f"({verdict} the {target} ms target), "
            f"{os.cpu_count()} cores shared by backend and clients"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
