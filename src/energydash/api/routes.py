"""Every REST router, in the order OpenAPI lists them."""

from __future__ import annotations

from energydash.api import alerts, control, devices, topics

ROUTERS = [topics.router, devices.router, control.router, alerts.router]
