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


def add_mqtt_client_options(parser: argparse.ArgumentParser, tool: str) -> None:
    """The MQTT connection options of the tools (`replay`, `record`): one set for both.

    Defaults are the ``ENERGYDASH_MQTT_*`` settings, resolved by ``mqtt_client_values``.
    """
    group = parser.add_argument_group("MQTT connection")
    group.add_argument("--host", help="broker host (default: ENERGYDASH_MQTT_HOST)")
    group.add_argument("--port", type=int, help="broker port (default: ENERGYDASH_MQTT_PORT)")
    group.add_argument("--client-id", help=f"MQTT client id (default: energydash-{tool}-<pid>)")
    group.add_argument("--username", help="default: ENERGYDASH_MQTT_REPLAY_USERNAME (replay)")
    group.add_argument(
        "--password",
        help="default: ENERGYDASH_MQTT_REPLAY_PASSWORD, else <DATA_DIR>/secrets/mqtt-replay",
    )
    group.add_argument(
        "--tls", action="store_true", default=None, help="default: ENERGYDASH_MQTT_TLS"
    )
    group.add_argument("--tls-ca", help="CA bundle for --tls")
    group.add_argument("--tls-insecure", action="store_true", help="do not verify the certificate")
    group.add_argument(
        "--mqtt-version",
        choices=("3.1.1", "5"),
        help="MQTT protocol (default: ENERGYDASH_TOOLS_MQTT_VERSION)",
    )


def mqtt_client_values(args: argparse.Namespace, settings: Settings) -> dict[str, object]:
    """The connection fields (as ToolConnection/ReplayOptions name them) from args + settings.

    Without ``--username`` the tools log in as the local broker's ``replay`` identity (its
    password from settings or its generated secret file), which may use the dataset topics.
    """
    from energydash.mqtt.identities import client_credentials

    if args.username is not None:
        username, password = args.username, args.password or ""
    else:
        username, password = client_credentials(settings, "replay")
    return {
        "host": args.host or settings.mqtt_host,
        "port": args.port or settings.mqtt_port,
        "client_id": args.client_id or "",
        "username": username,
        "password": password,
        "tls": settings.mqtt_tls if args.tls is None else args.tls,
        "tls_ca": args.tls_ca,
        "tls_insecure": args.tls_insecure,
        "keepalive_s": settings.mqtt_keepalive_s,
        "mqtt_version": args.mqtt_version or settings.tools_mqtt_version,
    }


def parse_user_properties(items: list[str] | None) -> list[tuple[str, str]]:
    """``--user-property key=value`` (repeated) → [(key, value)]; ValueError names a bad one."""
    out = []
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--user-property {item!r}: expected key=value")
        out.append((key, value))
    return out
