"""Dashboard logins: an opaque cookie id mapped, inside this process, to a Redfish session.

The browser holds only a random id (``SESSION_COOKIE``, HttpOnly); the map turns it into the
user's Redfish session token, name, role and privileges. The password is sent once to
``POST /redfish/v1/SessionService/Sessions`` and never kept. A dashboard session lives as long
as its Redfish session: it ends after the same idle timeout (``SessionTimeout``, read at
login), on logout (which deletes the Redfish session), or as soon as the backend answers 401
to its token. Restarting the dashboard drops every login (the map is in memory).
"""

from __future__ import annotations

import hmac
import secrets
import ssl
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import httpx
import orjson

from energydash.auth.store import ROLE_PRIVILEGES
from energydash.config import Settings
from energydash.dashboard.control import USER_AGENT

SESSION_COOKIE = "energydash_session"
CSRF_COOKIE = "energydash_csrf"  # readable by the page: Dash's renderer echoes it (X-CSRF-Token)
CSRF_HEADER = "X-CSRF-Token"
CONTROL_PRIVILEGE = "ConfigureComponents"
SIMULATION_PRIVILEGE = "ConfigureManager"
SESSIONS_PATH = "/redfish/v1/SessionService/Sessions"
MAX_ACCOUNTS_SCANNED = 100  # a role lookup reads at most this many account resources
MAX_USERNAME_CHARS = 64
MAX_PASSWORD_CHARS = 256


