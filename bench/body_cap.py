"""What a refused oversized body costs the backend: status, RSS growth, password hashes.

Run: ``.venv/bin/python bench/body_cap.py [--mib 10]``. Serves the whole backend in this process
(``BackgroundServer``, as ``energydash serve`` serves it: guard, Redfish fast path, app) and
sends one anonymous POST of ``--mib`` MiB to REST and to Redfish, with a declared
Content-Length and chunked, 64 KiB at a time, reading RSS from /proc before and after.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from energydash.app import BackgroundServer, create_app
from energydash.auth import store as auth_store
from energydash.config import load_settings
from energydash.net import free_port

CHUNK = b"x" * 65536


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit("no VmRSS in /proc/self/status")


def post(port: int, path: str, size: int, chunked: bool) -> str:
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"{head}{framing}\r\n\r\n".encode())
        try:
            for _ in range(size // len(CHUNK)):
                sock.sendall(b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n" if chunked else CHUNK)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # answered and closed before the whole body went
        answer = sock.recv(4096)
    return answer.split(b"\r\n", 1)[0].decode(errors="replace")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=10, help="body size in MiB")
    args = parser.parse_args()
    hashes = [0]
    real = auth_store._scrypt

    def counted(*a: object) -> bytes:
        hashes[0] += 1
        return real(*a)  # type: ignore[arg-type]

    auth_store._scrypt = counted  # type: ignore[assignment]
    with tempfile.TemporaryDirectory(prefix="body-cap-") as tmp:
        root = Path(tmp)
        settings = load_settings(
            data_dir=root / "data",
            log_dir=root / "logs",
            clock_mode="stepped",
            pdu_count=2,
            grid_facility_count=10,
            mqtt_ingest=False,
            mqtt_publish=False,
            port=free_port(),
        )
        server = BackgroundServer(create_app(settings), port=settings.port).start()
        table = Table(title=f"anonymous {args.mib} MiB POST, cap {settings.max_body_bytes} B")
        for column in ("path", "framing", "answer", "RSS growth KiB", "password hashes"):
            table.add_column(column)
        try:
            for path in ("/api/v1/faults", "/redfish/v1/SessionService/Sessions"):
                for chunked in (False, True):
                    before, hashes[0] = rss_kib(), 0
                    answer = post(server.port, path, args.mib * 1024 * 1024, chunked)
                    table.add_row(
                        path,
                        "chunked" if chunked else "Content-Length",
                        answer,
                        str(rss_kib() - before),
                        str(hashes[0]),
                    )
        finally:
            server.stop()
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
