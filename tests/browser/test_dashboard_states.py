"""Honest states in a real browser: a tripped branch's outlets are greyed and not counted as
on, every chart exports the rows it shows as CSV, and the chosen PDU is written to the URL."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from processes import admin_auth

from browser import graph_data, text, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def stat(driver, key: str) -> str | None:
    """A value of the PDU header (``Outlets on`` -> ``"48 / 48"``)."""
    return driver.execute_script(
        "const s = Array.from(document.querySelectorAll('#pdu-header .stat'))"
        ".find(e => e.querySelector('.stat-key').textContent === arguments[0]);"
        "return s ? s.querySelector('.stat-value').textContent : null;",
        key,
    )


def outlets_on(driver) -> tuple[int, int] | None:
    value = stat(driver, "Outlets on")
    if not value or "—" in value:
        return None
    on, total = (int(v) for v in value.split("/"))
    return on, total


def test_a_tripped_branch_is_grey_and_its_outlets_are_not_on(stack, operator) -> None:
    server, web = stack
    driver = operator
    driver.get(web.url + "/pdus")
    wait_until(lambda: text(driver, "conn-text") == "Live", timeout_s=30)
    wait_until(lambda: (graph_data(driver, "pdu-heatmap") or [{}])[0].get("z"), timeout_s=20)
    on_before, total = wait_until(lambda: outlets_on(driver), timeout_s=20)
    injected = httpx.post(
        f"{server.url}/api/v1/faults",
        json={
            "kind": "branch_overload",
            "pdu_id": "1",
            "target_id": "B",
            "params": {"multiple": 6},
        },
        auth=admin_auth(),
    )
    assert injected.status_code == 201, injected.text
    try:
        # Bank B (row 1) goes grey as a whole, and "Outlets on" drops by its outlets.
        wait_until(lambda: graph_data(driver, "pdu-heatmap")[1]["z"][1] == [1] * 16, timeout_s=30)
        on_after, _ = wait_until(
            lambda: outlets_on(driver)[0] <= on_before - 16 and outlets_on(driver), timeout_s=20
        )
        assert on_after <= total - 16
        cell = graph_data(driver, "pdu-heatmap")[0]["customdata"][1][0]
        assert "no power (branch B tripped)" in cell[2] or cell[2] != "On"
    finally:
        httpx.delete(f"{server.url}/api/v1/faults/{injected.json()['fault_id']}", auth=admin_auth())


def test_every_chart_exports_its_rows_and_the_pdu_is_in_the_url(stack, operator) -> None:
    _, web = stack
    driver = operator
    driver.get(web.url + "/market?range=5m")
    wait_until(lambda: text(driver, "conn-text") == "Live", timeout_s=30)
    wait_until(lambda: len((graph_data(driver, "market-price") or [{}])[0].get("x") or []) >= 2)
    button = driver.find_element("css selector", "button.csv-export[data-graph='market-price']")
    assert button.get_attribute("aria-label") == "Export Price (AUD/MWh) as CSV"
    exported = driver.execute_script(
        "return [window.energydashChartCsv('market-price'),"
        " document.querySelector('#market-price .js-plotly-plot').data.map(t => t.x.length)];"
    )
    rows = list(csv.reader(io.StringIO(exported[0])))
    names = [t["name"] for t in graph_data(driver, "market-price")]
    assert rows[0] == ["x", *names]
    assert len(rows) - 1 >= exported[1][0] - 1  # a live point may land between the two reads
    assert all(len(r) == len(names) + 1 for r in rows)
    bars = driver.execute_script("return window.energydashChartCsv('market-top')")
    assert bars is None  # a table is not a chart: no CSV button there

    driver.get(web.url + "/pdus")
    wait_until(lambda: text(driver, "conn-text") == "Live", timeout_s=30)
    driver.find_element("css selector", "#pdu-select").click()
    option = wait_until(
        lambda: driver.find_element("xpath", "//*[@role='option'][contains(., '2')]"),
        timeout_s=10,
    )
    option.click()
    wait_until(lambda: "pdu=2" in driver.current_url, timeout_s=20)
    driver.refresh()
    wait_until(lambda: (text(driver, "pdu-select") or "").startswith("2 ·"), timeout_s=30)
