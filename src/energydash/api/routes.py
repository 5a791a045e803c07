"""Every REST router, in the order OpenAPI lists them."""

from __future__ import annotations

from energydash.api import alerts, audit, control, devices, iot, scenarios, sites, topics

ROUTERS = [
    topics.router,
    devices.router,
    iot.router,
    sites.router,
    control.router,
    scenarios.router,
    audit.router,
    alerts.router,
]
