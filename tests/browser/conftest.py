"""Real backend, real dashboard, real headless Chromium for the dashboard's browser tests."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from processes import ACCOUNTS, Service, backend, dashboard

from browser import log_in_as, start_chromium

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Service]]:
    """`energydash serve` (2 PDUs x 48 outlets, 60 facilities, 1 Hz) and `energydash dashboard`."""
    workdir = tmp_path_factory.mktemp("stack")
    server = backend(workdir).start()
    web = dashboard(workdir, server).start()
    try:
        yield server, web
    finally:
        web.stop()
        server.stop()


@pytest.fixture(scope="module")
def driver() -> Iterator:
    chromium = start_chromium()
    try:
        yield chromium
    finally:
        chromium.quit()


@pytest.fixture(scope="module")
def operator(stack, driver):
    """The module's browser logged in as the seeded Operator (the pages need a login)."""
    _, web = stack
    log_in_as(driver, web.url, *ACCOUNTS["Operator"])
    return driver


@pytest.fixture
def screenshot(driver):
    """Save the current page as docs/screenshots/<name>.png (the README shows them)."""

    def save(name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        size = driver.get_window_size()
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(size["width"], max(size["height"], min(int(height) + 120, 2400)))
        driver.execute_script("window.scrollTo(0, 0)")
        time.sleep(0.5)  # let the charts settle into the taller window
        driver.save_screenshot(str(path))
        driver.set_window_size(size["width"], size["height"])
        return path

    return save


@pytest.fixture
def element_screenshot(driver):
    """Save one element (CSS selector) as docs/screenshots/<name>.png."""

    def save(name: str, css: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        driver.find_element("css selector", css).screenshot(str(path))
        return path

    return save
