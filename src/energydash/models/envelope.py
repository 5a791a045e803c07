"""The `/ws` envelope and the frames a client may send.

Server frames: ``{"type": "snapshot"|"update", "topic", "seq", "ts", "data"}``, plus
``{"type": "ping", "ts"}``, ``{"type": "error", "reason"}`` and ``{"type": "auth", "user",
"role"}`` (the answer to an auth frame). Client frames: ``{"op": "auth", "token": ...}`` (first,
when the upgrade carried no credential), ``{"op": "subscribe"|"unsubscribe", "topics": [...]}``
(``+`` and ``#`` wildcards).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_TOPICS_PER_OP = 1000
MAX_TOPIC_LENGTH = 256
MAX_TOKEN_LENGTH = 512


class Envelope(BaseModel):
    """A snapshot (full state on subscribe or resync) or an update (the next seq).

    An update's ``data`` is the full state except in the column tables of ``DELTA_TABLES``:
    there it carries the key column and only the columns that differ from the previous seq's
    (``update_data``); a client fills the others in from the state it holds (``apply_update``).
    A snapshot is always complete, and a client gets one on subscribe, on reconnect and after
    any gap, so an update always applies to the seq just before it.
    """

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


# Column tables of topic data whose unchanged columns an update frame leaves out: the data
# key of the table and its key column, which every frame carries (rows are matched by it).
# At 1,008 outlets, the static columns (names, branches, phases, devices, ratings) and the
# rarely changing ones (power state, health) are over half the bytes of every frame.
DELTA_TABLES: dict[str, str] = {"outlets": "id", "facilities": "code"}


def _same_rows(
    topic: str, data: Any, base: Any
) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(table, key column, its columns in ``data``, in ``base``) for every delta table of
    ``topic`` whose rows (key column) are the same in both."""
    if not (
        (topic == "facilities" or (topic.startswith("pdu/") and topic.endswith("/outlets")))
        and isinstance(data, dict)
        and isinstance(base, dict)
    ):
        return
    for table, key in DELTA_TABLES.items():
        columns, before = data.get(table), base.get(table)
        if not (isinstance(columns, dict) and isinstance(before, dict)) or key not in columns:
            continue
        if before.get(key) == columns[key]:
            yield table, key, columns, before


def update_data(topic: str, previous: Any, data: Any) -> Any:
    """The ``data`` of an update frame of ``topic``: ``data`` less the columns of its tables
    equal to ``previous`` (the data of the seq before). A table whose key column changed
    (rows added, removed or reordered) is sent whole. ``data`` itself when nothing is left out.
    """
    out: dict[str, Any] | None = None
    for table, key, columns, before in _same_rows(topic, data, previous):
        kept = {
            name: col for name, col in columns.items() if name == key or before.get(name) != col
        }
        if len(kept) < len(columns):
            if out is None:
                out = dict(data)
            out[table] = kept
    return data if out is None else out


def apply_update(topic: str, held: Any, data: Any) -> Any:
    """The state after an update frame of ``topic`` whose ``data`` arrives on ``held`` (the
    state of the seq before): the table columns the frame left out are taken from ``held``."""
    out: dict[str, Any] | None = None
    for table, _key, columns, before in _same_rows(topic, data, held):
        if any(name not in columns for name in before):
            if out is None:
                out = dict(data)
            merged = {name: columns.get(name, col) for name, col in before.items()}
            out[table] = merged | {n: c for n, c in columns.items() if n not in merged}
    return data if out is None else out
