"""Time per simulation tick: the PDU fleet at 1k/10k/100k outlets and the grid at 500 facilities.

Run: ``.venv/bin/python bench/sim_tick.py [--ticks N]``. Prints milliseconds per tick (median
and p95 over N ticks after a warm-up), the cost per 1k outlets (flat means linear growth), a
week of grid dispatch at 5-minute steps (what ``energydash datasets generate`` does), and the
time to save and restore the state of the largest fleet, and a tick of 10,000 sites x 10
devices (PV, battery, EV, five loads, EV charger, generator). Targets: a 100k-outlet tick < 20 ms,
a 10,000-site tick < 20 ms.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from energydash.config import load_settings
from energydash.hub import Hub
from energydash.hub.site_snapshots import SitePublisher
from energydash.sim import sites as sim_sites
from energydash.sim.engine import Engine
from energydash.sim.grid import NETWORK_REGIONS, Grid

OUTLETS_PER_PDU = 48
SITE_COUNT = 10_000
HOME = [
    sim_sites.DeviceSpec(kind="pv", rated_w=6_600),
    sim_sites.DeviceSpec(kind="battery", capacity_wh=13_500, max_charge_w=5_000),
    sim_sites.DeviceSpec(kind="ev", capacity_wh=60_000, max_charge_w=7_000, mode="time_of_use"),
    sim_sites.DeviceSpec(kind="load", profile="hvac", rated_w=3_500),
    sim_sites.DeviceSpec(kind="load", profile="led_lighting", rated_w=400),
    sim_sites.DeviceSpec(kind="load", profile="kitchen_appliance", rated_w=2_400),
    sim_sites.DeviceSpec(kind="load", profile="server", rated_w=300),
    sim_sites.DeviceSpec(kind="load", rated_w=200),
    sim_sites.DeviceSpec(kind="ev_charger", rated_w=7_000, session_kwh=20),
    sim_sites.DeviceSpec(kind="generator", rated_w=5_000, setpoint_w=2_000),
]


def time_calls(fn, count: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000.0)
    return samples


def p95(samples: list[float]) -> float:
    return sorted(samples)[int(0.95 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=50, help="timed ticks per size")
    args = parser.parse_args()
    console = Console()
    table = Table(title="energydash.sim tick cost")
    for column in ("what", "size", "median ms", "p95 ms", "ms per 1k outlets"):
        table.add_column(column, justify="right")
    summary = {}
    with tempfile.TemporaryDirectory() as tmp:
        for target in (1_000, 10_000, 100_000):
            pdus = -(-target // OUTLETS_PER_PDU)
            settings = load_settings(
                data_dir=Path(tmp) / str(target),
                clock_mode="stepped",
                pdu_count=pdus,
                grid_facility_count=0,
                faults="sensor_noisy:1/A2;sensor_stuck:1/A3;overload:1/B:1.3",
            )
            with console.status(f"building {pdus} PDUs"):
                engine = Engine.from_settings(settings, restore=False)
            fleet = engine.fleet
            now = engine.clock.now()
            t0 = now.timestamp()
            state = {"t": t0}

            def fleet_tick(fleet=fleet, state=state, engine=engine, now=now) -> None:  # type: ignore[no-untyped-def]
                state["t"] += 1.0
                fleet.step(state["t"], 1.0, 12.0, 2, engine._rng, now, engine.emit)

            time_calls(fleet_tick, 5)
            samples = time_calls(fleet_tick, args.ticks)
            median = statistics.median(samples)
            summary[fleet.n_outlets] = median
            table.add_row(
                "PDU fleet tick",
                f"{fleet.n_outlets:,} outlets",
                f"{median:.2f}",
                f"{p95(samples):.2f}",
                f"{median / fleet.n_outlets * 1000:.3f}",
            )
            if target == 100_000:
                engine.grid = Grid.generate(settings.seed, 120)
                full = time_calls(lambda engine=engine: engine.step(1.0), args.ticks)
                table.add_row(
                    "engine.step (fleet + 120-facility grid)",
                    f"{fleet.n_outlets:,} outlets",
                    f"{statistics.median(full):.2f}",
                    f"{p95(full):.2f}",
                    "",
                )
                started = time.perf_counter()
                engine.save_state()
                save_ms = (time.perf_counter() - started) * 1000.0
                started = time.perf_counter()
                restored = Engine.from_settings(settings)
                load_ms = (time.perf_counter() - started) * 1000.0
                assert restored.restored
                size_mb = engine.state_file.stat().st_size / 1e6
                table.add_row(
                    "state save",
                    f"{fleet.n_outlets:,} outlets",
                    f"{save_ms:.1f}",
                    "",
                    f"{size_mb:.1f} MB",
                )
                table.add_row(
                    "engine build + restore",
                    f"{fleet.n_outlets:,} outlets",
                    f"{load_ms:.1f}",
                    "",
                    "",
                )

        site_settings = load_settings(
            data_dir=Path(tmp) / "sites",
            clock_mode="stepped",
            pdu_count=1,
            grid_facility_count=60,
            site_max_sites=SITE_COUNT,
        )
        site_engine = Engine.from_settings(site_settings, restore=False)
        with console.status(f"building {SITE_COUNT:,} sites"):
            site_engine.sites.add_sites(
                "1",
                [
                    (sim_sites.SiteSpec(name=f"Site {i}", region=NETWORK_REGIONS[i % 5]), HOME)
                    for i in range(SITE_COUNT)
                ],
                site_engine.fleet,
            )
        sites = site_engine.sites
        site_clock = {"now": site_engine.clock.now()}

        def sites_tick() -> None:
            site_clock["now"] += timedelta(seconds=1)
            sites.step(site_clock["now"], 1.0, site_engine.grid, site_engine.fleet)

        time_calls(sites_tick, 5)
        samples = time_calls(sites_tick, args.ticks)
        sites_ms = statistics.median(samples)
        table.add_row(
            "sites tick",
            f"{sites.n_sites:,} sites, {sites.n_devices:,} devices",
            f"{sites_ms:.2f}",
            f"{p95(samples):.2f}",
            "",
        )

        # the hub side: site/{id} and site/{id}/devices of 100 sites, built through their models
        small = load_settings(
            data_dir=Path(tmp) / "sites-100",
            clock_mode="stepped",
            pdu_count=1,
            grid_facility_count=20,
        )
        pub_engine = Engine.from_settings(small, restore=False)
        pub_engine.sites.add_sites(
            "1", [(sim_sites.SiteSpec(name=f"Site {i}"), HOME) for i in range(100)], None
        )
        pub_engine.step(1.0)
        publisher = SitePublisher(pub_engine, Hub(small))
        time_calls(publisher.publish, 3)
        samples = time_calls(publisher.publish, max(args.ticks // 5, 5))
        table.add_row(
            "site topics publish",
            "100 sites, 1,000 devices",
            f"{statistics.median(samples):.2f}",
            f"{p95(samples):.2f}",
            "",
        )

        grid = Grid.generate(42, 500)
        now = engine.clock.now()
        grid.step(now, 1.0)
        clock = {"now": now}

        def grid_tick() -> None:
            clock["now"] += timedelta(seconds=1)
            grid.step(clock["now"], 1.0)

        samples = time_calls(grid_tick, args.ticks)
        table.add_row(
            "grid step",
            f"500 facilities, {len(grid.units)} units",
            f"{statistics.median(samples):.3f}",
            f"{p95(samples):.3f}",
            "",
        )
        week = Grid.generate(42, 500)
        started = time.perf_counter()
        when = now
        for _ in range(2016):
            week.step(when, 300.0)
            when += timedelta(minutes=5)
        week_s = time.perf_counter() - started
        table.add_row(
            "grid week at 5 min", "2016 steps, 500 facilities", f"{week_s * 1000:.0f}", "", ""
        )
    console.print(table)
    sizes = sorted(summary)
    growth = summary[sizes[-1]] / summary[sizes[-2]]
    console.print(
        f"100k-outlet tick {summary[sizes[-1]]:.2f} ms (target < 20 ms); "
        f"10x the outlets (10k -> 100k) costs {growth:.1f}x (10x = linear); "
        f"grid week {week_s:.2f} s; "
        f"{SITE_COUNT:,} sites x {len(HOME)} devices tick {sites_ms:.2f} ms (target < 20 ms)"
    )


if __name__ == "__main__":
    main()
