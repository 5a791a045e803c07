"""EventService: subscriptions (EventDestination), SubmitTestEvent and the SSE stream."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from energydash.redfish import errors, registries, render
from energydash.redfish.errors import RedfishError
from energydash.redfish.events import EventFilters
from energydash.redfish.http import Request, Response, created, no_content
from energydash.redfish.registries import message
from energydash.redfish.resources.common import action_args, apply_patch
from energydash.redfish.routing import Route

BASE = "/redfish/v1/EventService"
SSE_URI = BASE + "/SSE"
REGISTRY_PREFIXES = ["Base", "Power", "ResourceEvent", "SensorEvent", "Update"]
MAX_FILTER_ITEMS = 64
MAX_HEADERS = 16
MAX_HEADER_BYTES = 1024
RETRY_POLICIES = ["TerminateAfterRetries", "SuspendRetries", "RetryForever"]
MAX_DESTINATION = 2048
RESOURCE_TYPES = [
    "Outlet",
    "Circuit",
    "OutletGroup",
    "OutletGroupCollection",
    "PowerDistribution",
    "ManagerAccount",
    "Sensor",
    "SoftwareInventory",
]


def get_event_service(request: Request) -> dict[str, Any]:
    hub = request.service.events
    return {
        "@odata.id": BASE,
        "@odata.type": "#EventService.v1_12_0.EventService",
        "Id": "EventService",
        "Name": "Event Service",
        "Status": {"State": "Enabled", "Health": "OK"},
        "ServiceEnabled": True,
        "DeliveryRetryAttempts": hub.retry_attempts,
        "DeliveryRetryIntervalSeconds": hub.retry_interval_s,
        "EventFormatTypes": ["Event"],
        "RegistryPrefixes": REGISTRY_PREFIXES,
        "ExcludeMessageId": True,
        "ExcludeRegistryPrefix": True,
        "IncludeOriginOfConditionSupported": True,
        "SubordinateResourcesSupported": True,
        "ResourceTypes": RESOURCE_TYPES,
        "ServerSentEventUri": SSE_URI,
        "SSEFilterPropertiesSupported": {
            "EventFormatType": False,
            "MessageId": False,
            "MetricReportDefinition": False,
            "OriginResource": False,
            "RegistryPrefix": False,
            "ResourceType": False,
        },
        "Subscriptions": render.link(f"{BASE}/Subscriptions"),
        "Actions": {
            "#EventService.SubmitTestEvent": {
                "target": f"{BASE}/Actions/EventService.SubmitTestEvent",
            }
        },
    }


def patch_event_service(request: Request, body: dict[str, Any]) -> Response:
    hub = request.service.events

    def int_setter(attr: str, name: str, low: int, high: int):  # type: ignore[no-untyped-def]
        def setter(value: Any) -> dict[str, Any] | None:
            if not isinstance(value, int) or isinstance(value, bool):
                return errors.value_type_error(value, name)
            if not low <= value <= high:
                return message("Base", "PropertyValueOutOfRange", value, name)
            hub.set_retry(**{attr: value})  # existing subscriptions follow
            return None

        return setter

    setters = {
        "DeliveryRetryAttempts": int_setter("attempts", "DeliveryRetryAttempts", 0, 100),
        "DeliveryRetryIntervalSeconds": int_setter(
            "interval_s", "DeliveryRetryIntervalSeconds", 1, 3600
        ),
    }
    return apply_patch(request, body, get_event_service(request), setters, get_event_service)


def get_subscriptions(request: Request) -> dict[str, Any]:
    uri = f"{BASE}/Subscriptions"
    subs = request.service.events.subscriptions
    return render.collection(
        uri, "EventDestinationCollection", "Event Subscriptions", [f"{uri}/{s}" for s in subs]
    )


def _render_sub(sub: Any) -> dict[str, Any]:
    uri = f"{BASE}/Subscriptions/{sub.id}"
    sse_stream = sub.protocol == "SSE"
    body = {
        "@odata.id": uri,
        "@odata.type": "#EventDestination.v1_16_0.EventDestination",
        "Id": sub.id,
        "Name": f"{'SSE stream' if sse_stream else 'Event Subscription'} {sub.id}",
        "Destination": SSE_URI if sse_stream else sub.destination,
        "Protocol": "Redfish",
        "Context": sub.context,
        "SubscriptionType": "SSE" if sse_stream else "RedfishEvent",
        "EventFormatType": "Event",
        "RegistryPrefixes": sub.registry_prefixes,
        "ResourceTypes": sub.resource_types,
        "ExcludeRegistryPrefixes": sub.filters.exclude_registry_prefixes,
        "ExcludeMessageIds": sub.filters.exclude_message_ids,
        "OriginResources": [render.link(u) for u in sub.filters.origin_resources],
        "SubordinateResources": sub.filters.subordinate_resources,
        "IncludeOriginOfCondition": sub.filters.include_origin,
        "HttpHeaders": [],  # the spec: write-only, null or empty in responses
        "DeliveryRetryPolicy": sub.retry_policy,
        "Status": {"State": "Disabled" if sub.suspended else "Enabled", "Health": "OK"},
    }
    if not sse_stream:
        body["Actions"] = {
            "#EventDestination.SuspendSubscription": {
                "target": f"{uri}/Actions/EventDestination.SuspendSubscription"
            },
            "#EventDestination.ResumeSubscription": {
                "target": f"{uri}/Actions/EventDestination.ResumeSubscription"
            },
        }
    return body


def _sub(request: Request) -> Any:
    sub = request.service.events.subscriptions.get(request.params["sub"])
    if sub is None:
        raise errors.not_found("EventDestination", request.params["sub"])
    return sub


def get_subscription(request: Request) -> dict[str, Any]:
    return _render_sub(_sub(request))


def is_own_subscription(request: Request) -> bool:
    sub = request.service.events.subscriptions.get(request.params.get("sub", ""))
    return bool(sub and request.caller and sub.owner == request.caller.username)


def _string_list(body: dict[str, Any], name: str, allowed: list[str], problems: list) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(errors.value_type_error(str(value), name))
        return []
    for item in value:
        if item not in allowed:
            problems.append(errors.value_not_in_list(item, name))
    return value


def post_subscription(request: Request, body: dict[str, Any]) -> Response:
    known = {
        "Destination",
        "Protocol",
        "Context",
        "RegistryPrefixes",
        "ResourceTypes",
        "EventFormatType",
        "SubscriptionType",
        "DeliveryRetryPolicy",
        "ExcludeRegistryPrefixes",
        "ExcludeMessageIds",
        "OriginResources",
        "SubordinateResources",
        "IncludeOriginOfCondition",
        "HttpHeaders",
        "@odata.type",
    }
    problems: list[dict[str, Any]] = [errors.property_unknown(n) for n in body if n not in known]
    destination = body.get("Destination")
    if "Destination" not in body:
        problems.append(message("Base", "CreateFailedMissingReqProperties", "Destination"))
    elif not _url_ok(destination):
        shown = str(destination)[:80]
        problems.append(message("Base", "PropertyValueFormatError", shown, "Destination"))
    policy = body.get("DeliveryRetryPolicy", "TerminateAfterRetries")
    if policy not in RETRY_POLICIES:
        problems.append(errors.value_not_in_list(str(policy), "DeliveryRetryPolicy"))
    protocol = body.get("Protocol", "Redfish")
    if protocol != "Redfish":
        problems.append(errors.value_not_in_list(protocol, "Protocol"))
    if body.get("EventFormatType", "Event") != "Event":
        problems.append(errors.value_not_in_list(body["EventFormatType"], "EventFormatType"))
    if body.get("SubscriptionType", "RedfishEvent") != "RedfishEvent":
        problems.append(errors.value_not_in_list(body["SubscriptionType"], "SubscriptionType"))
    context = body.get("Context", "")
    if not isinstance(context, str):
        problems.append(errors.value_type_error(context, "Context"))
    prefixes = _string_list(body, "RegistryPrefixes", REGISTRY_PREFIXES, problems)
    types = _string_list(body, "ResourceTypes", RESOURCE_TYPES, problems)
    filters = _filters(body, problems)
    if problems:
        raise RedfishError(400, problems)
    owner = request.caller.username if request.caller else ""
    sub = request.service.events.subscribe(str(destination), context, prefixes, types, owner)
    sub.filters = filters
    sub.retry_policy = policy
    request.service.events.changed()  # saved with its filters and policy, not only its URL
    return created(f"{BASE}/Subscriptions/{sub.id}", _render_sub(sub))


def _url_ok(value: Any) -> bool:
    """An absolute http(s) URL with a host that parses (``http://[::1`` does not)."""
    if not isinstance(value, str) or len(value) > MAX_DESTINATION:
        return False
    try:
        parts = urlsplit(value)
        port = parts.port  # raises on a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and port != 0


def suspend_subscription(request: Request, body: dict[str, Any]) -> Response:
    action_args(body, "EventDestination.SuspendSubscription", {})
    request.service.events.suspend(_sub(request))
    return no_content()


def resume_subscription(request: Request, body: dict[str, Any]) -> Response:
    action_args(body, "EventDestination.ResumeSubscription", {"DeliverBufferedEvents": bool})
    sub = _sub(request)
    if body.get("DeliverBufferedEvents") is False:
        while not sub.queue.empty():
            sub.queue.get_nowait()
    request.service.events.resume(sub)
    return no_content()


def _filters(body: dict[str, Any], problems: list[dict[str, Any]]) -> EventFilters:
    """ExcludeRegistryPrefixes, ExcludeMessageIds, OriginResources, SubordinateResources,
    IncludeOriginOfCondition and HttpHeaders of a subscription POST (each bounded)."""
    filters = EventFilters()
    filters.exclude_registry_prefixes = _string_list(
        body, "ExcludeRegistryPrefixes", REGISTRY_PREFIXES, problems
    )
    ids = body.get("ExcludeMessageIds", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) and len(i) <= 128 for i in ids):
        problems.append(errors.value_type_error(str(ids)[:80], "ExcludeMessageIds"))
    else:
        filters.exclude_message_ids = ids
    origins = body.get("OriginResources", [])
    uris = (
        [o.get("@odata.id") if isinstance(o, dict) else None for o in origins]
        if isinstance(origins, list)
        else [None]
    )
    if not all(isinstance(u, str) and u.startswith("/redfish/v1") for u in uris):
        problems.append(errors.value_type_error(str(origins)[:80], "OriginResources"))
    else:
        filters.origin_resources = [str(u).rstrip("/") for u in uris]
    for name, attr in (
        ("SubordinateResources", "subordinate_resources"),
        ("IncludeOriginOfCondition", "include_origin"),
    ):
        if name in body:
            if not isinstance(body[name], bool):
                problems.append(errors.value_type_error(body[name], name))
            else:
                setattr(filters, attr, body[name])
    headers = body.get("HttpHeaders", [])
    if isinstance(headers, dict):
        headers = [headers]
    if not isinstance(headers, list) or len(headers) > MAX_HEADERS:
        problems.append(errors.value_type_error("HttpHeaders", "HttpHeaders"))
        headers = []
    for item in headers:
        if not isinstance(item, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and _header_ok(k, v) for k, v in item.items()
        ):
            problems.append(errors.value_type_error("HttpHeaders", "HttpHeaders"))
            break
        filters.http_headers.update(item)
    for collection in (filters.exclude_message_ids, filters.origin_resources):
        if len(collection) > MAX_FILTER_ITEMS:
            problems.append(message("Base", "PropertyValueOutOfRange", len(collection), "filter"))
    return filters


