"""The one identity of every face: accounts, roles, privileges and sessions.

Redfish's AccountService and SessionService manage this store; REST, ``/ws``, GraphQL, the
dashboard login and the generated broker ACL all ask it who a caller is and what it may do.
``create_app`` builds one ``AuthStore`` per backend and hands it to every face.
"""

from energydash.auth.store import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    ROLE_PRIVILEGES,
    Account,
    AuthStore,
    Caller,
    PrivilegeMap,
    Session,
    hash_password,
    verify_password,
)

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "ROLE_PRIVILEGES",
    "Account",
    "AuthStore",
    "Caller",
    "PrivilegeMap",
    "Session",
    "hash_password",
    "verify_password",
]
