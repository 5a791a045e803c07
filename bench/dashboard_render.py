"""Dashboard render figures in headless Chromium, against a real backend.

Run: ``.venv/bin/python bench/dashboard_render.py [--seconds N]``. Starts ``energydash serve``
(8 PDUs x 48 outlets, 500 facilities, realtime clock: 1 Hz ticks) and ``energydash dashboard``
on free loopback ports, logs in as the seeded Operator, then for the PDU and map pages prints:

- time to first render: navigation start until the heat map shows live outlets / the map shows
  all 500 facilities (as markers or cluster counts);
- bytes per update: WebSocket payload the tab receives per second (one tick), from Chromium's
  network log;
- update-to-paint p50/p95: backend frame timestamp (wall clock in realtime mode) until the
  browser has drawn it (plotly_afterplot of the heat map; redraw of the facility markers).

Before that, each of Overview, PDUs and Market is loaded cold (browser cache disabled), which
prints the bytes transferred over HTTP (compressed size on the wire, how many answers were
gzip) and the time from navigation start to data on screen (performance.now() when the page
shows live numbers). Goals (issue 15): under 2 MB, under 1.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from processes import ACCOUNTS, backend, dashboard  # noqa: E402

from browser import log_in_as, start_chromium, wait_until  # noqa: E402

PDUS, FACILITIES = 8, 500

# Records (paint time - frame time) in ms each time the watched element is redrawn.
HOOK_HEATMAP = """
window.__lat = [];
const gd = document.querySelector('#pdu-heatmap .js-plotly-plot');
gd.on('plotly_afterplot', () => {
  const ts = document.getElementById('conn-status').getAttribute('data-ts');
  if (ts) { window.__lat.push(Date.now() - Date.parse(ts)); }
});
"""
HOOK_MAP = """
window.__lat = [];
const pane = document.querySelector('.leaflet-overlay-pane');
let last = null;
new MutationObserver(() => {
  const ts = document.getElementById('conn-status').getAttribute('data-ts');
  if (ts && ts !== last) {
    last = ts;
    requestAnimationFrame(() => window.__lat.push(Date.now() - Date.parse(ts)));
  }
}).observe(pane, {childList: true, subtree: true});
"""
# Data on screen: the page shows live numbers (a KPI / chart with points), for the first-load run.
DATA_ON_SCREEN = {
    "Overview": (
        "/",
        "const g = document.querySelector('#ov-power-chart .js-plotly-plot');"
        "const k = document.getElementById('ov-power');"
        "return !!(k && k.innerText.includes('kW') && g && g.data && g.data[0]"
        " && (g.data[0].x || []).length > 0);",
    ),
    "PDUs": (
        "/pdus",
        "const g = document.querySelector('#pdu-heatmap .js-plotly-plot');"
        "return !!(g && g.data && g.data[0] && g.data[0].z && g.data[0].z.length === 3);",
    ),
    "Market": (
        "/market",
        "const g = document.querySelector('#market-price .js-plotly-plot');"
        "return !!(g && g.data && g.data[0] && (g.data[0].x || []).length > 0);",
    ),
}
FIRST_RENDER = {
    "PDUs": (
        "/pdus",
        "const g = document.querySelector('#pdu-heatmap .js-plotly-plot');"
        "return !!(g && g.data && g.data[0] && g.data[0].z && g.data[0].z.length === 3);",
        HOOK_HEATMAP,
    ),
    "Map": (
        "/map",
        "let n = document.querySelectorAll('path.facility-marker').length;"
        "document.querySelectorAll('.facility-cluster span').forEach(s => n += +s.textContent);"
        f"return n === {FACILITIES};",
        HOOK_MAP,
    ),
}


# Dash's WebSocket lives in a SharedWorker, out of the page's network log; count what the
# worker hands the page instead (the server's frames, parsed, re-serialised here to measure).
COUNT_WORKER_MESSAGES = """
(function () {
  const Original = window.SharedWorker;
  window.__wsBytes = 0; window.__wsFrames = 0;
  window.SharedWorker = function (...args) {
    const worker = new Original(...args);
    worker.port.addEventListener('message', (event) => {
      const data = event.data;
      if (data && data.type !== 'connected' && data.type !== 'disconnected') {
        window.__wsBytes += JSON.stringify(data).length; window.__wsFrames += 1;
      }
    });
    return worker;
  };
})();
"""


def ws_bytes(driver) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(bytes, messages) the tab received from its WebSocket since the last call."""
    counted = driver.execute_script(
        "const r = [window.__wsBytes || 0, window.__wsFrames || 0];"
        "window.__wsBytes = 0; window.__wsFrames = 0; return r;"
    )
    return int(counted[0]), int(counted[1])


