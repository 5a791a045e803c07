"""The credible map and the grid figures in a real browser against a real backend: the status
filter offers and filters every status the backend's facilities have, the facility panel lists
the facility's units with their live output, and the Overview shows renewables share,
curtailment and interconnector flows. Writes the map and overview screenshots."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from processes import ACCOUNTS, backend, dashboard

from browser import console_errors, log_in_as, start_chromium, text, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SAMPLE_TABLES = Path(__file__).resolve().parents[2] / "data" / "sample" / "csv"
INTERCONNECTORS = {frozenset(p) for p in (("NSW1", "QLD1"), ("VIC1", "NSW1"), ("VIC1", "SA1"),
                                           ("VIC1", "TAS1"))}  # fmt: skip


def open_page(driver, base_url: str, path: str) -> None:
    driver.get(base_url + path)
    wait_until(lambda: text(driver, "conn-text") == "Live", timeout_s=30)


def backend_topic(server, topic: str) -> dict[str, Any]:
    """The backend's latest state of a topic, as a ReadOnly client reads it over REST."""
    reply = httpx.get(
        f"{server.url}/api/v1/snapshots/{topic}", auth=ACCOUNTS["ReadOnly"], verify=server.verify
    )
    reply.raise_for_status()
    return reply.json()["data"]


def select_facility(driver, code: str) -> None:
    """What a click on the facility's marker sends (the marker moves every tick, so no click)."""
    driver.execute_script(
        "dash_clientside.set_props('facilities-layer',"
        " {clickData: {properties: {code: arguments[0]}}})",
        code,
    )


def unit_rows(driver) -> list[list[str]]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#facility-units tbody tr'))"
        ".map(r => Array.from(r.cells).map(c => c.innerText))"
    )


def test_status_filter_offers_and_filters_every_status_present(stack, operator, driver) -> None:
    server, web = stack
    statuses = Counter(backend_topic(server, "facilities")["facilities"]["status"])
    assert set(statuses) == {"operating", "committed", "retired"}
    open_page(driver, web.url, "/map")
    wait_until(lambda: text(driver, "map-count") == "60 of 60 facilities shown")
    driver.find_element("id", "map-status").click()
    offered = wait_until(
        lambda: driver.execute_script(
            "return Array.from(document.querySelectorAll('[role=option]'))"
            ".map(o => o.innerText.trim()).filter(t => t)"
        )
    )
    print("OPTIONS", offered)
    assert set(offered) >= set(statuses), offered
    driver.find_element("tag name", "body").click()
    for status, count in statuses.items():
        driver.execute_script(
            "dash_clientside.set_props('map-status', {value: [arguments[0]]})", status
        )
        wait_until(lambda c=count: text(driver, "map-count") == f"{c} of 60 facilities shown")
    driver.execute_script("dash_clientside.set_props('map-status', {value: []})")
    wait_until(lambda: text(driver, "map-count") == "60 of 60 facilities shown")
    assert console_errors(driver) == []


def test_facility_panel_lists_its_units_with_live_output(
    stack, operator, driver, screenshot
) -> None:
    server, web = stack
    data = backend_topic(server, "facilities")
    columns, units = data["facilities"], data["units"]
    owned = Counter(units["facility"])
    # a running facility with the most units, and the one whose output moves the most
    best = max(
        (i for i, s in enumerate(columns["status"]) if s == "operating"),
        key=lambda i: (owned[i] >= 2 and columns["power_mw"][i] > 1.0, owned[i]),
    )
    time.sleep(3)
    later = backend_topic(server, "facilities")["facilities"]["power_mw"]
    moving = max(range(len(later)), key=lambda i: abs(later[i] - columns["power_mw"][i]))
    assert abs(later[moving] - columns["power_mw"][moving]) > 0.2
    open_page(driver, web.url, "/map")

    select_facility(driver, columns["code"][moving])
    wait_until(lambda: columns["name"][moving] in (text(driver, "facility-info") or ""))
    first = wait_until(lambda: unit_rows(driver))
    wait_until(lambda: unit_rows(driver) != first, timeout_s=20)  # live output, every tick

    select_facility(driver, columns["code"][best])
    wait_until(lambda: columns["name"][best] in (text(driver, "facility-info") or ""))
    expected = [units["code"][k] for k, f in enumerate(units["facility"]) if f == best]
    assert len(expected) >= 2
    rows = wait_until(
        lambda: [r for r in unit_rows(driver) if r[0] in expected] and unit_rows(driver)
    )
    assert [r[0] for r in rows] == expected
    for row in rows:
        assert row[1] in ("operating", "committed", "retired")
        assert re.fullmatch(r"-?[\d,]+\.\d", row[2]), row  # live MW
        assert float(row[3].replace(",", "")) > 0  # registered capacity
    # the units add up to the facility's output now (the same frame; loads would count negative)
    panel = text(driver, "facility-info")
    now = float(re.search(r"Output now\s+([\d,.-]+) MW", panel).group(1).replace(",", ""))
    total = sum(float(r[2].replace(",", "")) for r in unit_rows(driver))
    assert abs(total - now) <= 0.1 * len(rows) + 0.1 or columns["fueltech"][best].startswith(
        "battery"
    )
    time.sleep(1)
    screenshot("map")
    assert console_errors(driver) == []


