"""Alerts in a real browser: the header's open-alert counts on every page, the Overview's alert
list with a comms-lost PDU shown as unknown, and the Analytics page (alerts with acknowledge,
score timelines over the injected faults, failure probability, suggestions)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from processes import ACCOUNTS, Service, backend, dashboard

from browser import console_errors, graph_data, log_in_as, text, wait_until
from conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ADMIN = ACCOUNTS["Administrator"]  # seeded by processes.backend for this run


@pytest.fixture(scope="module")
def faulty_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Service]]:
    """A backend at 40x with a relay failure on PDU 1 and PDU 2's communication lost."""
    workdir = tmp_path_factory.mktemp("analytics-stack")
    server = backend(
        workdir,
        ENERGYDASH_CLOCK_MODE="accelerated",
        ENERGYDASH_SPEED="40",
        ENERGYDASH_FAULTS="relay:1/A2;comm:2",
    ).start()
    web = dashboard(workdir, server).start()
    try:
        yield server, web
    finally:
        web.stop()
        server.stop()


@pytest.fixture(scope="module")
def signed_in(faulty_stack, driver):
    """The module's browser logged in as the seeded Operator (acknowledging needs one)."""
    _, web = faulty_stack
    log_in_as(driver, web.url, *ACCOUNTS["Operator"])
    return driver


def open_page(driver, base_url: str, path: str) -> None:
    driver.get(base_url + path)
    wait_until(lambda: text(driver, "conn-text") == "Live", timeout_s=30)


def critical_count(driver) -> int:
    label = text(driver, "alert-count-critical")
    return int(label.split()[0]) if label and label[0].isdigit() else -1


def test_header_counts_and_overview_list_alerts_and_an_unknown_pdu(
    faulty_stack, signed_in, driver
) -> None:
    _server, web = faulty_stack
    open_page(driver, web.url, "/")
    wait_until(lambda: critical_count(driver) >= 2, timeout_s=30)  # relay + comm loss
    wait_until(lambda: "pdu/1/A2" in text(driver, "ov-alerts"), timeout_s=20)
    listed = text(driver, "ov-alerts")
    assert "No alerts" not in listed
    assert "PDU 2: unknown · no data since" in listed
    assert "partial: 1 of 2 PDUs" in text(driver, "ov-power")
    open_page(driver, web.url, "/pdus")  # the count is in the header of every page
    wait_until(lambda: critical_count(driver) >= 2, timeout_s=20)
    assert console_errors(driver) == []


def test_analytics_page_shows_alerts_scores_over_ground_truth_risk_and_suggestions(
    faulty_stack, signed_in, driver
) -> None:
    server, web = faulty_stack

    def warmed_up() -> bool:  # scores sit at 0.2 while the detector still learns
        response = httpx.get(f"{server.url}/api/v1/snapshots/analytics/scores", auth=ADMIN)
        return response.status_code == 200 and any(
            s != 0.2 for s in response.json()["data"]["score"]
        )

    wait_until(warmed_up, timeout_s=90)
    injected = httpx.post(
        f"{server.url}/api/v1/equipment/faults",
        json={"kind": "sensor_noisy", "target": "hvac-01/discharge_temp_c", "multiple": 10},
        auth=ADMIN,
    )
    assert injected.status_code == 200, injected.text
    open_page(driver, web.url, "/analytics")
    wait_until(lambda: "pdu/1/A2" in text(driver, "an-alerts"), timeout_s=20)

    def timeline_has_ground_truth() -> bool:
        figure = driver.execute_script(
            "const gd = document.querySelector('#an-scores .js-plotly-plot');"
            "return gd && gd.layout ? gd.layout.shapes : null;"
        )
        return bool(figure) and any(s.get("type") == "rect" for s in figure)

    wait_until(timeline_has_ground_truth, timeout_s=60)
    # past the detector's warm-up (600 readings) the noisy sensor is an anomaly alert
    wait_until(lambda: "hvac-01/discharge_temp_c is noisy" in text(driver, "an-alerts"), 30)
    series = [trace["name"] for trace in graph_data(driver, "an-scores")]
    assert "hvac-01/discharge_temp_c" in series
    wait_until(lambda: (graph_data(driver, "an-risk") or [{}])[0].get("y"), timeout_s=30)
    wait_until(lambda: "Apply" in text(driver, "an-suggest"), timeout_s=30)
    # the Operator acknowledges from the page: the backend records who did
    alerts = httpx.get(
        f"{server.url}/api/v1/alerts", params={"target": "pdu/1/A2", "state": "open"}, auth=ADMIN
    ).json()["alerts"]
    button = driver.find_element(
        "xpath", f"//button[contains(@id, '\"{alerts[0]['id']}\"') and text()='Acknowledge']"
    )
    button.click()
    result = wait_until(lambda: text(driver, "an-result"), timeout_s=15)
    assert result.startswith("✔") and alerts[0]["id"] in result, result
    operator = ACCOUNTS["Operator"][0]
    wait_until(lambda: f"acknowledged by {operator}" in text(driver, "an-alerts"), timeout_s=20)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1440, max(1000, min(int(height) + 120, 2400)))
    driver.save_screenshot(str(SCREENSHOTS / "analytics.png"))
    driver.set_window_size(1440, 1000)
    assert console_errors(driver) == []
