"""What several resource families share: action parameters, PATCH bookkeeping, engine calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from energydash.redfish import errors
from energydash.redfish.errors import RedfishError
from energydash.redfish.http import Request, Response, no_content
from energydash.redfish.registries import message
from energydash.sim.commands import Command, CommandError, CommandResult

Setter = Callable[[Any], "dict[str, Any] | None"]  # returns an error message or None


def action_args(
    body: dict[str, Any],
    action: str,
    allowed: dict[str, list[str] | type | None],
    required: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Validate an action's parameters: unknown, missing, wrong type, not in the list -> 400."""
    problems = []
    for name in body:
        if name not in allowed:
            problems.append(message("Base", "ActionParameterUnknown", action, name))
    for name in required:
        if name not in body:
            problems.append(message("Base", "ActionParameterMissing", action, name))
    for name, spec in allowed.items():
        if name not in body:
            continue
        value = body[name]
        if isinstance(spec, list):
            if not isinstance(value, str):
                problems.append(
                    message("Base", "ActionParameterValueTypeError", value, name, action)
                )
            elif value not in spec:
                problems.append(
                    message("Base", "ActionParameterValueNotInList", value, name, action)
                )
        elif isinstance(spec, type) and not isinstance(value, spec):
            problems.append(message("Base", "ActionParameterValueTypeError", value, name, action))
    if problems:
        raise RedfishError(400, problems)
    return body


def execute(request: Request, command: Command) -> CommandResult:
    """Run a command on the engine; its refusal becomes a 400 naming the engine's reason."""
    try:
        return request.service.engine.execute(command)
    except CommandError as error:
        refused = message("Base", "ActionParameterValueError", error.field or "request", "command")
        refused["Message"] = f"The request was refused: {error.message}"
        refused["Resolution"] = "Correct the request as the message says and resubmit it."
        raise RedfishError(400, [refused]) from None


def action_done(result: CommandResult | None = None) -> Response:
    """Actions answer 204: the next GET shows the effect."""
    return no_content()


def apply_patch(
    request: Request,
    body: dict[str, Any],
    current: dict[str, Any],
    setters: dict[str, Setter],
    getter: Callable[[Request], dict[str, Any]],
) -> Response:
    """Apply the writable properties that are valid, report the others.

    All refused -> 400 with every reason; some applied -> 200 with the resource and the refusals
    in ``@Message.ExtendedInfo``; nothing -> 400 NoOperation.
    """
    if not body:
        raise errors.base(400, "NoOperation")
    problems: list[dict[str, Any]] = []
    applied = 0
    for name, value in body.items():
        if name.startswith("@"):
            continue
        setter = setters.get(name)
        if setter is None:
            if name in current:
                problems.append(errors.property_not_writable(name))
            else:
                problems.append(errors.property_unknown(name))
            continue
        problem = setter(value)
        if problem is not None:
            problems.append(problem)
        else:
            applied += 1
    if not applied:
        raise RedfishError(400, problems or [message("Base", "NoOperation")])
    request.service.save_settings()  # on disk before the answer (redfish.persistence)
    resource = getter(request)
    if problems:
        resource["@Message.ExtendedInfo"] = problems
    return Response(200, resource)


def require(found: Any, resource_type: str, name: str) -> Any:
    if found is None:
        raise errors.not_found(resource_type, name)
    return found
