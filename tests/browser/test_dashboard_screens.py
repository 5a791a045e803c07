"""Every screen: no page is wider than a phone, tablet, laptop or desktop viewport; outlets by
arrow keys; charts and the connection badge are labelled; the dark theme follows the system
and the header toggle."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.keys import Keys

from browser import graph_data, text, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAGES = ("/", "/pdus", "/map", "/market", "/sites", "/analytics")
WIDTHS = (390, 768, 1024, 1440)


def open_page(driver, url: str) -> None:
    driver.get(url)
    wait_until(lambda: text(driver, "conn-text") == "Live", timeout_s=30)


def overflow(driver) -> tuple[int, int]:
    return driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )


def test_no_page_scrolls_sideways_at_any_width(stack, operator, screenshot) -> None:
    _, web = stack
    driver = operator
    wide: list[str] = []
    try:
        for width in WIDTHS:
            driver.set_window_size(width, 900)
            for path in PAGES:
                open_page(driver, web.url + path)
                # Wait for the page's charts to be drawn at this width before measuring.
                wait_until(lambda: driver.find_elements("css selector", ".js-plotly-plot"))
                scroll, client = overflow(driver)
                if scroll > client:
                    wide.append(f"{path} at {width}px: {scroll} > {client}")
            if width == 390:
                open_page(driver, web.url + "/pdus")
                wait_until(lambda: (graph_data(driver, "pdu-heatmap") or [{}])[0].get("z"))
                # The heat map keeps readable cells and scrolls inside its card instead.
                cell_px = driver.execute_script(
                    "const g = document.querySelector('#pdu-heatmap .js-plotly-plot');"
                    "return g._fullLayout.xaxis._length / g.data[0].z[0].length;"
                )
                assert cell_px >= 28
                screenshot("pdus-phone")
    finally:
        driver.set_window_size(1440, 1000)
    assert wide == []


def test_outlets_are_chosen_with_arrow_keys(stack, operator) -> None:
    _, web = stack
    driver = operator
    open_page(driver, web.url + "/pdus")
    wait_until(lambda: (graph_data(driver, "pdu-heatmap") or [{}])[0].get("z"))
    grid = driver.find_element("id", "pdu-heatmap-keys")
    assert grid.get_attribute("tabindex") == "0" and "arrow keys" in grid.get_attribute(
        "aria-label"
    )
    grid.send_keys(Keys.ARROW_RIGHT)  # the first key chooses the first outlet
    wait_until(lambda: "Outlet A1" in (text(driver, "outlet-title") or ""), timeout_s=15)
    for key in (Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_DOWN):
        grid.send_keys(key)
    wait_until(lambda: "Outlet B3" in (text(driver, "outlet-title") or ""), timeout_s=15)
    assert "(B3)" in text(driver, "pdu-heatmap-announce")
    grid.send_keys(Keys.END)
    wait_until(lambda: "Outlet B16" in (text(driver, "outlet-title") or ""), timeout_s=15)


def test_charts_and_badge_are_labelled(stack, operator) -> None:
    _, web = stack
    driver = operator
    open_page(driver, web.url + "/market")
    badge = driver.find_element("id", "conn-status")
    assert badge.get_attribute("role") == "status" and badge.get_attribute("aria-label")
    labels = driver.execute_script(
        "return Array.from(document.querySelectorAll('[role=figure]'))"
        ".map(e => [e.getAttribute('aria-label'), !!e.querySelector('.dash-graph')])"
    )
    assert ["Chart: Price (AUD/MWh)", True] in labels
    assert len(labels) == 4 and all(has_graph for _, has_graph in labels)


def background(driver) -> str:
    return driver.execute_script("return getComputedStyle(document.body).backgroundColor")


def test_dark_theme_follows_the_system_and_the_toggle(stack, operator) -> None:
    _, web = stack
    driver = operator
    driver.execute_script("window.localStorage.removeItem('energydash-theme')")
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
    )
    try:
        open_page(driver, web.url + "/")
        assert background(driver) == "rgb(11, 18, 32)"  # the system asks for dark
        driver.find_element("id", "theme-toggle").click()
        wait_until(lambda: background(driver) == "rgb(241, 245, 249)", timeout_s=5)
        open_page(driver, web.url + "/market")  # the choice is kept
        assert background(driver) == "rgb(241, 245, 249)"
        assert driver.find_element("id", "theme-toggle").get_attribute("aria-pressed") == "false"
        driver.find_element("id", "theme-toggle").click()
        wait_until(lambda: background(driver) == "rgb(11, 18, 32)", timeout_s=5)
        plot_bg = driver.execute_script(
            "const r = document.querySelector('#market-price .main-svg .bg');"
            "return r ? getComputedStyle(r).fill : null"
        )
        assert plot_bg == "rgb(17, 24, 39)"  # charts follow the theme too
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
        driver.execute_script("window.localStorage.removeItem('energydash-theme')")
