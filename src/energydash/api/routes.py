"""Every REST router, in the order OpenAPI lists them."""

from __future__ import annotations

from energydash.api import topics

ROUTERS = [topics.router]
