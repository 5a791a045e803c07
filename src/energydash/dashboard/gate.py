"""The dashboard's front door: login and logout, and every other request checked for a login.

An ASGI middleware in front of Dash (HTTP and WebSocket):

- ``GET /login`` serves the form, ``POST /login`` checks it against the backend (a Redfish
  session), ``POST /logout`` ends it; ``GET /auth/session`` says who is logged in (401 if no one).
- Every other page and every Dash request needs a live session cookie; pages without one go to
  ``/login?next=...``, Dash's API calls get 401 with ``X-EnergyDash-Login`` (the page's
  ``assets/session.js`` then goes to the login page). Static assets stay public.
- CSRF: a state-changing request (any method but GET/HEAD/OPTIONS) must come from this origin
  (``Origin``, else ``Referer``) and carry the session's token: the login/logout forms in a
  hidden field, Dash's callback POSTs in ``X-CSRF-Token`` (the renderer copies it from the
  readable ``CSRF_COOKIE``). The WebSocket upgrade needs the cookie too (Dash itself checks its
  ``Origin``), and ``websocket_message`` re-checks the session on every frame, so a socket
  outliving its login is closed.

The session of the current request is in ``current_session()`` for layouts and callbacks.
"""

from __future__ import annotations

import html
import time
from contextvars import ContextVar
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import orjson

from energydash.dashboard.sessions import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    BackendLogin,
    DashSession,
    SessionMap,
)

MAX_FORM_BYTES = 8 * 1024
MAX_NEXT_CHARS = 200
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_favicon.ico")
LOGIN_HEADER = "X-EnergyDash-Login"

_current: ContextVar[DashSession | None] = ContextVar("energydash_dashboard_session", default=None)


def current_session() -> DashSession | None:
    """The logged-in user of the request (or WebSocket) being served; None outside one."""
    return _current.get()


def cookie_header(
    name: str, value: str, *, secure: bool, http_only: bool, clear: bool = False
) -> str:
    """One ``Set-Cookie`` value: SameSite=Strict always, Secure under TLS."""
    parts = [f"{name}={'' if clear else value}", "Path=/", "SameSite=Strict"]
    if http_only:
        parts.append("HttpOnly")
    if secure:
        parts.append("Secure")
    if clear:
        parts.append("Max-Age=0")
    return "; ".join(parts)


def safe_next(value: str | None) -> str:
    """Where to go after login: a local path only (no scheme, no //host), bounded."""
    if not value or len(value) > MAX_NEXT_CHARS:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    if value.startswith("/login") or value.startswith("/logout") or "\\" in value:
        return "/"
    return value


def same_origin(headers: dict[str, str], scheme: str) -> bool:
    """The request was made by a page of this dashboard (Origin, else Referer, matches Host)."""
    host = headers.get("host", "")
    expected = f"{scheme}://{host}"
    origin = headers.get("origin")
    if origin:
        return origin == expected
    referer = headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" == expected
    return False


