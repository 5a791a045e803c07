"""The DMTF Redfish Service Validator over one fleet with a PDU of every device profile.

PDU k has profile k of ``PDU_PROFILES`` (dmtf, schneider-mock, raritan-px3, enlogic), so one
validator run covers them all. A FAIL fails the test unless it is one of the documented quirks
of that PDU's profile, listed in ``QUIRK_FAILS`` below (and in the README); each listed quirk
must show up, so the test also proves the quirky shapes are what a validator sees.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from rf_support import ADMIN, ADMIN_PASSWORD, RedfishServer, build_settings, populate, serve

from energydash.config import PDU_PROFILES
from energydash.redfish.profiles import PROFILES

# ../shared beside the checkout, as in CI
VALIDATE = Path(__file__).resolve().parents[3] / "shared" / "redfish" / "validate-service.sh"
RACK = "/redfish/v1/PowerEquipment/RackPDUs/"
# the FAILs a profile's documented non-conformant quirks cause (the WARN-only ones are absent)
QUIRK_FAILS = {
    "id-differs-from-uri": re.compile(
        r"FAIL - /Id \(OUTLET \d+\): Invalid Identifier Error: The identifier 'OUTLET \d+' "
    ),
    "action-target-without-actions": re.compile(
        r"FAIL - /Actions/#[\w.]+/target \(/redfish/v1/PowerEquipment/RackPDUs/\w+/"
        r"[^()]*(?<!/Actions)/[A-Za-z]+\.[A-Za-z]+\): Action URI Error"
    ),
}


@pytest.fixture(scope="module")
def populated_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedfishServer]:
    """A fresh server with a session, a subscription, a user group and log entries to validate."""
    settings = build_settings(
        tmp_path_factory.mktemp("conformance"),
        pdu_count=len(PDU_PROFILES),
        pdu_profiles=",".join(PDU_PROFILES),
        # 24 outlets a PDU: every resource kind is there, and 4 PDUs cost what 2 of 48 did
        pdu_outlets_per_branch=8,
    )
    with serve(settings) as server:
        populate(server)
        yield server


@pytest.mark.slow
def test_the_dmtf_service_validator_fails_only_on_documented_profile_quirks(
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
    passed, warned, failed, _untested = (int(g) for g in table.groups())
    print(f"Service Validator: {passed} PASS, {warned} WARN, {failed} FAIL")
    failures = [
        line
        for log in tmp_path.rglob("RedfishServiceValidatorDebug*.log")
        for line in log.read_text(errors="replace").splitlines()
        if " - ERROR - " in line
    ]
    seen: set[str] = set()
    unexpected = []
    for line in failures:
        quirk = _quirk_of(line)
        if quirk is None:
            unexpected.append(line)
        else:
            seen.add(quirk)
    print("\n".join(unexpected))
    assert not unexpected, "validator failures:\n" + "\n".join(unexpected[:50])
    assert failed == len(failures)
    documented = {q for p in PROFILES.values() for q in p.quirks if q in QUIRK_FAILS}
    assert seen == documented, f"quirks the validator did not see: {documented - seen}"
    assert passed > 1000


def _quirk_of(line: str) -> str | None:
    """The documented quirk behind a FAIL line, if a PDU with that quirk can have caused it.

    A line naming a PDU's URI must be about a PDU whose profile has the quirk; a line naming
    none (the validator prints only ``/Id (OUTLET 9)``) must match a quirk of the fleet.
    """
    pdu = re.search(re.escape(RACK) + r"(\w+)/", line)
    if pdu is None:
        profiles = [PROFILES[name] for name in PDU_PROFILES]
    else:
        profiles = [PROFILES[PDU_PROFILES[int(pdu.group(1)) - 1]]]
    for quirk, pattern in QUIRK_FAILS.items():
        if pattern.search(line) and any(quirk in p.quirks for p in profiles):
            return quirk
    return None
