"""The `/ws` envelope and the frames a client may send.

Server frames: ``{"type": "snapshot"|"update", "topic", "seq", "ts", "data"}``, plus
``{"type": "ping", "ts"}``, ``{"type": "error", "reason"}`` and ``{"type": "auth", "user",
"role"}`` (the answer to an auth frame). Client frames: ``{"op": "auth", "token": ...}`` (first,
when the upgrade carried no credential), ``{"op": "subscribe"|"unsubscribe", "topics": [...]}``
(``+`` and ``#`` wildcards).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_TOPICS_PER_OP = 1000
MAX_TOPIC_LENGTH = 256
MAX_TOKEN_LENGTH = 512


class Envelope(BaseModel):
    """A snapshot (full state on subscribe or resync) or an update (full state, next seq)."""

    type: Literal["snapshot", "update"]
    topic: str
    seq: int
    ts: datetime
    data: Any


class PingFrame(BaseModel):
    type: Literal["ping"] = "ping"
    ts: datetime


class ErrorFrame(BaseModel):
    type: Literal["error"] = "error"
    reason: str


class AuthFrame(BaseModel):
    """The server's answer to a successful ``auth`` op: who the socket now belongs to."""

    type: Literal["auth"] = "auth"
    user: str
    role: str


class AuthOp(BaseModel):
    """A session token (or the service read token) for a socket opened without one."""

    model_config = ConfigDict(extra="forbid")

    op: Literal["auth"]
    token: str = Field(min_length=1, max_length=MAX_TOKEN_LENGTH)


class ClientOp(BaseModel):
    """A subscribe or unsubscribe request from a WebSocket client."""

    model_config = ConfigDict(extra="forbid")

    op: Literal["subscribe", "unsubscribe"]
    topics: list[str] = Field(min_length=1, max_length=MAX_TOPICS_PER_OP)

    @field_validator("topics")
    @classmethod
    def _valid_patterns(cls, topics: list[str]) -> list[str]:
        from energydash.hub.topics import validate_pattern

        for index, topic in enumerate(topics):
            if len(topic) > MAX_TOPIC_LENGTH:
                raise ValueError(f"topics[{index}] longer than {MAX_TOPIC_LENGTH} characters")
            problem = validate_pattern(topic)
            if problem:
                raise ValueError(f"topics[{index}] {topic!r}: {problem}")
        return topics


def parse_client_op(raw: str | bytes) -> ClientOp | AuthOp:
    """Parse one client frame; raises ValueError with a reason naming the place at fault."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"frame is not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise ValueError('frame must be a JSON object like {"op": "subscribe", "topics": [..]}')
    try:
        if payload.get("op") == "auth":
            return AuthOp.model_validate(payload)
        return ClientOp.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "frame"
        raise ValueError(f"{where}: {first['msg']}") from None