class AuthGate:
    """ASGI middleware: see the module docstring."""

    def __init__(
        self,
        app: Any,
        *,
        sessions: SessionMap,
        backend: BackendLogin,
        secure: bool,
        check_every_s: float,
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.backend = backend
        self.secure = secure
        # Use the token with the backend at least this often while the user works here: it
        # keeps the Redfish session alive and notices one the backend ended (timeout, password
        # change, restart).
        self.check_every_s = check_every_s

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _framing_refused(send)
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        cookies = _cookies(headers)
        scheme = "https" if scope.get("scheme") == "https" else "http"
        if path == "/login":
            await self._login(scope, receive, send, method, headers, cookies, scheme)
            return
        session = await self._session(cookies)
        if path == "/logout":
            await self._logout(receive, send, method, headers, cookies, scheme, session)
            return
        if path == "/auth/session":
            if session is None:
                await _json(send, 401, {"reason": "login required"}, {LOGIN_HEADER: "/login"})
            else:
                await _json(send, 200, {"user": session.username, "role": session.role})
            return
        if session is None:
            if path.startswith("/_dash-") or method not in SAFE_METHODS:
                await _json(send, 401, {"reason": "login required"}, {LOGIN_HEADER: "/login"})
            else:
                query = scope.get("query_string", b"").decode("latin-1")
                target = path + (f"?{query}" if query else "")
                await _redirect(send, "/login?next=" + quote(safe_next(target), safe="/"))
            return
        if method not in SAFE_METHODS:
            if not same_origin(headers, scheme):
                await _json(send, 403, {"reason": "cross-origin request refused (Origin/Referer)"})
                return
            if not session.csrf_ok(headers.get(CSRF_HEADER.lower())):
                await _json(send, 403, {"reason": f"missing or wrong {CSRF_HEADER}"})
                return
        token = _current.set(session)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)

    async def _session(self, cookies: dict[str, str]) -> DashSession | None:
        session = self.sessions.get(cookies.get(SESSION_COOKIE))
        if session is None:
            return None
        every = min(self.check_every_s, session.timeout_s / 3)
        now = time.monotonic()
        if now - session.last_backend > every:
            session.last_backend = now  # one check at a time, however many requests are due
            if not await self.backend.still_valid(session):
                self.sessions.drop_token(session.token)
                return None
        return session

    async def _websocket(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        session = await self._session(_cookies(_headers(scope)))
        if session is None and not scope["path"].startswith(PUBLIC_PREFIXES):
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 4401, "reason": "login required"})
            return
        token = _current.set(session)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)

    # ------------------------------------------------------------------ login / logout
    async def _login(
        self,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        method: str,
        headers: dict[str, str],
        cookies: dict[str, str],
        scheme: str,
    ) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        next_path = safe_next((query.get("next") or ["/"])[0])
        if method in ("GET", "HEAD"):
            notice = "Your session ended; log in again." if "expired" in query else ""
            await self._login_page(send, cookies, next_path, notice=notice)
            return
        if method != "POST":
            await _json(send, 405, {"reason": "use GET or POST"}, {"Allow": "GET, POST"})
            return
        form = await _form(receive, headers)
        if form is None:
            await _json(send, 413, {"reason": f"form larger than {MAX_FORM_BYTES} bytes"})
            return
        csrf = cookies.get(CSRF_COOKIE, "")
        if not same_origin(headers, scheme) or not csrf or form.get("csrf") != csrf:
            await _json(send, 403, {"reason": "login form refused: CSRF check failed"})
            return
        username = form.get("username", "").strip()
        outcome = await self.backend.login(username, form.get("password", ""))
        next_path = safe_next(form.get("next"))
        if outcome.session is None:
            # the form again, with the reason; 200 as for any form re-shown with its errors
            await self._login_page(send, cookies, next_path, error=outcome.error, username=username)
            return
        session_id = self.sessions.add(outcome.session)
        await _redirect(
            send,
            next_path,
            [
                cookie_header(SESSION_COOKIE, session_id, secure=self.secure, http_only=True),
                cookie_header(
                    CSRF_COOKIE, outcome.session.csrf, secure=self.secure, http_only=False
                ),
            ],
        )

    async def _login_page(
        self,
        send: Any,
        cookies: dict[str, str],
        next_path: str,
        *,
        error: str = "",
        notice: str = "",
        username: str = "",
    ) -> None:
        import secrets

        csrf = cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        body = login_page(csrf, next_path, error=error, notice=notice, username=username)
        set_cookies = [cookie_header(CSRF_COOKIE, csrf, secure=self.secure, http_only=False)]
        await _respond(send, 200, body.encode(), "text/html; charset=utf-8", set_cookies)

    async def _logout(
        self,
        receive: Any,
        send: Any,
        method: str,
        headers: dict[str, str],
        cookies: dict[str, str],
        scheme: str,
        session: DashSession | None,
    ) -> None:
        if method != "POST":
            await _json(send, 405, {"reason": "log out with POST"}, {"Allow": "POST"})
            return
        form = await _form(receive, headers)
        if form is None:
            await _json(send, 413, {"reason": f"form larger than {MAX_FORM_BYTES} bytes"})
            return
        if session is not None:
            if not same_origin(headers, scheme) or not session.csrf_ok(form.get("csrf")):
                await _json(send, 403, {"reason": "logout refused: CSRF check failed"})
                return
            self.sessions.pop(cookies.get(SESSION_COOKIE))
            await self.backend.logout(session)
        await _redirect(
            send,
            "/login",
            [
                cookie_header(SESSION_COOKIE, "", secure=self.secure, http_only=True, clear=True),
                cookie_header(CSRF_COOKIE, "", secure=self.secure, http_only=False, clear=True),
            ],
        )


def login_page(
    csrf: str, next_path: str, *, error: str = "", notice: str = "", username: str = ""
) -> str:
    """The login form: plain HTML (works before any script loads), styled by assets/style.css."""
    e = html.escape
    message = ""
    if error:
        message = f'<p id="login-error" class="login-error" role="alert">{e(error)}</p>'
    elif notice:
        message = f'<p id="login-notice" class="login-notice">{e(notice)}</p>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>EnergyDash · Log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/style.css"></head>
<body class="login-body"><main class="login-card">
<div class="brand login-brand"><span class="logo">⚡</span><span>EnergyDash</span></div>
<h1 class="login-title">Log in</h1>
<p class="login-hint">Use your Redfish account (the same users and roles as the backend).</p>
{message}
<form id="login-form" method="post" action="/login" autocomplete="on">
<input type="hidden" name="csrf" value="{e(csrf)}">
<input type="hidden" name="next" value="{e(next_path)}">
<label for="login-username">User name</label>
<input id="login-username" name="username" value="{e(username)}" maxlength="64" required autofocus>
<label for="login-password">Password</label>
<input id="login-password" name="password" type="password" maxlength="256" required>
<button id="login-submit" class="btn btn-on" type="submit">Log in</button>
</form></main></body></html>
"""


# ---------------------------------------------------------------------- ASGI helpers
FRAMING_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"referrer-policy", b"same-origin"),
)


def _framing_refused(send: Any) -> Any:
    """``send`` adding headers that keep every page out of other sites' frames (clickjacking
    a control button) and keep the Referer for this origin only."""

    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *FRAMING_HEADERS]}
        await send(message)

    return wrapped


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is no login, not a crash
        return {}
    return {key: morsel.value for key, morsel in jar.items()}


async def _form(receive: Any, headers: dict[str, str]) -> dict[str, str] | None:
    """The url-encoded form body (first value per field), or None past MAX_FORM_BYTES."""
    declared = headers.get("content-length", "0")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        return None
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > MAX_FORM_BYTES:
            return None
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items() if v}


async def _respond(
    send: Any,
    status: int,
    body: bytes,
    content_type: str,
    set_cookies: list[str] | None = None,
    extra: dict[str, str] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    headers += [(b"set-cookie", c.encode("latin-1")) for c in set_cookies or []]
    headers += [(k.lower().encode(), v.encode("latin-1")) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json(
    send: Any, status: int, body: dict[str, Any], extra: dict[str, str] | None = None
) -> None:
    await _respond(send, status, orjson.dumps(body), "application/json", extra=extra)


async def _redirect(send: Any, location: str, set_cookies: list[str] | None = None) -> None:
    await _respond(send, 303, b"", "text/plain", set_cookies, {"Location": location})
