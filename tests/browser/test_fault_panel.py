"""Faults injected through `POST /api/v1/faults` show on the dashboard's PDUs page (topic
``faults``): a wire fault on one PDU on that PDU's page only, a URI-pattern one on every PDU's,
and they leave the page when cleared. Real backend, real dashboard, headless Chromium."""

from __future__ import annotations

import httpx
import pytest
from processes import ACCOUNTS

from browser import console_errors, text, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_wire_faults_show_on_the_pdu_page_and_go_when_cleared(stack, operator, driver) -> None:
    server, web = stack
    with httpx.Client(base_url=server.url, auth=ACCOUNTS["Administrator"], timeout=10) as api:
        latency = api.post(
            "/api/v1/faults",
            json={"kind": "wire_latency", "pdu_id": "2", "params": {"ms": 5}, "duration_s": 3600},
        )
        burst = api.post(
            "/api/v1/faults",
            json={"kind": "wire_error", "uri_pattern": "/redfish/v1/Systems*",
                  "params": {"status": 503}, "duration_s": 3600},
        )  # fmt: skip
        assert latency.status_code == 201 and burst.status_code == 201, latency.text
        latency_id, burst_id = latency.json()["fault_id"], burst.json()["fault_id"]
        try:
            driver.get(web.url + "/pdus?pdu=2")

            # both faults, once the coalesced faults topic has carried the second one too
            def both() -> str | None:
                shown = text(driver, "pdu-faults") or ""
                return (
                    shown
                    if "wire_latency on PDU 2" in shown and "wire_error on URIs" in shown
                    else None
                )

            shown = wait_until(both, timeout_s=30)
            driver.get(web.url + "/pdus?pdu=1")
            wait_until(lambda: "wire_error on URIs" in (text(driver, "pdu-faults") or ""))
            other = text(driver, "pdu-faults")
        finally:
            api.delete(f"/api/v1/faults/{latency_id}")
            api.delete(f"/api/v1/faults/{burst_id}")
        wait_until(lambda: text(driver, "pdu-faults") == "", timeout_s=20)
    assert f"Fault {latency_id} (wire)" in shown and "/redfish/v1/Systems*" in shown
    assert "wire_latency" not in other
    assert console_errors(driver) == []
