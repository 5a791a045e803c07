"""Who is calling: accounts (hashed passwords, lockout), sessions, roles and privileges.

Basic credentials are verified with scrypt (stdlib, no native dependency; the hashes already
stored are scrypt) once and then remembered for a short while under a
SHA-256 of the header, so a client sending Basic on every request costs one dict lookup; any
account change forgets them all. Session tokens are looked up in a dict (O(1)); idle sessions
expire after ``session_timeout_s`` (checked on use and swept periodically).

Accounts (hashes only), the lockout policy and the session timeout persist in
``<DATA_DIR>/auth/accounts.json`` (atomic, mode 0600) whenever one changes; the seeding settings
only apply while that file does not exist. Sessions and lockout counters live in memory and are
dropped at restart.

Roles carry the privilege sets of the Redfish 1.8.0 privilege registry's standard roles, and
operations are authorised from that registry's ``OperationMap`` per entity.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from energydash.config import Settings

log = logging.getLogger(__name__)

# DMTF's Redfish 1.8.0 privilege registry, shipped with the package (as in ../shared/redfish)
PRIVILEGE_REGISTRY = (
    Path(__file__).resolve().parent / "registry_files" / ("Redfish_1.8.0_PrivilegeRegistry.json")
)
ROLE_PRIVILEGES: dict[str, tuple[str, ...]] = {
    "Administrator": (
        "Login",
        "ConfigureManager",
        "ConfigureUsers",
        "ConfigureComponents",
        "ConfigureSelf",
    ),
    "Operator": ("Login", "ConfigureComponents", "ConfigureSelf"),
    "ReadOnly": ("Login", "ConfigureSelf"),
}
SCRYPT_N = 2**14
BASIC_CACHE_S = 30.0
MIN_PASSWORD_LENGTH = 4
MAX_PASSWORD_LENGTH = 64
MAX_USERNAME_LENGTH = 64
MAX_LOCKOUT_DURATION_S = 3600  # a lockout never outlasts an hour, whatever the policy says
MAX_ACCOUNTS = 1000
ACCOUNTS_FILE = "accounts.json"


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated principal of one request."""

    username: str
    role_id: str
    privileges: frozenset[str]
    session_id: str | None = None
    account_id: str | None = None  # stable across renames: owners of sites and devices use it

    def has(self, privilege: str) -> bool:
        return privilege in self.privileges


def _scrypt(password: str, salt: bytes) -> bytes:
    """The one place a password is hashed (tests count its calls to prove equal work)."""
    return hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=8, p=1, dklen=32)


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$<salt hex>$<hash hex>``: never store or log the password itself."""
    salt = salt or secrets.token_bytes(16)
    return f"scrypt${salt.hex()}${_scrypt(password, salt).hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    return hmac.compare_digest(_scrypt(password, salt).hex(), digest_hex)


_DUMMY_HASH: list[str] = []


def dummy_hash() -> str:
    """A hash no password matches; unknown user names are verified against it (equal cost)."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password(secrets.token_urlsafe(16)))
    return _DUMMY_HASH[0]


def username_problem(username: object) -> str | None:
    """Why ``username`` cannot name an account, or None: printable, no ``:``, length bound."""
    if not isinstance(username, str) or not username:
        return "UserName must be a non-empty string"
    if len(username) > MAX_USERNAME_LENGTH:
        return f"UserName is longer than {MAX_USERNAME_LENGTH} characters"
    if username != username.strip():
        return "UserName must not start or end with white space"
    if ":" in username:
        return "UserName must not contain ':' (it separates user and password in Basic)"
    if any(not ch.isprintable() or unicodedata.category(ch).startswith("C") for ch in username):
        return "UserName must contain printable characters only"
    return None


def sanitize(text: str, limit: int = MAX_USERNAME_LENGTH) -> str:
    """A user-supplied string fit for a log line: printable, at most ``limit`` characters."""
    if len(text) <= limit and text.isprintable():  # the usual case, without a loop per char
        return text
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text[: limit + 1])
    return cleaned if len(text) <= limit else cleaned[: limit - 1] + "…"


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


@dataclass(slots=True)
class Account:
    id: str
    username: str
    password_hash: str
    role_id: str
    enabled: bool = True
    failed_logins: int = 0
    last_failure: float = 0.0  # monotonic
    locked_until: float = 0.0  # monotonic seconds; 0 when not locked

    def locked(self, now: float) -> bool:
        return self.locked_until > now


