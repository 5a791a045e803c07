"""What `energydash replay --latency` adds to each payload, and `energydash record` reads back.

Under the payload key ``replay``: the publisher connection (``stream``), the message's number
on it (``seq``, from 0, so a gap or a duplicate shows) and when replay handed it to the
connection (``sent_at``, UTC). The backend's ingest ignores the key (its row models ignore
unknown fields), so a traced replay feeds it like any other.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

TRACE_KEY = "replay"


class ReplayTrace(BaseModel):
    stream: str
    seq: int
    sent_at: datetime

    @classmethod
    def now(cls, stream: str, seq: int) -> ReplayTrace:
        # model_construct: replay builds one per message, validation would be its main cost
        return cls.model_construct(stream=stream, seq=seq, sent_at=datetime.now(UTC))

    def wire(self) -> dict[str, Any]:
        return {"stream": self.stream, "seq": self.seq, "sent_at": self.sent_at.isoformat()}

    @classmethod
    def from_payload(cls, payload: Any) -> ReplayTrace | None:
        """The trace of a decoded payload, None when it has none (or a malformed one)."""
        if not isinstance(payload, dict):
            return None
        raw = payload.get(TRACE_KEY)
        if not isinstance(raw, dict):
            return None
        try:
            return cls.model_validate(raw)
        except ValueError:
            return None
