"""The DMTF Redfish Interop Validator with the OCP Rack PDU profile over a 2-PDU fleet.

The fleet has a PDU of every device profile that claims the OCP profile
(``redfish.profiles.OCP_PROFILES``: dmtf, raritan-px3), so one run checks them all.

``validate-interop.sh`` runs redfish-interop-validator 3.0.4, whose ``AnyOf`` use-case
comparison never matches (``helper.evaluate_comparison`` has no branch for it), so the
profile's Circuit use case "Branches" (``CircuitType`` AnyOf Branch, Bus) can match no
resource of any service and is reported once as "Required Resource Error: Resource not found".
The first test allows exactly that FAIL; the second runs the same script over a copy of the
profile (in a temporary folder) whose only change is ``AnyOf`` -> ``Equal`` (which the
validator evaluates as "one of the values"), so the Branch requirements are checked too, and
allows no FAIL at all.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from rf_support import ADMIN, ADMIN_PASSWORD, RedfishServer, build_settings, populate, serve

from energydash.redfish.profiles import OCP_PROFILES

SHARED = Path(__file__).resolve().parents[3] / "shared" / "redfish"
VALIDATOR_DEFECT = "Use Case: Branches"
OCP_FLEET = {"pdu_count": max(2, len(OCP_PROFILES)), "pdu_profiles": ",".join(OCP_PROFILES)}


@pytest.fixture(scope="module")
def populated_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedfishServer]:
    with serve(build_settings(tmp_path_factory.mktemp("interop"), **OCP_FLEET)) as server:
        populate(server)
        yield server


def run_interop(script: Path, url: str, report: Path) -> tuple[int, int, list[str], int]:
    """(passed, failed, FAIL messages of the HTML report, exit status)."""
    result = subprocess.run(
        ["bash", str(script), url, ADMIN, ADMIN_PASSWORD, str(report)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    table = re.search(r"\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|", output)
    assert table, f"no summary table in the validator output:\n{output[-3000:]}"
    passed, _warned, failed, _untested = (int(g) for g in table.groups())
    fails = [
        re.sub(r"<[^>]+>", " ", m)
        for html in report.rglob("*.html")
        for m in re.findall(r'class="msg-fail">(.*?)</div>', html.read_text(errors="replace"))
    ]
    fails += [
        line
        for log in report.rglob("RedfishInteropValidatorDebug*.log")
        for line in log.read_text(errors="replace").splitlines()
        if " - ERROR - " in line
    ]
    return passed, failed, fails, result.returncode


@pytest.mark.slow
def test_ocp_rack_pdu_profile_has_no_failure_but_the_validators_own(
    populated_server: RedfishServer, tmp_path: Path
) -> None:
    script = SHARED / "validate-interop.sh"
    assert script.is_file(), f"the validator script is missing at {script}"
    passed, failed, fails, _ = run_interop(script, populated_server.url, tmp_path)
    print("\n".join(fails))
    assert failed <= 1, "interop failures:\n" + "\n".join(fails[:50])
    assert all(VALIDATOR_DEFECT in f for f in fails), fails
    assert passed > 5000


@pytest.mark.slow
def test_ocp_rack_pdu_profile_branch_use_case_passes_too(
    populated_server: RedfishServer, tmp_path: Path
) -> None:
    folder = tmp_path / "redfish"
    (folder / "profiles").mkdir(parents=True)
    shutil.copy(SHARED / "validate-interop.sh", folder)
    shutil.copy(SHARED / "profiles" / "OCPServiceBaseline.v1_0_0.json", folder / "profiles")
    profile = json.loads((SHARED / "profiles" / "OCPRackPDU.v1_0_0.json").read_text())
    for use_case in profile["Resources"]["Circuit"]["UseCases"]:
        if use_case.get("UseCaseComparison") == "AnyOf":
            use_case["UseCaseComparison"] = "Equal"
    (folder / "profiles" / "OCPRackPDU.v1_0_0.json").write_text(json.dumps(profile))
    passed, failed, fails, status = run_interop(
        folder / "validate-interop.sh", populated_server.url, tmp_path / "report"
    )
    print("\n".join(fails))
    assert failed == 0, "interop failures:\n" + "\n".join(fails[:50])
    assert status == 0
    assert passed > 5000


@pytest.mark.slow
def test_a_per_pdu_endpoint_meets_the_profile_too(tmp_path: Path) -> None:
    from energydash.net import free_port_run

    base = free_port_run(OCP_FLEET["pdu_count"])
    settings = build_settings(tmp_path / "cards", redfish_port_base=base, **OCP_FLEET)
    with serve(settings) as server:
        server.tick(3)
        passed, failed, fails, _ = run_interop(
            SHARED / "validate-interop.sh", f"http://127.0.0.1:{base + 1}", tmp_path / "report"
        )
    print("\n".join(fails))
    assert failed <= 1, "interop failures:\n" + "\n".join(fails[:50])
    assert all(VALIDATOR_DEFECT in f for f in fails), fails
    assert passed > 2000
