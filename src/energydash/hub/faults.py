"""Engine tick -> hub topic ``faults``: the simulation's and the wire's active faults.

Published when the set of faults changes (an injection, a clear, a wire fault's end), so the
dashboard shows what ``GET /api/v1/faults`` lists without polling REST.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from energydash.hub import Hub
from energydash.models.faults import ActiveFault, ActiveFaultsData
from energydash.sim.engine import Engine

TOPIC = "faults"


class FaultsPublisher:
    def __init__(self, engine: Engine, hub: Hub, wire: Any | None) -> None:
        self.engine = engine
        self.hub = hub
        self.wire = wire  # energydash.redfish.wire.WireFaults, when the backend serves Redfish
        self._key: tuple[tuple[str, float | None], ...] | None = None

    def data(self) -> ActiveFaultsData:
        rows = [
            ActiveFault(
                fault_id=f.id,
                kind=f.kind,
                layer="sim",
                pdu_id=f.pdu_id,
                target=f.target_id,
                ends_at=None,
            )
            for f in self.engine.faults.values()
        ]
        for fault in self.wire.current() if self.wire is not None else []:
            view = fault.view()
            rows.append(
                ActiveFault(
                    fault_id=fault.id,
                    kind=fault.kind,
                    layer="wire",
                    pdu_id=fault.pdu_id,
                    target=fault.uri_pattern,
                    ends_at=view["ends_at"],
                )
            )
        return ActiveFaultsData(faults=rows)

    def _current(self) -> tuple[tuple[str, float | None], ...]:
        wire = self.wire.current() if self.wire is not None else []
        return tuple(
            [(f.id, None) for f in self.engine.faults.values()]
            + [(f.id, f.ends_at_s) for f in wire]
        )

    def publish(self) -> None:
        self._key = self._current()
        self.hub.publish(TOPIC, self.data().model_dump(mode="json"))

    def tick(self, engine: Engine) -> None:
        if self._current() != self._key:
            self.publish()

    def attach(self) -> Callable[[], None]:
        return self.engine.on_tick(self.tick)
