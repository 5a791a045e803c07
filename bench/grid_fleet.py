"""Cost of a credible fleet: generating it, loading a user's dataset, publishing its topic.

Run: ``.venv/bin/python bench/grid_fleet.py``. Prints the time to generate (place, name) a
fleet of 120, 2,000 and 20,000 facilities; the time to load the shipped sample's facilities as
``ENERGYDASH_GRID_FACILITIES`` reads them (the JSON response and convert's CSV tables); and the
cost of building the ``facilities`` and ``market/NEM`` topics per tick at 120 and 500 facilities,
with the ``facilities`` frame's size and the share of it the units table takes.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import orjson
from rich.console import Console
from rich.table import Table

from energydash.hub.snapshots import facilities, market
from energydash.sim.grid import Grid

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def _median_s(action, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    console = Console()
    table = Table(title="grid fleet")
    table.add_column("what")
    table.add_column("figure", justify="right")
    for count, repeat in ((120, 5), (2000, 3), (20000, 1)):
        seconds = _median_s(lambda c=count: Grid.generate(1, c), repeat)
        table.add_row(f"generate {count:,} facilities", f"{seconds:.3f} s")
    for name, path in (
        ("load sample facilities.json", SAMPLE / "facilities.json"),
        ("load sample convert tables", SAMPLE / "csv"),
    ):
        table.add_row(name, f"{_median_s(lambda p=path: Grid.from_dataset(p), 5) * 1000:.1f} ms")
    for count in (120, 500):
        grid = Grid.generate(1, count)
        grid.step(datetime(2025, 1, 15, 2, tzinfo=UTC), 1.0)
        engine = SimpleNamespace(grid=grid)
        for topic, build in (("facilities", facilities), ("market/NEM", market)):
            ms = _median_s(lambda b=build, e=engine: b(e), 50) * 1000  # type: ignore[arg-type]
            table.add_row(f"build {topic} ({count} facilities)", f"{ms:.2f} ms")
        frame = facilities(engine)  # type: ignore[arg-type]
        size = len(orjson.dumps(frame))
        units = len(orjson.dumps(frame["units"]))
        table.add_row(
            f"facilities frame ({count})", f"{size / 1024:.1f} KiB ({units / size:.0%} units)"
        )
    console.print(table)


if __name__ == "__main__":
    main()
