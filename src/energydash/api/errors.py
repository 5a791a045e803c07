"""Every error of the REST API and /health is a JSON body with a ``reason``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from energydash.api.responses import OrjsonResponse
from energydash.sim.commands import CommandError

log = logging.getLogger(__name__)


class ApiError(HTTPException):
    """An error with a reason and optionally the field at fault."""

    def __init__(
        self,
        status_code: int,
        reason: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=reason, headers=headers)
        self.reason = reason
        self.field = field


def _body(reason: str, status: int, field: str | None = None, **extra: object) -> OrjsonResponse:
    content: dict[str, object] = {"reason": reason, "status": status}
    if field:
        content["field"] = field
    content.update(extra)
    return OrjsonResponse(content, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> OrjsonResponse:
        response = _body(error.reason, error.status_code, error.field)
        if error.headers:
            response.headers.update(error.headers)
        return response

    @app.exception_handler(CommandError)
    async def _command_error(request: Request, error: CommandError) -> OrjsonResponse:
        return _body(error.message, 422 if error.field else 409, error.field)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> OrjsonResponse:
        problems = []
        for item in error.errors():
            where = ".".join(str(p) for p in item["loc"])
            problems.append(f"{where}: {item['msg']}")
        first = error.errors()[0] if error.errors() else {"loc": ()}
        field = ".".join(str(p) for p in first["loc"]) or None
        return _body("; ".join(problems) or "invalid request", 422, field, errors=problems)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> OrjsonResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _body(f"internal error: {type(error).__name__}; see logs/backend.log", 500)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> OrjsonResponse:
        reason = error.detail if isinstance(error.detail, str) else str(error.detail)
        if error.status_code == 404 and reason == "Not Found":
            reason = f"no such resource: {request.url.path}"
        return _body(reason, error.status_code)
