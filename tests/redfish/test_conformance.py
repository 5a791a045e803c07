"""The DMTF Redfish Service Validator over a whole 2-PDU fleet: any FAIL fails the test."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from rf_support import ADMIN, ADMIN_PASSWORD, RedfishServer, build_settings, populate, serve

# ../shared beside the checkout, as in CI
VALIDATE = Path(__file__).resolve().parents[3] / "shared" / "redfish" / "validate-service.sh"


@pytest.fixture(scope="module")
def populated_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedfishServer]:
    """A fresh server with a session, a subscription, a user group and log entries to validate."""
    with serve(build_settings(tmp_path_factory.mktemp("conformance"))) as server:
        populate(server)
        yield server


@pytest.mark.slow
def test_the_dmtf_service_validator_reports_no_failures(
    populated_server: RedfishServer, tmp_path: Path
) -> None:
    script = VALIDATE
    if not script.is_file() or shutil.which("bash") is None:
        pytest.fail(f"the validator script is missing at {script}")
    result = subprocess.run(
        ["bash", str(script), populated_server.url, ADMIN, ADMIN_PASSWORD, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    table = re.search(r"\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|", output)
    assert table, f"no summary table in the validator output:\n{output[-3000:]}"
    passed, _warned, failed, _untested = (int(g) for g in table.groups())
    failures = [
        line
        for log in tmp_path.rglob("RedfishServiceValidatorDebug*.log")
        for line in log.read_text(errors="replace").splitlines()
        if " - ERROR - " in line
    ]
    print("\n".join(failures))
    assert failed == 0, "validator failures:\n" + "\n".join(failures[:50])
    assert passed > 1000
    assert result.returncode == 0
