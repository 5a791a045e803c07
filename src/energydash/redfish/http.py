"""The Redfish protocol layer as a small pure-ASGI app: headers, auth, privileges, query options.

Everything a Redfish client expects of *every* URI lives here once: ``OData-Version`` (4.0 only;
asking for another gives 412), 401 with ``WWW-Authenticate``, 403 from the privilege registry,
405 with ``Allow``, ``ETag``/``@odata.etag`` with ``If-Match`` (412, nothing changed) and
``If-None-Match`` (304), ``Link: rel=describedby``, ``Cache-Control``, HEAD without a body,
``$select``, ``$expand`` (up to 3 ``$levels``), ``only``, ``$filter``, ``$top``/``$skip`` with
``Members@odata.nextLink`` paging (``redfish_page_size``), 501 for any other ``$`` option, 415
for a body that is not JSON, and ``POST .../Members`` as a POST to the collection. The path is
the ASGI ``path`` (decoded once by the server, never again). Handlers only build dicts from
the engine. It is pure ASGI (no FastAPI per request) because the service must
answer thousands of GETs a second on a shared core.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import orjson

from energydash.auth import AuthStore, Caller, PrivilegeMap
from energydash.redfish import errors
from energydash.redfish import query as rfquery
from energydash.redfish.errors import RedfishError
from energydash.redfish.registries import message
from energydash.redfish.routing import Route, RouteTable

if TYPE_CHECKING:
    from energydash.redfish.service import RedfishService

log = logging.getLogger(__name__)

JSON_TYPE = b"application/json;charset=utf-8"
SUPPORTED_QUERY = {"$select", "$expand", "only", "$filter", "$top", "$skip"}
COLLECTION_QUERY = ("$filter", "$top", "$skip")
MAX_EXPAND_LEVELS = 3
JSON_MEDIA = (b"application/json", b"application/merge-patch+json")
SCHEMA_BASE = "http://redfish.dmtf.org/schemas/v1/"
ORJSON_OPTS = orjson.OPT_NON_STR_KEYS


@dataclass(slots=True)
class Request:
    """One request as handlers see it."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[bytes, bytes]
    body: bytes
    caller: Caller | None
    service: RedfishService
    client: str = ""

    def json(self) -> dict[str, Any]:
        """The body as a JSON object, or 400 MalformedJSON."""
        if not self.body.strip():
            return {}
        try:
            value = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise errors.malformed_json() from None
        if not isinstance(value, dict):
            raise errors.base(400, "UnrecognizedRequestBody")
        return value


@dataclass(slots=True)
class Response:
    status: int = 200
    body: dict[str, Any] | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: bytes = JSON_TYPE
    stream: AsyncIterator[bytes] | None = None


def no_content() -> Response:
    return Response(204)


def created(location: str, body: dict[str, Any]) -> Response:
    return Response(201, body, {"Location": location})


def etag_of(encoded: bytes) -> str:
    return f'W/"{zlib.crc32(encoded):08x}"'


def _odata_type_schema(body: dict[str, Any]) -> str | None:
    odata_type = body.get("@odata.type")
    if not isinstance(odata_type, str):
        return None
    # "#Outlet.v1_4_4.Outlet" -> "Outlet.v1_4_4"; "#OutletCollection.OutletCollection" -> ...
    namespace = odata_type.lstrip("#").rsplit(".", 1)[0]
    return namespace


