"""Sites: energy balance, storage bounds, monotonic meters and cost, by property and by case."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from energydash.config import Settings
from energydash.sim import sites as sim
from energydash.sim import state
from energydash.sim.commands import CommandError
from energydash.sim.engine import Engine
from energydash.sim.grid import NETWORK_REGIONS

COUNTERS = ("produced_kwh", "imported_kwh", "discharged_kwh", "consumed_kwh", "exported_kwh")


def make_engine(settings: Settings, start: datetime | None = None) -> Engine:
    cfg = settings.model_copy(update={"sim_start_time": start} if start else {})
    return Engine.from_settings(cfg, restore=False)


def add_site(engine: Engine, region: str = "NSW1", **limits: float) -> str:
    spec = sim.SiteSpec(name="Test site", region=region, **limits)
    return engine.execute(sim.CreateSite("7", spec)).message


def add(engine: Engine, site: str, **fields: object) -> str:
    return engine.execute(sim.AddSiteDevice(site, sim.DeviceSpec(**fields))).message  # type: ignore[arg-type]


device_specs = st.one_of(
    st.builds(lambda w: {"kind": "pv", "rated_w": w}, st.floats(100, 200_000, allow_nan=False)),
    st.builds(
        lambda w, p: {"kind": "load", "rated_w": w, "profile": p},
        st.floats(10, 150_000),
        st.sampled_from(sim.LOAD_PROFILES),
    ),
    st.builds(
        lambda cap, frac, rate, mode, sp, eff: {
            "kind": "battery",
            "capacity_wh": cap,
            "level_wh": cap * frac,
            "max_charge_w": rate,
            "mode": mode,
            "setpoint_w": sp,
            "efficiency": eff,
        },
        st.floats(100, 500_000),
        st.floats(0, 1),
        st.floats(0, 200_000),
        st.sampled_from(sim.MODES),
        st.floats(-200_000, 200_000),
        st.floats(0.5, 1.0),
    ),
    st.builds(
        lambda w, sp, fuel: {"kind": "generator", "rated_w": w, "setpoint_w": sp, "fuel_l": fuel},
        st.floats(1000, 200_000),
        st.floats(0, 200_000),
        st.floats(0, 50),
    ),
    st.builds(
        lambda w, kwh, h: {"kind": "ev_charger", "rated_w": w, "session_kwh": kwh, "plug_in_h": h},
        st.floats(1000, 22_000),
        st.floats(0, 80),
        st.floats(0, 23.9),
    ),
)


@hsettings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    region=st.sampled_from(NETWORK_REGIONS),
    export_limit=st.floats(0, 50_000),
    specs=st.lists(device_specs, min_size=1, max_size=8),
    steps=st.lists(st.floats(1.0, 1800.0), min_size=3, max_size=25),
    window=st.tuples(st.integers(0, 24), st.integers(0, 24)),
)
def test_energy_balances_storage_stays_in_bounds_meters_only_rise_and_cost_is_import_times_price(
    settings: Settings,
    region: str,
    export_limit: float,
    specs: list[dict[str, object]],
    steps: list[float],
    window: tuple[int, int],
) -> None:
    engine = make_engine(settings)
    site = add_site(engine, region, export_limit_w=export_limit)
    for spec in specs:
        add(engine, site, **spec)
    sites = engine.sites
    i = sites.site_index(site)
    s, d = sites.sites, sites.devices
    storage = np.isin(d.kind, sim.STORAGE_CODES)
    snapshots = [{c: float(s.data[c][i]) for c in sim.SITE_COUNTERS}]
    expected_cost = 0.0
    for dt in steps:
        engine.step(dt)
        price = engine.grid.regions[region].price_aud_per_mwh
        row = {c: float(s.data[c][i]) for c in sim.SITE_COUNTERS}
        expected_cost += (row["imported_kwh"] - snapshots[-1]["imported_kwh"]) * price / 1000.0
        snapshots.append(row)
        level, cap = d.level_wh[storage], d.capacity_wh[storage]
        assert np.all(level >= 0.0) and np.all(level <= cap), "storage left [0, capacity]"
        net = s.consumption_w[i] - s.production_w[i] + s.storage_flow_w[i]
        assert s.net_grid_flow_w[i] == pytest.approx(net, abs=1e-6)
    for before, after in itertools.pairwise(snapshots):
        for name in ("imported_kwh", "exported_kwh", "produced_kwh", "consumed_kwh"):
            assert after[name] >= before[name], f"{name} ran backwards"
    a, b = sorted(window)
    a, b = min(a, len(snapshots) - 1), min(b, len(snapshots) - 1)
    delta = {c: snapshots[b][c] - snapshots[a][c] for c in sim.SITE_COUNTERS}
    supply = delta["produced_kwh"] + delta["imported_kwh"] + delta["discharged_kwh"]
    demand = delta["consumed_kwh"] + delta["exported_kwh"] + delta["charged_kwh"]
    assert supply == pytest.approx(demand, rel=1e-9, abs=1e-9)
    assert s.import_cost_aud[i] == pytest.approx(expected_cost, rel=1e-9, abs=1e-9)


def test_pv_is_exactly_zero_at_night_and_produces_by_day(settings: Settings) -> None:
    # 02:00 AEST in Sydney is 16:00 UTC the day before
    engine = make_engine(settings, datetime(2025, 1, 14, 16, 0, tzinfo=UTC))
    site = add_site(engine, "NSW1", lat=-33.87, lng=151.21)
    pv = add(engine, site, kind="pv", rated_w=10_000)
    k = engine.sites.device_index(pv)
    for _ in range(5):
        engine.step(60.0)
        assert engine.sites.devices.power_w[k] == 0.0
    engine.step(10 * 3600.0)  # 12:00 local
    assert engine.sites.devices.power_w[k] > 2_000.0


def test_generator_produces_only_after_start_up_and_stops_when_fuel_runs_out(
    settings: Settings,
) -> None:
    engine = make_engine(settings)
    site = add_site(engine)
    gen = add(
        engine,
        site,
        kind="generator",
        rated_w=100_000,
        setpoint_w=50_000,
        startup_s=30,
        fuel_l=2.7,
        fuel_l_per_kwh=0.27,
    )
    k = engine.sites.device_index(gen)
    d = engine.sites.devices
    engine.step(10.0)
    engine.step(10.0)
    assert d.power_w[k] == 0.0, "still starting"
    engine.step(10.0)
    assert d.power_w[k] == pytest.approx(50_000.0)
    # 2.7 l at 0.27 l/kWh is 10 kWh: 50 kW for 12 minutes, minus what already ran
    for _ in range(20):
        engine.step(60.0)
    assert d.fuel_l[k] == 0.0
    assert d.power_w[k] == 0.0
    assert d.energy_kwh[k] == pytest.approx(10.0, rel=1e-6)


def test_building_loads_report_consistent_three_phase_voltage_current_and_power_factor(
    settings: Settings,
) -> None:
    engine = make_engine(settings)
    site = add_site(engine)
    for spec in sim.BUILDING_A[:5]:
        engine.execute(sim.AddSiteDevice(site, spec))
    engine.step(1.0)
    d = engine.sites.devices
    loads = np.flatnonzero(d.kind == sim.LOAD)
    assert set(d.name[k] for k in loads) == {
        "HVAC System",
        "LED Lighting",
        "Server Rack",
        "Production Line",
        "Kitchen Equipment",
    }
    for k in loads:
        assert d.voltage_v[k] == 400.0 and d.phases[k] == 3
        power = math.sqrt(3) * d.voltage_v[k] * d.current_a[k] * d.power_factor[k]
        assert power == pytest.approx(d.power_w[k], rel=1e-9)
        assert 0.0 <= d.power_w[k] <= d.rated_w[k]


def test_export_beyond_the_connection_limit_curtails_pv(settings: Settings) -> None:
    engine = make_engine(settings, datetime(2025, 1, 15, 2, 0, tzinfo=UTC))  # 12:00 Sydney
    site = add_site(engine, "NSW1", export_limit_w=1_000)
    add(engine, site, kind="pv", rated_w=50_000)
    engine.step(1.0)
    i = engine.sites.site_index(site)
    s = engine.sites.sites
    assert s.curtailed_w[i] > 0.0
    assert s.net_grid_flow_w[i] == pytest.approx(-1_000.0)


def test_time_of_use_charges_when_cheap_and_discharges_when_dear(settings: Settings) -> None:
    cheap = settings.model_copy(update={"site_tou_charge_below_aud_per_mwh": 1e6})
    engine = make_engine(cheap)
    site = add_site(engine)
    bat = add(
        engine,
        site,
        kind="battery",
        capacity_wh=10_000,
        level_wh=0,
        max_charge_w=2_000,
        mode="time_of_use",
    )
    engine.step(600.0)
    k = engine.sites.device_index(bat)
    assert engine.sites.devices.power_w[k] == pytest.approx(2_000.0)
    engine.sites.settings = settings.model_copy(
        update={
            "site_tou_charge_below_aud_per_mwh": -1e6,
            "site_tou_discharge_above_aud_per_mwh": -1e6,
        }
    )
    engine.step(60.0)
    assert engine.sites.devices.power_w[k] == pytest.approx(-2_000.0)


def test_day_counters_start_afresh_at_local_midnight(settings: Settings) -> None:
    engine = make_engine(settings, datetime(2025, 1, 15, 13, 0, tzinfo=UTC))  # 23:00 Sydney
    site = add_site(engine, "NSW1")
    add(engine, site, kind="load", rated_w=1_000)
    i = engine.sites.site_index(site)
    s = engine.sites.sites
    for _ in range(70):  # to 00:10 the next day
        engine.step(60.0)
    assert engine.sites.local_date(i) == "2025-01-16"
    assert s.day_consumed_kwh[i] < s.consumed_kwh[i]
    assert s.day_consumed_kwh[i] == pytest.approx(1.0 * 10 / 60, rel=0.05)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "pv", "rated_w": 5_000, "capacity_wh": 1}, "capacity_wh"),
        ({"kind": "battery", "max_charge_w": 500}, "capacity_wh"),
        ({"kind": "battery", "capacity_wh": 10, "level_wh": 11, "max_charge_w": 5}, "level_wh"),
        ({"kind": "load", "rated_w": -1}, "rated_w"),
        ({"kind": "load", "rated_w": 1, "profile": "jacuzzi"}, "profile"),
        ({"kind": "rocket"}, "kind"),
    ],
)
def test_type_rules_refuse_naming_the_field_and_change_nothing(
    settings: Settings, fields: dict[str, object], field: str
) -> None:
    engine = make_engine(settings)
    site = add_site(engine)
    before = engine.sites.n_devices
    with pytest.raises(CommandError) as error:
        add(engine, site, **fields)
    assert error.value.field == field
    assert engine.sites.n_devices == before


def test_update_level_above_capacity_is_refused(settings: Settings) -> None:
    engine = make_engine(settings)
    site = add_site(engine)
    bat = add(engine, site, kind="ev", capacity_wh=32_000, level_wh=12_000, max_charge_w=500)
    with pytest.raises(CommandError) as error:
        engine.execute(sim.UpdateSiteDevice(bat, sim.DeviceSpec(level_wh=40_000)))
    assert error.value.field == "level_wh"
    assert engine.sites.devices.level_wh[engine.sites.device_index(bat)] == 12_000


def test_sites_counters_and_storage_survive_a_restart(settings: Settings) -> None:
    engine = make_engine(settings)
    site = add_site(engine)
    add(engine, site, kind="load", rated_w=2_000)
    bat = add(engine, site, kind="battery", capacity_wh=5_000, level_wh=2_500, max_charge_w=1_000)
    for _ in range(10):
        engine.step(30.0)
    engine.save_state()
    restored = Engine.from_settings(settings)
    i = restored.sites.site_index(site)
    assert restored.sites.sites.imported_kwh[i] == engine.sites.sites.imported_kwh[0]
    k = restored.sites.device_index(bat)
    assert restored.sites.devices.level_wh[k] == engine.sites.devices.level_wh[k]
    assert restored.sites.next_device == engine.sites.next_device


def test_a_corrupt_sites_section_is_set_aside_naming_the_place(settings: Settings) -> None:
    engine = make_engine(settings)
    add_site(engine)
    engine.save_state()
    payload = state.load(engine.state_file)
    assert payload is not None
    payload["sites"]["devices"]["site"] = [5]  # one value where every other column has none
    state.save(engine.state_file, payload)
    fresh = Engine.from_settings(settings)
    # the bad file is moved aside, named in the state problems, and the previous good copy
    # (saved before the corruption, with the site) is used instead
    assert any("sites" in problem for problem in fresh.state_problems)
    assert list(engine.state_file.parent.glob("*unreadable*"))
    assert fresh.sites.n_sites == 1


def test_pdu_outlets_are_priced_by_their_sites_region(settings: Settings) -> None:
    engine = make_engine(settings)
    site = add_site(engine, "SA1")
    add(engine, site, kind="pdu", pdu_id=engine.fleet.pdus[0].id)
    engine.sites.prime(engine.clock.now(), engine.grid, engine.fleet)
    before = engine.fleet.lifetime_kwh.copy()
    engine.step(60.0)
    delta = engine.fleet.lifetime_kwh - before
    price = engine.grid.regions["SA1"].price_aud_per_mwh
    sl = engine.fleet.outlet_slice(engine.fleet.pdus[0].id)
    assert engine.sites.outlet_cost_aud[sl] == pytest.approx(delta[sl] * price / 1000.0)
    i = engine.sites.site_index(site)
    mains_w = delta[sl].sum() * 3.6e6 / 60.0
    assert engine.sites.sites.consumption_w[i] == pytest.approx(mains_w)


def test_an_ev_session_delivers_its_energy_once_a_day(settings: Settings) -> None:
    engine = make_engine(settings, datetime(2025, 1, 15, 7, 0, tzinfo=UTC))  # 17:00 Sydney
    site = add_site(engine)
    evc = add(engine, site, kind="ev_charger", rated_w=7_000, session_kwh=7, plug_in_h=18.0)
    k = engine.sites.device_index(evc)
    d = engine.sites.devices
    engine.step(1800.0)
    assert d.power_w[k] == 0.0, "not plugged in before 18:00"
    for _ in range(24):  # to 21:30
        engine.step(600.0)
    assert d.energy_kwh[k] == pytest.approx(7.0, rel=1e-6)
