"""The energydash command: help everywhere, --host/--port on servers, clear setting errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from energydash import cli


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "energydash", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def _subcommands() -> list[str]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_every_listed_command_module_is_present() -> None:
    assert _subcommands() == sorted(cli.COMMANDS)


def test_top_level_help_lists_every_command() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for name in cli.COMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_every_command_has_help(command: str) -> None:
    result = _run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert f"energydash {command}" in result.stdout


@pytest.mark.parametrize("command", ["serve", "dashboard", "broker"])
def test_server_commands_take_host_and_port(command: str) -> None:
    out = _run(command, "--help").stdout
    assert "--host" in out and "--port" in out


def test_invalid_setting_fails_at_start_naming_it(tmp_path) -> None:
    import os

    env = {**os.environ, "ENERGYDASH_MQTT_PORT": "nope"}
    result = _run("config", env=env)
    assert result.returncode == 2
    assert "ENERGYDASH_MQTT_PORT" in result.stderr


def test_config_get_prints_one_raw_value() -> None:
    import os

    env = {**os.environ, "ENERGYDASH_DASHBOARD_PORT": "8123"}
    assert _run("config", "--get", "dashboard_port", env=env).stdout.strip() == "8123"
