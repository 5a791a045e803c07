"""Safe defaults: a backend or dashboard reachable beyond loopback needs a real admin password.

``exposure_problem`` is the refusal ``energydash serve`` and ``energydash dashboard`` print
(exit 2) when they would listen on a non-loopback address while an enabled Administrator can
still log in with the password the project ships (public in its README).
"""

from __future__ import annotations

from energydash.auth.store import AuthStore, is_loopback, verify_password
from energydash.config import Settings

SHIPPED_ADMIN_PASSWORD = Settings.model_fields["redfish_password"].get_default().get_secret_value()


def default_password_admins(store: AuthStore) -> list[str]:
    """Enabled Administrators whose password is still the shipped default."""
    return [
        account.username
        for account in store.accounts.values()
        if account.role_id == "Administrator"
        and account.enabled
        and verify_password(SHIPPED_ADMIN_PASSWORD, account.password_hash)
    ]


def exposure_problem(command: str, host: str, store: AuthStore) -> str | None:
    """Why ``command`` must not listen on ``host``, or None (loopback, or a real password)."""
    if is_loopback(host):
        return None
    admins = default_password_admins(store)
    if not admins:
        return None
    names = ", ".join(repr(name) for name in admins)
    return (
        f"energydash {command}: refusing to listen on {host} while the Administrator {names} "
        "still has the shipped default password.\n"
        "Set a password first, then start again:\n"
        "  - before the first start: ENERGYDASH_REDFISH_PASSWORD=<new> in .env or the "
        "environment (used while <DATA_DIR>/auth/accounts.json does not exist), or\n"
        "  - on a running loopback backend: curl -u admin:<current> -X PATCH "
        "-H 'Content-Type: application/json' -d '{\"Password\": \"<new>\"}' "
        "http://127.0.0.1:8000/redfish/v1/AccountService/Accounts/1\n"
        "or listen on 127.0.0.1 (ENERGYDASH_HOST / --host)."
    )
