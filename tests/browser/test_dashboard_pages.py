"""The dashboard in a real browser against a real backend: every page renders without console
errors and shows live values; an outlet switched from the UI goes Off in the heat map; map
filters change the markers; pan and zoom survive live updates; the app heals after the backend
restarts."""

from __future__ import annotations

import csv
import io
import time

import pytest
from selenium.webdriver.common.actions.action_builder import ActionBuilder

from browser import (
    click_biggest_facility,
    console_errors,
    graph_data,
    open_outlet,
    text,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def open_page(driver, base_url: str, path: str) -> None:
    driver.get(base_url + path)
    wait_until(lambda: text(driver, "conn-text") == "Live", timeout_s=30)


def trace_length(driver, graph_id: str, trace: int = 0) -> int:
    data = graph_data(driver, graph_id) or []
    return len(data[trace]["x"]) if len(data) > trace and data[trace].get("x") else 0


def test_overview_renders_and_its_figures_grow_live(stack, operator, driver, screenshot) -> None:
    _, web = stack
    open_page(driver, web.url, "/?range=5m")  # 5 minutes: one chart point per second
    wait_until(lambda: "kW" in text(driver, "ov-power") and "MW" in text(driver, "ov-demand"))
    before = trace_length(driver, "ov-power-chart")
    wait_until(lambda: trace_length(driver, "ov-power-chart") >= before + 2, timeout_s=15)
    assert text(driver, "ov-outlets").endswith("/ 96")  # 2 PDUs x 3 banks x 16 outlets
    assert console_errors(driver) == []  # the screenshot: test_map_page.py (grid figures)


def test_pdu_heat_map_is_laid_out_by_bank_and_updates_live(
    stack, operator, driver, screenshot
) -> None:
    _, web = stack
    open_page(driver, web.url, "/pdus")
    first = wait_until(lambda: (graph_data(driver, "pdu-heatmap") or [{}])[0].get("z"))
    assert len(first) == 3 and all(len(row) == 16 for row in first)  # banks A, B, C
    wait_until(lambda: graph_data(driver, "pdu-heatmap")[0]["z"] != first, timeout_s=15)
    circuits = graph_data(driver, "pdu-circuits")
    assert circuits[0]["y"][:3] == ["Mains L1", "Mains L2", "Mains L3"]
    assert circuits[1]["x"][3:] == [16.0, 16.0, 16.0]  # branch breaker ratings
    driver.find_element("css selector", "#pdu-range input[value='fixed']").click()
    wait_until(lambda: graph_data(driver, "pdu-heatmap")[0].get("zmax") == 2300.0, timeout_s=10)
    assert console_errors(driver) == []


def test_outlet_switched_off_from_the_ui_goes_off_in_the_heat_map(
    stack, operator, driver, screenshot
) -> None:
    _, web = stack
    open_page(driver, web.url, "/pdus")
    wait_until(lambda: (graph_data(driver, "pdu-heatmap") or [{}])[0].get("z"))
    open_outlet(driver, row=0, position=3)  # outlet A3
    assert graph_data(driver, "pdu-heatmap")[1]["z"][0][2] is None  # not Off yet
    driver.find_element("id", "outlet-off").click()
    wait_until(lambda: "Off" in (text(driver, "outlet-result") or ""))
    assert "refused" not in text(driver, "outlet-result")
    wait_until(lambda: graph_data(driver, "pdu-heatmap")[1]["z"][0][2] == 1, timeout_s=15)
    wait_until(lambda: "State\nOff" in text(driver, "outlet-readings"), timeout_s=10)
    time.sleep(2)  # let the detail chart gather a few points for the screenshot
    screenshot("pdus")
    driver.find_element("id", "outlet-on").click()
    wait_until(lambda: "On —" in (text(driver, "outlet-result") or ""))
    assert console_errors(driver) == []


def markers_and_clusters(driver) -> int:
    """Facilities on screen: single markers plus the counts shown on clusters."""
    return driver.execute_script(
        "const singles = document.querySelectorAll('path.facility-marker').length;"
        "let grouped = 0; document.querySelectorAll('.facility-cluster span')"
        ".forEach(s => grouped += parseInt(s.textContent));"
        "return singles + grouped;"
    )


def test_map_filters_change_the_markers(stack, operator, driver, screenshot) -> None:
    _, web = stack
    open_page(driver, web.url, "/map")
    total = wait_until(lambda: markers_and_clusters(driver))
    assert total == 60
    driver.execute_script("dash_clientside.set_props('map-region', {value: ['QLD1']})")

    def filtered() -> int:
        shown = markers_and_clusters(driver)
        count = text(driver, "map-count") or ""
        return shown if shown < 60 and count == f"{shown} of 60 facilities shown" else 0

    shown = wait_until(filtered, timeout_s=10)
    assert 0 < shown < 60
    driver.execute_script("dash_clientside.set_props('map-region', {value: []})")
    wait_until(lambda: markers_and_clusters(driver) == 60, timeout_s=10)
    assert console_errors(driver) == []


def map_view(driver) -> tuple[str, str]:
    return driver.execute_script(
        "return [document.querySelector('.leaflet-map-pane').style.transform,"
        " document.querySelector('.leaflet-control-scale-line').textContent];"
    )


def test_map_pan_and_zoom_survive_live_updates(stack, operator, driver, screenshot) -> None:
    _, web = stack
    open_page(driver, web.url, "/map")
    wait_until(lambda: markers_and_clusters(driver) == 60)
    start = map_view(driver)
    driver.find_element("css selector", ".leaflet-control-zoom-in").click()
    time.sleep(0.6)
    box = driver.find_element("id", "facility-map").rect
    x, y = int(box["x"] + box["width"] / 2), int(box["y"] + box["height"] / 2)
    drag = ActionBuilder(driver)
    drag.pointer_action.move_to_location(x, y).pointer_down().pause(0.1)
    drag.pointer_action.move_to_location(x + 120, y + 60).pause(0.1).pointer_up()
    drag.perform()
    time.sleep(0.6)
    moved = map_view(driver)
    assert moved[1] != start[1] and moved[0] != start[0]  # zoomed (scale bar) and panned
    driver.execute_script("window.__marker = document.querySelector('path.facility-marker')")
    # The facility layer is redrawn by live updates (its markers are replaced)...
    wait_until(
        lambda: driver.execute_script("return !document.contains(window.__marker)"),
        timeout_s=10,
    )
    time.sleep(2)
    # ...and the view the user chose stays put.
    assert map_view(driver) == moved
    assert console_errors(driver) == []


def test_market_charts_grow_live_and_a_facility_opens_its_panel(
    stack, operator, driver, screenshot, tmp_path
) -> None:
    _, web = stack
    open_page(driver, web.url, "/market")
    wait_until(lambda: trace_length(driver, "market-price") >= 1)
    before = trace_length(driver, "market-price")
    wait_until(lambda: trace_length(driver, "market-price") >= before + 2, timeout_s=15)
    wait_until(lambda: "facility" in (text(driver, "market-top") or "").lower())
    time.sleep(1)
    screenshot("market")

    # Export what is shown: untick one region, and the CSV holds only the others.
    driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )
    regions = driver.execute_script(
        "return Array.from(document.querySelectorAll('#market-regions input')).map(i => i.value)"
    )
    driver.find_element("css selector", f"#market-regions input[value='{regions[0]}']").click()
    time.sleep(0.5)
    driver.find_element("id", "market-export").click()
    exported = wait_until(lambda: list(tmp_path.glob("energydash-market*.csv")), timeout_s=10)
    rows = list(csv.DictReader(io.StringIO(exported[0].read_text())))
    assert rows and {r["region"] for r in rows} == set(regions[1:])
    assert all(r["price_aud_per_mwh"] for r in rows)
    open_page(driver, web.url, "/map")
    wait_until(lambda: markers_and_clusters(driver) == 60)
    click_biggest_facility(driver)
    wait_until(lambda: "Capacity" in (text(driver, "facility-info") or ""))
    wait_until(lambda: trace_length(driver, "facility-chart") >= 2, timeout_s=10)
    assert console_errors(driver) == []  # the screenshot: test_map_page.py (units panel)


