"""Every REST router, in the order OpenAPI lists them and requests are matched.

Control comes first: FastAPI tries routes in order, and the command routes are the ones a client
calls a thousand times a second (no path of one router overlaps another's for the same method).
"""

from __future__ import annotations

from energydash.api import alerts, audit, control, devices, iot, scenarios, sites, topics

ROUTERS = [
    control.router,
    topics.router,
    devices.router,
    iot.router,
    sites.router,
    scenarios.router,
    audit.router,
    alerts.router,
]
