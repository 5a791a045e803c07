"""The PDU page's charts in a real browser: the time picker loads the outlet chart's range from
the backend's stored history and keeps it in the URL; outlet switches and breaker trips are
drawn as markers; operators rename outlets and devices, ReadOnly is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from processes import ACCOUNTS, admin_auth
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.keys import Keys

from browser import (
    click_biggest_facility,
    click_cell,
    console_errors,
    graph_data,
    log_in_as,
    open_outlet,
    text,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PLOT = "%Y-%m-%d %H:%M:%S"


def query(driver) -> dict[str, list[str]]:
    return parse_qs(urlparse(driver.current_url).query, keep_blank_values=True)


def layout_of(driver, graph_id: str) -> dict:
    return driver.execute_script(
        "const g = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');"
        "return g && g.layout ? JSON.parse(JSON.stringify(g.layout)) : {};",
        graph_id,
    )


def chart_x(driver) -> list[str]:
    traces = graph_data(driver, "outlet-chart") or []
    return list(traces[0].get("x") or []) if traces else []


def event_marks(driver) -> list[str]:
    return [s.get("name", "") for s in layout_of(driver, "outlet-chart").get("shapes") or []]


def snapshot(server) -> dict:
    answer = httpx.get(
        f"{server.url}/api/v1/snapshots/pdu/1/outlets", auth=admin_auth(), verify=server.verify
    )
    answer.raise_for_status()
    return answer.json()["data"]


def outlet_name(server, outlet: str) -> str:
    data = snapshot(server)["outlets"]
    return data["name"][data["id"].index(outlet)]


def rendered_again(driver, css: str):
    """A condition: the element at ``css`` now was replaced (the page rendered again)."""
    old = driver.find_element("css selector", css)

    def replaced() -> bool:
        try:
            old.is_enabled()
        except StaleElementReferenceException:
            return True
        return False

    return replaced


def breaker(server, branch: str, state: str) -> None:
    """Open (Off) or close (On) a branch breaker through Redfish, as the Administrator."""
    httpx.post(
        f"{server.url}/redfish/v1/PowerEquipment/RackPDUs/1/Branches/{branch}"
        "/Actions/Circuit.BreakerControl",
        json={"PowerState": state},
        auth=admin_auth(),
        verify=server.verify,
    ).raise_for_status()


def open_pdus(driver, url: str) -> None:
    driver.get(url)
    wait_until(lambda: text(driver, "conn-text") == "Live", timeout_s=30)


def test_pdu_picker_loads_the_outlet_range_from_history_and_keeps_it_in_the_url(
    stack, operator
) -> None:
    server, web = stack
    driver = operator
    open_pdus(driver, web.url + "/pdus")
    open_outlet(driver, row=0, position=5)  # A5
    wait_until(lambda: len(chart_x(driver)) >= 2, timeout_s=30)
    assert layout_of(driver, "outlet-chart")["xaxis"]["title"]["text"] == "Time (AEST, UTC+10)"

    # A preset: into the URL, the page renders again with the outlet still open.
    page_gone = rendered_again(driver, "#outlet-chart")
    driver.find_element("css selector", "#tp-range input[value='5m']").click()
    wait_until(lambda: query(driver).get("range") == ["5m"], timeout_s=20)
    wait_until(page_gone, timeout_s=20)
    wait_until(lambda: "Outlet A5" in (text(driver, "outlet-title") or ""), timeout_s=20)
    wait_until(lambda: len(chart_x(driver)) >= 2, timeout_s=30)
    assert text(driver, "outlet-chart-note") == ""  # loaded from stored history

    # A fixed custom window in UTC, wholly past (it ends at a minute boundary already gone, so
    # no row can join it later, whether by a live round or by a reload of the page): the
    # chart holds exactly the stored history's rows of that window.
    def stored_rows(start: str, end: str) -> list[str]:
        answer = httpx.get(
            f"{server.url}/api/v1/history/pdu/1/outlets",
            params={
                "series": "A5.power_w",
                "start": start + ":00Z",
                "end": end + ":00Z",
                "step_s": 1.0,  # a window of a few minutes in about 720 points
            },
            auth=admin_auth(),
            verify=server.verify,
        )
        answer.raise_for_status()
        return [
            datetime.fromisoformat(t.replace("Z", "+00:00")).strftime(PLOT)
            for t in answer.json()["timestamps"]
        ]

    def past_window() -> tuple[str, str] | None:
        end_at = datetime.now(UTC).replace(second=0, microsecond=0)
        window = (
            (end_at - timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M"),
            end_at.strftime("%Y-%m-%dT%H:%M"),
        )
        return window if len(stored_rows(*window)) >= 5 else None

    start, end = wait_until(past_window, timeout_s=90, every_s=2)  # the stack may be young
    stored = stored_rows(start, end)
    open_pdus(driver, f"{web.url}/pdus?pdu=1&range=custom&from={start}&to={end}&live=0&tz=UTC")
    open_outlet(driver, row=0, position=5)
    shown = wait_until(lambda: chart_x(driver) if len(chart_x(driver)) >= 2 else None)
    assert layout_of(driver, "outlet-chart")["xaxis"]["title"]["text"] == "Time (UTC)"
    assert shown == stored
    # Fixed: live rounds pass and the chart does not move.
    for _ in range(3):
        beat = driver.find_element("id", "conn-status").get_attribute("data-beat")
        wait_until(
            lambda b=beat: driver.find_element("id", "conn-status").get_attribute("data-beat") != b,
            timeout_s=10,
        )
    assert chart_x(driver) == shown
    driver.refresh()  # a reload (or a shared link) shows the same range
    wait_until(lambda: text(driver, "conn-text") == "Live", timeout_s=30)
    assert query(driver)["range"] == ["custom"] and query(driver)["from"] == [start]
    picked = driver.find_element("css selector", "#tp-range input[value='custom']")
    assert picked.is_selected()
    assert console_errors(driver) == []


def test_outlet_switch_and_breaker_open_are_drawn_as_markers(
    stack, operator, element_screenshot
) -> None:
    server, web = stack
    driver = operator
    open_pdus(driver, web.url + "/pdus?pdu=1&range=1h&live=1")
    outlet = open_outlet(driver, row=1, position=2)  # B2, on branch B
    wait_until(lambda: len(chart_x(driver)) >= 2, timeout_s=30)
    before = event_marks(driver)
    driver.find_element("id", "outlet-cycle").click()
    wait_until(lambda: "PowerCycle" in (text(driver, "outlet-result") or ""))
    assert "refused" not in text(driver, "outlet-result")
    wait_until(
        lambda: (
            event_marks(driver).count("event OutletPoweredOff")
            > before.count("event OutletPoweredOff")
        ),
        timeout_s=20,
    )
    # the cycle's On follows after the outlet's power-on delay
    wait_until(lambda: "event OutletPoweredOn" in event_marks(driver), timeout_s=30)
    labels = [a["text"] for a in layout_of(driver, "outlet-chart").get("annotations") or []]
    assert "off" in labels and "on" in labels

    # The branch breaker that feeds the outlet, opened through Redfish, is marked too.
    breaker(server, "B", "Off")
    wait_until(lambda: "event CircuitPoweredOff" in event_marks(driver), timeout_s=20)
    detail = driver.find_element("id", "outlet-detail")
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", detail)
    wait_until(lambda: detail.size["height"] > 300, timeout_s=10)
    element_screenshot("pdus-outlet-events", "#outlet-detail")
    breaker(server, "B", "On")
    wait_until(lambda: "event CircuitPoweredOn" in event_marks(driver), timeout_s=20)
    assert outlet == "B2"
    assert console_errors(driver) == []


def test_operator_renames_an_outlet_and_readonly_is_refused(stack, operator, driver) -> None:
    server, web = stack
    open_pdus(driver, web.url + "/pdus?pdu=1")
    open_outlet(driver, row=2, position=4)  # C4
    field = driver.find_element("id", "outlet-name")
    # the detail fills the field with the outlet's name; type once it has
    wait_until(lambda: "C4" in (field.get_attribute("value") or ""), timeout_s=15)
    field.send_keys(Keys.CONTROL, "a")  # what a user does (a React input ignores clear())
    field.send_keys("db-primary")
    driver.find_element("id", "outlet-rename").click()
    wait_until(lambda: "db-primary" in (text(driver, "rename-result") or ""), timeout_s=15)
    assert "refused" not in text(driver, "rename-result"), text(driver, "rename-result")
    wait_until(lambda: outlet_name(server, "C4") == "db-primary", timeout_s=10)
    wait_until(lambda: "db-primary (C4)" in (text(driver, "outlet-title") or ""), timeout_s=15)

    def tooltip_name() -> str:
        custom = (graph_data(driver, "pdu-heatmap") or [{}])[0].get("customdata") or []
        return next((c[1] for row in custom for c in row if c and c[0] == "C4"), "")

    wait_until(lambda: tooltip_name() == "db-primary", timeout_s=15)
    redfish = httpx.get(
        f"{server.url}/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/C4",
        auth=admin_auth(),
        verify=server.verify,
    ).json()
    assert redfish["Name"] == "db-primary"

    # The PDU's own name: the selector, the header and Redfish RackPDU Name follow it.
    pdu_field = driver.find_element("id", "pdu-name")
    wait_until(lambda: pdu_field.get_attribute("value"), timeout_s=15)
    pdu_field.send_keys(Keys.CONTROL, "a")
    pdu_field.send_keys("Rack 1 row A")
    driver.find_element("id", "pdu-rename").click()
    wait_until(lambda: "Rack 1 row A" in (text(driver, "pdu-rename-result") or ""), timeout_s=15)
    assert "refused" not in text(driver, "pdu-rename-result"), text(driver, "pdu-rename-result")
    wait_until(lambda: "Rack 1 row A" in (text(driver, "pdu-header") or ""), timeout_s=15)
    wait_until(lambda: "1 · Rack 1 row A" in (text(driver, "pdu-select") or ""), timeout_s=15)
    rack = httpx.get(
        f"{server.url}/redfish/v1/PowerEquipment/RackPDUs/1",
        auth=admin_auth(),
        verify=server.verify,
    ).json()
    assert rack["Name"] == "Rack 1 row A"

    # ReadOnly: the controls are disabled with the reason, and a forced click is refused.
    log_in_as(driver, web.url, *ACCOUNTS["ReadOnly"])
    open_pdus(driver, web.url + "/pdus?pdu=1")
    wait_until(lambda: (graph_data(driver, "pdu-heatmap") or [{}])[0].get("z"))
    driver.execute_script("window.scrollTo(0, 0)")
    for _attempt in range(4):  # a tick may redraw the plot between hover and click
        click_cell(driver, row=2, position=4)
        try:
            wait_until(lambda: "db-primary (C4)" in (text(driver, "outlet-title") or ""), 6)
            break
        except AssertionError:
            continue
    wait_until(lambda: "db-primary (C4)" in (text(driver, "outlet-title") or ""), timeout_s=6)
    rename = driver.find_element("id", "outlet-rename")
    assert not rename.is_enabled()
    assert rename.get_attribute("title") == "Your role (ReadOnly) lacks ConfigureComponents"
    assert not driver.find_element("id", "outlet-name").is_enabled()
    assert not driver.find_element("id", "pdu-rename").is_enabled()
    assert not driver.find_element("id", "pdu-name").is_enabled()
    driver.execute_script(
        "dash_clientside.set_props('outlet-rename', {disabled: false});"
        "dash_clientside.set_props('outlet-name', {disabled: false, value: 'hijacked'});"
    )
    wait_until(lambda: driver.find_element("id", "outlet-rename").is_enabled())
    driver.find_element("id", "outlet-rename").click()
    wait_until(lambda: "not sent" in (text(driver, "rename-result") or ""), timeout_s=15)
    assert "ReadOnly" in text(driver, "rename-result")
    assert outlet_name(server, "C4") == "db-primary"
    log_in_as(driver, web.url, *ACCOUNTS["Operator"])  # the module's browser as it was


def test_sites_picker_loads_the_net_flow_range_and_keeps_it_in_the_url(stack, operator) -> None:
    _, web = stack
    driver = operator

    def axis() -> str:
        return ((layout_of(driver, "sites-net").get("xaxis") or {}).get("title") or {}).get("text")

    def net_x() -> list[str]:
        traces = graph_data(driver, "sites-net") or []
        return list(traces[0].get("x") or []) if traces else []

    open_pdus(driver, web.url + "/sites?range=5m&tz=UTC")
    wait_until(lambda: axis() == "Time (UTC)", timeout_s=20)
    wait_until(lambda: len(net_x()) >= 2, timeout_s=30)
    assert text(driver, "sites-history-note") == ""  # from stored history
    driver.find_element("css selector", "#tp-tz input[value='AEST']").click()
    wait_until(lambda: query(driver).get("tz") == ["AEST"], timeout_s=20)
    wait_until(lambda: axis() == "Time (AEST, UTC+10)", timeout_s=20)
    assert query(driver)["range"] == ["5m"]
    grown = len(wait_until(lambda: net_x(), timeout_s=20))
    wait_until(lambda: len(net_x()) > grown, timeout_s=20)  # follows live at the range's step
    assert console_errors(driver) == []


def test_map_picker_loads_a_facility_range_and_keeps_the_facility(stack, operator) -> None:
    _, web = stack
    driver = operator

    def axis() -> str:
        chart = layout_of(driver, "facility-chart")
        return ((chart.get("xaxis") or {}).get("title") or {}).get("text")

    def facility_x() -> list[str]:
        traces = graph_data(driver, "facility-chart") or []
        return list(traces[0].get("x") or []) if traces else []

    open_pdus(driver, web.url + "/map?range=5m&tz=UTC")
    wait_until(lambda: driver.find_elements("css selector", "path.facility-marker"), timeout_s=30)
    for _attempt in range(4):  # a tick may redraw the marker under the pointer
        click_biggest_facility(driver)
        try:
            wait_until(lambda: "Capacity" in (text(driver, "facility-info") or ""), timeout_s=6)
            break
        except AssertionError:
            continue
    panel = wait_until(lambda: text(driver, "facility-info") or None)
    wait_until(lambda: axis() == "Time (UTC)", timeout_s=20)
    wait_until(lambda: len(facility_x()) >= 2, timeout_s=30)
    assert text(driver, "facility-chart-note") == ""  # from stored history

    page_gone = rendered_again(driver, "#facility-chart")
    driver.find_element("css selector", "#tp-range input[value='1h']").click()
    wait_until(lambda: query(driver).get("range") == ["1h"], timeout_s=20)
    wait_until(page_gone, timeout_s=20)
    # the page renders again; the same facility's panel and chart come back
    first_line = panel.splitlines()[0]
    wait_until(lambda: first_line in (text(driver, "facility-info") or ""), timeout_s=20)
    wait_until(lambda: axis() == "Time (UTC)" and len(facility_x()) >= 2, timeout_s=30)
    assert query(driver)["tz"] == ["UTC"]
    assert text(driver, "facility-chart-note") == ""
    assert console_errors(driver) == []


def test_operator_renames_a_site_device_and_readonly_cannot(stack, operator, driver) -> None:
    _, web = stack
    open_pdus(driver, web.url + "/sites")
    wait_until(lambda: "Rooftop PV" in (text(driver, "sites-devices") or ""), timeout_s=30)
    choice = wait_until(
        lambda: next(
            (
                label
                for label in driver.find_elements("css selector", "#sites-rename-device label")
                if label.text.strip() == "Rooftop PV"
            ),
            None,
        ),
        timeout_s=20,
    )
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", choice)
    choice.click()
    field = driver.find_element("id", "sites-rename-name")
    field.send_keys("Roof PV east")
    driver.find_element("id", "sites-rename").click()
    result = wait_until(lambda: text(driver, "sites-rename-result"), timeout_s=15)
    assert result.startswith("✔") and "Roof PV east" in result, result
    wait_until(lambda: "Roof PV east" in (text(driver, "sites-devices") or ""), timeout_s=15)

    log_in_as(driver, web.url, *ACCOUNTS["ReadOnly"])
    open_pdus(driver, web.url + "/sites")
    button = driver.find_element("id", "sites-rename")
    assert not button.is_enabled()
    assert button.get_attribute("title") == "Your role (ReadOnly) lacks ConfigureComponents"
    assert not driver.find_element("id", "sites-rename-name").is_enabled()
    log_in_as(driver, web.url, *ACCOUNTS["Operator"])  # the module's browser as it was


def test_outlet_chart_keeps_its_past_and_markers_across_a_backend_restart(
    stack, operator, driver
) -> None:
    """Last in the module: it restarts the backend."""
    server, web = stack
    httpx.post(
        f"{server.url}/api/v1/pdus/1/outlets/A6/power",
        json={"action": "Off"},
        auth=admin_auth(),
        verify=server.verify,
    ).raise_for_status()

    def a6_events() -> list[str]:
        answer = httpx.get(
            f"{server.url}/api/v1/snapshots/pdu/1/events", auth=admin_auth(), verify=server.verify
        )
        events = answer.json()["data"]["events"]
        return [e["kind"] for e in events if e["resource_id"] == "A6"]

    wait_until(lambda: "OutletPoweredOff" in a6_events(), timeout_s=15)
    restarted_at = datetime.now(UTC)
    server.stop()
    server.start()
    assert "OutletPoweredOff" in a6_events()  # read back from the saved events
    # The backend's restart ended the user's Redfish session: log in again.
    log_in_as(driver, web.url, *ACCOUNTS["Operator"])
    open_pdus(driver, web.url + "/pdus?pdu=1&range=1h&tz=UTC")
    open_outlet(driver, row=0, position=6)
    wait_until(lambda: "event OutletPoweredOff" in event_marks(driver), timeout_s=20)
    first = datetime.strptime(wait_until(lambda: chart_x(driver), timeout_s=20)[0], PLOT)
    assert first.replace(tzinfo=UTC) < restarted_at  # the past from the stored history
    assert text(driver, "outlet-chart-note") == ""
