"""Commands cost what they touch; a stalled engine shows in /metrics and /health."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from energydash.app import BackgroundServer, create_app
from energydash.config import Settings
from energydash.sim.commands import OutletPower
from energydash.sim.engine import Engine

ADMIN = ("admin", "energydash")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    cfg = settings.model_copy(update={"mqtt_ingest": False, "mqtt_publish": False})
    with TestClient(create_app(cfg)) as test_client:
        yield test_client


def seqs(client: TestClient) -> dict[str, int]:
    rows = client.get("/api/v1/topics", auth=ADMIN).json()["topics"]
    return {row["topic"]: row["seq"] for row in rows}


def test_an_outlet_command_refreshes_only_its_pdu_and_its_device(client: TestClient) -> None:
    engine: Engine = client.app.state.engine
    device = next(d for d in client.get("/api/v1/devices", auth=ADMIN).json()["devices"])
    pdu_id, outlet_id = device["pdu_id"], device["outlet_id"]
    before = seqs(client)
    response = client.post(
        f"/api/v1/pdus/{pdu_id}/outlets/{outlet_id}/power", json={"action": "Off"}, auth=ADMIN
    )
    assert response.status_code == 200, response.text
    after = seqs(client)
    changed = sorted(t for t in after if after[t] != before.get(t))
    # ... plus the audit topic, which records who switched it
    assert changed == sorted(
        [
            "audit",
            f"pdu/{pdu_id}/outlets",
            f"pdu/{pdu_id}/summary",
            f"devices/{device['device_id']}",
        ]
    )
    assert len(after) > 20  # the fleet has many more topics, none of them republished
    assert engine.pop_touched() == {}


def test_a_refused_command_refreshes_nothing_but_the_audit(client: TestClient) -> None:
    before = seqs(client)
    response = client.post("/api/v1/pdus/1/outlets/Z99/power", json={"action": "Off"}, auth=ADMIN)
    assert 400 <= response.status_code < 500
    after = seqs(client)
    assert {t for t in after if after[t] != before.get(t)} == {"audit"}  # the refusal is audited


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, name
    return float(match.group(1))


def wait_for(predicate: Callable[[], object], timeout_s: float = 20.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_an_engine_behind_its_clock_is_degraded_with_real_period_and_lag(
    settings: Settings,
) -> None:
    cfg = settings.model_copy(
        update={
            "mqtt_ingest": False,
            "mqtt_publish": False,
            "clock_mode": "accelerated",
            "speed": 20.0,  # a tick every 50 ms is due
            "max_tick_rate_hz": 20.0,
            "health_max_lag_s": 0.5,
        }
    )
    engine = Engine.from_settings(cfg)
    engine.on_tick(lambda _engine: time.sleep(0.2))  # each tick takes four times its slot
    with BackgroundServer(create_app(cfg, engine=engine), port=cfg.port) as server:

        def degraded() -> dict | None:
            body = httpx.get(server.url + "/health", auth=ADMIN, timeout=5).json()
            return body if body["status"] == "degraded" else None

        body = wait_for(degraded, what="degraded health")
        check = body["checks"]["engine"]  # type: ignore[index]
        assert check["ok"] is False and "behind its clock" in check["detail"]
        assert check["lag_s"] > 0.5 and check["tick_period_s"] > check["tick_interval_s"]
        text = httpx.get(server.url + "/metrics", auth=ADMIN, timeout=5).text
        assert _metric(text, "energydash_engine_lag_seconds") > 0.5
        period = _metric(text, "energydash_engine_tick_period_seconds")
        assert period > _metric(text, "energydash_engine_tick_interval_seconds")


def test_over_its_budget_the_tick_build_sheds_in_rotation_and_counts_it(
    settings: Settings,
) -> None:
    from energydash.hub import Hub
    from energydash.hub.snapshots import SnapshotPublisher

    cfg = settings.model_copy(update={"pdu_count": 6})
    engine = Engine.from_settings(cfg, restore=False)
    hub = Hub(cfg)
    snapshots = SnapshotPublisher(engine, hub)
    snapshots.publish()  # stepped clock: no budget, everything
    assert snapshots.pdus_deferred == 0
    engine.tick_interval_s = 1e-9  # a budget nothing fits in: one PDU per tick
    seqs = [hub.latest(f"pdu/{k}/outlets").seq for k in range(1, 7)]  # type: ignore[union-attr]
    snapshots.publish()
    after = [hub.latest(f"pdu/{k}/outlets").seq for k in range(1, 7)]  # type: ignore[union-attr]
    assert sum(b - a for a, b in zip(seqs, after, strict=True)) == 1
    assert snapshots.pdus_deferred == 5 and snapshots.device_pdus_deferred == 5
    for _ in range(5):
        snapshots.publish()
    final = [hub.latest(f"pdu/{k}/outlets").seq for k in range(1, 7)]  # type: ignore[union-attr]
    assert all(b == a + 1 for a, b in zip(seqs, final, strict=True))  # each PDU had its turn
    engine.execute(OutletPower("4", "A1", "Off"))
    snapshots.publish()  # a touched PDU goes first
    assert hub.latest("pdu/4/outlets").data["outlets"]["power_state"][0] == "Off"  # type: ignore[union-attr]


def test_a_budgeted_tick_build_lets_other_work_in_between_its_slices(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a realtime clock the build runs in slices with the event loop free between them
    (a 1,000-PDU build held every answer back for half a second); a tick arriving during a
    build ends it, and what it had not reached is counted as deferred and comes next."""
    import asyncio

    from energydash.hub import Hub, slices
    from energydash.hub.snapshots import SnapshotPublisher

    monkeypatch.setattr(slices, "SLICE_S", 0.0)  # one unit of work a slice
    cfg = settings.model_copy(update={"pdu_count": 6})
    engine = Engine.from_settings(cfg, restore=False)
    hub = Hub(cfg)
    snapshots = SnapshotPublisher(engine, hub)
    engine.tick_interval_s = 3600.0  # a budget everything fits in

    def outlet_seqs() -> list[int]:
        return [getattr(hub.latest(f"pdu/{k}/outlets"), "seq", 0) for k in range(1, 7)]

    async def run() -> None:
        before = outlet_seqs()
        snapshots.publish()
        assert snapshots._builds.running  # the first slice did not finish the build
        assert sum(b - a for a, b in zip(before, outlet_seqs(), strict=True)) == 1
        interleaved = []

        async def other_work() -> None:  # e.g. a REST answer waiting for the loop
            interleaved.append(sum(b - a for a, b in zip(before, outlet_seqs(), strict=True)))

        await asyncio.create_task(other_work())
        assert interleaved and interleaved[0] < 6  # it ran while PDU tables were still due
        while snapshots._builds.running:
            await asyncio.sleep(0)
        assert all(b == a + 1 for a, b in zip(before, outlet_seqs(), strict=True))
        assert snapshots.pdus_deferred == 0 and snapshots.device_pdus_deferred == 0
        assert snapshots.slices > 6 and hub.latest(f"market/{engine.grid.network}") is not None

        # a tick in the middle of a build ends it: the rest is deferred, the rotation resumes
        middle = outlet_seqs()
        snapshots.publish()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        reached = sum(b - a for a, b in zip(middle, outlet_seqs(), strict=True))
        assert 0 < reached < 6
        snapshots.publish()
        assert snapshots.pdus_deferred == 6 - reached and snapshots.device_pdus_deferred == 6
        while snapshots._builds.running:
            await asyncio.sleep(0)
        assert all(b >= a + 1 for a, b in zip(middle, outlet_seqs(), strict=True))

    asyncio.run(run())
