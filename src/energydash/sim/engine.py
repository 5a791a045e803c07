"""The engine: one clock, one PDU fleet, one grid, advanced tick by tick.

``run()`` is an asyncio task on the server's loop; tick callbacks and event callbacks run
synchronously on that loop right after each tick, so reads between ticks are consistent.
Faces change the simulation only through ``execute`` (see ``energydash.sim.control``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from energydash.config import Settings
from energydash.sim import commands as cmd
from energydash.sim import control, counters, faults, state
from energydash.sim.clock import Clock
from energydash.sim.commands import ClearFault, Command, CommandError, CommandResult, InjectFault
from energydash.sim.events import SimEvent
from energydash.sim.grid import DatasetError, Grid
from energydash.sim.pdu import Fleet
from energydash.sim.sites import SITE_COMMANDS, SiteCommand, SiteFleet

log = logging.getLogger(__name__)
RECENT_EVENTS = 1000
LAG_WINDOW = 10  # ticks over which the real period and the lag are measured
MIN_SPEED = 0.1
MAX_SPEED = 100_000.0
# what an owner configures (kept on disk before the command answers, as a real PDU keeps its
# settings in flash); switching and breakers are saved within state_save_after_change_s
CONFIGURATION = (
    cmd.SetDevice,
    cmd.RemoveDevice,
    cmd.SetRestorePolicy,
    cmd.SetPowerOnDelay,
    cmd.SetOutletEnabled,
    cmd.CreateGroup,
    cmd.DeleteGroup,
)

TickCallback = Callable[["Engine"], None]
EventCallback = Callable[[SimEvent], None]


class Engine:
    """Owns the simulation; the only way in for controls is ``execute``."""

    def __init__(
        self, settings: Settings, fleet: Fleet, grid: Grid, clock: Clock, rng: np.random.Generator
    ) -> None:
        self.settings = settings
        self.fleet = fleet
        self.grid = grid
        self.clock = clock
        self.tick_count = 0
        self.running = False
        self.faults: dict[str, faults.Fault] = {}
        self.fault_counter = 0
        self.recent_events: deque[SimEvent] = deque(maxlen=RECENT_EVENTS)
        self.last_tick_ms = 0.0
        self.restored = False
        # why the saved state could not be used as it was; /health is degraded until cleared
        self.state_problems: list[str] = []
        self.counters: counters.CounterFile | None = None
        self._dirty = False
        # what commands changed since the faces last refreshed: PDU id -> outlet ids (None: all)
        self._touched: dict[str, set[str] | None] = {}
        self.tick_interval_s = 0.0  # wall seconds between scheduled ticks (0: stepped clock)
        self._tick_walls: deque[float] = deque(maxlen=LAG_WINDOW + 1)
        self._rng = rng
        self._tick_callbacks: list[TickCallback] = []
        self._event_callbacks: list[EventCallback] = []
        self._stop_event: asyncio.Event | None = None
        self._stop_requested = False
        self._paused = False
        self._resync = False
        self._last_tick_time: datetime | None = None
        # its own random stream, so adding sites leaves the fleet's and grid's numbers alone
        self.sites = SiteFleet(
            settings, np.random.default_rng(np.random.SeedSequence([settings.seed, 13]))
        )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_settings(cls, settings: Settings, *, restore: bool = True) -> Engine:
        """Build the fleet and grid from settings, restore saved state, inject start-up faults.

        Raises ValueError naming ENERGYDASH_FAULTS or ENERGYDASH_GRID_FACILITIES when unusable.
        """
        fleet_seq, tick_seq = np.random.SeedSequence(settings.seed).spawn(2)
        fleet = Fleet(settings, np.random.default_rng(fleet_seq))
        if settings.grid_facilities:
            try:
                grid = Grid.from_dataset(
                    settings.grid_facilities,
                    seed=settings.seed,
                    max_facilities=settings.grid_facilities_max,
                )
            except DatasetError as error:
                raise ValueError(f"ENERGYDASH_GRID_FACILITIES: {error}") from None
        else:
            grid = Grid.generate(settings.seed, settings.grid_facility_count, settings.grid_network)
        start = settings.sim_start_time if settings.clock_mode == "stepped" else None
        clock = Clock(settings.clock_mode, settings.speed, start)
        engine = cls(settings, fleet, grid, clock, np.random.default_rng(tick_seq))
        if restore:
            engine._restore()
        for command in faults.parse_fault_spec(settings.faults):
            if engine._fault_active(command):
                continue  # restored from the state file
            try:
                engine.execute(command)
            except CommandError as error:
                raise ValueError(f"ENERGYDASH_FAULTS: {error.message}") from None
        engine._prime()
        return engine

    @property
    def state_file(self) -> Path:
        return state.state_path(self.settings.state_dir)

    @property
    def counter_file(self) -> Path:
        return Path(self.settings.state_dir) / counters.COUNTER_FILE

    def _restore(self) -> None:
        """The state file, else its previous good copy, then the memory-mapped counters."""
        main = self.state_file
        previous = state.previous_path(self.settings.state_dir)
        restored: state.Restored | None = None
        for candidate in (main, previous):
            try:
                payload = state.load(candidate)
                if payload is None:
                    continue
                try:
                    self.sites.restore(payload.get("sites"), self.fleet)
                except ValueError as error:
                    raise state.StateError(f"{candidate}: {error}") from None
                restored = state.restore(self.fleet, payload, candidate)
            except state.StateError as error:
                aside = state.move_aside(candidate)
                then = "trying the previous good copy" if candidate == main else "no good copy"
                problem = f"{error}; moved it to {aside}; {then}"
                log.error("%s", problem)
                self.state_problems.append(problem)
                continue
            if restored is not None:
                log.info("restored simulation state from %s", candidate)
                if candidate == previous and self.state_problems:
                    self.state_problems.append(f"restored from the previous good copy {previous}")
            break
        if restored is not None:
            self.restored = True
            self._restore_faults(restored)
            if restored.grid is not None and not self.grid.restore_state(restored.grid):
                log.warning("saved grid state is for another grid; the grid starts fresh")
        self._map_counters()

    def _map_counters(self) -> None:
        cf = counters.CounterFile.open(self.counter_file, state.outlet_keys(self.fleet))
        self.state_problems.extend(cf.problems)
        # the mapping is at least as new as the state file, unless it was lost or replaced
        np.maximum(cf.values, self.fleet.lifetime_kwh, out=cf.values)
        self.fleet.lifetime_kwh = cf.values
        self.counters = cf

    def _restore_faults(self, restored: state.Restored) -> None:
        for saved in restored.faults:
            fault_id = str(saved.get("id", ""))
            number = fault_id[1:]
            try:
                if number.isdigit():
                    self.fault_counter = int(number) - 1
                command = InjectFault(
                    str(saved.get("kind")),
                    str(saved.get("pdu_id")),
                    saved.get("target_id"),
                    saved.get("params") or None,
                )
                self.execute(command)
            except (CommandError, TypeError, ValueError) as error:
                message = getattr(error, "message", str(error))
                log.warning("saved fault %s not restored: %s", fault_id, message)
        self.fault_counter = max(self.fault_counter, restored.fault_counter)

    def _fault_active(self, command: InjectFault) -> bool:
        try:
            kind, pdu_id, target, _ = faults.normalise(self.fleet, command)
        except CommandError:
            return False
        return any(
            (f.kind, f.pdu_id, f.target_id) == (kind, pdu_id, target) for f in self.faults.values()
        )

    def clear_state_problems(self) -> list[str]:
        """An operator has looked at the moved-aside files: /health stops reporting them."""
        cleared, self.state_problems = self.state_problems, []
        return cleared

    def _prime(self) -> None:
        now = self.clock.now()
        hour, weekday = self._local_time(now)
        self.fleet.prime(now.timestamp(), hour, weekday)
        self.grid.step(now, self.settings.tick_s)
        self.sites.prime(now, self.grid, self.fleet)
        self._last_tick_time = now

    def _local_time(self, now: datetime) -> tuple[float, int]:
        local = now + timedelta(hours=self.settings.site_utc_offset_h)
        hour = local.hour + local.minute / 60.0 + (local.second + local.microsecond / 1e6) / 3600.0
        return hour, local.weekday()

    # ------------------------------------------------------------------ ticks
    def step(self, dt_s: float | None = None) -> None:
        """One tick now. In stepped mode the clock first advances by ``dt_s`` (default tick_s)."""
        dt = self.settings.tick_s if dt_s is None else float(dt_s)
        if not dt > 0:
            raise ValueError(f"a tick must advance time: dt_s must be > 0, got {dt_s!r}")
        if self.clock.mode == "stepped":
            self.clock.advance(dt)
        self._tick(self.clock.now(), dt)

    def _tick(self, now: datetime, dt_s: float) -> None:
        started = time.perf_counter()
        hour, weekday = self._local_time(now)
        self.fleet.step(now.timestamp(), dt_s, hour, weekday, self._rng, now, self.emit)
        self.grid.step(now, dt_s)
        if self.settings.sites_enabled:
            self.sites.step(now, dt_s, self.grid, self.fleet)
        self.tick_count += 1
        self._last_tick_time = now
        self.last_tick_ms = (time.perf_counter() - started) * 1000.0
        for callback in list(self._tick_callbacks):
            try:
                callback(self)
            except Exception:
                log.exception("tick callback %r failed; the engine carries on", callback)

    async def run(self) -> None:
        """Tick in realtime or accelerated time until ``stop()``, saving state now and then.

        A stepped clock never ticks by itself: the task just waits for ``stop()``.
        """
        loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        if self._stop_requested:
            self._stop_event.set()
        self.running = not self._paused
        last_save = loop.time()
        try:
            if self.clock.mode == "stepped":
                await self._stop_event.wait()
                return
            next_at = loop.time()
            last_sim = self.clock.now()
            while not self._stop_event.is_set():
                interval = max(
                    self.settings.tick_s / self.clock.speed, 1.0 / self.settings.max_tick_rate_hz
                )
                next_at += interval
                delay = next_at - loop.time()
                if delay < -interval:  # fell behind (a slow tick): do not burst to catch up
                    next_at = loop.time()
                    delay = 0.0
                try:
                    await asyncio.wait_for(self._stop_event.wait(), timeout=max(delay, 0.0))
                    break
                except TimeoutError:
                    pass
                if self._paused:
                    continue
                now = self.clock.now()
                if self._resync:
                    last_sim, self._resync = now, False
                    self._tick_walls.clear()
                    continue
                dt = (now - last_sim).total_seconds()
                if dt <= 0:
                    continue
                self.tick_interval_s = interval
                self._tick_walls.append(time.monotonic())
                self._tick(now, dt)
                last_sim = now
                since = loop.time() - last_save
                if since >= self.settings.state_save_interval_s or (
                    self._dirty and since >= self.settings.state_save_after_change_s
                ):
                    # snapshot on the loop, encode and write off it: a big fleet's file
                    # takes tens of milliseconds to write
                    taken = state.snapshot_time()
                    payload = self._payload()
                    try:
                        await asyncio.to_thread(
                            state.save, self.state_file, payload, taken_ns=taken
                        )
                    except OSError:
                        log.exception("could not save simulation state to %s", self.state_file)
                    last_save = loop.time()
        finally:
            self.running = False
            self._stop_requested = False  # a later run() starts afresh
            self._save_quietly()

    def _save_quietly(self) -> None:
        try:
            self.save_state()
        except OSError:
            log.exception("could not save simulation state to %s", self.state_file)

    def stop(self) -> None:
        self._stop_requested = True
        if self._stop_event is not None:
            self._stop_event.set()

    def pause(self) -> None:
        self._tick_walls.clear()
        self._paused = True
        self.running = False
        self.clock.pause()

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self.clock.resume()
            self._resync = True
            self.running = self._stop_event is not None and not self._stop_event.is_set()

    @property
    def paused(self) -> bool:
        return self._paused

    def set_speed(self, speed: float) -> None:
        """Change the accelerated clock's speed (sim seconds per wall second)."""
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise ValueError(f"speed must be from {MIN_SPEED:g} to {MAX_SPEED:g}, got {speed!r}")
        self.clock.set_speed(speed)

    def timing(self) -> dict[str, float | None]:
        """Real tick period and lag, for /metrics and /health (not only compute time).

        ``lag_s`` is how far the engine is behind its schedule: the time the last LAG_WINDOW
        ticks took beyond their scheduled interval, or, when ticks stopped, the time since the
        last one beyond the interval. A paused or stepped engine has no lag.
        """
        walls = self._tick_walls
        if self._paused or self.clock.mode == "stepped" or not walls:
            return {"tick_period_s": None, "lag_s": 0.0, "tick_interval_s": self.tick_interval_s}
        interval = self.tick_interval_s
        period = (walls[-1] - walls[0]) / (len(walls) - 1) if len(walls) > 1 else None
        window_lag = 0.0 if period is None else (period - interval) * (len(walls) - 1)
        since_last = time.monotonic() - walls[-1] - interval
        lag = max(0.0, window_lag, since_last)
        return {"tick_period_s": period, "lag_s": lag, "tick_interval_s": interval}

    # ------------------------------------------------------------------ subscriptions
    def on_tick(self, callback: TickCallback) -> Callable[[], None]:
        self._tick_callbacks.append(callback)
        return lambda: (
            self._tick_callbacks.remove(callback) if callback in self._tick_callbacks else None
        )

    def on_event(self, callback: EventCallback) -> Callable[[], None]:
        self._event_callbacks.append(callback)
        return lambda: (
            self._event_callbacks.remove(callback) if callback in self._event_callbacks else None
        )

    def emit(self, event: SimEvent) -> None:
        self.recent_events.append(event)
        for callback in list(self._event_callbacks):
            try:
                callback(event)
            except Exception:
                log.exception("event callback %r failed; the engine carries on", callback)

    # ------------------------------------------------------------------ control
    def execute(self, command: Command | SiteCommand) -> CommandResult:
        """The one command API: validates fully, raises CommandError having changed nothing."""
        if isinstance(command, SITE_COMMANDS):
            result = self.sites.apply(command, self.fleet)
            self._dirty = True
            return result
        pdu_id = getattr(command, "pdu_id", None)
        if isinstance(command, ClearFault):
            fault = self.faults.get(str(command.fault_id))
            pdu_id = fault.pdu_id if fault else None
        result = control.execute(self, command)
        self._dirty = True
        self.fleet.refresh(self.clock.now(), self.emit, self._refresh_scope(pdu_id))
        self._touch(pdu_id, getattr(command, "outlet_id", None))
        if isinstance(command, CONFIGURATION):
            self._save_quietly()
        return result

    def _refresh_scope(self, pdu_id: object) -> list[int] | None:
        """The PDU a command changed, as the fleet indexes it; None (all) when it names none.

        Every PDU command changes its own PDU only: fault masks are rebuilt fleet-wide but
        come out the same for the others, and outlets of other PDUs that energise meanwhile
        are refreshed by the fleet itself.
        """
        key = str(pdu_id)
        return [self.fleet.pdu_info(key).index] if self.fleet.has_pdu(key) else None

    def _touch(self, pdu_id: object, outlet_id: object) -> None:
        key = str(pdu_id)
        if not self.fleet.has_pdu(key):
            return
        if key in self._touched and self._touched[key] is None:
            return
        if outlet_id is None:
            self._touched[key] = None
        else:
            self._touched.setdefault(key, set()).add(str(outlet_id))  # type: ignore[union-attr]

    def pop_touched(self) -> dict[str, set[str] | None]:
        """What commands changed since the last call: PDU id -> outlet ids (None: every one)."""
        touched, self._touched = self._touched, {}
        return touched

    def save_state(self) -> None:
        """Write counters, outlet, breaker and group state atomically to settings.state_dir."""
        taken = state.snapshot_time()
        state.save(self.state_file, self._payload(), taken_ns=taken)

    def _payload(self) -> dict[str, object]:
        active = [
            {
                "id": f.id,
                "kind": f.kind,
                "pdu_id": f.pdu_id,
                "target_id": f.target_id,
                "params": f.params,
            }
            for f in self.faults.values()
        ]
        self._dirty = False
        if self.counters is not None:
            self.counters.flush()  # bounds what a power loss can take to one save interval
        payload = state.to_payload(
            self.fleet, self.clock.now(), active, self.grid.state(), self.fault_counter
        )
        payload["sites"] = self.sites.to_state()
        return payload
