"""A scenario: faults and actions scripted on the sim clock (file, or ``POST /api/v1/scenarios``).

```yaml
name: branch B trip
seed: 7
steps:
  - at_s: 30                      # sim seconds after the scenario starts
    name: trip-b
    fault: {kind: branch_overload, pdu_id: "1", target_id: B, params: {multiple: 3}}
  - at_s: 90
    clear: trip-b                 # the step name of a fault (or a wire fault)
  - at_s: [40, 60]                # a time drawn from the seed, the same on every run
    wire: {kind: wire_latency, pdu_id: "2", params: {ms: 200, jitter_ms: 50}, duration_s: 60}
  - at_s: 120
    breaker: {pdu_id: "1", circuit_id: B, action: "On"}
  - at_s: 125
    power: {pdu_id: "1", outlet_id: A1, action: "Off"}
```
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_STEPS = 1000
MAX_AT_S = 7 * 86_400.0


class FaultStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(max_length=64)
    pdu_id: str = Field(max_length=64)
    target_id: str | None = Field(None, max_length=64)
    params: dict[str, Any] | None = None


class WireStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(max_length=64)
    pdu_id: str | None = Field(None, max_length=64)
    uri_pattern: str | None = Field(None, max_length=256)
    params: dict[str, Any] | None = None
    duration_s: float = Field(gt=0, le=86_400)


class PowerStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pdu_id: str = Field(max_length=64)
    outlet_id: str = Field(max_length=64)
    action: str = Field(pattern="^(On|Off|PowerCycle)$")


class BreakerStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pdu_id: str = Field(max_length=64)
    circuit_id: str = Field(max_length=64)
    action: str = Field(pattern="^(On|Off)$")


class ScenarioStep(BaseModel):
    """One thing to do at ``at_s`` (or at a seeded time in ``[low, high]``): exactly one action."""

    model_config = ConfigDict(extra="forbid")
    at_s: float | tuple[float, float]
    name: str | None = Field(None, max_length=64, pattern="^[A-Za-z0-9_.-]+$")
    fault: FaultStep | None = None
    wire: WireStep | None = None
    clear: str | None = Field(None, max_length=64)
    power: PowerStep | None = None
    breaker: BreakerStep | None = None

    @model_validator(mode="after")
    def _one_action(self) -> ScenarioStep:
        actions = [a for a in ("fault", "wire", "clear", "power", "breaker") if getattr(self, a)]
        if len(actions) != 1:
            raise ValueError("a step needs exactly one of fault, wire, clear, power, breaker")
        times = self.at_s if isinstance(self.at_s, tuple) else (self.at_s, self.at_s)
        if not 0 <= times[0] <= times[1] <= MAX_AT_S:
            raise ValueError(f"at_s must be within [0, {MAX_AT_S:g}] (a range low <= high)")
        return self


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("scenario", max_length=64)
    seed: int = Field(0, ge=0)
    steps: list[ScenarioStep] = Field(max_length=MAX_STEPS)


class ScenarioStatus(BaseModel):
    """``GET /api/v1/scenarios``: what ran, when, and how it went."""

    id: str
    name: str
    started_at: str
    done: int
    total: int
    log: list[str]