def _header_ok(name: str, value: str) -> bool:
    """A header a destination may get: a token name, a printable value, nothing we set."""
    token = name.replace("-", "").replace("_", "")
    return (
        bool(token)
        and token.isascii()
        and token.isalnum()
        and name.lower() not in ("content-type", "content-length", "host")
        and len(name) + len(value) <= MAX_HEADER_BYTES
        and value.isascii()
        and value.isprintable()
    )


def patch_subscription(request: Request, body: dict[str, Any]) -> Response:
    sub = _sub(request)

    def set_context(value: Any) -> dict[str, Any] | None:
        if not isinstance(value, str):
            return errors.value_type_error(value, "Context")
        sub.context = value
        request.service.events.changed()
        return None

    def set_policy(value: Any) -> dict[str, Any] | None:
        if value not in RETRY_POLICIES:
            return errors.value_not_in_list(str(value), "DeliveryRetryPolicy")
        sub.retry_policy = value
        request.service.events.changed()  # saved: the policy outlives a restart
        return None

    setters = {"Context": set_context, "DeliveryRetryPolicy": set_policy}
    return apply_patch(request, body, _render_sub(sub), setters, get_subscription)


def delete_subscription(request: Request) -> Response:
    _sub(request)
    request.service.events.unsubscribe(request.params["sub"])
    return no_content()


