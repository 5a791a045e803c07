"""Faults on the wire through REST ``/api/v1/faults`` and scripted scenarios, on a real backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rf_support import ADMIN, ADMIN_PASSWORD, build_settings

from energydash.app import BackgroundServer, create_app
from energydash.sim.scenario import ScenarioError, load_file

RACK = "/redfish/v1/PowerEquipment/RackPDUs"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    settings = build_settings(
        tmp_path_factory.mktemp("wire"), mqtt_ingest=False, mqtt_publish=False
    )
    with BackgroundServer(create_app(settings), port=settings.port) as server:
        yield server


def client(server: BackgroundServer, timeout: float = 10) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=(ADMIN, ADMIN_PASSWORD), timeout=timeout)


def inject(server: BackgroundServer, **body: object) -> dict:
    with client(server) as c:
        answer = c.post("/api/v1/faults", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def clear(server: BackgroundServer, fault_id: str) -> None:
    with client(server) as c:
        assert c.delete(f"/api/v1/faults/{fault_id}").status_code == 204


def tick(server: BackgroundServer, n: int, dt_s: float) -> None:
    engine = server.app.state.engine
    server.call(lambda: [engine.step(dt_s) for _ in range(n)])


def test_latency_on_one_pdu_delays_only_that_pdu(backend: BackgroundServer) -> None:
    fault = inject(backend, kind="wire_latency", pdu_id="2", params={"ms": 3000},
                   duration_s=600)  # fmt: skip
    with client(backend, timeout=1.0) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.get(f"{RACK}/2/Outlets/A1")
        assert c.get(f"{RACK}/1/Outlets/A1").status_code == 200
    with client(backend) as c:
        listed = c.get("/api/v1/faults").json()["faults"]
    clear(backend, fault["fault_id"])
    shown = next(f for f in listed if f["fault_id"] == fault["fault_id"])
    assert shown["layer"] == "wire" and shown["requests_hit"] == 1


def test_error_burst_on_a_uri_pattern_and_its_end_after_the_duration(
    backend: BackgroundServer,
) -> None:
    inject(backend, kind="wire_error", uri_pattern="/redfish/v1/Chassis/*/Sensors/*",
           params={"status": 500}, duration_s=30)  # fmt: skip
    with client(backend) as c:
        failed = c.get("/redfish/v1/Chassis/1/Sensors/PowerA1")
        fine = c.get("/redfish/v1/Chassis/1")
        tick(backend, 2, 20)  # past the 30 s of the burst
        after = c.get("/redfish/v1/Chassis/1/Sensors/PowerA1")
    assert failed.status_code == 500 and failed.json()["error"]["code"].endswith("InternalError")
    assert fine.status_code == 200 and after.status_code == 200


def test_timeout_drop_and_card_reboot(backend: BackgroundServer) -> None:
    timeout = inject(backend, kind="wire_timeout", uri_pattern="/redfish/v1/Managers*",
                     duration_s=600)  # fmt: skip
    with client(backend, timeout=1.0) as c, pytest.raises(httpx.ReadTimeout):
        c.get("/redfish/v1/Managers/BMC")
    clear(backend, timeout["fault_id"])
    drop = inject(backend, kind="wire_drop", uri_pattern="/redfish/v1/Systems*", duration_s=600)
    with client(backend) as c, pytest.raises(httpx.RemoteProtocolError):
        c.get("/redfish/v1/Systems")
    clear(backend, drop["fault_id"])
    reboot = inject(backend, kind="card_reboot", pdu_id="1", duration_s=60)
    with client(backend) as c:
        down = c.get(f"{RACK}/1")
        other = c.get(f"{RACK}/2")
    clear(backend, reboot["fault_id"])
    assert down.status_code == 503 and int(down.headers["Retry-After"]) >= 1
    assert other.status_code == 200


def test_bad_wire_faults_are_refused_with_the_field(backend: BackgroundServer) -> None:
    with client(backend) as c:
        no_duration = c.post("/api/v1/faults", json={"kind": "wire_drop", "pdu_id": "1"})
        both_targets = {"kind": "wire_drop", "pdu_id": "1", "uri_pattern": "/redfish/*",
                        "duration_s": 5}  # fmt: skip
        both = c.post("/api/v1/faults", json=both_targets)
        teapot = {"kind": "wire_error", "pdu_id": "1", "params": {"status": 418},
                  "duration_s": 5}  # fmt: skip
        bad_status = c.post("/api/v1/faults", json=teapot)
        listed = c.get("/api/v1/faults").json()["faults"]
    assert {no_duration.status_code, both.status_code, bad_status.status_code} == {422}
    assert "params.status" in bad_status.text
    assert not [f for f in listed if f.get("layer") == "wire"]


SCENARIO = {
    "name": "trip B then recover",
    "seed": 3,
    "steps": [
        {"at_s": 30, "name": "overload", "fault": {"kind": "branch_overload", "pdu_id": "1",
                                                     "target_id": "B", "params": {"multiple": 4}}},
        {"at_s": [40, 50], "name": "slow", "wire": {"kind": "wire_error", "pdu_id": "2",
                                                     "params": {"status": 503}, "duration_s": 100}},
        {"at_s": 90, "clear": "overload"},
        {"at_s": 95, "breaker": {"pdu_id": "1", "circuit_id": "B", "action": "On"}},
        {"at_s": 96, "clear": "slow"},
    ],
}  # fmt: skip


def test_a_posted_scenario_runs_on_the_sim_clock(backend: BackgroundServer) -> None:
    engine = backend.app.state.engine
    with client(backend) as c:
        started = c.post("/api/v1/scenarios", json=SCENARIO)
        assert started.status_code == 201, started.text
        tick(backend, 2, 20)  # t+40 s: overload injected
        at_40 = [f["kind"] for f in c.get("/api/v1/faults").json()["faults"]]
        tick(backend, 2, 10)  # t+60 s: the seeded wire burst has begun
        burst = c.get(f"{RACK}/2").status_code
        tick(backend, 4, 10)  # t+100 s: all done
        status = c.get("/api/v1/scenarios").json()[-1]
        after = c.get(f"{RACK}/2").status_code
        breaker = backend.call(lambda: engine.fleet.circuit("1", "B").breaker_state)
    assert "branch_overload" in at_40
    assert burst == 503 and after == 200
    assert status["done"] == status["total"] == 5
    assert breaker == "Normal"
    assert not any("refused" in line for line in status["log"]), status["log"]


def test_seeded_times_are_the_same_on_every_load(tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(SCENARIO))
    from energydash.sim.scenario import ScenarioRunner

    class _Clock:
        def timestamp(self) -> float:
            return 0.0

        def now(self):  # type: ignore[no-untyped-def]
            import datetime as dt

            return dt.datetime(2025, 1, 1, tzinfo=dt.UTC)

    class _Engine:
        clock = _Clock()

        def on_tick(self, fn):  # type: ignore[no-untyped-def]
            return lambda: None

    times = [
        [p.at_s for p in ScenarioRunner(_Engine()).start(load_file(path)).planned]  # type: ignore[arg-type]
        for _ in range(2)
    ]
    assert times[0] == times[1] and 40 <= times[0][1] <= 50


def test_a_bad_scenario_file_names_the_line_or_field(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nsteps:\n  - at_s: 1\n    fault: {kind: comm_loss\n")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("steps:\n  - at_s: 5\n    power: {pdu_id: '1', outlet_id: A1, action: Up}\n")
    with pytest.raises(ScenarioError, match=r"broken.yaml:\d+"):
        load_file(broken)
    with pytest.raises(ScenarioError, match=r"steps.0.power.action"):
        load_file(wrong)
