"""The README's aggregation client, run as printed against 50 per-PDU endpoints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from rf_support import ADMIN, ADMIN_PASSWORD, build_settings, free_port, serve

from energydash.net import free_port_run

README = Path(__file__).resolve().parents[2] / "README.md"
PDUS = 50


def readme_client() -> str:
    """The Python block after "An aggregation client polling 50 PDUs on 50 ports"."""
    text = README.read_text(encoding="utf-8")
    after = text.split("polling 50 PDUs on 50 ports:", 1)[1]
    match = re.search(r"```python\n(.*?)```", after, re.S)
    assert match, "README: the aggregation client's python block is missing"
    return match.group(1)


@pytest.mark.slow
def test_the_readme_aggregation_client_reads_every_pdus_own_endpoint(tmp_path: Path) -> None:
    base = free_port_run(PDUS)
    port = free_port()
    while base <= port < base + PDUS:
        port = free_port()
    settings = build_settings(tmp_path, pdu_count=PDUS, redfish_port_base=base, port=port)
    code = readme_client()
    assert 'auth=("admin", "secret")' in code and "base=9000" in code  # what the README shows
    code = code.replace('("admin", "secret")', repr((ADMIN, ADMIN_PASSWORD)))
    code = code.replace("base=9000", f"base={base}")
    with serve(settings) as server:
        server.tick(2)  # stepped clock: readings hold still until the next tick
        with server.client() as fleet:
            expected = [
                fleet.get(f"/redfish/v1/PowerEquipment/RackPDUs/{k}/Metrics").json()["PowerWatts"][
                    "Reading"
                ]
                for k in range(1, PDUS + 1)
            ]
        run = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
    assert run.returncode == 0, run.stderr[-2000:]
    printed = [float(line) for line in run.stdout.split()]
    assert printed == pytest.approx(expected)  # PDU k's endpoint is fleet PDU k, in order
    assert len(set(printed)) > 1  # the PDUs differ: not one endpoint answering 50 times