def submit_test_event(request: Request, body: dict[str, Any]) -> Response:
    args = action_args(
        body,
        "EventService.SubmitTestEvent",
        {
            "MessageId": str,
            "Message": str,
            "MessageArgs": list,
            "MessageSeverity": ["OK", "Warning", "Critical"],
            "Severity": ["OK", "Warning", "Critical"],
            "OriginOfCondition": str,
            "EventId": str,
            "EventTimestamp": str,
            "EventGroupId": int,
            "EventType": str,
            "Context": str,
        },
    )
    hub = request.service.events
    msg = registries.message("ResourceEvent", "TestMessage")
    if "MessageId" in args:
        msg["MessageId"] = args["MessageId"]
    if "Message" in args:
        msg["Message"] = args["Message"]
    if "MessageArgs" in args:
        msg["MessageArgs"] = [str(a) for a in args["MessageArgs"]]
    severity = args.get("MessageSeverity") or args.get("Severity")
    if severity:
        msg["MessageSeverity"] = severity
    timestamp = None
    if "EventTimestamp" in args:
        try:
            timestamp = datetime.fromisoformat(args["EventTimestamp"].replace("Z", "+00:00"))
        except ValueError:
            raise errors.base(
                400,
                "ActionParameterValueFormatError",
                args["EventTimestamp"],
                "EventTimestamp",
                "EventService.SubmitTestEvent",
            ) from None
    from energydash.redfish.events import EventRecord

    record = EventRecord(
        args.get("EventId") or hub.next_event_id(),
        timestamp or request.service.now(),
        msg,
        args.get("OriginOfCondition"),
        None,
    )
    hub.fan_out(record, to_log=False)
    return no_content()


