"""Logging in to the dashboard in a real browser, and what each role can do there.

Real `energydash serve` (accounts seeded per role) and `energydash dashboard`, headless
Chromium. Whatever the UI shows, each test also reads the backend's own state over REST (as the
administrator), so "could not switch" means the outlet really did not change.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from processes import ACCOUNTS, Service, admin_auth, backend, dashboard

from browser import (
    console_errors,
    log_in,
    log_in_as,
    open_outlet,
    text,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Service]]:
    """One PDU is enough here; the dashboard checks each login with the backend every second."""
    workdir = tmp_path_factory.mktemp("login-stack")
    server = backend(workdir, pdus=1, facilities=10).start()
    web = dashboard(workdir, server, ENERGYDASH_DASHBOARD_SESSION_CHECK_S="1").start()
    try:
        yield server, web
    finally:
        web.stop()
        server.stop()


def outlets(server) -> dict:
    answer = httpx.get(
        f"{server.url}/api/v1/snapshots/pdu/1/outlets", auth=admin_auth(), verify=server.verify
    )
    answer.raise_for_status()
    return answer.json()["data"]


def outlet_state(server, outlet: str) -> str:
    data = outlets(server)["outlets"]
    return data["power_state"][data["id"].index(outlet)]


def breaker_state(server, branch: str) -> str:
    return next(b["breaker_state"] for b in outlets(server)["branches"] if b["id"] == branch)


def redfish_sessions_of(server, username: str) -> list[str]:
    """URIs of the user's Redfish sessions, as the administrator sees them."""
    listing = httpx.get(
        f"{server.url}/redfish/v1/SessionService/Sessions", auth=admin_auth(), verify=server.verify
    ).json()
    found = []
    for member in listing["Members"]:
        session = httpx.get(
            server.url + member["@odata.id"], auth=admin_auth(), verify=server.verify
        ).json()
        if session.get("UserName") == username:
            found.append(member["@odata.id"])
    return found


def button(driver, element_id: str) -> dict:
    return driver.execute_script(
        "const b = document.getElementById(arguments[0]);"
        "return b ? {disabled: b.disabled, title: b.title} : null;",
        element_id,
    )


def reset_buttons(driver) -> dict[str, dict]:
    """Branch id -> the state shown and its Reset breaker button."""
    return driver.execute_script(
        "const rows = {};"
        "document.querySelectorAll('#pdu-breakers .breaker-row').forEach(r => {"
        "  const b = r.querySelector('button'); const id = JSON.parse(b.id).branch;"
        "  rows[id] = {state: r.querySelector('.breaker-state').innerText,"
        "              disabled: b.disabled, title: b.title}; });"
        "return rows;"
    )


def log_out(driver, web) -> None:
    driver.find_element("id", "logout").click()
    wait_until(lambda: driver.current_url.startswith(web.url + "/login"), timeout_s=15)


def test_wrong_password_shows_an_error_and_logs_no_one_in(stack, driver, screenshot) -> None:
    _, web = stack
    log_in(driver, web.url, ACCOUNTS["ReadOnly"][0], "not-the-password")
    message = wait_until(lambda: text(driver, "login-error"))
    assert message == "Wrong user name or password."
    assert driver.get_cookie("energydash_session") is None
    screenshot("login")
    driver.get(web.url + "/pdus")  # every page needs a login
    wait_until(lambda: "/login?next=/pdus" in driver.current_url)


