"""The Sites page in a real browser against a real backend: the flow picture, storage level,
net grid flow, cost and carbon today and the devices render live; a device control goes to the
backend, which checks the caller (a dashboard without a login is refused, and says so)."""

from __future__ import annotations

import pytest

from browser import console_errors, graph_data, text, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_sites_page_shows_flows_storage_cost_and_devices_live(stack, driver, screenshot) -> None:
    _, web = stack
    driver.get(web.url + "/sites")
    wait_until(lambda: text(driver, "conn-text") == "Live", timeout_s=30)
    wait_until(lambda: "%" in (text(driver, "sites-storage") or ""), timeout_s=30)
    assert "kWh" in text(driver, "sites-storage")
    assert text(driver, "sites-net-now").split()[-1] in ("importing", "exporting")
    assert text(driver, "sites-cost").startswith("$")
    assert "kg CO₂-e" in text(driver, "sites-carbon")
    flow = wait_until(lambda: (graph_data(driver, "sites-flow") or [{}])[0].get("link"))
    assert flow["value"] and all(v > 0 for v in flow["value"])
    assert (graph_data(driver, "sites-flow") or [{}])[0]["node"]["label"][3] == "Consumption"

    def net_points() -> int:
        data = graph_data(driver, "sites-net") or [{}]
        return len(data[0].get("x") or [])

    before = net_points()
    wait_until(lambda: net_points() >= before + 2, timeout_s=20)
    devices = text(driver, "sites-devices")
    assert "Rooftop PV" in devices and "Home Battery" in devices

    buttons = driver.find_elements("css selector", "#sites-controls button")
    assert buttons and buttons[0].text.startswith("Disable")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", buttons[0])
    buttons[0].click()
    result = wait_until(lambda: text(driver, "sites-control-result"), timeout_s=15)
    assert "refused" in result and "401" in result  # no login in this dashboard: no change
    assert "on" in text(driver, "sites-devices")

    # Building A: the five loads at building scale
    labels = driver.find_elements("css selector", "#sites-site label")
    building = next(label for label in labels if label.text.strip() == "Building A")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", building)
    driver.execute_script("arguments[0].click()", building)
    wait_until(lambda: "Production Line" in (text(driver, "sites-devices") or ""), timeout_s=20)
    for name in ("HVAC System", "LED Lighting", "Server Rack", "Kitchen Equipment"):
        assert name in text(driver, "sites-devices")
    costs = wait_until(lambda: "Rack PDU 1" in (text(driver, "sites-pdu-costs") or ""))
    assert costs
    links = wait_until(lambda: (graph_data(driver, "sites-flow") or [{}])[0].get("link"))
    assert 3 in links["target"]  # something flows into the building's consumption
    screenshot("sites")
    assert console_errors(driver) == []
