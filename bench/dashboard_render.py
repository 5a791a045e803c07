"""Dashboard render figures in headless Chromium, against a real backend.

Run: ``.venv/bin/python bench/dashboard_render.py [--seconds N] [--pages Overview,PDUs,...]
[--speed X]``.
Starts ``energydash serve`` (8 PDUs x 48 outlets, 500 facilities, realtime clock: 1 Hz ticks)
and ``energydash dashboard`` on free loopback ports, logs in as the seeded Operator, then
prints one row per page (Overview, PDUs, Market, Map):

- transferred: HTTP bytes on the wire of a cold load (browser cache disabled), how many
  answers and how many of them gzip (goal, issue 15: under 2 MB);
- data on screen: navigation start until the page shows live numbers (``performance.now()``),
  cold and again with the browser cache on (goal: under 1.5 s); the live window then starts
  ``--settle`` seconds later (the page's first rounds belong to its first render);
- bytes/update and msgs/s: what the tab receives from its WebSocket per second (one tick);
- update-to-paint p50/p95: backend frame timestamp (wall clock in realtime mode) until the
  browser has drawn it (``plotly_afterplot`` of the page's live chart; redraw of the map's
  facility markers) (goal on PDUs: p95 under 250 ms). On Overview and Market, whose chart
  gains a point once per step of its range (5 s at the default 1 h), only a redraw showing a
  new point counts. Each paint is timed against its round's frame stamp (re-stamped: the
  stamp landed after the paint). The first round of a pump is left out (its frame waited
  for the pump to start) and counted, with the pump's restarts and the longest time between
  two of its rounds: a stalled stream shows there, not as one slow paint;
- browser CPU: CPU time of all Chromium processes (renderers, GPU/compositor, browser; psutil)
  per second of the window, as a share of one core (goal on Market at 1 Hz: under 15 %), and
  the page's main-thread share (CDP ``Performance.getMetrics`` ``TaskDuration``).

The machine's load average is printed with the figures: on a shared machine they are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from processes import ACCOUNTS, backend, dashboard  # noqa: E402

from browser import log_in_as, start_chromium, wait_until  # noqa: E402
from energydash.dashboard.timerange import parse_utc  # noqa: E402

PDUS, FACILITIES = 8, 500


# Every round of the tab's live pump bumps ``data-beat`` on the connection badge, and a round
# that changed something stamps ``data-ts`` (the frame time it shows) after its updates.
WATCH_ROUNDS = """
window.__paints = []; window.__beats = []; window.__stamps = [];
const badge = document.getElementById('conn-status');
new MutationObserver((records) => {
  for (const r of records) {
    const value = badge.getAttribute(r.attributeName);
    (r.attributeName === 'data-beat' ? window.__beats : window.__stamps).push([Date.now(), value]);
  }
}).observe(badge, {attributes: true, attributeFilter: ['data-beat', 'data-ts']});
"""


def afterplot_hook(graph_id: str, *, new_point: bool) -> str:
    """Records each redraw of the graph (``plotly_afterplot``) with the frame time then shown.

    ``new_point``: a time chart whose live rounds add a point; only a redraw that shows a new
    last point is an update painted (a resize after a table redraw, a relayout are not).
    """
    only_new = "true" if new_point else "false"
    return (
        WATCH_ROUNDS
        + f"""
const gd = document.querySelector('#{graph_id} .js-plotly-plot');
let shown = null;
gd.on('plotly_afterplot', () => {{
  const xs = (gd.data && gd.data[0] && gd.data[0].x) || [];
  const last = xs.length ? String(xs[xs.length - 1]) : null;
  if ({only_new} && last === shown) {{ return; }}
  shown = last;
  const beat = badge.getAttribute('data-beat');
  window.__paints.push([Date.now(), badge.getAttribute('data-ts'), beat]);
}});
"""
    )


HOOK_MAP = (
    WATCH_ROUNDS
    + """
const pane = document.querySelector('.leaflet-overlay-pane');
let last = null;
new MutationObserver(() => {
  const ts = badge.getAttribute('data-ts');
  if (ts && ts !== last) {
    last = ts;
    const beat = badge.getAttribute('data-beat');
    requestAnimationFrame(() => window.__paints.push([Date.now(), ts, beat]));
  }
}).observe(pane, {childList: true, subtree: true});
"""
)


@dataclass(frozen=True)
class Rounds:
    """What the live window saw: update-to-paint samples and the pump's rounds."""

    latencies_ms: list[float]
    reattributed: int  # paints drawn before their round's frame stamp landed
    first_rounds: int  # paints of a pump's first round (left out: that frame waited for it)
    restarts: int  # the pump started again (its beat counted from 1)
    longest_gap_s: float  # longest time between two rounds


