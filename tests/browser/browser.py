"""Headless Chromium for the browser tests and the render benchmark (never downloads a browser)."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def start_chromium(width: int = 1440, height: int = 1000) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={width},{height}",
        f"--user-data-dir={tempfile.mkdtemp(prefix='energydash-chromium-')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(service=service, options=options)


def console_errors(driver: webdriver.Chrome) -> list[str]:
    """SEVERE console entries since the last call (favicon 404s are not the app's errors)."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and "favicon" not in entry["message"]
    ]


def wait_until(condition: Callable[[], Any], timeout_s: float = 20.0, every_s: float = 0.2) -> Any:
    """Poll ``condition`` until it returns something truthy; raise with its last value."""
    end = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < end:
        try:
            last = condition()
        except Exception as error:
            last = error
        if last and not isinstance(last, Exception):
            return last
        time.sleep(every_s)
    raise AssertionError(f"condition not met within {timeout_s} s (last: {last!r})")


def text(driver: webdriver.Chrome, element_id: str) -> str:
    return driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.innerText : null;",
        element_id,
    )


def graph_data(driver: webdriver.Chrome, graph_id: str) -> Any:
    """The live plotly traces of a dcc.Graph, as the browser has them."""
    return driver.execute_script(
        "const g = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');"
        "return g && g.data ? JSON.parse(JSON.stringify(g.data)) : null;",
        graph_id,
    )
