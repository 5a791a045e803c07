"""Market charts keep their own data under rapid region changes on a slow CPU.

In dash-core-components 4.4.1 an ``extendData`` that reaches a graph together with a new figure
is replayed onto other graphs later, so Price and Emissions once showed demand values. The
Market page now patches figures instead of extending them; this drives the case that broke it.
"""

from __future__ import annotations

import random

import pytest

from browser import console_errors, graph_data, text, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Each chart's plausible range: a demand value (thousands of MW) in Price or Emissions is out.
RANGES = {
    "market-price": (-1000.0, 17500.0),
    "market-emissions": (0.0, 2.0),
    "market-demand": (0.0, 60000.0),
}


def chart_problems(driver) -> list[str]:
    problems = []
    for graph, (low, high) in RANGES.items():
        for index, trace in enumerate(graph_data(driver, graph) or []):
            xs, ys = trace.get("x") or [], trace.get("y") or []
            if len(xs) != len(ys):
                problems.append(f"{graph}[{index}]: {len(xs)} x for {len(ys)} y")
            bad = [y for y in ys if y is not None and not low <= y <= high]
            if bad:
                problems.append(f"{graph}[{index}] ({trace.get('name')}): {bad[:3]} outside")
    return problems


def test_market_traces_keep_their_own_values_through_rapid_region_changes(stack, driver) -> None:
    _, web = stack
    driver.get(web.url + "/market")
    wait_until(lambda: text(driver, "conn-text") == "Live", timeout_s=30)
    wait_until(lambda: len((graph_data(driver, "market-price") or [{}])[0].get("x") or []) >= 2)
    driver.execute_cdp_cmd("Emulation.setCPUThrottlingRate", {"rate": 6})
    try:
        regions = driver.execute_script(
            "return Array.from(document.querySelectorAll('#market-regions input'))"
            ".map(i => i.value)"
        )
        rng = random.Random(7)
        for _ in range(12):
            region = rng.choice(regions)
            driver.find_element("css selector", f"#market-regions input[value='{region}']").click()
            # Let a live round or two land between clicks, as a user clicking around would.
            beat = driver.find_element("id", "conn-status").get_attribute("data-beat")
            wait_until(
                lambda b=beat: (
                    driver.find_element("id", "conn-status").get_attribute("data-beat") != b
                ),
                timeout_s=10,
                every_s=0.05,
            )
        for _ in range(3):  # several more live rounds after the last change
            beat = driver.find_element("id", "conn-status").get_attribute("data-beat")
            wait_until(
                lambda b=beat: (
                    driver.find_element("id", "conn-status").get_attribute("data-beat") != b
                ),
                timeout_s=10,
            )
        assert chart_problems(driver) == []
    finally:
        driver.execute_cdp_cmd("Emulation.setCPUThrottlingRate", {"rate": 1})
    assert [e for e in console_errors(driver) if "indices" in e] == []
