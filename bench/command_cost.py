"""CPU time of one ``Engine.execute`` in-process, for small and large PDU fleets.

Run: ``.venv/bin/python bench/command_cost.py [--commands N] [--pdus 4,200,1000]``.
Builds an engine per fleet size (stepped clock, 48 outlets a PDU, seed 1), then times N
commands of each kind with ``time.process_time`` (CPU time of this process, so the figure
does not depend on what else the machine runs) and prints microseconds per command, best of
three rounds. No HTTP, MQTT or hub: this is the engine's own cost of validating, applying and
recomputing what a command changed. A flat row across fleet sizes means a command costs what
it touches, not what the fleet holds.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.table import Table

from energydash.config import Settings
from energydash.sim import commands as sim
from energydash.sim.engine import Engine

ROUNDS = 3


def engine_for(pdu_count: int) -> Engine:
    os.environ["ENERGYDASH_DATA_DIR"] = tempfile.mkdtemp(prefix="energydash-bench-")
    settings = Settings(pdu_count=pdu_count, clock_mode="stepped", seed=1)
    engine = Engine.from_settings(settings, restore=False)
    engine.step()
    return engine


def outlet_power(engine: Engine) -> Iterator[sim.OutletPower]:
    """Every outlet of the fleet in turn, Off on the first pass and On on the next."""
    ids = [(p.id, o.id) for p in engine.fleet.pdus for o in p.outlets]
    k = 0
    while True:
        pdu_id, outlet_id = ids[k % len(ids)]
        yield sim.OutletPower(pdu_id, outlet_id, "Off" if (k // len(ids)) % 2 == 0 else "On")
        k += 1


def breaker(engine: Engine) -> Iterator[sim.BreakerControl]:
    """Open then close each branch breaker of the fleet in turn."""
    ids = [(p.id, b.id) for p in engine.fleet.pdus for b in p.branches]
    k = 0
    while True:
        pdu_id, branch_id = ids[(k // 2) % len(ids)]
        yield sim.BreakerControl(pdu_id, branch_id, "Off" if k % 2 == 0 else "On")
        k += 1


def fault(engine: Engine) -> Iterator[sim.InjectFault | sim.ClearFault]:
    """Inject an outlet sensor dropout, then clear it, walking the fleet's outlets."""
    ids = [(p.id, o.id) for p in engine.fleet.pdus for o in p.outlets]
    first = engine.fault_counter + 1  # the id the engine gives the next fault, counting up
    k = 0
    while True:
        pdu_id, outlet_id = ids[(k // 2) % len(ids)]
        if k % 2 == 0:
            yield sim.InjectFault("sensor_dropout", pdu_id, outlet_id)
        else:
            yield sim.ClearFault(f"F{first + k // 2}")
        k += 1


KINDS: dict[str, Callable[[Engine], Iterator[sim.Command]]] = {
    "outlet power": outlet_power,
    "breaker open/close": breaker,
    "fault inject/clear": fault,
}


def us_per_command(engine: Engine, commands: Iterator[sim.Command], count: int) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        batch = [next(commands) for _ in range(count)]
        started = time.process_time()
        for command in batch:
            engine.execute(command)
        best = min(best, (time.process_time() - started) / count * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=3000, help="commands per round")
    parser.add_argument("--pdus", default="4,200,1000", help="comma-separated fleet sizes")
    args = parser.parse_args()
    sizes = [int(x) for x in args.pdus.split(",")]
    console = Console()
    table = Table(title=f"Engine.execute CPU µs per command (best of {ROUNDS} x {args.commands})")
    table.add_column("command")
    for size in sizes:
        table.add_column(f"{size} PDUs", justify="right")
    engines = {size: engine_for(size) for size in sizes}
    outlet_us: dict[int, float] = {}
    for name, kind in KINDS.items():
        cells = []
        for size in sizes:
            us = us_per_command(engines[size], kind(engines[size]), args.commands)
            if kind is outlet_power:
                outlet_us[size] = us
            cells.append(f"{us:,.0f}")
        table.add_row(name, *cells)
    console.print(table)
    worst = max(sizes)
    console.print(
        f"{worst} PDUs ({worst * engines[worst].fleet._outlets_per_pdu:,} outlets): the engine "
        f"alone takes {1e6 / outlet_us[worst]:,.0f} outlet power commands/s"
    )


if __name__ == "__main__":
    main()
