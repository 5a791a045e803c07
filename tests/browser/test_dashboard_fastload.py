"""A lighter page in a real browser (issue 15): every page draws with the dashboard's own
plotly.js bundle, loaded once per page load and never Dash's full one, including the trace
types only one page uses (the Sites flow picture is a sankey); the Map, which draws no chart
until a facility is clicked, loads it only when a chart asks, not with the page. Timings are
printed by bench/dashboard_render.py, never asserted here."""

from __future__ import annotations

import pytest

from browser import console_errors, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PLOTLY_LOADS = """
return performance.getEntriesByType('resource').map(e => e.name)
  .filter(n => n.includes('plotly'))
  .map(n => n.includes('plotly-energydash.min.js') ? 'bundle'
            : n.includes('package_data/plotly.min.js') ? 'full' : n);
"""
DRAWN = "return document.querySelectorAll(arguments[0]).length;"


def test_every_page_draws_with_the_one_small_bundle(stack, operator, driver) -> None:
    _, web = stack
    console_errors(driver)
    driver.get(web.url + "/pdus")
    wait_until(lambda: driver.execute_script(DRAWN, "#pdu-heatmap g.hm image") > 0, 30)
    wait_until(lambda: driver.execute_script(DRAWN, "#pdu-circuits g.bars path") > 0, 30)
    assert driver.execute_script(PLOTLY_LOADS) == ["bundle"]
    assert driver.execute_script("return typeof window.Plotly.react") == "function"

    # In-page navigation: the Market's charts and the Sites sankey draw with the same bundle.
    driver.execute_script("document.getElementById('nav-market').click()")
    wait_until(lambda: driver.execute_script(DRAWN, "#market-price g.scatterlayer path") > 0, 30)
    driver.execute_script("document.getElementById('nav-sites').click()")
    wait_until(lambda: driver.execute_script(DRAWN, "#sites-flow g.sankey") > 0, 30)
    assert driver.execute_script(PLOTLY_LOADS) == ["bundle"]

    driver.get(web.url + "/map")  # no chart drawn at first: not preloaded with the page
    wait_until(lambda: driver.execute_script(DRAWN, "path.facility-marker, .facility-cluster"))
    assert driver.execute_script(DRAWN, "link[rel=preload][href*=plotly]") == 0
    driver.execute_script("document.getElementById('nav-pdus').click()")  # a chart asks
    wait_until(lambda: driver.execute_script(DRAWN, "#pdu-heatmap g.hm image") > 0, 30)
    assert driver.execute_script(PLOTLY_LOADS) == ["bundle"]

    driver.get(web.url + "/sites")  # a cold start on the one page with a sankey
    wait_until(lambda: driver.execute_script(DRAWN, "#sites-flow g.sankey .sankey-node") > 0, 30)
    assert driver.execute_script(PLOTLY_LOADS) == ["bundle"]
    assert console_errors(driver) == []
