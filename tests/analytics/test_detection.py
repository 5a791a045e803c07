"""Equipment faults raise the right alert through the hub, and resolve when cleared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from energydash.analytics.scenario import EXPECTED_EQUIPMENT
from energydash.analytics.service import AnalyticsService
from energydash.config import Settings
from energydash.hub import Hub
from energydash.hub.equipment import TOPIC, equipment_data
from energydash.models.alerts import Alert
from energydash.sim import equipment as equipment_module
from energydash.sim.equipment import Equipment, EquipmentError

START = datetime(2025, 1, 15, tzinfo=UTC)


class Plant:
    """A small plant published to a hub each second, with analytics attached."""

    def __init__(self, settings: Settings) -> None:
        self.equipment = Equipment(5, 2, 2, 2, 1)
        self.hub = Hub(settings)
        self.service = AnalyticsService(settings, self.hub)
        self.service.attach()
        self.t = 0

    @property
    def now(self) -> datetime:
        return START + timedelta(seconds=self.t)

    def run(self, seconds: int) -> None:
        for _ in range(seconds):
            self.t += 1
            self.equipment.step(self.now, 1.0, (10 + self.t / 3600) % 24)
            self.hub.publish(TOPIC, equipment_data(self.equipment).model_dump(), ts=self.now)

    def live(self) -> list[Alert]:
        return self.service.book.live()

    def until(self, predicate, limit_s: int) -> int:  # type: ignore[no-untyped-def]
        """Step until ``predicate()`` holds; seconds it took (fails after ``limit_s``)."""
        for waited in range(limit_s):
            if predicate():
                return waited
            self.run(1)
        raise AssertionError(f"not within {limit_s} sim s; live alerts: {self.live()}")


def test_default_plant_carries_at_least_300_condition_sensors(settings: Settings) -> None:
    defaults = Settings.model_construct(**{**Settings().model_dump(), "seed": 1})
    plant = equipment_module.from_settings(defaults, ["1", "2", "3", "4"])
    assert plant.sensor_count >= 300
    kinds = {u.kind for u in plant.units}
    assert kinds == {"hvac", "motor", "pump", "probe"}


def test_same_seed_same_readings_and_another_seed_differs() -> None:
    runs = []
    for seed in (3, 3, 4):
        plant = Equipment(seed, 2, 2, 2, 1)
        for k in range(5):
            plant.step(START + timedelta(seconds=k), 1.0, 12.0)
        runs.append(plant.values.copy())
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_fault_request_naming_no_such_sensor_changes_nothing() -> None:
    plant = Equipment(3, 1, 1, 1, 0)
    with pytest.raises(EquipmentError, match="target"):
        plant.inject("sensor_stuck", "motor-09/bearing_temp_c", START)
    with pytest.raises(EquipmentError, match="develops in motor or pump"):
        plant.inject("bearing_wear", "hvac-01", START)
    assert plant.labels == []


CASES = [
    ("sensor_stuck", "pump-01/bearing_temp_c", {}),
    ("sensor_dropout", "motor-02/winding_temp_c", {}),
    ("sensor_noisy", "hvac-01/discharge_temp_c", {"multiple": 8.0}),
    ("comm_loss", "motor-01", {}),
    ("bearing_wear", "motor-02", {"develop_s": 900.0}),
    ("refrigerant_leak", "hvac-02", {"develop_s": 900.0}),
    ("clogged_filter", "hvac-01", {"develop_s": 900.0}),
    ("sensor_drift", "pump-02/discharge_pressure_kpa", {"rate_per_h": 2.0}),
]


@pytest.mark.parametrize(("kind", "target", "params"), CASES, ids=[c[0] for c in CASES])
def test_equipment_fault_raises_the_right_alert_and_resolves_when_cleared(
    settings: Settings, kind: str, target: str, params: dict[str, float]
) -> None:
    plant = Plant(settings)
    plant.run(700)  # past the detector's warm-up
    assert plant.live() == []
    label = plant.equipment.inject(kind, target, plant.now, **params)
    expected = EXPECTED_EQUIPMENT[kind]

    def right() -> list[Alert]:
        return [
            a
            for a in plant.live()
            if (a.source, a.kind) in expected
            and (a.target == target or a.target.startswith(target + "/"))
        ]

    plant.until(lambda: bool(right()), 1200)
    raised = right()[0]
    assert raised.first_seen >= label.start
    plant.equipment.clear(label.id, plant.now)
    plant.until(lambda: raised.state == "resolved", 600)
    assert raised.resolved_at is not None and raised.resolved_at >= raised.first_seen
    # the change reached the hub topic every face reads
    topic = plant.hub.latest("alerts")
    assert topic is not None
    assert raised.id not in {a["id"] for a in topic.data["alerts"]}


def test_a_pdu_feed_that_stops_is_a_stale_feed_until_it_comes_back(settings: Settings) -> None:
    plant = Plant(settings)
    frame = {
        "pdu_id": "7",
        "name": "Rack PDU 7",
        "branches": [],
        "outlets": {"id": ["A1"], "branch_id": ["A"], "health": ["OK"], "power_w": [10.0]},
    }
    plant.hub.publish("pdu/7/outlets", frame, ts=plant.now)
    limit = int(settings.analytics_stale_after_s)
    plant.run(limit)
    assert not [a for a in plant.live() if a.source == "stale_feed"]
    plant.run(2)
    (stale,) = [a for a in plant.live() if a.source == "stale_feed"]
    assert stale.target == "pdu/7" and "no telemetry from PDU 7 since" in stale.message
    plant.hub.publish("pdu/7/outlets", frame, ts=plant.now)
    plant.run(1)
    assert stale.state == "resolved"