def test_readonly_sees_controls_disabled_and_cannot_switch_an_outlet(stack, driver) -> None:
    server, web = stack
    log_in_as(driver, web.url, *ACCOUNTS["ReadOnly"])
    assert text(driver, "header-role") == "ReadOnly"
    cookie = driver.get_cookie("energydash_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    driver.get(web.url + "/pdus")
    wait_until(lambda: text(driver, "conn-text") == "Live", timeout_s=30)
    outlet = open_outlet(driver, row=0, position=7)
    assert outlet_state(server, outlet) == "On"
    off = button(driver, "outlet-off")
    assert off["disabled"] and off["title"] == "Your role (ReadOnly) lacks ConfigureComponents"
    rows = wait_until(lambda: reset_buttons(driver))
    assert all(r["disabled"] for r in rows.values())
    assert button(driver, "group-off")["disabled"]

    # A click on the disabled button sends nothing...
    driver.execute_script("document.getElementById('outlet-off').click()")
    # ...and a page tampered with to enable it is refused by the dashboard before the backend.
    driver.execute_script("dash_clientside.set_props('outlet-off', {disabled: false})")
    wait_until(lambda: not button(driver, "outlet-off")["disabled"])
    driver.find_element("id", "outlet-off").click()
    result = wait_until(lambda: text(driver, "outlet-result"))
    assert "not sent" in result and "lacks ConfigureComponents" in result
    time.sleep(1.5)  # a tick or two: a command, had one gone out, would show by now
    assert outlet_state(server, outlet) == "On"

    driver.get(web.url + "/")
    wait_until(lambda: button(driver, "sim-stop"))
    stop = button(driver, "sim-stop")
    assert stop["disabled"] and "lacks ConfigureManager" in stop["title"]
    assert console_errors(driver) == []


def test_logout_deletes_the_redfish_session_and_needs_a_new_login(stack, driver) -> None:
    server, web = stack
    username = ACCOUNTS["ReadOnly"][0]
    assert text(driver, "header-user") == username  # still logged in from the test above
    assert len(redfish_sessions_of(server, username)) == 1
    log_out(driver, web)
    assert redfish_sessions_of(server, username) == []
    assert driver.get_cookie("energydash_session") is None
    driver.get(web.url + "/")
    wait_until(lambda: driver.current_url.startswith(web.url + "/login"))


def test_operator_switches_an_outlet_and_resets_a_tripped_breaker(
    stack, driver, element_screenshot
) -> None:
    server, web = stack
    log_in_as(driver, web.url, *ACCOUNTS["Operator"])
    assert text(driver, "header-role") == "Operator"
    driver.get(web.url + "/pdus")
    wait_until(lambda: text(driver, "conn-text") == "Live", timeout_s=30)
    time.sleep(0.5)
    element_screenshot("header", ".topbar")

    outlet = open_outlet(driver, row=0, position=5)
    assert not button(driver, "outlet-off")["disabled"]
    driver.find_element("id", "outlet-off").click()
    wait_until(lambda: "Off —" in (text(driver, "outlet-result") or ""))
    wait_until(lambda: outlet_state(server, outlet) == "Off", timeout_s=10)
    driver.find_element("id", "outlet-on").click()
    wait_until(lambda: outlet_state(server, outlet) == "On", timeout_s=10)
    wait_until(lambda: "Outlet Group" in (text(driver, "group-select") or ""))
    driver.find_element("id", "group-on").click()  # its outlets are on already: no change
    wait_until(lambda: "On —" in (text(driver, "group-result") or ""))
    assert "refused" not in text(driver, "group-result")

    # Trip branch B: an overload far past the magnetic band trips within a tick.
    injected = httpx.post(
        f"{server.url}/api/v1/faults",
        json={
            "kind": "branch_overload",
            "pdu_id": "1",
            "target_id": "B",
            "params": {"multiple": 6},
        },
        auth=admin_auth(),
        verify=server.verify,
    )
    assert injected.status_code == 201, injected.text
    wait_until(lambda: breaker_state(server, "B") == "Tripped", timeout_s=20)
    cleared = httpx.delete(
        f"{server.url}/api/v1/faults/{injected.json()['fault_id']}",
        auth=admin_auth(),
        verify=server.verify,
    )
    assert cleared.status_code == 204
    row = wait_until(lambda: reset_buttons(driver).get("B", {}).get("state") == "Tripped")
    assert row
    rows = reset_buttons(driver)
    assert not rows["B"]["disabled"]
    assert rows["A"]["disabled"] and rows["A"]["title"] == "The breaker is not tripped"
    driver.find_element("css selector", "#pdu-breakers button[id*='\"B\"']").click()
    wait_until(lambda: "breaker reset" in (text(driver, "breaker-result") or ""))
    assert "refused" not in text(driver, "breaker-result")
    wait_until(lambda: breaker_state(server, "B") == "Normal", timeout_s=10)
    wait_until(lambda: reset_buttons(driver)["B"]["state"] == "Normal", timeout_s=10)

    driver.get(web.url + "/")
    wait_until(lambda: button(driver, "sim-stop"))
    assert button(driver, "sim-stop")["disabled"]  # Operators do not run the simulation
    assert console_errors(driver) == []
    log_out(driver, web)


def test_administrator_stops_and_starts_the_simulation(stack, driver) -> None:
    server, web = stack
    log_in_as(driver, web.url, *ACCOUNTS["Administrator"])
    assert text(driver, "header-role") == "Administrator"

    def paused() -> bool:
        return httpx.get(
            f"{server.url}/api/v1/simulation", auth=admin_auth(), verify=server.verify
        ).json()["paused"]

    wait_until(lambda: button(driver, "sim-stop") and not button(driver, "sim-stop")["disabled"])
    driver.find_element("id", "sim-stop").click()
    wait_until(lambda: "stop —" in (text(driver, "sim-result") or ""))
    assert paused()
    driver.find_element("id", "sim-start").click()
    wait_until(lambda: "start —" in (text(driver, "sim-result") or ""))
    assert not paused()
    assert console_errors(driver) == []
    log_out(driver, web)


def test_a_session_the_backend_ended_sends_the_browser_back_to_login(stack, driver) -> None:
    server, web = stack
    username, password = ACCOUNTS["Operator"]
    log_in_as(driver, web.url, username, password)
    driver.get(web.url + "/pdus")
    wait_until(lambda: text(driver, "conn-text") == "Live", timeout_s=30)
    for uri in redfish_sessions_of(server, username):  # e.g. expired, or ended by an admin
        deleted = httpx.delete(server.url + uri, auth=admin_auth(), verify=server.verify)
        assert deleted.status_code == 204
    time.sleep(1.2)  # past ENERGYDASH_DASHBOARD_SESSION_CHECK_S: the next request checks it
    driver.find_element("id", "nav-overview").click()
    wait_until(lambda: "/login?expired=1" in driver.current_url, timeout_s=15)
    assert text(driver, "login-notice") == "Your session ended; log in again."
    assert driver.current_url.endswith("next=%2F")  # afterwards, the page the user asked for
