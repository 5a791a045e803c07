"""``create_dash_app(settings)``: the Dash web app on its FastAPI backend.

The shell (header, navigation, connection indicator, the ``view`` store) stays mounted; pages
swap below it. Live data reaches the browser only through the per-tab WebSocket pump
(``live.py``) fed by the process's one backend client (``feed.py``); there is no polling.
"""

from __future__ import annotations

from pathlib import Path

import dash
from dash import Dash, dcc, html

from energydash.config import Settings
from energydash.dashboard.components.alerts import alert_counts
from energydash.dashboard.components.status import connection_badge
from energydash.dashboard.context import DashboardContext
from energydash.dashboard.control import BackendControl
from energydash.dashboard.feed import BackendFeed

ASSETS = Path(__file__).parent / "assets"
PAGES = (
    ("overview", "/", "Overview"),
    ("pdus", "/pdus", "PDUs"),
    ("map", "/map", "Map"),
    ("market", "/market", "Market"),
    ("analytics", "/analytics", "Analytics"),
)


def create_dash_app(settings: Settings, *, feed: BackendFeed | None = None) -> Dash:
    """Build the app; its FastAPI server is ``app.server`` (served by uvicorn)."""
    import importlib

    from energydash.dashboard import live

    app = Dash(
        __name__,
        backend="fastapi",
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS),
        title="EnergyDash",
        update_title=None,
        suppress_callback_exceptions=True,
        websocket_callbacks=False,
        websocket_inactivity_timeout=0,  # the pump keeps the socket busy; never drop it
        websocket_max_workers=4,
    )
    token = settings.ws_token.get_secret_value() if settings.ws_token else None
    context = DashboardContext(
        settings=settings,
        feed=feed
        or BackendFeed(
            settings.backend_base_url,
            history_points=settings.dashboard_history_points,
            reconnect_max_s=settings.dashboard_reconnect_max_s,
            token=token,
        ),
        control=BackendControl(settings.backend_base_url),
    )
    app.server.state.energydash = context
    for module_name, path, name in PAGES:
        module = importlib.import_module(f"energydash.dashboard.pages.{module_name}")
        dash.register_page(
            module.__name__,
            path=path,
            name=name,
            title=f"EnergyDash · {name}",
            layout=module.layout,
        )
    live.register_pump_once()
    app.layout = shell()
    return app


def shell() -> html.Div:
    links = [
        dcc.Link(name, href=path, className="nav-link", id=f"nav-{module}")
        for module, path, name in PAGES
    ]
    return html.Div(
        [
            html.Header(
                [
                    html.Div(
                        [html.Span("⚡", className="logo"), html.Span("EnergyDash")],
                        className="brand",
                    ),
                    html.Nav(links, className="nav"),
                    alert_counts(),
                    connection_badge(),
                ],
                className="topbar",
            ),
            dcc.Store(id="view", data={}),
            dcc.Store(id="pump-kick", data=0),
            html.Main(dash.page_container, className="content"),
        ],
        className="app",
    )
