"""Settings come from the environment and .env, and a bad value fails naming the setting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from energydash.config import Settings, SettingsError, env_name, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_environment_overrides_the_default(settings: Settings, monkeypatch) -> None:
    monkeypatch.setenv("ENERGYDASH_PDU_COUNT", "7")
    assert load_settings().pdu_count == 7


def test_dotenv_file_in_the_working_directory_is_read(settings: Settings, tmp_path) -> None:
    # The settings fixture made tmp_path the working directory.
    (tmp_path / ".env").write_text("ENERGYDASH_DASHBOARD_PORT=9123\nENERGYDASH_SEED=7\n")
    loaded = load_settings()
    assert (loaded.dashboard_port, loaded.seed) == (9123, 7)


def test_environment_wins_over_dotenv(settings: Settings, tmp_path, monkeypatch) -> None:
    (tmp_path / ".env").write_text("ENERGYDASH_SEED=7\n")
    monkeypatch.setenv("ENERGYDASH_SEED", "8")
    assert load_settings().seed == 8


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ENERGYDASH_PORT", "not-a-port"),
        ("ENERGYDASH_PORT", "70000"),
        ("ENERGYDASH_CLOCK_MODE", "sometimes"),
        ("ENERGYDASH_PDU_COUNT", "-1"),
        ("ENERGYDASH_SPEED", "0"),
        ("ENERGYDASH_MQTT_QOS", "3"),
    ],
)
def test_invalid_value_is_rejected_naming_the_setting(
    settings: Settings, monkeypatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_api_key_is_read_only_from_its_own_variable(settings: Settings, monkeypatch) -> None:
    monkeypatch.setenv("OPENELECTRICITY_API_KEY", "test-key")
    key = load_settings().openelectricity_api_key
    assert key is not None and key.get_secret_value() == "test-key"
    assert "test-key" not in repr(load_settings())  # never echoed by accident


def test_allowed_origins_split_on_commas(settings: Settings, monkeypatch) -> None:
    monkeypatch.setenv("ENERGYDASH_WS_ALLOWED_ORIGINS", "http://a.example, http://b.example")
    assert load_settings().ws_allowed_origins == ["http://a.example", "http://b.example"]


def test_env_example_documents_every_setting() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/gen_env_example.py"), "--check"], check=False
    )
    assert result.returncode == 0, "run scripts/gen_env_example.py: .env.example is stale"
    text = (ROOT / ".env.example").read_text()
    for name in Settings.model_fields:
        assert f"#{env_name(name)}=" in text, f"{env_name(name)} missing from .env.example"
