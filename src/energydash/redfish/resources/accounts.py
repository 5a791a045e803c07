"""AccountService (Accounts, Roles) and SessionService (Sessions): users and logins."""

from __future__ import annotations

from typing import Any

from energydash.auth import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    ROLE_PRIVILEGES,
    Account,
)
from energydash.auth.store import MAX_LOCKOUT_DURATION_S, username_problem
from energydash.redfish import errors, render
from energydash.redfish.errors import RedfishError
from energydash.redfish.http import Request, Response, created, no_content
from energydash.redfish.registries import message
from energydash.redfish.resources.common import apply_patch
from energydash.redfish.routing import Route

ACCOUNTS = "/redfish/v1/AccountService"
SESSIONS = "/redfish/v1/SessionService"


# ---------------------------------------------------------------------- AccountService
def get_account_service(request: Request) -> dict[str, Any]:
    store = request.service.auth
    return {
        "@odata.id": ACCOUNTS,
        "@odata.type": "#AccountService.v1_18_1.AccountService",
        "Id": "AccountService",
        "Name": "Account Service",
        "Status": {"State": "Enabled", "Health": "OK"},
        "ServiceEnabled": True,
        "AuthFailureLoggingThreshold": 1,
        "MinPasswordLength": MIN_PASSWORD_LENGTH,
        "MaxPasswordLength": MAX_PASSWORD_LENGTH,
        "AccountLockoutThreshold": store.lockout_threshold,
        "AccountLockoutDuration": store.lockout_duration_s,
        "AccountLockoutCounterResetAfter": store.lockout_reset_after_s,
        "AccountLockoutCounterResetEnabled": True,
        "LocalAccountAuth": "Enabled",
        "SupportedAccountTypes": ["Redfish"],
        "Accounts": render.link(f"{ACCOUNTS}/Accounts"),
        "Roles": render.link(f"{ACCOUNTS}/Roles"),
    }


def patch_account_service(request: Request, body: dict[str, Any]) -> Response:
    store = request.service.auth

    def int_setter(attr: str, name: str, minimum: int, maximum: int):  # type: ignore[no-untyped-def]
        def setter(value: Any) -> dict[str, Any] | None:
            if not isinstance(value, int) or isinstance(value, bool):
                return errors.value_type_error(value, name)
            if not minimum <= value <= maximum:
                return message("Base", "PropertyValueOutOfRange", value, name)
            setattr(store, attr, value)
            return None

        return setter

    setters = {
        "AccountLockoutThreshold": int_setter(
            "lockout_threshold", "AccountLockoutThreshold", 0, 1000
        ),
        "AccountLockoutDuration": int_setter(
            "lockout_duration_s", "AccountLockoutDuration", 0, MAX_LOCKOUT_DURATION_S
        ),
        "AccountLockoutCounterResetAfter": int_setter(
            "lockout_reset_after_s", "AccountLockoutCounterResetAfter", 0, 86_400
        ),
    }
    response = apply_patch(
        request, body, get_account_service(request), setters, get_account_service
    )
    store.save()
    return response


def get_accounts(request: Request) -> dict[str, Any]:
    """Every account for ConfigureUsers; a caller without it sees only its own (it may read
    nothing else, and clients such as DMTF's rf_accounts.py GET every member they are shown)."""
    store = request.service.auth
    caller = request.caller
    uri = f"{ACCOUNTS}/Accounts"
    visible = [
        a.id
        for a in store.accounts.values()
        if caller is not None
        and (
            caller.has("ConfigureUsers")
            or caller.has("ConfigureManager")
            or a.id == caller.account_id
        )
    ]
    return render.collection(
        uri, "ManagerAccountCollection", "Accounts", [f"{uri}/{a}" for a in visible]
    )