@dataclass(slots=True)
class Session:
    id: str
    token: str
    username: str
    created: datetime
    last_used: float  # monotonic
    context: str | None = None


@dataclass(slots=True)
class AuthStore:
    """Accounts, sessions and the lockout policy; accounts and policy saved to ``path``."""

    session_timeout_s: int
    lockout_threshold: int
    lockout_duration_s: int
    lockout_reset_after_s: int
    path: Path | None = None  # <DATA_DIR>/auth/accounts.json; None: memory only
    admin_loopback_unlock: bool = True
    accounts: dict[str, Account] = field(default_factory=dict)  # by id
    sessions: dict[str, Session] = field(default_factory=dict)  # by id
    _by_token: dict[str, Session] = field(default_factory=dict)
    _basic_cache: dict[bytes, tuple[str, float]] = field(default_factory=dict)
    _next_account: int = 1
    _next_session: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthStore:
        """The saved accounts of ``<DATA_DIR>/auth/``, else the seeding settings (first start)."""
        store = cls(
            session_timeout_s=settings.redfish_session_timeout_s,
            lockout_threshold=settings.redfish_lockout_threshold,
            lockout_duration_s=min(settings.redfish_lockout_duration_s, MAX_LOCKOUT_DURATION_S),
            lockout_reset_after_s=settings.redfish_lockout_duration_s,
            path=settings.data_dir / "auth" / ACCOUNTS_FILE,
            admin_loopback_unlock=settings.auth_admin_loopback_unlock,
        )
        dummy_hash()  # made now, so the first unknown user costs what every later one does
        if store.path is not None and store.path.exists():
            store.load()
            return store
        # seeded accounts are not saved: the settings stay in charge until the first change
        store.create_account(
            settings.redfish_user,
            settings.redfish_password.get_secret_value(),
            "Administrator",
            persist=False,
        )
        seeds = (
            (settings.redfish_operator_user, settings.redfish_operator_password, "Operator"),
            (settings.redfish_readonly_user, settings.redfish_readonly_password, "ReadOnly"),
        )
        for user, password, role in seeds:
            if user:
                store.create_account(user, password.get_secret_value(), role, persist=False)
        return store

    # ------------------------------------------------------------------ persistence
    def save(self) -> None:
        """Write accounts (hashes only) and policy atomically, mode 0600."""
        if self.path is None:
            return
        from energydash.auth.secrets import write_private

        payload = {
            "version": 1,
            "next_account": self._next_account,
            "policy": {
                "session_timeout_s": self.session_timeout_s,
                "lockout_threshold": self.lockout_threshold,
                "lockout_duration_s": self.lockout_duration_s,
                "lockout_reset_after_s": self.lockout_reset_after_s,
            },
            "accounts": [
                {
                    "id": a.id,
                    "username": a.username,
                    "password_hash": a.password_hash,
                    "role_id": a.role_id,
                    "enabled": a.enabled,
                }
                for a in self.accounts.values()
            ],
        }
        write_private(self.path, orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())

    def load(self) -> None:
        """Read ``path``; a file that cannot be used raises ValueError naming it and the field."""
        assert self.path is not None
        where = str(self.path)
        try:
            payload = orjson.loads(self.path.read_bytes())
            policy = payload["policy"]
            self.session_timeout_s = _bounded(policy["session_timeout_s"], 30, 86_400)
            self.lockout_threshold = _bounded(policy["lockout_threshold"], 0, 1000)
            self.lockout_duration_s = _bounded(
                policy["lockout_duration_s"], 0, MAX_LOCKOUT_DURATION_S
            )
            self.lockout_reset_after_s = _bounded(policy["lockout_reset_after_s"], 0, 86_400)
            accounts: dict[str, Account] = {}
            for index, row in enumerate(payload["accounts"][:MAX_ACCOUNTS]):
                problem = username_problem(row["username"])
                if problem or row["role_id"] not in ROLE_PRIVILEGES:
                    raise ValueError(f"accounts[{index}]: {problem or 'unknown role_id'}")
                if not str(row["password_hash"]).startswith("scrypt$"):
                    raise ValueError(f"accounts[{index}].password_hash is not a scrypt hash")
                accounts[str(row["id"])] = Account(
                    str(row["id"]),
                    row["username"],
                    row["password_hash"],
                    row["role_id"],
                    bool(row["enabled"]),
                )
            next_account = int(payload["next_account"])
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            detail = f"missing field {error}" if isinstance(error, KeyError) else str(error)
            raise ValueError(
                f"{where}: cannot load the saved accounts ({detail}); fix or remove the file "
                "(removing it re-seeds the accounts from the settings)"
            ) from None
        if not any(a.role_id == "Administrator" and a.enabled for a in accounts.values()):
            raise ValueError(f"{where}: no enabled Administrator account")
        self.accounts = accounts
        self._next_account = max([next_account, *(int(i) + 1 for i in accounts if i.isdigit())])

    # ------------------------------------------------------------------ accounts
    def account_by_name(self, username: str) -> Account | None:
        for account in self.accounts.values():
            if account.username == username:
                return account
        return None

    def name_taken(self, username: str, besides: Account | None = None) -> bool:
        """User names are unique ignoring case (``Admin`` cannot shadow ``admin``)."""
        folded = username.casefold()
        return any(
            a.username.casefold() == folded and a is not besides for a in self.accounts.values()
        )

    def create_account(
        self, username: str, password: str, role_id: str, *, persist: bool = True
    ) -> Account:
        problem = username_problem(username)
        if problem:
            raise ValueError(problem)
        if self.name_taken(username):
            raise ValueError(f"an account named {username!r} (ignoring case) exists")
        if len(self.accounts) >= MAX_ACCOUNTS:
            raise ValueError(f"at most {MAX_ACCOUNTS} accounts")
        account_id = str(self._next_account)
        self._next_account += 1
        account = Account(account_id, username, hash_password(password), role_id)
        self.accounts[account_id] = account
        if persist:
            self.save()
        return account

    def set_password(self, account: Account, password: str, keep_session: str | None) -> int:
        """New hash for ``account``; ends its sessions except ``keep_session``. Returns how many."""
        account.password_hash = hash_password(password)
        ended = 0
        for session in list(self.sessions.values()):
            if session.username == account.username and session.id != keep_session:
                self.delete_session(session.id)
                ended += 1
        self.account_changed()
        return ended

    def account_changed(self, account: Account | None = None) -> None:
        """Forget cached Basic credentials (and the sessions of a removed/disabled account).

        Every account change comes through here, so here it is saved.
        """
        self._basic_cache.clear()
        if account is not None and (account.id not in self.accounts or not account.enabled):
            for session in list(self.sessions.values()):
                if session.username == account.username:
                    self.delete_session(session.id)
        self.save()

    def admin_count(self, enabled_only: bool = True) -> int:
        return sum(
            1
            for a in self.accounts.values()
            if a.role_id == "Administrator" and (a.enabled or not enabled_only)
        )

    def check_password(
        self, username: str, password: str, client_host: str | None = None
    ) -> Account | None:
        """The account if the password is right and the account usable; counts failures.

        Every path costs one hash, known user or not, locked or not, so neither a user name
        nor a lockout can be told from the time a refusal takes. A locked account stays locked
        at most ``MAX_LOCKOUT_DURATION_S``; failures while locked do not extend it; and the last
        enabled Administrator may still log in from loopback (``admin_loopback_unlock``), so
        anonymous failures from elsewhere cannot keep every administrator out for ever.
        """
        now = time.monotonic()
        account = self.account_by_name(username)
        if account is None:
            verify_password(password, dummy_hash())
            return None
        if account.locked_until and not account.locked(now):
            account.locked_until, account.failed_logins = 0.0, 0
        right = verify_password(password, account.password_hash)
        if account.locked(now):
            if right and self._console_unlock(account, client_host):
                account.locked_until, account.failed_logins = 0.0, 0
                log.warning(
                    "locked Administrator %s logged in from loopback", sanitize(account.username)
                )
                return account if account.enabled else None
            return None
        if not right:
            if now - account.last_failure > self.lockout_reset_after_s:
                account.failed_logins = 0  # AccountLockoutCounterResetAfter: start counting anew
            account.failed_logins += 1
            account.last_failure = now
            if self.lockout_threshold and account.failed_logins >= self.lockout_threshold:
                account.locked_until = now + min(self.lockout_duration_s, MAX_LOCKOUT_DURATION_S)
                self._basic_cache.clear()
            return None
        if not account.enabled:
            return None
        account.failed_logins = 0
        return account

    def _console_unlock(self, account: Account, client_host: str | None) -> bool:
        return (
            self.admin_loopback_unlock
            and account.role_id == "Administrator"
            and account.enabled
            and self.admin_count() <= 1
            and is_loopback(client_host)
        )

    def caller_for(self, account: Account, session_id: str | None = None) -> Caller:
        return Caller(
            account.username,
            account.role_id,
            frozenset(ROLE_PRIVILEGES.get(account.role_id, ())),
            session_id,
            account.id,
        )

    # ------------------------------------------------------------------ requests
    def needs_password_check(self, authorization: bytes | None, token: bytes | None) -> bool:
        """Whether ``authenticate`` would hash a password (a Basic header not verified within
        ``BASIC_CACHE_S``): tens of milliseconds that belong off the event loop. Everything
        else it checks (sessions, cached Basic, the account enabled and unlocked) is cheap."""
        if token or not authorization or authorization[:6].lower() != b"basic ":
            return False
        cached = self._basic_cache.get(hashlib.sha256(authorization).digest())
        return cached is None or cached[1] <= time.monotonic()

    def authenticate(
        self, authorization: bytes | None, token: bytes | None, client_host: str | None = None
    ) -> Caller | None:
        """The caller for an X-Auth-Token or a Basic header, or None."""
        if token:
            session = self._by_token.get(token.decode("latin-1"))
            if session is None:
                return None
            now = time.monotonic()
            if now - session.last_used > self.session_timeout_s:
                self.delete_session(session.id)
                return None
            session.last_used = now
            account = self.account_by_name(session.username)
            if account is None or not account.enabled:
                return None
            return self.caller_for(account, session.id)
        if authorization and authorization[:6].lower() == b"basic ":
            key = hashlib.sha256(authorization).digest()
            now = time.monotonic()
            cached = self._basic_cache.get(key)
            if cached is not None and cached[1] > now:
                account = self.account_by_name(cached[0])
                if account is not None and account.enabled and not account.locked(now):
                    return self.caller_for(account)
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
                username, _, password = decoded.partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            account = self.check_password(username, password, client_host)
            if account is None:
                return None
            if len(self._basic_cache) > 1000:
                self._basic_cache.clear()
            self._basic_cache[key] = (account.username, now + BASIC_CACHE_S)
            return self.caller_for(account)
        return None

    # ------------------------------------------------------------------ sessions
    def create_session(self, account: Account, context: str | None = None) -> Session:
        session_id = str(self._next_session)
        self._next_session += 1
        session = Session(
            session_id,
            secrets.token_urlsafe(32),
            account.username,
            datetime.now(UTC),
            time.monotonic(),
            context,
        )
        self.sessions[session_id] = session
        self._by_token[session.token] = session
        return session

    def delete_session(self, session_id: str) -> bool:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return False
        self._by_token.pop(session.token, None)
        return True

    def expire_sessions(self) -> int:
        """Drop idle sessions; returns how many went."""
        now = time.monotonic()
        stale = [s.id for s in self.sessions.values() if now - s.last_used > self.session_timeout_s]
        for session_id in stale:
            self.delete_session(session_id)
        return len(stale)


def _bounded(value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"policy value {value!r} is not an integer in [{low}, {high}]")
    return value


class PrivilegeMap:
    """The 1.8.0 privilege registry's OperationMap: which privilege sets allow an operation."""

    def __init__(self) -> None:
        registry = orjson.loads(PRIVILEGE_REGISTRY.read_bytes())
        self._map: dict[tuple[str, str], list[frozenset[str]]] = {}
        for mapping in registry["Mappings"]:
            for method, alternatives in mapping["OperationMap"].items():
                self._map[(mapping["Entity"], method)] = [
                    frozenset(alt["Privilege"]) for alt in alternatives
                ]

    def required(self, entity: str, method: str) -> list[frozenset[str]]:
        return self._map.get((entity, method), [frozenset({"ConfigureManager"})])

    def allows(self, caller: Caller | None, entity: str, method: str, is_self: bool) -> bool:
        """True when one alternative is satisfied; ConfigureSelf counts only on one's own."""
        for needed in self.required(entity, method):
            if "NoAuth" in needed:
                return True
            if caller is None:
                continue
            effective = needed
            if "ConfigureSelf" in needed:
                if not is_self:
                    continue
                effective = needed - {"ConfigureSelf"}
            if effective <= caller.privileges:
                return True
        return False
