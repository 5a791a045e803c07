"""`energydash serve --scenario FILE.yaml` on a real process: the steps run on the sim clock;
a bad file stops the start with its file:line and a non-zero exit, before anything listens."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
from processes import ACCOUNTS, ENERGYDASH, _environment, backend

pytestmark = pytest.mark.slow
ADMIN = ACCOUNTS["Administrator"]
RACK = "/redfish/v1/PowerEquipment/RackPDUs"
SCENARIO = """\
name: cli scenario
seed: 11
steps:
  - at_s: 60
    name: trip
    fault: {kind: branch_overload, pdu_id: "1", target_id: B, params: {multiple: 4}}
  - at_s: [120, 180]
    name: down
    wire: {kind: wire_error, pdu_id: "2", params: {status: 503}, duration_s: 86400}
"""


def test_serve_with_a_yaml_scenario_runs_its_steps_on_the_sim_clock(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    svc = backend(tmp_path, pdus=2, facilities=10, ENERGYDASH_CLOCK_MODE="accelerated",
                  ENERGYDASH_SPEED="120")  # fmt: skip
    svc.args = [*svc.args, "--scenario", str(scenario)]
    svc.start()
    try:
        with httpx.Client(base_url=svc.url, auth=ADMIN, timeout=10) as client:
            deadline = time.monotonic() + 60
            while client.get(f"{RACK}/2").status_code != 503:  # the seeded wire step
                assert time.monotonic() < deadline, client.get("/api/v1/scenarios").text
                time.sleep(0.2)
            runs = client.get("/api/v1/scenarios").json()
            faults = client.get("/api/v1/faults").json()["faults"]
            pdu_1 = client.get(f"{RACK}/1").status_code
    finally:
        svc.stop()
    run = next(r for r in runs if r["name"] == "cli scenario")
    assert run["done"] == run["total"] == 2
    kinds = {f["kind"] for f in faults}
    assert {"branch_overload", "wire_error"} <= kinds
    assert pdu_1 == 200


def test_serve_refuses_a_bad_scenario_file_naming_its_line(tmp_path: Path) -> None:
    scenario = tmp_path / "broken.yaml"
    scenario.write_text("name: x\nsteps:\n  - at_s: 1\n    fault: {kind: comm_loss\n")
    done = subprocess.run(
        [*ENERGYDASH, "serve", "--scenario", str(scenario)],
        env=_environment(tmp_path, {}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "broken.yaml:" in done.stdout + done.stderr
