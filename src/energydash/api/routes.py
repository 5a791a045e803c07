"""Every REST router, in the order OpenAPI lists them."""

from __future__ import annotations

from energydash.api import audit, control, devices, topics

ROUTERS = [topics.router, devices.router, control.router, audit.router]