def render_account(account: Account, now_locked: bool) -> dict[str, Any]:
    uri = f"{ACCOUNTS}/Accounts/{account.id}"
    return {
        "@odata.id": uri,
        "@odata.type": "#ManagerAccount.v1_14_1.ManagerAccount",
        "Id": account.id,
        "Name": "User Account",
        "UserName": account.username,
        "RoleId": account.role_id,
        "Enabled": account.enabled,
        "Locked": now_locked,
        "Password": None,
        "AccountTypes": ["Redfish"],
        "Links": {"Role": render.link(f"{ACCOUNTS}/Roles/{account.role_id}")},
    }


def _account(request: Request) -> Account:
    account = request.service.auth.accounts.get(request.params["account"])
    if account is None:
        raise errors.not_found("ManagerAccount", request.params["account"])
    return account


def is_own_account(request: Request) -> bool:
    account = request.service.auth.accounts.get(request.params.get("account", ""))
    return bool(account and request.caller and account.username == request.caller.username)


def get_account(request: Request) -> dict[str, Any]:
    import time

    account = _account(request)
    return render_account(account, account.locked(time.monotonic()))


def _password_problem(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, str):
        return errors.value_type_error("<hidden>", "Password")
    if not MIN_PASSWORD_LENGTH <= len(value) <= MAX_PASSWORD_LENGTH:
        return message("Base", "PropertyValueFormatError", "<hidden>", "Password")
    return None


def _username_problem(value: Any) -> dict[str, Any] | None:
    problem = username_problem(value)
    if problem is None:
        return None
    shown = value if isinstance(value, str) and len(value) <= 64 else "<invalid>"
    refused = message("Base", "PropertyValueFormatError", shown, "UserName")
    refused["Message"] = f"{refused['Message']} {problem}."
    return refused


def post_account(request: Request, body: dict[str, Any]) -> Response:
    store = request.service.auth
    problems = []
    for name in body:
        if name not in ("UserName", "Password", "RoleId", "Enabled", "@odata.type"):
            problems.append(errors.property_unknown(name))
    for name in ("UserName", "Password", "RoleId"):
        if name not in body:
            problems.append(message("Base", "CreateFailedMissingReqProperties", name))
    username, password, role = body.get("UserName"), body.get("Password"), body.get("RoleId")
    if "UserName" in body and (problem := _username_problem(username)):
        problems.append(problem)
    if "Password" in body and (problem := _password_problem(password)):
        problems.append(problem)
    if "RoleId" in body and role not in ROLE_PRIVILEGES:
        problems.append(errors.value_not_in_list(role, "RoleId"))
    enabled = body.get("Enabled", True)
    if not isinstance(enabled, bool):
        problems.append(errors.value_type_error(enabled, "Enabled"))
    if problems:
        raise RedfishError(400, problems)
    assert isinstance(username, str) and isinstance(password, str) and isinstance(role, str)
    if store.name_taken(username):
        raise errors.base(409, "ResourceAlreadyExists", "ManagerAccount", "UserName", username)
    try:
        account = store.create_account(username, password, role)
    except ValueError as error:  # the account limit
        raise errors.base(400, "CreateLimitReachedForResource") from error
    if not enabled:
        account.enabled = False
        store.account_changed(account)
    request.service.log_event(
        "ResourceEvent", "ResourceCreated", [], f"{ACCOUNTS}/Accounts/{account.id}"
    )
    return created(f"{ACCOUNTS}/Accounts/{account.id}", render_account(account, False))


