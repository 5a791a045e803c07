"""Engine tick → equipment condition sensors → hub topic ``analytics/equipment``.

The engine knows nothing of the equipment: this tick listener steps it with the engine's clock
and publishes ``EquipmentData``, so detection reads the equipment from the hub as it reads PDUs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from energydash.hub import Hub
from energydash.models.alerts import EquipmentData, FaultLabelRow, FaultsData
from energydash.sim.engine import Engine
from energydash.sim.equipment import UNIT_KINDS, Equipment

TOPIC = "analytics/equipment"
FAULTS_TOPIC = "analytics/faults"
MAX_FAULT_ROWS = 500


def equipment_data(equipment: Equipment) -> EquipmentData:
    values, duty, ambient = equipment.snapshot()
    kinds = [UNIT_KINDS[k] for k in equipment.unit_kind[equipment.sensor_unit].tolist()]
    rounded = np.round(values, 3)
    return EquipmentData(
        sensor_id=equipment.sensor_ids,
        unit_id=[equipment.units[u].id for u in equipment.sensor_unit.tolist()],
        unit_kind=kinds,
        uom=equipment.sensor_uoms,
        value=[None if v != v else v for v in rounded.tolist()],
        duty=np.round(duty, 4).tolist(),
        ambient_c=np.round(ambient, 2).tolist(),
    )


class EquipmentPublisher:
    def __init__(self, engine: Engine, hub: Hub, equipment: Equipment) -> None:
        self.engine = engine
        self.hub = hub
        self.equipment = equipment
        self._last: datetime | None = None
        self._faults_key: tuple[int, int] | None = None

    def local_hour(self, now: datetime) -> float:
        local = now + timedelta(hours=self.engine.settings.site_utc_offset_h)
        return local.hour + local.minute / 60.0 + local.second / 3600.0

    def tick(self, engine: Engine) -> None:
        now = engine.clock.now()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        dt = 1.0 if self._last is None else (now - self._last).total_seconds()
        if dt <= 0:
            return
        self._last = now
        self.equipment.step(now, dt, self.local_hour(now))
        self.hub.publish(TOPIC, equipment_data(self.equipment).model_dump(), ts=now)
        labels = self.equipment.labels
        key = (len(labels), sum(1 for label in labels if label.end is not None))
        if key != self._faults_key:
            self._faults_key = key
            rows = [
                FaultLabelRow(
                    id=lab.id,
                    kind=lab.kind,
                    target=lab.target,
                    start=lab.start,
                    end=lab.end,
                    fail_at=lab.fail_at,
                )
                for lab in labels[-MAX_FAULT_ROWS:]
            ]
            self.hub.publish(FAULTS_TOPIC, FaultsData(faults=rows).model_dump(mode="json"), ts=now)

    def attach(self) -> Callable[[], None]:
        return self.engine.on_tick(self.tick)
