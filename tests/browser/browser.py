"""Headless Chromium for the browser tests and the render benchmark (never downloads a browser)."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.actions.action_builder import ActionBuilder


def start_chromium(
    width: int = 1440, height: int = 1000, extra_flags: tuple[str, ...] = ()
) -> webdriver.Chrome:
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
        *extra_flags,
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


def log_in(driver: webdriver.Chrome, base_url: str, username: str, password: str) -> None:
    """Fill in and submit the dashboard's login form (what a user does)."""
    driver.get(base_url + "/login")
    driver.find_element("id", "login-username").clear()
    driver.find_element("id", "login-username").send_keys(username)
    driver.find_element("id", "login-password").send_keys(password)
    driver.find_element("id", "login-submit").click()


def log_in_as(driver: webdriver.Chrome, base_url: str, username: str, password: str) -> None:
    """Log in and wait until the header shows the user (the shell has rendered)."""
    log_in(driver, base_url, username, password)
    wait_until(lambda: text(driver, "header-user") == username, timeout_s=30)


def click_cell(driver, row: int, position: int) -> None:
    x, y = driver.execute_script(
        "const gd = document.querySelector('#pdu-heatmap .js-plotly-plot');"
        "const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;"
        "const r = gd.getBoundingClientRect();"
        "return [r.left + xa._offset + xa.l2p(arguments[0]),"
        " r.top + ya._offset + ya.l2p(arguments[1])];",
        position,
        row,
    )
    actions = ActionBuilder(driver)
    actions.pointer_action.move_to_location(int(x), int(y)).pause(0.3)
    actions.pointer_action.move_to_location(int(x) + 1, int(y) + 1).pause(0.2).click()
    actions.perform()


def open_outlet(driver: webdriver.Chrome, row: int, position: int) -> str:
    """Click a heat-map cell until its outlet's detail opens; the outlet id (e.g. "A3")."""
    outlet = f"{'ABC'[row]}{position}"
    wait_until(lambda: (graph_data(driver, "pdu-heatmap") or [{}])[0].get("z"))
    driver.execute_script("window.scrollTo(0, 0)")
    # A tick may redraw the plot between hover and click; click again until the detail opens.
    for _attempt in range(4):
        click_cell(driver, row=row, position=position)
        try:
            wait_until(
                lambda: f"Outlet {outlet}" in (text(driver, "outlet-title") or ""), timeout_s=6
            )
            return outlet
        except AssertionError:
            continue
    wait_until(lambda: f"Outlet {outlet}" in (text(driver, "outlet-title") or ""), timeout_s=6)
    return outlet


def click_biggest_facility(driver: webdriver.Chrome) -> None:
    """Click the map's biggest facility marker that nothing covers (markers are redrawn every
    tick, so the click goes to where it is, not to the element)."""
    x, y = driver.execute_script(
        "const free = Array.from(document.querySelectorAll('path.facility-marker')).map(p => {"
        "  const r = p.getBoundingClientRect();"
        "  const x = r.left + r.width / 2, y = r.top + r.height / 2;"
        "  return [r.width, x, y, document.elementFromPoint(x, y) === p]; })"
        ".filter(m => m[3]).sort((a, b) => b[0] - a[0]);"
        "return [free[0][1], free[0][2]];"
    )
    click = ActionBuilder(driver)
    click.pointer_action.move_to_location(int(x), int(y)).pause(0.1).click()
    click.perform()
