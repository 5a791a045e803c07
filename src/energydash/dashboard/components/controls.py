"""Control buttons that know who is looking: disabled, with the reason, for a role that may not.

A page builds its buttons with ``guarded_button``; a control callback asks ``refusal`` before
it calls the backend (so a ReadOnly user's click never becomes a request, whatever the page
was tampered with) and ``shown`` turns the backend's answer into the result line, sending the
tab back to the login form when the backend says the session is gone.
"""

from __future__ import annotations

from typing import Any

from dash import html, set_props

from energydash.dashboard.control import ControlResult
from energydash.dashboard.gate import current_session
from energydash.dashboard.sessions import DashSession

EXPIRED_LOGIN = "/login?expired=1"


def why_not(privilege: str, session: DashSession | None = None) -> str:
    """'' when the current user holds ``privilege``, else the tooltip that says why not."""
    session = session or current_session()
    if session is None:
        return "Log in to use this control"
    return session.why_not(privilege)


def guarded_button(
    label: str,
    button_id: Any,
    privilege: str,
    class_name: str,
    *,
    session: DashSession | None = None,
    extra_reason: str = "",
    title: str = "",
) -> html.Button:
    """A button disabled (tooltip says why) unless the user's role holds ``privilege``."""
    reason = why_not(privilege, session) or extra_reason
    return html.Button(
        label,
        id=button_id,
        n_clicks=0,
        disabled=bool(reason),
        title=reason or title,
        className=class_name + (" btn-locked" if reason else ""),
    )


def refusal(privilege: str) -> str:
    """Why the current user may not do this ('' when they may): checked before any request."""
    return why_not(privilege)


def token() -> str:
    session = current_session()
    return session.token if session is not None else ""


def shown(target: str, action: str, result: ControlResult) -> tuple[str, str]:
    """(text, css class) of a control's result line; an expired session goes to the login."""
    if result.expired:
        session = current_session()
        if session is not None:
            from energydash.dashboard.context import get_context

            get_context().sessions.drop_token(session.token)
        set_props("login-redirect", {"href": EXPIRED_LOGIN})
    if result.ok:
        return f"✔ {target}: {action} — {result.message}", "result result-ok"
    return f"✖ {target}: {action} refused — {result.message}", "result result-error"
