"""The Sites page in a real browser against a real backend: the flow picture, storage level,
net grid flow, cost and carbon today and the devices render live; a device control goes to the
backend as the logged-in Operator, who may change their own home."""

from __future__ import annotations

import pytest
from processes import ACCOUNTS

from browser import console_errors, graph_data, log_in_as, text, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_sites_page_shows_flows_storage_cost_and_devices_live(
    stack, operator, driver, screenshot
) -> None:
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

    # The Operator's own home: a device control goes to the backend as the Operator and works.
    operator_name = ACCOUNTS["Operator"][0]

    def battery_buttons() -> list:
        return [
            b
            for b in driver.find_elements("css selector", "#sites-controls button")
            if b.text.startswith("Disable Home Battery")
        ]

    labels = driver.find_elements("css selector", "#sites-site label")
    home = next(label for label in labels if label.text.strip() == f"Home of {operator_name}")
    driver.execute_script("arguments[0].click()", home)
    buttons = wait_until(battery_buttons, timeout_s=20)
    assert buttons[0].get_attribute("disabled") is None
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", buttons[0])
    buttons[0].click()
    result = wait_until(lambda: text(driver, "sites-control-result"), timeout_s=15)
    assert result.startswith("✔") and "disable" in result
    wait_until(
        lambda: any(
            b.text.startswith("Enable Home Battery")
            for b in driver.find_elements("css selector", "#sites-controls button")
        ),
        timeout_s=15,
    )

    # The Operator sees only their own sites: Building A is the first Administrator's.
    labels = [x.text.strip() for x in driver.find_elements("css selector", "#sites-site label")]
    assert f"Home of {operator_name}" in labels and "Building A" not in labels
    assert [x for x in labels if x.startswith("Home of")] == [f"Home of {operator_name}"]

    # The Administrator sees every site; Building A has the five loads at building scale.
    log_in_as(driver, web.url, *ACCOUNTS["Administrator"])
    driver.get(web.url + "/sites")
    wait_until(lambda: text(driver, "conn-text") == "Live", timeout_s=30)
    building = wait_until(
        lambda: next(
            (
                x
                for x in driver.find_elements("css selector", "#sites-site label")
                if x.text.strip() == "Building A"
            ),
            None,
        ),
        timeout_s=20,
    )
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
