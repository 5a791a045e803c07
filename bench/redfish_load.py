"""Concurrent load on Redfish: GET Outlet, GET a collection with $expand, POST an action.

Run: ``.venv/bin/python bench/redfish_load.py [--seconds 8] [--connections 4]
[--app redfish|full] [--router]``; ``--endpoints 100`` instead measures a fleet of endpoints:
100 PDUs, each its own Redfish service on its own port (``ENERGYDASH_REDFISH_PORT_BASE``),
polled concurrently with one keep-alive connection per PDU (GET Outlet round the 48 outlets).

Starts uvicorn in a subprocess (``--serve``) serving the Redfish service over a realtime engine
(the simulation ticks every ``tick_s`` while the load runs; 4 PDUs = 192 outlets), with Basic auth
on every request, then drives keep-alive HTTP/1.1 connections from this process with a minimal
asyncio client (so the client costs little of the shared CPU) and prints requests/s and
p50/p99 latency per scenario. ``--app full`` serves the whole backend (``energydash.app``) instead.

Side by side with DMTF's Redfish-Mockup-Server (target: GET Outlet >= 2.5x its rate): after the
scenarios the same asyncio client measures GET Outlet on this server, then on the mockup server
serving ``../shared/redfish/mockups/public-pdu`` (its 10 outlets), one server at a time on the
same cores, and prints req/s, p99 and the ratios. The mockup server is not part of this project:
``--mockup-server PATH`` names its ``redfishMockupServer.py`` (a clone of
github.com/DMTF/Redfish-Mockup-Server), else it is looked for at
``../Redfish-Mockup-Server/redfishMockupServer.py`` beside the checkout; without one the
comparison is skipped. It runs from a temporary copy; when its ``grequests`` requirement (used
only to push events) is not importable, the copy gets a stand-in that pushes nothing. It speaks
HTTP/1.0 and closes every connection, so this server is measured both with keep-alive (how
clients use it) and with a new connection per request (like for like).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

USER, PASSWORD = "bench", "bench-password"


def serve(port: int, app_kind: str, data_dir: str, fast: bool, endpoints: int = 0) -> None:
    """The server side (in the subprocess)."""
    import contextlib
    from collections.abc import AsyncIterator

    import uvicorn
    from fastapi import FastAPI

    from energydash.config import load_settings
    from energydash.redfish import RedfishService
    from energydash.sim.engine import Engine

    settings = load_settings(
        data_dir=Path(data_dir) / "data",
        log_dir=Path(data_dir) / "logs",
        run_dir=Path(data_dir) / "run",
        clock_mode="realtime",
        pdu_count=endpoints or 4,
        redfish_port_base=port + 1 if endpoints else 0,
        grid_facility_count=50,
        redfish_user=USER,
        redfish_password=PASSWORD,
        port=port,
        mqtt_ingest=False,
        mqtt_publish=False,
    )
    engine = Engine.from_settings(settings, restore=False)
    if app_kind == "full":
        from energydash.app import create_app

        app = create_app(settings, engine=engine)
        if fast:
            from energydash.app import serving_app

            if RedfishService.find(app) is None:
                raise SystemExit("the full app does not include the Redfish service")
            app = serving_app(app)  # as `energydash serve`: Host/body guard + fast path
    else:
        service = RedfishService(engine, settings)

        @contextlib.asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await service.start()
            task = asyncio.create_task(engine.run())
            yield
            engine.stop()
            await task
            await service.stop()

        app = FastAPI(lifespan=lifespan)
        app.include_router(service.router)
        if fast:
            app = service.wrap(app)  # type: ignore[assignment]
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


class Connection:
    """One HTTP connection; just enough HTTP to read a Content-Length body.

    Keep-alive while the server allows it; after an HTTP/1.0 answer or ``Connection: close``
    the next request opens a new connection (the time to connect counts in its latency).
    """

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int
    ) -> None:
        self.reader, self.writer, self.port = reader, writer, port
        self.open_again = False

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, port)

    async def request(self, raw: bytes) -> int:
        if self.open_again:
            self.writer.close()
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.open_again = False
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        self.open_again = head.startswith(b"HTTP/1.0")
        for line in head.split(b"\r\n"):
            lower = line.lower()
            if lower[:15] == b"content-length:":
                length = int(line[15:])
            elif lower.startswith(b"connection:"):
                self.open_again = b"close" in lower
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


def build(method: str, path: str, body: bytes = b"") -> bytes:
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Basic {auth}",
        "Accept: application/json",
    ]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def run_load(
    port: int, requests: list[bytes], seconds: float, connections: int, expect: int
) -> tuple[int, list[float], int]:
    conns = [await Connection.open(port) for _ in range(connections)]
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(conn: Connection, offset: int) -> None:
        nonlocal errors
        i = offset
        while time.perf_counter() < deadline:
            raw = requests[i % len(requests)]
            i += 1
            started = time.perf_counter()
            status = await conn.request(raw)
            latencies.append((time.perf_counter() - started) * 1000.0)
            if status != expect:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(c, k) for k, c in enumerate(conns)))
    elapsed = time.perf_counter() - started
    for conn in conns:
        conn.close()
    return int(len(latencies) / elapsed), latencies, errors


WRK_SCRIPT = """
local paths = {}
local i = 0
{setup}
request = function()
  i = i + 1
  return wrk.format(nil, paths[(i % #paths) + 1])
end
"""


def run_wrk(
    port: int, method: str, paths: list[str], body: bytes, seconds: float, connections: int,
    workdir: str,
) -> tuple[int, float, float, int]:  # fmt: skip
    """(req/s, p50 ms, p99 ms, non-2xx) measured by wrk, which costs the server little CPU."""
    setup = "\n".join(f'paths[{k + 1}] = "{p}"' for k, p in enumerate(paths))
    setup += f'\nwrk.method = "{method}"'
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    setup += f'\nwrk.headers["Authorization"] = "Basic {auth}"'
    if body:
        setup += f"\nwrk.body = '{body.decode()}'"
        setup += '\nwrk.headers["Content-Type"] = "application/json"'
    script = Path(workdir) / f"load-{method}.lua"
    script.write_text(WRK_SCRIPT.replace("{setup}", setup))
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, int(seconds))}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = int(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rate, p50, p99, int(bad.group(1)) if bad else 0


def _ms(text: str) -> float:
    number = float(re.match(r"[\d.]+", text).group(0))  # type: ignore[union-attr]
    unit = text[len(re.match(r"[\d.]+", text).group(0)) :]  # type: ignore[union-attr]
    return number * {"us": 0.001, "ms": 1.0, "s": 1000.0}.get(unit, 1.0)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _free_run(count: int) -> int:
    """A first port of ``count`` consecutive free ones."""
    import socket

    from energydash.net import free_port

    for _ in range(50):
        first = free_port()
        if first + count > 65000:
            continue
        with contextlib.ExitStack() as stack:
            try:
                for k in range(count):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", first + k))
            except OSError:
                continue
        return first
    raise SystemExit(f"no {count} consecutive free ports")


def _endpoints_case(console: Console, base: int, count: int, seconds: float) -> int:
    from energydash.net import wait_for_port

    for k in range(count):
        wait_for_port("127.0.0.1", base + k, timeout=60)
    outlets = [f"{b}{n}" for b in "ABC" for n in range(1, 17)]
    requests = [build("GET", f"/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/{o}") for o in outlets]

    async def poll_all() -> tuple[int, list[float], int]:
        conns = [await Connection.open(base + k) for k in range(count)]
        for conn in conns:  # each card checks the Basic password once (argon2), then caches it
            await conn.request(requests[0])
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + seconds

        async def worker(conn: Connection, offset: int) -> None:
            nonlocal errors
            i = offset
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                status = await conn.request(requests[i % len(requests)])
                latencies.append((time.perf_counter() - started) * 1000.0)
                errors += status != 200
                i += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(c, k) for k, c in enumerate(conns)))
        elapsed = time.perf_counter() - started
        for conn in conns:
            conn.close()
        return int(len(latencies) / elapsed), latencies, errors

    rate, lat, errors = asyncio.run(poll_all())
    table = Table(title=f"Fleet of endpoints: {count} PDUs on {count} ports, one connection each")
    for column in ("scenario", "req/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="right" if column != "scenario" else "left")
    table.add_row(
        f"GET Outlet x {count} endpoints", f"{rate:,}", f"{statistics.median(lat):.2f}",
        f"{pct(lat, 0.99):.2f}", str(errors),
    )  # fmt: skip
    console.print(table)
    return 0


ROOT = Path(__file__).resolve().parents[1]
MOCKUP_DIR = ROOT.parent / "shared" / "redfish" / "mockups" / "public-pdu"
MOCKUP_SERVER = ROOT.parent / "Redfish-Mockup-Server" / "redfishMockupServer.py"
MOCKUP_OUTLETS = ("A1", "A2", "A3", "A4", "A5", "B1", "B2", "B3", "C1", "C2")
GREQUESTS_STAND_IN = """# stand-in: the mockup server needs grequests only to push events
def post(*args, **kwargs):
    return None


def map(requests, **kwargs):
    return []
"""


def find_mockup_server(given: str) -> Path | None:
    if given:
        path = Path(given)
        if not path.is_file():
            raise SystemExit(f"--mockup-server: {path} is not a file")
        return path
    return MOCKUP_SERVER if MOCKUP_SERVER.is_file() else None


def start_mockup_server(script: Path, port: int, workdir: str) -> tuple[subprocess.Popen, str]:
    """Its temporary copy serving the public PDU mockup; (process, what stood in for what)."""
    copy = Path(workdir) / "mockup-server"
    copy.mkdir()
    for module in script.parent.glob("*.py"):  # the server and its rfSsdpServer.py
        shutil.copy2(module, copy / module.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGYDASH_")}
    probe = subprocess.run(
        [sys.executable, "-c", "import grequests"], env=env, cwd=copy, capture_output=True
    )
    note = "its requirements installed"
    if probe.returncode != 0:
        (copy / "grequests.py").write_text(GREQUESTS_STAND_IN)
        note = "grequests stand-in (no event push, no gevent)"
    command = [sys.executable, script.name, "-S", "-D", str(MOCKUP_DIR), "-p", str(port)]
    process = subprocess.Popen(
        command, cwd=copy, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return process, note


def compare_with_mockup(
    console: Console, script: Path, ours: dict[str, tuple[int, float]], args: argparse.Namespace,
    workdir: str,
) -> None:  # fmt: skip
    """Measure the mockup server as ``ours`` was measured, then print both and the ratios."""
    from energydash.net import free_port, wait_for_port

    if not MOCKUP_DIR.is_dir():
        raise SystemExit(f"no public PDU mockup at {MOCKUP_DIR}")
    port = free_port()
    process, note = start_mockup_server(script, port, workdir)
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        requests = [
            build("GET", f"/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/{o}")
            for o in MOCKUP_OUTLETS
        ]
        asyncio.run(run_load(port, requests, 1.0, args.connections, 200))  # warm-up
        rate, lat, errors = asyncio.run(
            run_load(port, requests, args.seconds, args.connections, 200)
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    mockup = (rate, pct(lat, 0.99))
    table = Table(
        title=f"GET Outlet side by side ({args.connections} connections, the same asyncio "
        f"client, one server at a time); DMTF Redfish-Mockup-Server: {note}"
    )
    for column in ("server", "req/s", "p99 ms", "errors", "ratio to DMTF"):
        table.add_column(column, justify="right" if column != "server" else "left")
    table.add_row(
        "DMTF Redfish-Mockup-Server (static public-pdu, HTTP/1.0, no auth)",
        f"{rate:,}", f"{mockup[1]:.2f}", str(errors), "1.00x",
    )  # fmt: skip
    for name, (our_rate, our_p99) in ours.items():
        ratio = our_rate / rate if rate else float("inf")
        table.add_row(name, f"{our_rate:,}", f"{our_p99:.2f}", "0", f"{ratio:.2f}x")
    console.print(table)
    best = max(r for r, _ in ours.values()) / rate if rate else float("inf")
    like = ours["EnergyDash, new connection each"][0] / rate if rate else float("inf")
    verdict = "meets" if best >= 2.5 else "misses"
    console.print(
        f"GET Outlet: {best:.2f}x DMTF's Redfish-Mockup-Server with keep-alive ({verdict} the "
        f"2.5x target), {like:.2f}x with a new connection per request as it needs"
    )


def measure_ours_for_comparison(
    port: int, outlets: list[bytes], args: argparse.Namespace
) -> dict[str, tuple[int, float]]:
    """GET Outlet on this server with keep-alive and with a new connection per request."""
    ours: dict[str, tuple[int, float]] = {}
    closing = [raw.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1) for raw in outlets]
    for name, requests in (
        ("EnergyDash, keep-alive (Basic auth, sim ticking)", outlets),
        ("EnergyDash, new connection each", closing),
    ):
        rate, lat, errors = asyncio.run(
            run_load(port, requests, args.seconds, args.connections, 200)
        )
        if errors:
            raise SystemExit(f"{name}: {errors} requests did not answer 200")
        ours[name] = (rate, pct(lat, 0.99))
    return ours


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per scenario")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--app", choices=["redfish", "full"], default="redfish")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator: wrk when installed (auto), else a minimal asyncio client",
    )
    parser.add_argument(
        "--router", action="store_true", help="serve via include_router only (no wrap fast path)"
    )
    parser.add_argument(
        "--endpoints", type=int, default=0, help="N PDUs on N ports, polled concurrently"
    )
    parser.add_argument(
        "--mockup-server",
        default="",
        help="DMTF's redfishMockupServer.py to compare GET Outlet with (default: "
        "../Redfish-Mockup-Server/redfishMockupServer.py beside the checkout, when there)",
    )
    parser.add_argument(
        "--no-mockup", action="store_true", help="skip the DMTF Redfish-Mockup-Server comparison"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.port, args.app, args.data_dir, not args.router, args.endpoints)
        return 0

    from energydash.net import free_port, wait_for_port

    console = Console()
    mockup_server = None if args.no_mockup else find_mockup_server(args.mockup_server)
    port = args.port or free_port()
    if args.endpoints:
        port = args.port or _free_run(args.endpoints + 1)
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGYDASH_")}
        server = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                "--port",
                str(port),
                "--app",
                args.app,
                "--data-dir",
                tmp,
                *(["--router"] if args.router else []),
                *(["--endpoints", str(args.endpoints)] if args.endpoints else []),
            ],
            env=env,
        )
        try:
            wait_for_port("127.0.0.1", port, timeout=60)
            if args.endpoints:
                return _endpoints_case(console, port + 1, args.endpoints, args.seconds)
            base = "/redfish/v1/PowerEquipment/RackPDUs"
            outlets = [
                build("GET", f"{base}/{p}/Outlets/{b}{n}")
                for p in (1, 2, 3, 4)
                for b in "ABC"
                for n in range(1, 17)
            ]
            scenarios = [
                ("GET Outlet", outlets, 200),
                ("GET Outlets?$expand=. (48)", [build("GET", f"{base}/1/Outlets?$expand=.")], 200),
                (
                    "POST Outlet.PowerControl",
                    [
                        build(
                            "POST",
                            f"{base}/3/Outlets/{b}{n}/Actions/Outlet.PowerControl",
                            b'{"PowerState":"On"}',
                        )
                        for b in "ABC"
                        for n in range(1, 17)
                    ],
                    204,
                ),
            ]
            use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
            path = "include_router" if args.router else "wrap fast path"
            path += ", wrk" if use_wrk else ", asyncio client"
            table = Table(title=f"Redfish load ({args.app} app, {path}, {args.connections} "
                                "connections, Basic auth, sim ticking)")  # fmt: skip
            for column in ("scenario", "req/s", "p50 ms", "p99 ms", "errors"):
                table.add_column(column, justify="right" if column != "scenario" else "left")
            results = {}
            asyncio.run(run_load(port, outlets[:4], 1.0, args.connections, 200))  # warm-up
            for name, requests, expect in scenarios:
                if use_wrk:
                    first = requests[0].split(b"\r\n", 1)[0].decode().split(" ")
                    method = first[0]
                    paths = [r.split(b"\r\n", 1)[0].decode().split(" ")[1] for r in requests]
                    body = requests[0].split(b"\r\n\r\n", 1)[1]
                    rate, p50, p99, errors = run_wrk(
                        port, method, paths, body, args.seconds, args.connections, tmp
                    )
                else:
                    rate, lat, errors = asyncio.run(
                        run_load(port, requests, args.seconds, args.connections, expect)
                    )
                    p50, p99 = statistics.median(lat), pct(lat, 0.99)
                results[name] = rate
                table.add_row(name, f"{rate:,}", f"{p50:.2f}", f"{p99:.2f}", str(errors))
            console.print(table)
            target = 5000
            verdict = "meets" if results["GET Outlet"] >= target else "misses"
            console.print(
                f"GET Outlet: {results['GET Outlet']:,} req/s, {verdict} the {target:,}/s target"
            )
            if mockup_server is not None:
                ours = measure_ours_for_comparison(port, outlets, args)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        if mockup_server is None:
            console.print(
                f"no DMTF Redfish-Mockup-Server at {MOCKUP_SERVER} (or --mockup-server): "
                "comparison skipped"
            )
        else:  # ours has stopped: the mockup server gets the cores to itself
            compare_with_mockup(console, mockup_server, ours, args, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
