"""What the chart markers' topic costs the backend: events/s through ``PduEventLog`` and the
time of one coalesced publish of a PDU's topic (``pdu/{id}/events``, ``PduEventsData``).

Run: ``.venv/bin/python bench/pdu_events.py [--events N] [--kept K]``. In-process, no servers:
a stepped engine of 2 PDUs, the hub, and the event log; the events are real engine events
(outlet off and on, by the command API). Prints events/s recorded (the per-event cost a
command storm pays) and the mean time of one publish of a full topic (what each
``command_refresh_s`` window pays per PDU that had events).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from energydash.config import load_settings
from energydash.hub import Hub
from energydash.hub.events import PduEventLog
from energydash.sim.engine import Engine
from energydash.sim.events import SimEvent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--kept", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            data_dir=Path(tmp) / "data",
            log_dir=Path(tmp) / "logs",
            clock_mode="stepped",
            pdu_count=2,
            grid_facility_count=0,
            history_store="none",
            pdu_events_kept=args.kept,
        )
        engine = Engine.from_settings(settings, restore=False)
        hub = Hub(settings)
        log = PduEventLog(engine, hub)
        log.attach()
        event = SimEvent(
            "OutletPoweredOff", "1", "outlet", "A1", "Outlet A1 powered off.", "OK",
            datetime.now(UTC),
        )  # fmt: skip
        # Recording only (publishing is what the coalescing window does once, timed below).
        log._pending = True
        started = time.perf_counter()
        for _ in range(args.events):
            log.add(event)
        record_s = time.perf_counter() - started
        rounds = 200
        started = time.perf_counter()
        for _ in range(rounds):
            log._dirty.add("1")
            log.publish()
        publish_s = (time.perf_counter() - started) / rounds
    each_us = record_s / args.events * 1e6
    print(f"events recorded: {args.events / record_s:,.0f}/s ({each_us:.1f} µs each)")
    print(f"publish of one PDU's topic ({args.kept} events): {publish_s * 1000:.2f} ms")


if __name__ == "__main__":
    main()
