"""``create_dash_app(settings)``: the Dash web app on its FastAPI backend.

The shell (header with the logged-in user, navigation, connection indicator, the ``view``
store) stays mounted; pages swap below it. Live data reaches the browser only through the
per-tab WebSocket pump (``live.py``) fed by the process's one backend client (``feed.py``);
there is no polling. ``gate.py`` sits in front of all of it: nothing but the login form and
static assets is served without a login.
"""

from __future__ import annotations

from pathlib import Path

import dash
from dash import Dash, dcc, html

from energydash.auth.secrets import read_token
from energydash.config import Settings
from energydash.dashboard.components.alerts import alert_counts
from energydash.dashboard.components.status import connection_badge
from energydash.dashboard.context import DashboardContext
from energydash.dashboard.control import BackendControl
from energydash.dashboard.fastload import ASSETS_IGNORE, StaticGzipCache, index_string
from energydash.dashboard.feed import BackendFeed
from energydash.dashboard.gate import AuthGate, current_session
from energydash.dashboard.sessions import (
    CSRF_COOKIE,
    CSRF_HEADER,
    BackendLogin,
    SessionMap,
    backend_verify,
    tls_enabled,
)

ASSETS = Path(__file__).parent / "assets"
PAGES = (
    ("overview", "/", "Overview"),
    ("pdus", "/pdus", "PDUs"),
    ("map", "/map", "Map"),
    ("market", "/market", "Market"),
    ("sites", "/sites", "Sites"),
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
        csrf_token_name=CSRF_COOKIE,
        csrf_header_name=CSRF_HEADER,
        assets_ignore=ASSETS_IGNORE,
    )
    app.index_string = index_string(app.config.requests_pathname_prefix)
    verify = backend_verify(settings)
    context = DashboardContext(
        settings=settings,
        feed=feed
        or BackendFeed(
            settings.backend_base_url,
            history_points=settings.dashboard_history_points,
            reconnect_max_s=settings.dashboard_reconnect_max_s,
            token=read_token(settings).value,  # the shared feed reads as the ReadOnly service
            ssl_context=verify if not isinstance(verify, bool) else None,
        ),
        control=BackendControl(settings.backend_base_url, verify=verify),
        sessions=SessionMap(settings.dashboard_max_sessions),
        login=BackendLogin(settings),
    )
    app.server.state.energydash = context
    # Outermost (added last): every answer over 1 kB, scripts and layouts above all, goes
    # compressed to a browser that accepts gzip (the first load shrinks about fivefold).
    from starlette.middleware.gzip import GZipMiddleware

    app.server.add_middleware(
        AuthGate,
        sessions=context.sessions,
        backend=context.login,
        secure=tls_enabled(settings),
        check_every_s=settings.dashboard_session_check_s,
    )
    app.server.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=6)
    # Outside it: static files leave already compressed (once per file, not per request).
    app.server.add_middleware(
        StaticGzipCache, max_bytes=settings.dashboard_static_cache_mb * 1_000_000
    )
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
    register_socket_check_once()
    app.layout = shell
    return app


_socket_check: list[bool] = []


def register_socket_check_once() -> None:
    """Close a Dash WebSocket whose login ended (checked on every frame the browser sends).

    The browser re-opens it with the cookie it has now: a fresh login gets a fresh socket, no
    login gets none (the gate refuses the upgrade).
    """
    if _socket_check:
        return
    _socket_check.append(True)

    @dash.hooks.websocket_message()
    def login_still_valid(websocket, _message):  # type: ignore[no-untyped-def]
        context: DashboardContext = websocket.scope["app"].state.energydash
        session = current_session()
        if session is None or not context.sessions.holds(session):
            return (4401, "login ended")
        return True


def user_menu() -> html.Div:
    """The header's user name, role and logout form (a POST carrying the CSRF token)."""
    session = current_session()
    if session is None:
        return html.Div(id="user-menu", className="user-menu")
    return html.Div(
        [
            html.Span(session.username, id="header-user", className="user-name"),
            html.Span(
                session.role,
                id="header-role",
                className=f"role-badge role-{session.role.lower()}",
                title="Privileges: " + ", ".join(sorted(session.privileges)),
            ),
            html.Form(
                [
                    dcc.Input(type="hidden", name="csrf", value=session.csrf),
                    html.Button("Log out", id="logout", type="submit", className="btn btn-logout"),
                ],
                method="post",
                action="/logout",
                className="logout-form",
            ),
        ],
        id="user-menu",
        className="user-menu",
    )


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
                    html.Button(
                        "◐",
                        id="theme-toggle",
                        className="btn btn-theme",
                        **{"aria-label": "Dark theme"},
                    ),
                    user_menu(),
                ],
                className="topbar",
            ),
            # A callback that finds the user's backend session gone sends the tab to the login.
            dcc.Location(id="login-redirect", refresh=True),
            # The time picker and page selections write the URL here; Dash pages re-renders.
            dcc.Location(id="tp-url", refresh="callback-nav"),
            dcc.Store(id="view", data={}),
            dcc.Store(id="pump-kick", data=0),
            html.Main(dash.page_container, className="content"),
        ],
        className="app",
    )
