"""`energydash config`: show the settings in force (secrets masked) or one raw value."""

from __future__ import annotations

import argparse
import sys

from pydantic import SecretStr

from energydash.config import Settings, env_name


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "config",
        help="show the settings in force (environment, .env, defaults)",
        description="Print every setting with its environment variable and value, secrets "
        "masked. With --get NAME print one raw value (scripts use this).",
    )
    parser.add_argument("--get", metavar="NAME", help="print one setting's value, e.g. port")
    parser.set_defaults(handler=run)


def _shown(value: object) -> str:
    if isinstance(value, SecretStr):
        return "********" if value.get_secret_value() else ""
    if isinstance(value, list):
        return ",".join(map(str, value))
    return "" if value is None else str(value)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.get:
        name = args.get.lower().removeprefix("energydash_")
        if name not in Settings.model_fields:
            print(f"energydash config: no setting named {args.get!r}", file=sys.stderr)
            return 2
        value = getattr(settings, name)
        # --get is for scripts on this machine: it prints secrets in clear, like reading .env.
        print(value.get_secret_value() if isinstance(value, SecretStr) else _shown(value))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("setting", "value", "description", box=None, pad_edge=False)
    for name, field in Settings.model_fields.items():
        table.add_row(env_name(name), _shown(getattr(settings, name)), field.description or "")
    Console().print(table)
    return 0
