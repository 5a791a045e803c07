"""A dashboard started with default settings reads the backend through the service read token."""

from __future__ import annotations

import asyncio
from pathlib import Path

from auth_support import auth_settings, backend

from energydash.auth.secrets import read_token
from energydash.dashboard.app import create_dash_app


def test_the_default_dashboard_feed_goes_live_with_the_read_token(tmp_path: Path) -> None:
    settings = auth_settings(tmp_path)
    with backend(settings) as server:
        dashboard = create_dash_app(settings.model_copy(update={"backend_url": server.url}))
        feed = dashboard.server.state.energydash.feed
        assert read_token(settings).value not in feed.url  # a header, not the logged URL

        async def until_live() -> None:
            feed.ensure_started()
            try:
                deadline = asyncio.get_running_loop().time() + 15
                while feed.latest("pdu/1/summary") is None:
                    assert asyncio.get_running_loop().time() < deadline, feed._last_error
                    await asyncio.sleep(0.05)
            finally:
                await feed.stop()

        asyncio.run(until_live())
        assert feed.latest("pdu/1/summary")["pdu_id"] == "1"