@dataclass
class DashSession:
    """One logged-in browser: what the cookie id stands for."""

    token: str = field(repr=False)  # the Redfish X-Auth-Token: never logged, never sent to a page
    location: str  # the Redfish session resource; DELETE it to log out
    username: str
    role: str
    privileges: frozenset[str]
    csrf: str = field(repr=False)
    timeout_s: float
    account_id: str | None = None  # the Redfish account's Id: owners of sites are account ids
    last_seen: float = field(default_factory=time.monotonic)
    last_backend: float = field(default_factory=time.monotonic)  # last use of the token
    cookie_id: str = field(default="", repr=False)  # its key in the SessionMap

    def may(self, privilege: str) -> bool:
        return privilege in self.privileges

    def why_not(self, privilege: str) -> str:
        """The tooltip of a control this session may not use ('' when it may)."""
        if self.may(privilege):
            return ""
        return f"Your role ({self.role}) lacks {privilege}"

    def csrf_ok(self, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(value.encode(), self.csrf.encode())


class SessionMap:
    """Cookie id -> DashSession, bounded: past ``max_sessions`` the least recently seen goes."""

    def __init__(self, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, DashSession] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def add(self, session: DashSession) -> str:
        """Store ``session`` under a new random id (the cookie value) and return the id."""
        session_id = secrets.token_urlsafe(32)
        session.cookie_id = session_id
        self._sessions[session_id] = session
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
        return session_id

    def get(self, session_id: str | None, now: float | None = None) -> DashSession | None:
        """The live session of a cookie id, touched; None if unknown or idle past its timeout."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = time.monotonic() if now is None else now
        if now - session.last_seen > session.timeout_s:
            del self._sessions[session_id]
            return None
        session.last_seen = now
        self._sessions.move_to_end(session_id)
        return session

    def holds(self, session: DashSession, now: float | None = None) -> bool:
        """Whether ``session`` is still a live login (without counting this as activity)."""
        now = time.monotonic() if now is None else now
        alive = self._sessions.get(session.cookie_id) is session
        return alive and now - session.last_seen <= session.timeout_s

    def pop(self, session_id: str | None) -> DashSession | None:
        return self._sessions.pop(session_id, None) if session_id else None

    def drop_token(self, token: str) -> None:
        """Forget every id backed by ``token`` (the backend said it is no longer valid)."""
        for key in [k for k, s in self._sessions.items() if s.token == token]:
            del self._sessions[key]


@dataclass(frozen=True)
class LoginOutcome:
    session: DashSession | None
    error: str = ""


class LoginFailures:
    """Failed logins per user name, so a lockout is shown and honoured here too.

    The backend decides (it refuses a locked account whatever the password); this mirror of
    its policy (the same settings) lets the page say "locked" instead of "wrong password" and
    stops the dashboard from forwarding attempts the backend would refuse anyway.
    """

    def __init__(self, threshold: int, duration_s: float, max_names: int = 1000) -> None:
        self.threshold = threshold
        self.duration_s = duration_s
        self.max_names = max_names
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def locked_for_s(self, username: str, now: float | None = None) -> float:
        """Seconds the name stays locked (0 when it is not)."""
        now = time.monotonic() if now is None else now
        count, last = self._failures.get(username.lower(), (0, 0.0))
        if not self.threshold or count < self.threshold:
            return 0.0
        return max(0.0, last + self.duration_s - now)

    def failed(self, username: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        key = username.lower()
        count, last = self._failures.pop(key, (0, 0.0))
        if now - last > self.duration_s:
            count = 0  # the backend's counter resets after the same period
        self._failures[key] = (count + 1, now)
        while len(self._failures) > self.max_names:
            self._failures.popitem(last=False)

    def succeeded(self, username: str) -> None:
        self._failures.pop(username.lower(), None)


def tls_enabled(settings: Settings) -> bool:
    """``ENERGYDASH_TLS`` (one switch for every face) when it exists, else the Redfish one."""
    value = getattr(settings, "tls", None)
    return bool(settings.redfish_tls if value is None else value)


def backend_verify(settings: Settings) -> ssl.SSLContext | bool:
    """How to check the backend's certificate: against the generated self-signed one."""
    if not settings.backend_base_url.startswith("https://"):
        return True
    from energydash.redfish.tls import ensure_self_signed_cert

    certfile, _ = ensure_self_signed_cert(settings)
    return ssl.create_default_context(cafile=str(certfile))


class BackendLogin:
    """Creates, checks and deletes Redfish sessions for the dashboard's users."""

    def __init__(self, settings: Settings, timeout_s: float = 5.0) -> None:
        self.base_url = settings.backend_base_url
        self.timeout_s = timeout_s
        self.verify = backend_verify(settings)
        self.default_timeout_s = float(settings.redfish_session_timeout_s)
        self.failures = LoginFailures(
            settings.redfish_lockout_threshold, float(settings.redfish_lockout_duration_s)
        )

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url,
            timeout=self.timeout_s,
            verify=self.verify,
            headers={"User-Agent": USER_AGENT},
        )

    async def login(self, username: str, password: str) -> LoginOutcome:
        if not username or not password:
            return LoginOutcome(None, "Enter a user name and a password.")
        if len(username) > MAX_USERNAME_CHARS or len(password) > MAX_PASSWORD_CHARS:
            return LoginOutcome(None, "User name or password too long.")
        locked = self.failures.locked_for_s(username)
        if locked:
            return LoginOutcome(None, _locked_message(self.failures.threshold, locked))
        body = {"UserName": username, "Password": password, "Context": "energydash dashboard"}
        try:
            async with self.client() as client:
                response = await client.post(SESSIONS_PATH, json=body)
                if response.status_code in (401, 403):
                    self.failures.failed(username)
                    locked = self.failures.locked_for_s(username)
                    reason = _reason(response)
                    if locked or "lock" in reason.lower():
                        return LoginOutcome(
                            None, _locked_message(self.failures.threshold, locked or None)
                        )
                    return LoginOutcome(None, "Wrong user name or password.")
                if response.status_code != 201 or not response.headers.get("X-Auth-Token"):
                    status = response.status_code
                    return LoginOutcome(None, f"Login failed: backend answered HTTP {status}.")
                token = response.headers["X-Auth-Token"]
                location = _path(response.headers.get("Location", ""))
                headers = {"X-Auth-Token": token}
                role, privileges, account_id = await _role_of(client, headers, username)
                timeout_s = await _session_timeout(client, headers, self.default_timeout_s)
        except httpx.HTTPError as error:
            return LoginOutcome(None, f"Backend unreachable ({type(error).__name__}).")
        self.failures.succeeded(username)
        session = DashSession(
            token=token,
            location=location,
            username=username,
            role=role,
            privileges=privileges,
            csrf=secrets.token_urlsafe(24),
            timeout_s=timeout_s,
            account_id=account_id,
        )
        return LoginOutcome(session)

    async def logout(self, session: DashSession) -> None:
        """Delete the Redfish session (best effort: the cookie goes whatever the answer)."""
        if not session.location:
            return
        try:
            async with self.client() as client:
                await client.delete(session.location, headers={"X-Auth-Token": session.token})
        except httpx.HTTPError:
            pass

    async def still_valid(self, session: DashSession) -> bool:
        """Ask the backend whether the token still works; it also keeps the session alive."""
        try:
            async with self.client() as client:
                response = await client.get(
                    session.location or SESSIONS_PATH, headers={"X-Auth-Token": session.token}
                )
        except httpx.HTTPError:
            return True  # a backend outage is not a logout; the badge says reconnecting
        session.last_backend = time.monotonic()
        return response.status_code not in (401, 403, 404)


