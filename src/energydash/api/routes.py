"""Every REST router, in the order OpenAPI lists them."""

from __future__ import annotations

from energydash.api import control, devices, scenarios, topics

ROUTERS = [topics.router, devices.router, control.router, scenarios.router]