def transferred(driver) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """(bytes on the wire, responses, gzip responses) of HTTP since the last call."""
    import json

    total = responses = gzipped = 0
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.loadingFinished":
            total += int(message["params"].get("encodedDataLength") or 0)
        elif message["method"] == "Network.responseReceived":
            responses += 1
            headers = {k.lower(): v for k, v in message["params"]["response"]["headers"].items()}
            gzipped += headers.get("content-encoding") == "gzip"
    return total, responses, gzipped


def first_loads(driver, base_url: str) -> Table:  # type: ignore[no-untyped-def]
    """Each page loaded cold (browser cache off): bytes transferred, time to data on screen."""
    table = Table(title="First load (cache disabled): transferred, data on screen")
    for column in ("page", "transferred kB", "responses", "gzip", "data on screen ms"):
        table.add_column(column, justify="right" if column != "page" else "left")
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    for page, (path, ready_js) in DATA_ON_SCREEN.items():
        driver.get("about:blank")
        transferred(driver)
        driver.get(base_url + path)
        wait_until(lambda js=ready_js: driver.execute_script(js), timeout_s=60, every_s=0.02)
        # performance.now() counts from this navigation's start (not from about:blank).
        on_screen_ms = driver.execute_script("return performance.now()")
        total, responses, gzipped = transferred(driver)
        table.add_row(
            page, f"{total / 1000:,.0f}", str(responses), str(gzipped), f"{on_screen_ms:,.0f}"
        )
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})
    return table


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="measurement window per page")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="energydash-bench-") as tmp:
        workdir = Path(tmp)
        with console.status("starting backend (8 PDUs x 48 outlets, 500 facilities)…"):
            server = backend(workdir, pdus=PDUS, facilities=FACILITIES).start(timeout_s=120)
        web = None
        driver = None
        try:
            with console.status("starting dashboard and Chromium…"):
                web = dashboard(workdir, server).start()
                driver = start_chromium()
                driver.execute_cdp_cmd(
                    "Page.addScriptToEvaluateOnNewDocument", {"source": COUNT_WORKER_MESSAGES}
                )
                log_in_as(driver, web.url, *ACCOUNTS["Operator"])  # every page needs a login
                driver.get(web.url + "/")  # warm the feed, the worker and the caches
                wait_until(
                    lambda: (
                        driver.execute_script(
                            "return document.getElementById('conn-text').innerText"
                        )
                        == "Live"
                    ),
                    timeout_s=60,
                )
            console.print(first_loads(driver, web.url))
            table = Table(
                title=f"Dashboard, {PDUS} PDUs x 48 outlets, {FACILITIES} facilities, 1 Hz"
            )
            for column in (
                "page",
                "first render ms",
                "bytes/update",
                "msgs/s",
                "paint p50 ms",
                "paint p95 ms",
                "paints",
            ):
                table.add_column(column, justify="right" if column != "page" else "left")
            for page, (path, ready_js, hook_js) in FIRST_RENDER.items():
                driver.get("about:blank")
                started = time.perf_counter()
                driver.get(web.url + path)
                wait_until(
                    lambda js=ready_js: driver.execute_script(js), timeout_s=60, every_s=0.02
                )
                first_ms = (time.perf_counter() - started) * 1000.0
                driver.execute_script(hook_js)
                ws_bytes(driver)  # discard what the first render cost
                with console.status(f"{page}: measuring for {args.seconds} s…"):
                    time.sleep(args.seconds)
                received, frames = ws_bytes(driver)
                latencies = driver.execute_script("return window.__lat") or []
                table.add_row(
                    page,
                    f"{first_ms:,.0f}",
                    f"{received / args.seconds:,.0f}",
                    f"{frames / args.seconds:.1f}",
                    f"{statistics.median(latencies):,.0f}" if latencies else "—",
                    f"{pct(latencies, 0.95):,.0f}" if latencies else "—",
                    str(len(latencies)),
                )
            console.print(table)
            console.print(
                f"dashboard render: {PDUS}x48 outlets + {FACILITIES} facilities at 1 Hz, "
                f"{args.seconds} s per page (update-to-paint includes backend, dashboard and paint)"
            )
        finally:
            if driver is not None:
                driver.quit()
            if web is not None:
                web.stop()
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