def _locked_message(threshold: int, seconds: float | None) -> str:
    wait = f"; try again in {seconds:.0f} s" if seconds else ""
    return f"Account locked after {threshold} failed logins{wait}."


async def _role_of(
    client: httpx.AsyncClient, headers: dict[str, str], username: str
) -> tuple[str, frozenset[str], str | None]:
    """The account's RoleId, that role's AssignedPrivileges and the account Id, read as the user."""
    role = "ReadOnly"
    account_id: str | None = None
    collection = await client.get("/redfish/v1/AccountService/Accounts", headers=headers)
    members = collection.json().get("Members", []) if collection.is_success else []
    for member in members[:MAX_ACCOUNTS_SCANNED]:
        uri = member.get("@odata.id") if isinstance(member, dict) else None
        if not isinstance(uri, str):
            continue
        account = await client.get(uri, headers=headers)
        if account.is_success and account.json().get("UserName") == username:
            role = str(account.json().get("RoleId") or role)
            account_id = str(account.json().get("Id") or "") or None
            break
    privileges = frozenset(ROLE_PRIVILEGES.get(role, ()))
    answer = await client.get(f"/redfish/v1/AccountService/Roles/{role}", headers=headers)
    if answer.is_success and isinstance(answer.json().get("AssignedPrivileges"), list):
        privileges = frozenset(str(p) for p in answer.json()["AssignedPrivileges"])
    return role, privileges, account_id


async def _session_timeout(
    client: httpx.AsyncClient, headers: dict[str, str], default_s: float
) -> float:
    """The Redfish SessionTimeout (idle seconds), so both sessions end together."""
    answer = await client.get("/redfish/v1/SessionService", headers=headers)
    timeout = answer.json().get("SessionTimeout") if answer.is_success else None
    return float(timeout) if isinstance(timeout, int | float) and timeout > 0 else default_s


def _path(location: str) -> str:
    """Location may be absolute; the client joins paths to its base URL."""
    if "://" in location:
        return "/" + location.split("://", 1)[1].split("/", 1)[-1]
    return location


def _reason(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return ""
    if isinstance(body, dict):
        if isinstance(body.get("reason"), str):
            return body["reason"]
        error = body.get("error")
        if isinstance(error, dict):
            extended = error.get("@Message.ExtendedInfo") or []
            texts = [str(e.get("Message", "")) for e in extended if isinstance(e, dict)]
            return " ".join([str(error.get("message", "")), *texts])
    return ""