async def sse(request: Request) -> Response:
    """An SSE stream is an EventDestination while it is open (listed, deletable)."""
    hub = request.service.events
    owner = request.caller.username if request.caller else ""
    sub = hub.open_sse(owner)
    uri = f"{BASE}/Subscriptions/{sub.id}"
    return Response(
        200,
        None,
        {"X-Accel-Buffering": "no", "Location": uri},
        content_type=b"text/event-stream",
        stream=hub.sse_stream(sub=sub),
    )


def routes() -> list[Route]:
    return [
        Route(BASE, "EventService", get=get_event_service, patch=patch_event_service),
        Route(
            BASE + "/Subscriptions",
            "EventDestinationCollection",
            get=get_subscriptions,
            post=post_subscription,
        ),
        Route(
            BASE + "/Subscriptions/{sub}",
            "EventDestination",
            get=get_subscription,
            patch=patch_subscription,
            delete=delete_subscription,
            is_self=is_own_subscription,
        ),
        Route(
            BASE + "/Subscriptions/{sub}/Actions/EventDestination.SuspendSubscription",
            "EventDestination",
            post=suspend_subscription,
            is_self=is_own_subscription,
        ),
        Route(
            BASE + "/Subscriptions/{sub}/Actions/EventDestination.ResumeSubscription",
            "EventDestination",
            post=resume_subscription,
            is_self=is_own_subscription,
        ),
        Route(
            BASE + "/Actions/EventService.SubmitTestEvent",
            "EventService",
            post=submit_test_event,
        ),
        Route(SSE_URI, "EventService", stream=sse),
    ]