class RedfishApp:
    """The ASGI callable behind ``/redfish``."""

    def __init__(
        self, service: RedfishService, table: RouteTable, auth: AuthStore, privileges: PrivilegeMap
    ) -> None:
        self.service = service
        self.table = table
        self.auth = auth
        self.privileges = privileges

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            event = await receive()
            body += event.get("body", b"")
            more = event.get("more_body", False)
        headers = dict(scope["headers"])
        client = scope.get("client")
        if self.service.wire.active and await self._wire_faults(scope, receive, send):
            return
        try:
            response = await self.handle(
                scope["method"],
                scope["path"],
                scope.get("query_string", b""),
                headers,
                body,
                f"{client[0]}:{client[1]}" if client else "",
            )
        except Exception:
            log.exception("Redfish %s %s failed", scope["method"], scope["path"])
            response = self._error(RedfishError(500, [message("Base", "InternalError")]))
        await self._send(scope["method"], response, send, receive)

    async def _wire_faults(self, scope: dict[str, Any], receive: Any, send: Any) -> bool:
        """Apply the wire faults that match this request; True when they answered it."""
        wire = self.service.wire
        faults = wire.for_path(scope["path"])
        delay_s = 0.0
        for fault in faults:
            fault.hits += 1
            kind = fault.kind
            if kind == "wire_latency":
                jitter = fault.params["jitter_ms"]
                delay_s += (fault.params["ms"] + fault.rng.uniform(0, jitter)) / 1000.0
            elif kind in ("wire_timeout", "wire_drop"):
                if kind == "wire_timeout":
                    await _until_over_or_gone(wire.wait_out(fault, self._speed()), receive)
                drop = scope.get("extensions", {}).get("energydash.drop")
                if drop is not None:
                    drop()
                    return True
                raise ConnectionAbortedError("wire fault: connection dropped")
            else:
                if kind == "card_reboot":
                    retry = str(max(1, round(wire.remaining_s(fault) / self._speed())))
                    error = errors.base(503, "ServiceTemporarilyUnavailable", retry)
                    error.headers["Retry-After"] = retry
                elif int(fault.params["status"]) == 503:
                    error = errors.base(503, "ServiceTemporarilyUnavailable", "1")
                    error.headers["Retry-After"] = "1"
                else:
                    error = RedfishError(500, [message("Base", "InternalError")])
                await self._send(scope["method"], self._error(error), send)
                return True
        if delay_s:
            await asyncio.sleep(delay_s)
        return False

    def _speed(self) -> float:
        clock = self.service.engine.clock
        return float(clock.speed) if clock.mode == "accelerated" else 1.0

    async def _send(self, method: str, response: Response, send: Any, receive: Any = None) -> None:
        raw = [
            (b"odata-version", b"4.0"),
            (b"cache-control", b"no-cache"),
        ]
        raw += [(k.lower().encode(), v.encode("latin-1")) for k, v in response.headers.items()]
        if response.stream is not None:
            raw.append((b"content-type", response.content_type))
            await send({"type": "http.response.start", "status": response.status, "headers": raw})
            await _stream_until_disconnect(response.stream, send, receive)
            return
        if response.body is None:
            payload = b""
        elif isinstance(response.body, bytes):
            payload = response.body
        else:
            payload = orjson.dumps(response.body, option=ORJSON_OPTS)
        if response.status not in (204, 304):
            raw.append((b"content-type", response.content_type))
            raw.append((b"content-length", str(len(payload)).encode()))
        if method == "HEAD" or response.status in (204, 304):
            payload = b""
        await send({"type": "http.response.start", "status": response.status, "headers": raw})
        await send({"type": "http.response.body", "body": payload})

    # ------------------------------------------------------------------ dispatch
    async def handle(
        self,
        method: str,
        path: str,
        query_string: bytes,
        headers: dict[bytes, bytes],
        body: bytes,
        client: str = "",
    ) -> Response:
        try:
            return await self._dispatch(method, path, query_string, headers, body, client)
        except RedfishError as error:
            return self._error(error)

    def _error(self, error: RedfishError) -> Response:
        return Response(error.status, error.body(), dict(error.headers))

    async def _dispatch(
        self,
        method: str,
        path: str,
        query_string: bytes,
        headers: dict[bytes, bytes],
        body: bytes,
        client: str,
    ) -> Response:
        down_s = self.service.card.retry_after_s()
        if down_s > 0:  # the management card is rebooting
            retry = str(max(1, round(down_s)))
            error = errors.base(503, "ServiceTemporarilyUnavailable", retry)
            error.headers["Retry-After"] = retry
            raise error
        odata_version = headers.get(b"odata-version")
        if odata_version is not None and odata_version.strip() != b"4.0":
            raise errors.base(412, "HeaderInvalid", f"OData-Version: {odata_version.decode()}")
        if len(path) > 1:
            path = path.rstrip("/")
        matched = self.table.match(path)
        if method == "POST" and path.endswith("/Members"):
            # Redfish: a POST to a collection's Members URI is a POST to the collection
            parent = self.table.match(path[: -len("/Members")])
            if (
                parent is not None
                and parent[0].post is not None
                and "Collection" in (parent[0].entity)
            ):
                matched = parent
                path = path[: -len("/Members")]
        route, params = matched if matched else (None, {})
        is_read = method in ("GET", "HEAD")
        open_route = route is not None and (
            (is_read and route.open_get) or (method == "POST" and route.open_post)
        )
        caller = self.auth.authenticate(
            headers.get(b"authorization"),
            headers.get(b"x-auth-token"),
            client.rpartition(":")[0] or None,
        )
        if caller is None and not open_route:
            if not is_read:  # refusals of writes are audited (anonymous ones coalesced)
                self.service.audit_refusal(None, method, path, client, "no valid credential")
            raise errors.unauthorized()
        if route is None:
            raise errors.base(404, "ResourceMissingAtURI", path)
        if method not in route.allow:
            raise errors.method_not_allowed(route.allow)
        query = self._query(query_string, is_read)
        request = Request(method, path, params, query, headers, body, caller, self.service, client)
        if not open_route:
            entity = route.post_entity if (method == "POST" and route.post_entity) else route.entity
            is_self = route.is_self(request) if route.is_self else False
            self_patch = route.self_patch and is_self and method == "PATCH"
            if not self_patch and not self.privileges.allows(caller, entity, method, is_self):
                if not is_read:
                    self.service.audit_refusal(
                        caller, method, path, client, "insufficient privilege"
                    )
                raise errors.insufficient_privilege()
        if is_read:
            return await self._read(route, request)
        if body.strip():
            media = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
            if media not in JSON_MEDIA:
                shown = media.decode("latin-1") or "(none)"
                error = errors.base(415, "HeaderInvalid", f"Content-Type: {shown}")
                error.messages[0]["Message"] += " Request bodies must be application/json."
                raise error
        if_match = headers.get(b"if-match")
        if if_match is not None and route.get is not None:
            current = etag_of(orjson.dumps(route.get(request), option=ORJSON_OPTS))
            wanted = {t.strip() for t in if_match.decode("latin-1").split(",")}
            if "*" not in wanted and current not in wanted and current[2:] not in wanted:
                raise errors.base(412, "PreconditionFailed")
        try:
            if method == "PATCH":
                assert route.patch is not None
                response = route.patch(request, request.json())
            elif method == "POST":
                assert route.post is not None
                response = route.post(request, request.json())
                if inspect.isawaitable(response):
                    response = await response
            else:
                assert route.delete is not None
                response = route.delete(request)
        except RedfishError as error:
            self.service.audit_write(request, error.status, _first_message(error))
            raise
        self.service.audit_write(request, response.status)
        return response

    def _query(self, query_string: bytes, is_read: bool) -> dict[str, str]:
        if not query_string:
            return {}
        query = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
        for name in query:
            if name.startswith("$") and name not in SUPPORTED_QUERY:
                raise errors.base(501, "QueryParameterUnsupported", name)
        if not is_read and any(n in SUPPORTED_QUERY for n in query):
            raise errors.base(400, "QueryNotSupportedOnOperation")
        if query.get("only", "") != "":
            raise errors.base(400, "QueryParameterValueFormatError", query["only"], "only")
        return query

    async def _read(self, route: Route, request: Request) -> Response:
        if route.raw_get is not None:
            return route.raw_get(request)
        if route.stream is not None:
            if request.method == "HEAD":
                return Response(200, None, {"Allow": ", ".join(route.allow)}, b"text/event-stream")
            return await route.stream(request)
        assert route.get is not None
        resource = route.get(request)
        query = request.query
        if "only" in query:
            if len(query) > 1:
                raise errors.base(400, "QueryCombinationInvalid")
            members = resource.get("Members")
            if members is None:
                raise errors.base(400, "QueryNotSupportedOnResource")
            if len(members) == 1:
                member_path = members[0]["@odata.id"]
                return await self._read_path(member_path, request)
        encoded = orjson.dumps(resource, option=ORJSON_OPTS)
        etag = etag_of(encoded)
        headers = {"ETag": etag, "Allow": ", ".join(route.allow)}
        schema = _odata_type_schema(resource)
        if schema:
            headers["Link"] = f"<{SCHEMA_BASE}{schema}.json>; rel=describedby"
        if_none_match = request.headers.get(b"if-none-match")
        if if_none_match is not None:
            tags = {t.strip() for t in if_none_match.decode("latin-1").split(",")}
            if etag in tags or "*" in tags:
                return Response(304, None, headers)
        if "@odata.id" in resource and "Members" not in resource:
            # the ETag rides in the body too, spliced in so the body is encoded once
            encoded = encoded[:-1] + b',"@odata.etag":' + orjson.dumps(etag) + b"}"
        members = resource.get("Members")
        page = self.service.settings.redfish_page_size
        is_collection = isinstance(members, list) and "Members@odata.count" in resource
        if not is_collection and any(n in query for n in COLLECTION_QUERY):
            raise errors.base(400, "QueryNotSupportedOnResource")
        if is_collection and (
            len(members) > page or any(n in query for n in COLLECTION_QUERY)  # type: ignore[arg-type]
        ):
            resource = self._page(resource, request, page)
        elif not ("$expand" in query or "$select" in query):
            return Response(200, encoded, headers)
        if "@odata.id" in resource and "Members" not in resource:
            resource["@odata.etag"] = etag
        if "$expand" in query:
            resource = await self._expand(resource, query["$expand"], request)
        if "$select" in query:
            resource = rfquery.select(resource, query["$select"])
        return Response(200, orjson.dumps(resource, option=ORJSON_OPTS), headers)

    def _page(self, resource: dict[str, Any], request: Request, page: int) -> dict[str, Any]:
        """$filter, then $skip/$top, then at most ``page`` members with a nextLink for the rest."""
        query = request.query
        members = resource["Members"]
        if "$filter" in query:
            predicate = rfquery.parse_filter(query["$filter"])
            kept = []
            for member in members:
                full = self.resolve(member["@odata.id"], request) if len(member) == 1 else member
                if full is not None and predicate(full):
                    kept.append(member)
            members = kept
        total = len(members)
        skip = rfquery.count_option(query, "$skip") or 0
        top = rfquery.count_option(query, "$top")
        end = total if top is None else min(total, skip + top)
        shown = members[skip : min(end, skip + page)]
        body = dict(resource)
        body["Members@odata.count"] = total
        body["Members"] = shown
        following = skip + len(shown)
        if following < end:
            rest = {k: v for k, v in query.items() if k not in ("$skip", "$top")}
            rest["$skip"] = str(following)
            if top is not None:
                rest["$top"] = str(end - following)
            body["Members@odata.nextLink"] = f"{request.path}?{urlencode(rest)}"
        return body

    async def _read_path(self, path: str, request: Request) -> Response:
        matched = self.table.match(path)
        if matched is None:
            raise errors.base(404, "ResourceMissingAtURI", path)
        route, params = matched
        sub = Request("GET", path, params, {}, request.headers, b"", request.caller, self.service)
        return await self._read(route, sub)

    def resolve(self, path: str, request: Request) -> dict[str, Any] | None:
        """The rendered resource at ``path`` (for $expand), or None when unknown or unreadable."""
        matched = self.table.match(path)
        if matched is None or matched[0].get is None:
            return None
        route, params = matched
        if not self.privileges.allows(request.caller, route.entity, "GET", False):
            return None
        sub = Request("GET", path, params, {}, request.headers, b"", request.caller, self.service)
        try:
            return route.get(sub)
        except RedfishError:
            return None

    async def _expand(self, resource: dict[str, Any], option: str, request: Request) -> dict:
        spec = option.strip()
        levels = 1
        if "(" in spec:
            spec, _, rest = spec.partition("(")
            rest = rest.rstrip(")").strip()
            name, _, value = rest.partition("=")
            if name.strip() != "$levels" or not value.strip().isdigit():
                raise errors.base(400, "QueryParameterValueFormatError", option, "$expand")
            levels = int(value)
        if spec not in ("*", ".", "~"):
            raise errors.base(400, "QueryParameterValueFormatError", option, "$expand")
        if not 1 <= levels <= MAX_EXPAND_LEVELS:
            raise errors.base(
                400, "QueryParameterOutOfRange", str(levels), "$levels", f"1-{MAX_EXPAND_LEVELS}"
            )
        seen: set[str] = set()

        def walk(value: Any, in_links: bool, depth: int) -> Any:
            if isinstance(value, dict):
                if set(value) == {"@odata.id"}:
                    wanted = spec == "*" or (spec == "~") == in_links
                    uri = value["@odata.id"]
                    if wanted and uri not in seen:
                        expanded = self.resolve(uri, request)
                        if expanded is not None:
                            seen.add(uri)  # a link back up the tree is not expanded again
                            if depth > 1:
                                return expand_resource(expanded, depth - 1)
                            return expanded
                    return value
                return {
                    k: walk(v, in_links or k == "Links", depth)
                    for k, v in value.items()
                    if not k.startswith("@")
                } | {k: v for k, v in value.items() if k.startswith("@")}
            if isinstance(value, list):
                return [walk(v, in_links, depth) for v in value]
            return value

        def expand_resource(body: dict[str, Any], depth: int) -> dict[str, Any]:
            if "@odata.id" in body:
                seen.add(body["@odata.id"])
            return {
                k: (v if k.startswith("@") or k == "Actions" else walk(v, k == "Links", depth))
                for k, v in body.items()
            }

        return expand_resource(resource, levels)


async def _until_over_or_gone(waiting: Any, receive: Any) -> None:
    """Wait for ``waiting`` unless the client disconnects first."""

    async def gone() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    tasks = {asyncio.ensure_future(waiting), asyncio.ensure_future(gone())}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _first_message(error: RedfishError) -> str:
    return str(error.messages[0].get("Message", "")) if error.messages else ""


async def _stream_until_disconnect(stream: AsyncIterator[bytes], send: Any, receive: Any) -> None:
    """Send chunks until the stream ends or the client goes away (then stop at once)."""

    async def pump() -> None:
        async for chunk in stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def watch() -> None:
        while receive is not None:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
        await asyncio.Event().wait()

    pumping = asyncio.ensure_future(pump())
    watching = asyncio.ensure_future(watch())
    try:
        await asyncio.wait({pumping, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pumping, watching):
            task.cancel()
        for task in (pumping, watching):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
