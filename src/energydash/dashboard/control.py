"""Calls into the backend's REST control API (outlet power), with the result shown to the user.

Nothing here pretends: a refused command comes back as ``ok=False`` with the backend's own
message (or the transport error), and the page shows it as such.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import orjson

OUTLET_ACTIONS = ("On", "Off", "PowerCycle")


@dataclass(frozen=True)
class ControlResult:
    ok: bool
    message: str


class BackendControl:
    def __init__(self, base_url: str, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    async def outlet_power(self, pdu_id: str, outlet_id: str, action: str) -> ControlResult:
        """POST /api/v1/pdus/{pdu}/outlets/{outlet}/power; the backend's verdict, verbatim."""
        if action not in OUTLET_ACTIONS:
            return ControlResult(False, f"unknown action {action!r}")
        url = f"{self.base_url}/api/v1/pdus/{pdu_id}/outlets/{outlet_id}/power"
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.post(url, json={"action": action})
        except httpx.HTTPError as error:
            return ControlResult(False, f"backend unreachable: {type(error).__name__}")
        message = _message(response)
        if response.is_success:
            return ControlResult(True, message or f"{action} accepted")
        return ControlResult(False, f"HTTP {response.status_code}: {message}")

    async def post(self, path: str, ok_text: str) -> ControlResult:
        """POST an action without a body (acknowledge, apply); the backend's verdict."""
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.post(f"{self.base_url}{path}")
        except httpx.HTTPError as error:
            return ControlResult(False, f"backend unreachable: {type(error).__name__}")
        message = _message(response)
        if response.is_success:
            return ControlResult(True, message or ok_text)
        return ControlResult(False, f"HTTP {response.status_code}: {message}")

    async def acknowledge_alert(self, alert_id: str) -> ControlResult:
        return await self.post(f"/api/v1/alerts/{alert_id}/ack", "acknowledged")

    async def apply_suggestion(self, suggestion_id: str) -> ControlResult:
        return await self.post(f"/api/v1/suggestions/{suggestion_id}/apply", "applied")


def _message(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.text.strip()[:200]
    if isinstance(body, dict):
        for key in ("message", "reason", "detail", "error"):
            value = body.get(key)
            if isinstance(value, str):
                return value
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return value["message"]
            if isinstance(value, list) and value:
                return "; ".join(
                    str(v.get("msg", v)) if isinstance(v, dict) else str(v) for v in value
                )
    return ""