def test_dashboard_reconnects_after_the_backend_restarts(stack, operator, driver) -> None:
    server, web = stack
    open_page(driver, web.url, "/")
    server.stop()
    wait_until(lambda: (text(driver, "conn-text") or "").startswith("Reconnecting"), timeout_s=20)
    server.start()
    wait_until(lambda: text(driver, "conn-text") == "Live", timeout_s=30)
    before = trace_length(driver, "ov-power-chart")
    wait_until(lambda: trace_length(driver, "ov-power-chart") >= before + 2, timeout_s=15)
    assert console_errors(driver) == []


def test_a_reloaded_tab_keeps_one_live_pump_from_its_first_beat(stack, operator, driver) -> None:
    """A full reload (the previous page's socket closing) never stalls the new tab's stream.

    Dash 4.4.1's shared worker opens a second socket for the new tab a second or two after a
    reload that replaced another page's socket, and the tab answers on it: the pump, which
    runs on the first, used to wait for an answer that never came, then the watchdog
    restarted it (about 6 s without updates, a "Stale" badge, its beat counting from 1 again).
    """
    _, web = stack
    open_page(driver, web.url, "/")
    driver.get("about:blank")
    driver.get(web.url + "/")
    beats: list[int] = []

    def beat() -> int:
        value = driver.find_element("id", "conn-status").get_attribute("data-beat")
        if value and (not beats or beats[-1] != int(value)):
            beats.append(int(value))
        return len(beats) >= 10 or (len(beats) > 1 and beats[-1] < beats[-2])

    wait_until(beat, timeout_s=40, every_s=0.05)
    assert beats == sorted(beats), f"the pump restarted: beats {beats}"
    assert "Stale" not in (text(driver, "conn-text") or "")
