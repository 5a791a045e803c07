"""Who is calling: accounts (hashed passwords, lockout), sessions, roles and privileges.

Basic credentials are verified with scrypt once and then remembered for a short while under a
SHA-256 of the header, so a client sending Basic on every request costs one dict lookup; any
account change forgets them all. Session tokens are looked up in a dict (O(1)); idle sessions
expire after ``session_timeout_s`` (checked on use and swept periodically).

Roles carry the privilege sets of the Redfish 1.8.0 privilege registry's standard roles, and
operations are authorised from that registry's ``OperationMap`` per entity.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from energydash.config import Settings

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


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$<salt hex>$<hash hex>``: never store or log the password itself."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt_hex), n=SCRYPT_N, r=8, p=1, dklen=32
    )
    return hmac.compare_digest(digest.hex(), digest_hex)


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
    """Accounts, sessions and the lockout policy, all in memory."""

    session_timeout_s: int
    lockout_threshold: int
    lockout_duration_s: int
    lockout_reset_after_s: int
    accounts: dict[str, Account] = field(default_factory=dict)  # by id
    sessions: dict[str, Session] = field(default_factory=dict)  # by id
    _by_token: dict[str, Session] = field(default_factory=dict)
    _basic_cache: dict[bytes, tuple[str, float]] = field(default_factory=dict)
    _next_account: int = 1
    _next_session: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthStore:
        store = cls(
            session_timeout_s=settings.redfish_session_timeout_s,
            lockout_threshold=settings.redfish_lockout_threshold,
            lockout_duration_s=settings.redfish_lockout_duration_s,
            lockout_reset_after_s=settings.redfish_lockout_duration_s,
        )
        store.create_account(
            settings.redfish_user, settings.redfish_password.get_secret_value(), "Administrator"
        )
        seeds = (
            (settings.redfish_operator_user, settings.redfish_operator_password, "Operator"),
            (settings.redfish_readonly_user, settings.redfish_readonly_password, "ReadOnly"),
        )
        for user, password, role in seeds:
            if user:
                store.create_account(user, password.get_secret_value(), role)
        return store

    # ------------------------------------------------------------------ accounts
    def account_by_name(self, username: str) -> Account | None:
        for account in self.accounts.values():
            if account.username == username:
                return account
        return None

    def create_account(self, username: str, password: str, role_id: str) -> Account:
        account_id = str(self._next_account)
        self._next_account += 1
        account = Account(account_id, username, hash_password(password), role_id)
        self.accounts[account_id] = account
        return account

    def account_changed(self, account: Account | None = None) -> None:
        """Forget cached Basic credentials (and the sessions of a removed/disabled account)."""
        self._basic_cache.clear()
        if account is not None and (account.id not in self.accounts or not account.enabled):
            for session in list(self.sessions.values()):
                if session.username == account.username:
                    self.delete_session(session.id)

    def admin_count(self, enabled_only: bool = True) -> int:
        return sum(
            1
            for a in self.accounts.values()
            if a.role_id == "Administrator" and (a.enabled or not enabled_only)
        )

    def check_password(self, username: str, password: str) -> Account | None:
        """The account if the password is right and the account usable; counts failures."""
        now = time.monotonic()
        account = self.account_by_name(username)
        if account is None:
            return None
        if account.locked(now):
            return None
        if account.locked_until and not account.locked(now):
            account.locked_until, account.failed_logins = 0.0, 0
        if not verify_password(password, account.password_hash):
            if now - account.last_failure > self.lockout_reset_after_s:
                account.failed_logins = 0  # AccountLockoutCounterResetAfter: start counting anew
            account.failed_logins += 1
            account.last_failure = now
            if self.lockout_threshold and account.failed_logins >= self.lockout_threshold:
                account.locked_until = now + self.lockout_duration_s
                self.account_changed()
            return None
        if not account.enabled:
            return None
        account.failed_logins = 0
        return account

    def caller_for(self, account: Account, session_id: str | None = None) -> Caller:
        return Caller(
            account.username,
            account.role_id,
            frozenset(ROLE_PRIVILEGES.get(account.role_id, ())),
            session_id,
            account.id,
        )

    # ------------------------------------------------------------------ requests
    def authenticate(self, authorization: bytes | None, token: bytes | None) -> Caller | None:
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
            account = self.check_password(username, password)
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