def test_overview_shows_renewables_share_curtailment_and_flows(
    stack, operator, driver, screenshot
) -> None:
    server, web = stack
    open_page(driver, web.url, "/?range=5m")
    share = wait_until(lambda: re.fullmatch(r"(\d+\.\d)%", text(driver, "ov-renewables") or ""))
    assert 0.0 <= float(share.group(1)) <= 100.0
    assert re.fullmatch(r"[\d,]+ MW", text(driver, "ov-curtailed")), text(driver, "ov-curtailed")
    flows = wait_until(
        lambda: driver.execute_script(
            "return Array.from(document.querySelectorAll('#ov-flows li.flow'))"
            ".map(e => e.innerText)"
        )
    )
    assert len(flows) == 4, flows
    seen = set()
    for line in flows:
        match = re.fullmatch(r"(\w+) → (\w+)\s+([\d,]+) MW", line.strip())
        assert match, line
        seen.add(frozenset(match.group(1, 2)))
    assert seen == INTERCONNECTORS
    # the share is the backend's: renewables over gross generation of the same market frame
    market = backend_topic(server, "market/NEM")
    loads = {"battery_charging", "pumps"}
    gross = sum(
        mw
        for r in market["regions"]
        for tech, mw in r["generation_by_fueltech_mw"].items()
        if tech not in loads
    )
    backend_share = 100.0 * sum(r["renewables_mw"] for r in market["regions"]) / gross
    shown = float(re.fullmatch(r"(\d+\.\d)%", text(driver, "ov-renewables")).group(1))
    assert abs(shown - backend_share) < 3.0, (shown, backend_share)
    time.sleep(1.5)
    screenshot("overview")
    assert console_errors(driver) == []


def test_the_map_shows_a_users_facilities_dataset(tmp_path: Path) -> None:
    """ENERGYDASH_GRID_FACILITIES=<convert's tables>: the map draws exactly those facilities."""
    server = backend(tmp_path, ENERGYDASH_GRID_FACILITIES=str(SAMPLE_TABLES)).start()
    web = dashboard(tmp_path, server).start()
    own = start_chromium()
    try:
        records = orjson.loads((SAMPLE_TABLES.parent / "facilities.json").read_bytes())["data"]
        data = backend_topic(server, "facilities")
        assert data["facilities"]["code"] == [r["code"] for r in records]
        log_in_as(own, web.url, *ACCOUNTS["Operator"])
        open_page(own, web.url, "/map")
        total = len(records)
        wait_until(lambda: text(own, "map-count") == f"{total} of {total} facilities shown")
        select_facility(own, records[0]["code"])
        wait_until(lambda: records[0]["name"] in (text(own, "facility-info") or ""))
        shown = wait_until(lambda: [r[0] for r in unit_rows(own)])
        assert shown == [u["code"] for u in records[0]["units"] if u["fueltech_id"] != "battery"]
        assert console_errors(own) == []
    finally:
        own.quit()
        web.stop()
        server.stop()