def rounds(driver) -> Rounds:  # type: ignore[no-untyped-def]
    """Update-to-paint from the hooks' records, each paint against the round it shows.

    A round stamps its beat before its updates and its frame time after them, so a paint
    drawn before its round's stamp landed (the badge still shows the round before) is timed
    against the stamp that round sets next (re-stamped). A pump's first round is not an
    update painted: its frame waited for the pump to start (a reload, a restart), so it is
    counted apart, with the restarts.
    """
    paints, beats, stamps = driver.execute_script(  # the window's end closes the last gap
        "return [window.__paints, window.__beats.concat([[Date.now(), null]]), window.__stamps]"
    )
    latencies: list[float] = []
    reattributed = first_rounds = 0
    for painted_ms, ts, beat in paints:
        if beat == "1":
            first_rounds += 1
            continue
        began = max((t for t, b in beats if b == beat and t <= painted_ms), default=None)
        stamped = max((t for t, _ in stamps if t <= painted_ms), default=None)
        if began is not None and (stamped is None or stamped < began):
            ts = next((v for t, v in stamps if t >= began), None)
            reattributed += ts is not None
        if ts:
            latencies.append(painted_ms - parse_utc(ts).timestamp() * 1000)
    values = [int(b) for _, b in beats if b and b.isdigit()]
    restarts = sum(1 for a, b in pairwise(values) if b < a)
    times = [t for t, _ in beats]
    gap = max((b - a for a, b in pairwise(times)), default=0.0) / 1000
    return Rounds(latencies, reattributed, first_rounds, restarts, gap)


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    ready_js: str  # true once the page shows live data
    hook_js: str  # records update-to-paint latencies into window.__lat


def _graph_has_points(graph_id: str) -> str:
    return (
        f"const g = document.querySelector('#{graph_id} .js-plotly-plot');"
        "return !!(g && g.data && g.data[0] && (g.data[0].x || []).length > 0);"
    )


PAGES = (
    Page(
        "Overview",
        "/",
        "const k = document.getElementById('ov-power');"
        "if (!(k && k.innerText.includes('kW'))) { return false; }"
        + _graph_has_points("ov-power-chart"),
        afterplot_hook("ov-power-chart", new_point=True),
    ),
    Page(
        "PDUs",
        "/pdus",
        "const g = document.querySelector('#pdu-heatmap .js-plotly-plot');"
        "return !!(g && g.data && g.data[0] && g.data[0].z && g.data[0].z.length === 3);",
        afterplot_hook("pdu-heatmap", new_point=False),
    ),
    Page(
        "Market",
        "/market",
        _graph_has_points("market-price"),
        afterplot_hook("market-price", new_point=True),
    ),
    Page(
        "Map",
        "/map",
        "let n = document.querySelectorAll('path.facility-marker').length;"
        "document.querySelectorAll('.facility-cluster span').forEach(s => n += +s.textContent);"
        f"return n === {FACILITIES};",
        HOOK_MAP,
    ),
)

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


def chromium_processes(driver) -> list[psutil.Process]:  # type: ignore[no-untyped-def]
    """Every process of this Chromium (browser, renderers, GPU, utilities)."""
    return psutil.Process(driver.service.process.pid).children(recursive=True)


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:  # a process that ended: its time is lost to both readings
            continue
        total += times.user + times.system
    return total


def task_seconds(driver) -> float:  # type: ignore[no-untyped-def]
    """Main-thread busy time of the page so far (CDP Performance metric TaskDuration)."""
    metrics = driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]
    return next((m["value"] for m in metrics if m["name"] == "TaskDuration"), 0.0)


