"""Options shared by several commands."""

from __future__ import annotations

import argparse

from energydash.config import Settings


def add_server_options(
    parser: argparse.ArgumentParser, settings_host: str, settings_port: str
) -> None:
    """--host/--port whose defaults are the named Settings fields (resolved at run time)."""
    parser.add_argument(
        "--host", help=f"bind address (default: ENERGYDASH_{settings_host.upper()})"
    )
    parser.add_argument(
        "--port", type=int, help=f"port (default: ENERGYDASH_{settings_port.upper()})"
    )
    parser.set_defaults(_host_field=settings_host, _port_field=settings_port)


def apply_server_options(args: argparse.Namespace, settings: Settings) -> Settings:
    """Settings with --host/--port applied, validated like any other setting."""
    update: dict[str, object] = {}
    if args.host:
        update[args._host_field] = args.host
    if args.port is not None:
        update[args._port_field] = args.port
    if not update:
        return settings
    return type(settings).model_validate({**settings.model_dump(), **update})
