"""`energydash serve`: the backend (Redfish, REST /api/v1, WebSocket /ws, MQTT in and out)."""

from __future__ import annotations

import argparse
import gc

from energydash.commands._options import add_server_options, apply_server_options
from energydash.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the backend: simulated PDUs and grid over Redfish, REST, WebSocket, MQTT",
        description="Run the backend. Settings come from ENERGYDASH_* variables and .env.",
    )
    add_server_options(parser, "host", "port")
    parser.add_argument(
        "--no-mqtt",
        action="store_true",
        help="neither ingest nor publish over MQTT (ENERGYDASH_MQTT_INGEST/PUBLISH=false)",
    )
    parser.add_argument(
        "--scenario",
        metavar="FILE",
        help="run a YAML/JSON scenario of faults and actions on the sim clock "
        "(ENERGYDASH_SCENARIO_FILE)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    import logging
    import os
    import sys
    from pathlib import Path

    from energydash.app import create_app, serving_app, tls_files
    from energydash.auth.exposure import exposure_problem
    from energydash.auth.guard import WILDCARD_BINDS
    from energydash.auth.secrets import read_token
    from energydash.logs import setup_logging
    from energydash.redfish import RedfishService
    from energydash.sim.lock import DataDirBusy, DataDirLock

    settings = apply_server_options(args, settings)
    if getattr(args, "scenario", None):
        settings = settings.model_copy(update={"scenario_file": args.scenario})
    if settings.scenario_file:
        from energydash.sim.scenario import ScenarioError, load_file

        try:
            load_file(settings.scenario_file)  # refuse a bad file before anything starts
        except ScenarioError as error:
            print(f"energydash serve: {error}")
            return 2
    if args.no_mqtt:
        settings = settings.model_copy(update={"mqtt_ingest": False, "mqtt_publish": False})
    setup_logging("backend", settings)
    log = logging.getLogger("energydash.serve")
    try:
        # held until this function returns; the kernel drops it however the process ends
        lock = DataDirLock(settings.state_dir).acquire()
    except DataDirBusy as error:
        print(f"energydash serve: {error}", file=sys.stderr, flush=True)
        return 3
    log.info("holding %s (PID %d)", lock.path, os.getpid())
    try:
        app = create_app(settings)
    except ValueError as error:
        print(f"energydash serve: {error}", file=sys.stderr)
        lock.release()
        return 2
    problem = exposure_problem("serve", settings.host, app.state.auth)
    if problem:
        print(problem, file=sys.stderr)
        lock.release()
        return 2
    files = tls_files(settings)
    ssl: dict[str, object] = {"ssl_certfile": files[0], "ssl_keyfile": files[1]} if files else {}
    scheme = "https" if files else "http"
    base = settings.public_url.rstrip("/") or f"{scheme}://{settings.host}:{settings.port}"
    ws_base = base.replace("https://", "wss://").replace("http://", "ws://")
    mqtt = (
        f"mqtt://{settings.mqtt_host}:{settings.mqtt_port}"
        if settings.mqtt_ingest or settings.mqtt_publish
        else "off"
    )
    token = read_token(settings)
    token_from = "ENERGYDASH_READ_TOKEN" if token.path == Path() else str(token.path)
    accounts = app.state.auth.path
    # never a password or token here: only where each comes from
    lines = [
        "EnergyDash backend",
        f"  Redfish    {base}/redfish/v1   administrator {settings.redfish_user!r}: password "
        + (
            f"as saved in {accounts}"
            if accounts is not None and accounts.exists()
            else "from ENERGYDASH_REDFISH_PASSWORD (the shipped default unless set)"
        ),
        f"  REST       {base}/api/v1   OpenAPI {base}/docs   (Basic, X-Auth-Token or Bearer)",
        f"  WebSocket  {ws_base}/ws   (credential required; read token in {token_from})",
        f"  Health     {base}/health   metrics {base}/metrics"
        + ("" if settings.metrics_public else " (credential required)"),
        f"  MQTT       {mqtt}",
        f"  Fleet      {settings.pdu_count} PDUs, clock {settings.clock_mode} x{settings.speed}",
    ]
    if settings.host in WILDCARD_BINDS and not (settings.allowed_hosts or settings.public_url):
        lines.append(
            "  Note       only loopback Host names are served; set ENERGYDASH_PUBLIC_URL or "
            "ENERGYDASH_ALLOWED_HOSTS to the names clients use"
        )
    print("\n".join(lines), flush=True)
    log.info("starting on %s:%d", settings.host, settings.port)
    service = RedfishService.find(app)
    if ssl and service is not None:  # CertificateService.ReplaceCertificate reloads this context
        ssl["ssl_context_factory"] = service.tls_context_factory
    settle_heap()
    try:
        _serve(serving_app(app), settings, ssl)
    finally:
        lock.release()
    return 0


def settle_heap() -> None:
    """Leave the start-up heap out of garbage collection from now on, and collect less often.

    A 1,000-PDU backend starts with ~200,000 tracked objects (fleet, grid, schemas) that live
    as long as it does: a full collection walked them all (50 ms with the loop stopped), and
    young collections took 14 % of a REST command's cost there. Frozen objects are still
    freed when their last reference goes; only cycles among them wait for the process end.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)  # default 700, 10, 10


def _serve(app: object, settings: Settings, ssl: dict[str, object]) -> None:
    import uvicorn

    from energydash.redfish.parser import RedfishHttpProtocol
    from energydash.stream.rawsend import FanoutWebSocketProtocol

    uvicorn.run(
        app,  # serving_app: Host check and body cap around the Redfish fast path and the app
        host=settings.host,
        port=settings.port,
        log_config=None,
        # protocol pings drop a peer that stops answering; /ws adds JSON pings on quiet links
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_idle_timeout_s,
        # permessage-deflate would compress each frame once per client: encode once, send as is
        ws_per_message_deflate=False,
        # frames are framed once per tick and written straight to each transport (rawsend.py)
        ws=FanoutWebSocketProtocol,
        # an unknown HTTP method gets 501 from the parser instead of its bare 400
        http=RedfishHttpProtocol,
        # an open SSE event stream would otherwise hold the shutdown (and the state save) forever
        timeout_graceful_shutdown=settings.shutdown_timeout_s,
        **ssl,
    )