def patch_account(request: Request, body: dict[str, Any]) -> Response:
    store = request.service.auth
    account = _account(request)
    caller = request.caller
    may_configure = caller is not None and caller.has("ConfigureUsers")
    if not may_configure and set(body) - {"Password", "@odata.etag"}:
        # ConfigureSelf only covers one's own Password (privilege registry PropertyOverrides)
        raise errors.insufficient_privilege()

    def set_password(value: Any) -> dict[str, Any] | None:
        if problem := _password_problem(value):
            return problem
        # the caller's own session (if it changes its own password) is the one that stays
        own = caller is not None and caller.account_id == account.id
        store.set_password(account, value, caller.session_id if own and caller else None)
        return None

    def set_role(value: Any) -> dict[str, Any] | None:
        if value not in ROLE_PRIVILEGES:
            return errors.value_not_in_list(value, "RoleId")
        last_admin = account.role_id == "Administrator" and store.admin_count() <= 1
        if value != "Administrator" and account.enabled and last_admin:
            return message("Base", "PropertyValueConflict", "RoleId", "the last Administrator")
        account.role_id = value
        store.account_changed()
        return None

    def set_enabled(value: Any) -> dict[str, Any] | None:
        if not isinstance(value, bool):
            return errors.value_type_error(value, "Enabled")
        last_admin = account.role_id == "Administrator" and store.admin_count() <= 1
        if not value and account.enabled and last_admin:
            return message("Base", "PropertyValueConflict", "Enabled", "the last Administrator")
        account.enabled = value
        store.account_changed(account)
        return None

    def set_username(value: Any) -> dict[str, Any] | None:
        if problem := _username_problem(value):
            return problem
        if store.name_taken(value, besides=account):
            return message("Base", "ResourceAlreadyExists", "ManagerAccount", "UserName", value)
        for session in store.sessions.values():
            if session.username == account.username:
                session.username = value
        account.username = value
        store.account_changed()
        return None

    def set_locked(value: Any) -> dict[str, Any] | None:
        if value is not False:
            return errors.value_not_in_list(value, "Locked")
        account.locked_until, account.failed_logins = 0.0, 0
        store.account_changed()
        return None

    setters = {"Password": set_password}
    if may_configure:
        setters |= {
            "RoleId": set_role,
            "Enabled": set_enabled,
            "UserName": set_username,
            "Locked": set_locked,
        }
    return apply_patch(request, body, get_account(request), setters, get_account)


def delete_account(request: Request) -> Response:
    store = request.service.auth
    account = _account(request)
    if account.role_id == "Administrator" and account.enabled and store.admin_count() <= 1:
        raise errors.base(409, "ResourceCannotBeDeleted")
    del store.accounts[account.id]
    store.account_changed(account)
    return no_content()


def get_roles(request: Request) -> dict[str, Any]:
    uri = f"{ACCOUNTS}/Roles"
    return render.collection(
        uri, "RoleCollection", "Roles", [f"{uri}/{r}" for r in ROLE_PRIVILEGES]
    )


def get_role(request: Request) -> dict[str, Any]:
    role_id = request.params["role"]
    if role_id not in ROLE_PRIVILEGES:
        raise errors.not_found("Role", role_id)
    return {
        "@odata.id": f"{ACCOUNTS}/Roles/{role_id}",
        "@odata.type": "#Role.v1_3_3.Role",
        "Id": role_id,
        "Name": f"{role_id} role",
        "RoleId": role_id,
        "IsPredefined": True,
        "AssignedPrivileges": list(ROLE_PRIVILEGES[role_id]),
        "OemPrivileges": [],
    }


# ---------------------------------------------------------------------- SessionService
def get_session_service(request: Request) -> dict[str, Any]:
    return {
        "@odata.id": SESSIONS,
        "@odata.type": "#SessionService.v1_2_0.SessionService",
        "Id": "SessionService",
        "Name": "Session Service",
        "Status": {"State": "Enabled", "Health": "OK"},
        "ServiceEnabled": True,
        "SessionTimeout": request.service.auth.session_timeout_s,
        "Sessions": render.link(f"{SESSIONS}/Sessions"),
    }


def patch_session_service(request: Request, body: dict[str, Any]) -> Response:
    store = request.service.auth

    def set_timeout(value: Any) -> dict[str, Any] | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return errors.value_type_error(value, "SessionTimeout")
        if not 30 <= value <= 86_400:
            return message("Base", "PropertyValueOutOfRange", value, "SessionTimeout")
        store.session_timeout_s = value
        return None

    response = apply_patch(
        request,
        body,
        get_session_service(request),
        {"SessionTimeout": set_timeout},
        get_session_service,
    )
    store.save()
    return response


