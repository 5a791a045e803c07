"""Run a scenario (``models.scenario.Scenario``) on the engine's clock, tick by tick.

Times are sim seconds after the scenario starts, so an accelerated clock runs it faster and a
stepped clock runs it exactly as the test steps. A step's time range is drawn once, from the
scenario's seed, when it is loaded: the same file gives the same run. A step that the engine
refuses is logged with its reason and the scenario carries on. Wire steps go to a callback
(the Redfish service's wire faults): the simulation itself knows nothing of HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import yaml
from pydantic import ValidationError

from energydash.models.scenario import Scenario, ScenarioStatus, ScenarioStep
from energydash.sim import commands as cmd

if TYPE_CHECKING:
    from energydash.sim.engine import Engine

log = logging.getLogger(__name__)
MAX_FILE_BYTES = 1024 * 1024
LOG_LIMIT = 200
# wire(kind, pdu_id, uri_pattern, params, duration_s) -> fault id; clear_wire(fault id)
WireInject = Callable[[str, "str | None", "str | None", "dict[str, Any] | None", float], str]


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; the message names the file and the place."""


def load_file(path: str | Path) -> Scenario:
    """Parse a YAML or JSON scenario; errors name the file, line or field."""
    source = Path(path)
    try:
        raw = source.read_bytes()
    except OSError as error:
        raise ScenarioError(f"{source}: {error.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(f"{source}: larger than {MAX_FILE_BYTES} bytes")
    try:
        data = (
            yaml.safe_load(raw) if source.suffix.lower() in (".yaml", ".yml") else orjson.loads(raw)
        )
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else str(source)
        raise ScenarioError(
            f"{where}: not valid YAML ({getattr(error, 'problem', error)})"
        ) from None
    except orjson.JSONDecodeError as error:
        raise ScenarioError(f"{source}:{error.lineno}: not valid JSON ({error.msg})") from None
    return parse(data, str(source))


def parse(data: Any, where: str = "scenario") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        place = ".".join(str(p) for p in first["loc"])
        raise ScenarioError(f"{where}: {place}: {first['msg']}") from None


@dataclass
class _Planned:
    at_s: float
    step: ScenarioStep


@dataclass
class ScenarioRun:
    id: str
    scenario: Scenario
    start_s: float
    planned: list[_Planned]
    started_at: str
    done: int = 0
    log: list[str] = field(default_factory=list)
    names: dict[str, tuple[str, str]] = field(default_factory=dict)  # step name -> (layer, id)

    def status(self) -> ScenarioStatus:
        return ScenarioStatus(
            id=self.id,
            name=self.scenario.name,
            started_at=self.started_at,
            done=self.done,
            total=len(self.planned),
            log=self.log[-LOG_LIMIT:],
        )


class ScenarioRunner:
    """Every running scenario of one engine; ``attach`` once, then ``start`` scenarios."""

    def __init__(
        self,
        engine: Engine,
        wire: WireInject | None = None,
        clear_wire: Callable[[str], bool] | None = None,
    ) -> None:
        self.engine = engine
        self.wire = wire
        self.clear_wire = clear_wire
        self.runs: dict[str, ScenarioRun] = {}
        self._count = 0
        self._detach = engine.on_tick(lambda _engine: self.advance())

    def close(self) -> None:
        self._detach()

    def start(self, scenario: Scenario) -> ScenarioRun:
        rng = np.random.default_rng(scenario.seed)
        planned = []
        for step in scenario.steps:
            at = step.at_s
            at_s = float(rng.uniform(at[0], at[1])) if isinstance(at, tuple) else float(at)
            planned.append(_Planned(at_s, step))
        planned.sort(key=lambda p: p.at_s)  # stable: equal times keep file order
        self._count += 1
        now = self.engine.clock.now()
        run = ScenarioRun(
            f"S{self._count}",
            scenario,
            self.engine.clock.timestamp(),
            planned,
            now.isoformat().replace("+00:00", "Z"),
        )
        self.runs[run.id] = run
        self.advance()  # steps at 0 s happen now
        return run

    def advance(self) -> None:
        now_s = self.engine.clock.timestamp()
        for run in self.runs.values():
            while run.done < len(run.planned) and run.planned[run.done].at_s <= now_s - run.start_s:
                planned = run.planned[run.done]
                run.done += 1
                run.log.append(f"t+{planned.at_s:g}s {self._do(run, planned.step)}")

    def _do(self, run: ScenarioRun, step: ScenarioStep) -> str:
        engine = self.engine
        try:
            if step.fault is not None:
                f = step.fault
                result = engine.execute(cmd.InjectFault(f.kind, f.pdu_id, f.target_id, f.params))
                if step.name and result.fault_id:
                    run.names[step.name] = ("sim", result.fault_id)
                return result.message
            if step.wire is not None:
                if self.wire is None:
                    return "skipped: no Redfish service for wire faults"
                w = step.wire
                params = dict(w.params or {})
                if w.kind == "wire_latency":  # the scenario's seed drives the jitter too
                    params.setdefault("seed", run.scenario.seed)
                fault_id = self.wire(w.kind, w.pdu_id, w.uri_pattern, params, w.duration_s)
                if step.name:
                    run.names[step.name] = ("wire", fault_id)
                return f"wire fault {fault_id} {w.kind} for {w.duration_s:g} s"
            if step.clear is not None:
                layer, fault_id = run.names.get(step.clear, ("sim", step.clear))
                if layer == "wire":
                    ok = self.clear_wire(fault_id) if self.clear_wire else False
                    return f"wire fault {fault_id} {'cleared' if ok else 'already over'}"
                return engine.execute(cmd.ClearFault(fault_id)).message
            if step.power is not None:
                p = step.power
                return engine.execute(cmd.OutletPower(p.pdu_id, p.outlet_id, p.action)).message
            assert step.breaker is not None
            b = step.breaker
            return engine.execute(cmd.BreakerControl(b.pdu_id, b.circuit_id, b.action)).message
        except (cmd.CommandError, ValueError) as error:
            log.warning("scenario %s step refused: %s", run.scenario.name, error)
            return f"refused: {error}"
