"""Logging in to the dashboard in a real browser, and what each role can do there.

Real `energydash serve` (accounts seeded per role) and `energydash dashboard`, headless
Chromium. Whatever the UI shows, each test also reads the backend's own state over REST (as the
administrator), so "could not switch" means the outlet really did not change.
"""

from __future__ import annotations

import time

import httpx
import pytest
from processes import ACCOUNTS, admin_auth

from browser import (
    console_errors,
    log_in,
    log_in_as,
    open_outlet,
    text,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


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


def redfish_sessions_of(server, username: str) -> int:
    listing = httpx.get(
        f"{server.url}/redfish/v1/SessionService/Sessions", auth=admin_auth(), verify=server.verify
    ).json()
    count = 0
    for member in listing["Members"]:
        session = httpx.get(
            server.url + member["@odata.id"], auth=admin_auth(), verify=server.verify
        ).json()
        count += session.get("UserName") == username
    return count


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
    assert redfish_sessions_of(server, username) == 1
    log_out(driver, web)
    assert redfish_sessions_of(server, username) == 0
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