def get_sessions(request: Request) -> dict[str, Any]:
    store = request.service.auth
    caller = request.caller
    uri = f"{SESSIONS}/Sessions"
    visible = [
        s.id
        for s in store.sessions.values()
        if caller is not None and (caller.has("ConfigureManager") or s.username == caller.username)
    ]
    return render.collection(uri, "SessionCollection", "Sessions", [f"{uri}/{s}" for s in visible])


def _render_session(session: Any) -> dict[str, Any]:
    body = {
        "@odata.id": f"{SESSIONS}/Sessions/{session.id}",
        "@odata.type": "#Session.v1_8_0.Session",
        "Id": session.id,
        "Name": "User Session",
        "UserName": session.username,
        "Password": None,
        "SessionType": "Redfish",
        "CreatedTime": render.iso(session.created),
    }
    if session.context:
        body["Context"] = session.context
    return body


def get_session(request: Request) -> dict[str, Any]:
    session = request.service.auth.sessions.get(request.params["session"])
    if session is None:
        raise errors.not_found("Session", request.params["session"])
    return _render_session(session)


def is_own_session(request: Request) -> bool:
    session = request.service.auth.sessions.get(request.params.get("session", ""))
    return bool(session and request.caller and session.username == request.caller.username)


def post_session(request: Request, body: dict[str, Any]) -> Response:
    """Log in: 201 with X-Auth-Token and Location; bad credentials 401, lockout counted."""
    problems = []
    for name in body:
        if name not in ("UserName", "Password", "Context", "@odata.type"):
            problems.append(errors.property_unknown(name))
    for name in ("UserName", "Password"):
        if name not in body:
            problems.append(message("Base", "CreateFailedMissingReqProperties", name))
        elif not isinstance(body[name], str):
            problems.append(errors.value_type_error(body[name], name))
    if problems:
        raise RedfishError(400, problems)
    store = request.service.auth
    host = request.client.rpartition(":")[0] or None
    account = store.check_password(body["UserName"], body["Password"], host)
    if account is None:
        request.service.log_login(body["UserName"], ok=False, client=request.client)
        raise errors.unauthorized()
    context = body.get("Context") if isinstance(body.get("Context"), str) else None
    session = store.create_session(account, context[:256] if context else None)
    request.service.log_login(
        account.username, ok=True, client=request.client, role=account.role_id
    )
    location = f"{SESSIONS}/Sessions/{session.id}"
    response = created(location, _render_session(session))
    response.headers["X-Auth-Token"] = session.token
    return response


def delete_session(request: Request) -> Response:
    store = request.service.auth
    if not store.delete_session(request.params["session"]):
        raise errors.not_found("Session", request.params["session"])
    return no_content()


def routes() -> list[Route]:
    return [
        Route(ACCOUNTS, "AccountService", get=get_account_service, patch=patch_account_service),
        Route(
            ACCOUNTS + "/Accounts", "ManagerAccountCollection", get=get_accounts, post=post_account
        ),
        Route(
            ACCOUNTS + "/Accounts/{account}",
            "ManagerAccount",
            get=get_account,
            patch=patch_account,
            delete=delete_account,
            is_self=is_own_account,
            self_patch=True,
        ),
        Route(ACCOUNTS + "/Roles", "RoleCollection", get=get_roles),
        Route(ACCOUNTS + "/Roles/{role}", "Role", get=get_role),
        Route(SESSIONS, "SessionService", get=get_session_service, patch=patch_session_service),
        Route(
            SESSIONS + "/Sessions",
            "SessionCollection",
            get=get_sessions,
            post=post_session,
            open_post=True,
        ),
        Route(
            SESSIONS + "/Sessions/{session}",
            "Session",
            get=get_session,
            delete=delete_session,
            is_self=is_own_session,
        ),
    ]
