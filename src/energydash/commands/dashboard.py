"""`energydash dashboard`: serve the Dash web app (FastAPI backend, uvicorn) in the foreground."""

from __future__ import annotations

import argparse
import sys

from energydash.commands._options import add_server_options, apply_server_options
from energydash.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        help="serve the Dash web app (live heat maps, facilities map, market charts)",
        description="Serve the Dash web app. It holds one WebSocket client to the backend's /ws "
        "(ENERGYDASH_BACKEND_URL, default http://{host}:{port}) and pushes live updates to "
        "each browser tab over Dash WebSocket callbacks. Every page needs a login (a Redfish "
        "account of the backend); controls go to the backend as that user. HTTPS when "
        "ENERGYDASH_TLS (or ENERGYDASH_REDFISH_TLS) is true.",
    )
    add_server_options(parser, "dashboard_host", "dashboard_port")
    parser.add_argument("--backend-url", help="backend base URL (default: ENERGYDASH_BACKEND_URL)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from energydash.dashboard.app import create_dash_app
    from energydash.dashboard.feed import ws_url
    from energydash.logs import setup_logging

    settings = apply_server_options(args, settings)
    if args.backend_url:
        settings = type(settings).model_validate(
            {**settings.model_dump(), "backend_url": args.backend_url}
        )
    try:
        ws_url(settings.backend_base_url)
    except ValueError as error:
        print(f"energydash dashboard: {error}", file=sys.stderr)
        return 2
    from energydash.auth import AuthStore
    from energydash.auth.exposure import exposure_problem

    try:
        problem = exposure_problem(
            "dashboard", settings.dashboard_host, AuthStore.from_settings(settings)
        )
    except ValueError as error:
        print(f"energydash dashboard: {error}", file=sys.stderr)
        return 2
    if problem:
        print(problem, file=sys.stderr)
        return 2

    from energydash.dashboard.sessions import tls_enabled

    setup_logging("dashboard", settings)
    app = create_dash_app(settings)
    ssl: dict[str, str] = {}
    if tls_enabled(settings):
        # The backend's own generated certificate (same data dir): one certificate to trust.
        from energydash.redfish.tls import ensure_self_signed_cert

        cert, key = ensure_self_signed_cert(settings)
        ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    scheme = "https" if ssl else "http"
    print(
        f"dashboard on {scheme}://{settings.dashboard_host}:{settings.dashboard_port}/ "
        f"reading {settings.backend_base_url}",
        flush=True,
    )
    uvicorn.run(
        app.server,
        host=settings.dashboard_host,
        port=settings.dashboard_port,
        log_level="warning",
        ws="websockets-sansio",
        **ssl,
    )
    return 0
