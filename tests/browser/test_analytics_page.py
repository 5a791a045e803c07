"""Alerts in a real browser: the header's open-alert counts on every page, the Overview's alert
list with a comms-lost PDU shown as unknown, and the Analytics page (alerts with acknowledge,
score timelines over the injected faults, failure probability, suggestions, and the time
picker that loads the score timeline from stored history)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from processes import ACCOUNTS, Service, backend, dashboard
from selenium.common.exceptions import StaleElementReferenceException

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


def score_x(driver) -> list[str]:
    traces = graph_data(driver, "an-scores") or []
    return list(traces[0].get("x") or []) if traces else []


def score_axis(driver) -> str | None:
    layout = driver.execute_script(
        "const g = document.querySelector('#an-scores .js-plotly-plot');"
        "return g && g.layout ? JSON.parse(JSON.stringify(g.layout)) : {};"
    )
    return ((layout.get("xaxis") or {}).get("title") or {}).get("text")


def url_query(driver) -> dict[str, list[str]]:
    return parse_qs(urlparse(driver.current_url).query, keep_blank_values=True)


def stored_scores(server, names: list[str], start: str, end: str) -> dict:
    answer = httpx.get(
        f"{server.url}/api/v1/history/analytics/scores",
        params={"series": ",".join(names), "start": start, "end": end, "step_s": 1.0},
        auth=ADMIN,
    )
    answer.raise_for_status()
    return answer.json()


def test_analytics_picker_loads_the_score_range_from_history_and_keeps_it_in_the_url(
    faulty_stack, signed_in, driver
) -> None:
    server, web = faulty_stack
    open_page(driver, web.url, "/analytics")
    wait_until(lambda: len(score_x(driver)) >= 2, timeout_s=60)
    assert score_axis(driver) == "Time (AEST, UTC+10)"

    # A preset goes into the URL; the page renders again and loads it from stored history.
    old = driver.find_element("css selector", "#tp-range")
    driver.find_element("css selector", "#tp-range input[value='5m']").click()
    wait_until(lambda: url_query(driver).get("range") == ["5m"], timeout_s=20)
    wait_until(lambda: not _alive(old), timeout_s=20)
    wait_until(lambda: len(score_x(driver)) >= 2, timeout_s=30)
    assert text(driver, "an-history-note") == ""  # from stored history, not the feed's frames
    grown = len(score_x(driver))
    wait_until(lambda: len(score_x(driver)) > grown, timeout_s=20)  # then follows live

    # A fixed window of the data clock (40x), in UTC: the timeline holds the stored rows.
    latest = httpx.get(f"{server.url}/api/v1/snapshots/analytics/scores", auth=ADMIN).json()
    data_now = datetime.fromisoformat(latest["ts"].replace("Z", "+00:00"))
    end = data_now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    start = end - timedelta(minutes=3)
    start_q, end_q = start.strftime("%Y-%m-%dT%H:%M"), end.strftime("%Y-%m-%dT%H:%M")
    start_z, end_z = start_q + ":00Z", end_q + ":00Z"
    names = [t["name"] for t in graph_data(driver, "an-scores")]
    # the window's last rows are written (the store flushes once a second)
    wait_until(
        lambda: stored_scores(server, names, end_z, "2100-01-01T00:00:00Z")["timestamps"],
        timeout_s=20,
    )
    open_page(
        driver,
        web.url,
        f"/analytics?range=custom&from={start_q}&to={end_q}&live=0&tz=UTC",
    )
    shown = wait_until(lambda: score_x(driver) if len(score_x(driver)) >= 2 else None, 30)
    assert score_axis(driver) == "Time (UTC)"
    traces = graph_data(driver, "an-scores")
    answer = stored_scores(server, [t["name"] for t in traces], start_z, end_z)
    stored = [
        datetime.fromisoformat(t.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%S")
        for t in answer["timestamps"]
    ]
    assert len(stored) >= 10 and shown == stored  # a score every 10 data seconds
    assert traces[0]["y"] == answer["series"][traces[0]["name"]]
    for _ in range(3):  # fixed: live rounds pass and the timeline does not move
        beat = driver.find_element("id", "conn-status").get_attribute("data-beat")
        wait_until(
            lambda b=beat: driver.find_element("id", "conn-status").get_attribute("data-beat") != b,
            timeout_s=10,
        )
    assert score_x(driver) == shown
    driver.refresh()  # a reload (or a shared link) shows the same range and zone
    wait_until(lambda: text(driver, "conn-text") == "Live", timeout_s=30)
    assert url_query(driver)["from"] == [start_q] and url_query(driver)["tz"] == ["UTC"]
    assert driver.find_element("css selector", "#tp-range input[value='custom']").is_selected()
    assert console_errors(driver) == []


def _alive(element) -> bool:
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return False
    return True
