"""Routes: a URI template, the privilege-registry entity it belongs to, and its handlers.

Matching splits the path into segments and compares only routes with as many segments, so a
lookup is a dict access plus a handful of string compares, whatever the tree's size.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from energydash.redfish.http import Request, Response

Getter = Callable[["Request"], dict[str, Any]]
Patcher = Callable[["Request", dict[str, Any]], "Response"]
Poster = Callable[["Request", dict[str, Any]], "Response | Awaitable[Response]"]
Deleter = Callable[["Request"], "Response"]
Streamer = Callable[["Request"], Awaitable["Response"]]


@dataclass(slots=True)
class Route:
    """One resource (or action target) of the tree."""

    template: str
    entity: str
    get: Getter | None = None
    patch: Patcher | None = None
    post: Poster | None = None
    delete: Deleter | None = None
    stream: Streamer | None = None  # GET that streams (SSE); no ETag, no query options
    open_get: bool = False  # readable without credentials
    open_post: bool = False  # POST without credentials (creating a session)
    is_self: Callable[[Request], bool] | None = None  # for ConfigureSelf
    self_patch: bool = False  # PATCH of one's own resource needs only ConfigureSelf
    post_entity: str | None = None  # privilege entity for POST when it differs (actions)
    raw_get: Callable[[Request], Response] | None = None  # non-JSON bodies ($metadata)
    segments: tuple[str | None, ...] = field(init=False)
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        parts = self.template.strip("/").split("/")
        self.segments = tuple(None if p.startswith("{") else p for p in parts)
        self.names = tuple(p[1:-1] for p in parts if p.startswith("{"))

    @property
    def allow(self) -> list[str]:
        methods = []
        if self.get or self.stream or self.raw_get:
            methods += ["GET", "HEAD"]
        if self.patch:
            methods.append("PATCH")
        if self.post:
            methods.append("POST")
        if self.delete:
            methods.append("DELETE")
        return methods


class RouteTable:
    """Routes grouped by segment count; first registered wins on a tie."""

    def __init__(self) -> None:
        self._by_length: dict[int, list[Route]] = {}

    def add(self, *routes: Route) -> None:
        for route in routes:
            self._by_length.setdefault(len(route.segments), []).append(route)

    def match(self, path: str) -> tuple[Route, dict[str, str]] | None:
        parts = path.strip("/").split("/")
        for route in self._by_length.get(len(parts), ()):
            segments = route.segments
            for literal, part in zip(segments, parts, strict=True):
                if literal is not None and literal != part:
                    break
            else:
                values = [p for literal, p in zip(segments, parts, strict=True) if literal is None]
                return route, dict(zip(route.names, values, strict=True))
        return None

    def __iter__(self):  # type: ignore[no-untyped-def]
        for routes in self._by_length.values():
            yield from routes