def load(driver, url: str, ready_js: str) -> float:  # type: ignore[no-untyped-def]
    """Navigate from a blank page; ms from navigation start until ``ready_js`` holds."""
    driver.get("about:blank")
    driver.get(url)
    wait_until(lambda: driver.execute_script(ready_js), timeout_s=60, every_s=0.02)
    # performance.now() counts from this navigation's start (not from about:blank).
    return float(driver.execute_script("return performance.now()"))


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def measure(
    driver, base_url: str, page: Page, seconds: int, settle_s: float, console: Console
) -> list[str]:  # type: ignore[no-untyped-def]
    """One table row: cold load, cached load, then ``seconds`` of live updates."""
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    driver.get("about:blank")
    transferred(driver)
    cold_ms = load(driver, base_url + page.path, page.ready_js)
    total, responses, gzipped = transferred(driver)
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})
    load(driver, base_url + page.path, page.ready_js)  # fills the cache
    cached_ms = load(driver, base_url + page.path, page.ready_js)
    driver.execute_script(page.hook_js)
    # Steady state: the first rounds after a navigation (the page's first live round, the
    # previous page's pump timing out) belong to "data on screen", not to update-to-paint.
    time.sleep(settle_s)
    # The beat shown when the window opens: a pump restarting just after still counts.
    driver.execute_script(
        "const beat = document.getElementById('conn-status').getAttribute('data-beat');"
        "window.__paints = []; window.__stamps = []; window.__beats = [[Date.now(), beat]];"
    )
    ws_bytes(driver)  # discard what the first render cost
    processes = chromium_processes(driver)
    cpu_before, task_before, started = (
        cpu_seconds(processes),
        task_seconds(driver),
        time.monotonic(),
    )
    with console.status(f"{page.name}: measuring for {seconds} s…"):
        time.sleep(seconds)
    elapsed = time.monotonic() - started
    cpu_share = (cpu_seconds(processes) - cpu_before) / elapsed
    task_share = (task_seconds(driver) - task_before) / elapsed
    received, frames = ws_bytes(driver)
    seen = rounds(driver)
    latencies = seen.latencies_ms
    return [
        page.name,
        f"{total / 1000:,.0f}",
        f"{responses} ({gzipped})",
        f"{cold_ms:,.0f}",
        f"{cached_ms:,.0f}",
        f"{received / elapsed:,.0f}",
        f"{frames / elapsed:.1f}",
        f"{statistics.median(latencies):,.0f}" if latencies else "—",
        f"{pct(latencies, 0.95):,.0f}" if latencies else "—",
        str(len(latencies)),
        f"{seen.restarts} / {seen.longest_gap_s:.1f}",
        f"{seen.first_rounds} / {seen.reattributed}",
        f"{cpu_share:.0%}",
        f"{task_share:.0%}",
    ]


COLUMNS = (
    "page",
    "transferred kB (cold)",
    "answers (gzip)",
    "data on screen ms (cold)",
    "data on screen ms (cached)",
    "WS bytes/s",
    "WS msgs/s",
    "paint p50 ms",
    "paint p95 ms",
    "paints",
    "pump restarts / longest gap s",
    "first rounds / re-stamped",
    "browser CPU (of a core)",
    "main thread",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="measurement window per page")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="simulation speed (ENERGYDASH_SPEED); above 1 the frame times run ahead of the "
        "wall clock, so update-to-paint is not printed",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=3.0,
        help="seconds after a page's load before its live window starts (default 3)",
    )
    parser.add_argument(
        "--pages",
        default=",".join(p.name for p in PAGES),
        help="comma-separated pages to measure (default: all)",
    )
    args = parser.parse_args()
    wanted = {name.strip() for name in args.pages.split(",")}
    unknown = wanted - {p.name for p in PAGES}
    if unknown:
        parser.error(
            f"--pages: unknown page(s) {sorted(unknown)}; known: {[p.name for p in PAGES]}"
        )
    console = Console()
    with tempfile.TemporaryDirectory(prefix="energydash-bench-") as tmp:
        workdir = Path(tmp)
        with console.status("starting backend (8 PDUs x 48 outlets, 500 facilities)…"):
            server = backend(
                workdir, pdus=PDUS, facilities=FACILITIES, ENERGYDASH_SPEED=str(args.speed)
            ).start(timeout_s=120)
        web = None
        driver = None
        try:
            with console.status("starting dashboard and Chromium…"):
                web = dashboard(workdir, server).start()
                driver = start_chromium()
                driver.execute_cdp_cmd(
                    "Page.addScriptToEvaluateOnNewDocument", {"source": COUNT_WORKER_MESSAGES}
                )
                driver.execute_cdp_cmd("Network.enable", {})
                driver.execute_cdp_cmd("Performance.enable", {})
                log_in_as(driver, web.url, *ACCOUNTS["Operator"])  # every page needs a login
                driver.get(web.url + "/")  # warm the feed, the worker and the server
                wait_until(
                    lambda: (
                        driver.execute_script(
                            "return document.getElementById('conn-text').innerText"
                        )
                        == "Live"
                    ),
                    timeout_s=60,
                )
            load_before = os.getloadavg()[0]
            table = Table(
                title=f"Dashboard, {PDUS} PDUs x 48 outlets, {FACILITIES} facilities, 1 Hz"
            )
            for column in COLUMNS:
                table.add_column(column, justify="right" if column != "page" else "left")
            for page in PAGES:
                if page.name in wanted:
                    row = measure(driver, web.url, page, args.seconds, args.settle, console)
                    if args.speed != 1.0:  # frame times are simulated time, not wall time
                        row[7:10] = ["—", "—", "—"]
                        row[11] = "—"
                    table.add_row(*row)
            console.print(table)
            console.print(
                f"dashboard render: {PDUS}x48 outlets + {FACILITIES} facilities at 1 Hz, "
                f"speed {args.speed:g}x, "
                f"{args.seconds} s per page after {args.settle:g} s to settle; "
                f"load average {load_before:.2f} before, "
                f"{os.getloadavg()[0]:.2f} after, {psutil.cpu_count()} cores "
                "(update-to-paint includes backend, dashboard and paint)"
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
