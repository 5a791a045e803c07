"""Fixtures every test package shares: isolated settings, real MQTT brokers, required tools.

Tests that need Chromium (marker ``browser``) or mosquitto (marker ``mosquitto``) skip with an
install hint when the tool is missing, unless ``ENERGYDASH_REQUIRE_ALL=1`` (as in CI), where a
missing tool fails the test instead: a skip there would hide a part that never ran.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from energydash.config import Settings, load_settings
from energydash.mqtt.broker import BrokerProcess, find_mosquitto
from energydash.net import free_port

REQUIRE_ALL = os.environ.get("ENERGYDASH_REQUIRE_ALL") == "1"
CHROMIUM_HINT = (
    "headless Chromium is not installed; install it with: "
    "sudo apt-get install chromium chromium-driver"
)
MOSQUITTO_HINT = "mosquitto is not installed; install it with: sudo apt-get install mosquitto"


def find_chromium() -> tuple[str | None, str | None]:
    """(browser, driver) executables, or None for whichever is missing."""
    browser = next(
        (
            shutil.which(name)
            for name in ("chromium", "chromium-browser", "google-chrome")
            if shutil.which(name)
        ),
        None,
    )
    return browser, shutil.which("chromedriver")


def _missing(tool_hint: str) -> None:
    if REQUIRE_ALL:
        pytest.fail(f"ENERGYDASH_REQUIRE_ALL=1 but {tool_hint}", pytrace=False)
    pytest.skip(tool_hint)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("browser") and None in find_chromium():
        _missing(CHROMIUM_HINT)
    if item.get_closest_marker("mosquitto") and find_mosquitto() is None:
        _missing(MOSQUITTO_HINT)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings isolated from the developer's environment and the repository's data/ and logs/.

    The ``.env`` of the checkout is not read (the working directory is a temporary one), and
    stray ENERGYDASH_ variables of the shell are removed. Stepped clock and a small fleet keep
    tests deterministic and fast; a test needing more builds its own with ``load_settings``.
    """
    for name in list(os.environ):
        if name.startswith("ENERGYDASH_") and name != "ENERGYDASH_REQUIRE_ALL":
            monkeypatch.delenv(name)
    monkeypatch.delenv("OPENELECTRICITY_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    return load_settings(
        data_dir=tmp_path / "data",
        log_dir=tmp_path / "logs",
        run_dir=tmp_path / "run",
        broker_dir=tmp_path / "broker",
        clock_mode="stepped",
        pdu_count=2,
        grid_facility_count=20,
        port=free_port(),
        dashboard_port=free_port(),
        mqtt_port=free_port(),
    )


def _broker(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    broker = BrokerProcess(
        engine,  # type: ignore[arg-type]
        port=free_port(),
        broker_dir=tmp_path_factory.mktemp(f"{engine}-broker"),
    )
    with broker:
        yield broker


@pytest.fixture
def amqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """A fresh amqtt broker (MQTT 3.1.1, no $share) on a free loopback port."""
    yield from _broker("amqtt", tmp_path_factory)


@pytest.fixture
def mosquitto_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """A fresh mosquitto broker on a free loopback port (skips/fails without mosquitto)."""
    if find_mosquitto() is None:
        _missing(MOSQUITTO_HINT)
    yield from _broker("mosquitto", tmp_path_factory)


@pytest.fixture(params=["amqtt", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
def mqtt_broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrokerProcess]:
    """Each test using it runs once against amqtt and once against mosquitto."""
    yield from _broker(request.param, tmp_path_factory)
