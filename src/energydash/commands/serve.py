"""`energydash serve`: the backend (Redfish, REST /api/v1, WebSocket /ws, MQTT in and out)."""

from __future__ import annotations

import argparse

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

    import uvicorn

    from energydash.app import create_app
    from energydash.logs import setup_logging
    from energydash.redfish import RedfishService
    from energydash.redfish.parser import RedfishHttpProtocol
    from energydash.stream.rawsend import FanoutWebSocketProtocol

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
    ssl: dict[str, object] = {}
    if settings.redfish_tls:
        from energydash.redfish.tls import ensure_self_signed_cert

        cert, key = ensure_self_signed_cert(settings)
        ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    try:
        app = create_app(settings)
    except ValueError as error:
        print(f"energydash serve: {error}")
        return 2
    scheme = "https" if settings.redfish_tls else "http"
    base = settings.public_url.rstrip("/") or f"{scheme}://{settings.host}:{settings.port}"
    ws_base = base.replace("https://", "wss://").replace("http://", "ws://")
    mqtt = (
        f"mqtt://{settings.mqtt_host}:{settings.mqtt_port}"
        if settings.mqtt_ingest or settings.mqtt_publish
        else "off"
    )
    lines = [
        "EnergyDash backend",
        f"  Redfish    {base}/redfish/v1   user {settings.redfish_user!r} "
        f"password {settings.redfish_password.get_secret_value()!r} (mock credentials)",
        f"  REST       {base}/api/v1   OpenAPI {base}/docs",
        f"  WebSocket  {ws_base}/ws" + ("   (token required)" if settings.ws_token else ""),
        f"  Health     {base}/health   metrics {base}/metrics",
        f"  MQTT       {mqtt}",
        f"  Fleet      {settings.pdu_count} PDUs, clock {settings.clock_mode} x{settings.speed}",
    ]
    print("\n".join(lines), flush=True)
    log.info("starting on %s:%d", settings.host, settings.port)
    # Redfish requests take the service's pure-ASGI fast path (8k vs 5k GET/s measured by
    # bench/redfish_load.py); everything else, lifespan included, goes to the FastAPI app.
    service = RedfishService.find(app)
    if ssl and service is not None:  # CertificateService.ReplaceCertificate reloads this context
        ssl["ssl_context_factory"] = service.tls_context_factory  # type: ignore[assignment]
    uvicorn.run(
        service.wrap(app) if service else app,
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
    return 0
