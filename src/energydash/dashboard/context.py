"""What every callback of one dashboard process shares: settings, the backend feed, the REST client.

It hangs off the FastAPI server (``server.state.energydash``), built once by ``create_dash_app``.
It is read-only from a callback's point of view; per-user state never lives here except the
session map, which holds each login's backend token behind its cookie id (``sessions.py``), and
the requests each tab's live pump waits on (``answers.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dash

from energydash.config import Settings
from energydash.dashboard.answers import PumpAnswers
from energydash.dashboard.control import BackendControl
from energydash.dashboard.feed import BackendFeed
from energydash.dashboard.sessions import BackendLogin, SessionMap


@dataclass(frozen=True)
class DashboardContext:
    settings: Settings
    feed: BackendFeed
    control: BackendControl
    sessions: SessionMap  # logins of this process: cookie id -> the user's Redfish session
    login: BackendLogin
    # which request each tab's live pump waits on, so an answer on another socket reaches it
    pumps: PumpAnswers = field(default_factory=PumpAnswers)


def get_context() -> DashboardContext:
    """The context of the app serving the current callback."""
    return dash.get_app().server.state.energydash
