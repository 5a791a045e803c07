"""TLS end to end: with ENERGYDASH_TLS the dashboard serves HTTPS with the backend's generated
certificate, marks its cookies Secure, and talks to the backend over https/wss verified
against that certificate."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from processes import ACCOUNTS, Service, backend, dashboard

from browser import log_in_as, start_chromium, text, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def tls_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Service]]:
    workdir = tmp_path_factory.mktemp("tls")
    server = backend(workdir, pdus=1, facilities=10, tls=True).start()
    web = dashboard(workdir, server).start()
    try:
        yield server, web
    finally:
        web.stop()
        server.stop()


def test_dashboard_over_https_sets_secure_cookies_and_logs_in_over_https(tls_stack) -> None:
    server, web = tls_stack
    assert web.url.startswith("https://") and server.url.startswith("https://")
    with httpx.Client(base_url=web.url, verify=web.verify) as client:  # the one certificate
        page = client.get("/login")
        assert "Secure" in page.headers["set-cookie"]
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        username, password = ACCOUNTS["Operator"]
        answer = client.post(
            "/login",
            data={"csrf": csrf, "next": "/", "username": username, "password": password},
            headers={"Origin": web.url},
        )
        assert answer.status_code == 303, answer.text  # the backend was reached over https
        cookies = answer.headers.get_list("set-cookie")
        assert all("; Secure" in c for c in cookies)
        assert client.get("/auth/session").json()["role"] == "Operator"
    with pytest.raises(httpx.ConnectError):
        httpx.get(web.url + "/login")  # not trusted without the generated certificate


def test_live_feed_reaches_the_browser_over_wss(tls_stack) -> None:
    _, web = tls_stack
    # The browser does not know the generated certificate; the dashboard itself verifies it.
    driver = start_chromium(extra_flags=("--ignore-certificate-errors",))
    try:
        log_in_as(driver, web.url, *ACCOUNTS["ReadOnly"])
        wait_until(lambda: text(driver, "conn-text") == "Live", timeout_s=30)
        wait_until(lambda: "kW" in (text(driver, "ov-power") or ""), timeout_s=20)
        assert driver.get_cookie("energydash_session")["secure"]
    finally:
        driver.quit()
