"""`energydash <command>`: one entry point, one subcommand per module of ``commands/``.

Each module in ``energydash.commands`` defines ``register(subparsers)``, which adds its parser
and sets ``handler`` to a function taking ``(args, settings)`` and returning an exit code. A
command's heavy imports happen inside its handler, so ``energydash --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from energydash import __version__
from energydash.config import SettingsError, load_settings

# Module names under energydash.commands, in the order --help lists them.
COMMANDS: tuple[str, ...] = (
    "serve",
    "dashboard",
    "analytics",
    "broker",
    "replay",
    "record",
    "convert",
    "acquire",
    "datasets",
    "config",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="energydash",
        description="EnergyDash: simulated Redfish SmartPDUs, a simulated grid and market, "
        "live over Redfish, REST, WebSocket and MQTT, with a Dash web app.",
    )
    parser.add_argument("--version", action="version", version=f"energydash {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for name in COMMANDS:
        importlib.import_module(f"energydash.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"energydash: {error}", file=sys.stderr)
        return 2
    try:
        return int(args.handler(args, settings) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
