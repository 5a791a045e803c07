"""A fleet larger than one site's device bound still starts: Building A takes what fits."""

from __future__ import annotations

import numpy as np

from energydash.config import Settings
from energydash.sim.engine import Engine


def test_a_fleet_over_the_site_device_bound_starts_and_building_a_stays_within_it(
    settings: Settings,
) -> None:
    cfg = settings.model_copy(update={"pdu_count": 120, "site_max_devices_per_site": 100})
    engine = Engine.from_settings(cfg)
    engine.sites.seed_demo([("1", "admin", "Administrator")], engine.fleet)
    sites = engine.sites
    per_site = np.bincount(np.asarray(sites.devices.site))
    assert 0 < per_site.max() <= 100
    engine.step()
