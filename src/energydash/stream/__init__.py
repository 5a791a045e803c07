"""The `/ws` endpoint: subscribe by topic pattern, snapshot then updates, bounded per client."""

from energydash.stream.client import StreamClient
from energydash.stream.endpoint import router

__all__ = ["StreamClient", "router"]
