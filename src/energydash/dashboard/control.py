"""Calls into the backend's control APIs as the logged-in user, with the result shown to them.

Every call carries the user's own Redfish session token (``X-Auth-Token``), never a built-in
account, so the backend decides and audits it as that user. Nothing here pretends: a refused
command comes back as ``ok=False`` with the backend's own message (or the transport error),
and ``expired=True`` when the backend no longer knows the session (the page then sends the
user back to the login form).

Outlets and the simulation go through REST (``/api/v1``); breakers and outlet groups through
the Redfish actions (``Circuit.BreakerControl``, ``OutletGroup.PowerControl``), which REST
does not offer.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

OUTLET_ACTIONS = ("On", "Off", "PowerCycle")
SIMULATION_ACTIONS = ("start", "stop")
RACK_PDUS = "/redfish/v1/PowerEquipment/RackPDUs"
# Names the dashboard in the backend's request logs and audit (the caller is the user's token)
USER_AGENT = "energydash-dashboard"


@dataclass(frozen=True)
class ControlResult:
    ok: bool
    message: str
    expired: bool = False  # the backend answered 401: the user's session is gone


class BackendControl:
    def __init__(
        self, base_url: str, timeout_s: float = 5.0, verify: ssl.SSLContext | bool = True
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.verify = verify
        self._sync_client: httpx.Client | None = None

    async def outlet_power(
        self, pdu_id: str, outlet_id: str, action: str, token: str
    ) -> ControlResult:
        """POST /api/v1/pdus/{pdu}/outlets/{outlet}/power; the backend's verdict, verbatim."""
        if action not in OUTLET_ACTIONS:
            return ControlResult(False, f"unknown action {action!r}")
        path = f"/api/v1/pdus/{pdu_id}/outlets/{outlet_id}/power"
        return await self._post(path, {"action": action}, token, f"{action} accepted")

    async def rename_outlet(
        self, pdu_id: str, outlet_id: str, name: str, token: str
    ) -> ControlResult:
        """PATCH /api/v1/pdus/{pdu}/outlets/{outlet} {"name"}: the outlet's own name."""
        path = f"/api/v1/pdus/{pdu_id}/outlets/{outlet_id}"
        return await self._send("PATCH", path, {"name": name}, token, "renamed")

    async def rename_pdu(self, pdu_id: str, name: str, token: str) -> ControlResult:
        """PATCH /api/v1/pdus/{pdu} {"name"}: the PDU's own name."""
        return await self._send("PATCH", f"/api/v1/pdus/{pdu_id}", {"name": name}, token, "renamed")

    async def rename_device(
        self, pdu_id: str, outlet_id: str, name: str, token: str
    ) -> ControlResult:
        """PATCH /api/v1/devices/{pdu}-{outlet} {"name"}: the plugged device's name."""
        path = f"/api/v1/devices/{pdu_id}-{outlet_id}"
        return await self._send("PATCH", path, {"name": name}, token, "renamed")

    async def breaker_reset(self, pdu_id: str, branch_id: str, token: str) -> ControlResult:
        """Close (reset) a branch breaker: Redfish ``Circuit.BreakerControl`` PowerState On."""
        path = f"{RACK_PDUS}/{pdu_id}/Branches/{branch_id}/Actions/Circuit.BreakerControl"
        return await self._post(path, {"PowerState": "On"}, token, "breaker reset")

    async def group_power(
        self, pdu_id: str, group_id: str, action: str, token: str
    ) -> ControlResult:
        """Switch an outlet group: Redfish ``OutletGroup.PowerControl``."""
        if action not in OUTLET_ACTIONS:
            return ControlResult(False, f"unknown action {action!r}")
        path = f"{RACK_PDUS}/{pdu_id}/OutletGroups/{group_id}/Actions/OutletGroup.PowerControl"
        return await self._post(path, {"PowerState": action}, token, f"{action} accepted")

    async def outlet_groups(self, pdu_id: str, token: str) -> list[tuple[str, str]]:
        """(id, name) of a PDU's outlet groups, read as the user; [] when unavailable."""
        headers = {"X-Auth-Token": token}
        try:
            async with self._client() as client:
                listing = await client.get(f"{RACK_PDUS}/{pdu_id}/OutletGroups", headers=headers)
                if not listing.is_success:
                    return []
                groups = []
                for member in (listing.json().get("Members") or [])[:50]:
                    uri = member.get("@odata.id", "")
                    answer = await client.get(uri, headers=headers)
                    if answer.is_success:
                        body = answer.json()
                        groups.append((str(body.get("Id")), str(body.get("Name") or body["Id"])))
                return groups
        except (httpx.HTTPError, ValueError, KeyError):
            return []

    async def simulation(
        self, token: str, *, action: str | None = None, speed: float | None = None
    ) -> ControlResult:
        """POST /api/v1/simulation: start, stop (pause) and/or a new clock speed."""
        if action is not None and action not in SIMULATION_ACTIONS:
            return ControlResult(False, f"unknown action {action!r}")
        body: dict[str, Any] = {}
        if action is not None:
            body["action"] = action
        if speed is not None:
            body["speed"] = speed
        return await self._post("/api/v1/simulation", body, token, "simulation updated")

    def history(
        self, topic: str, params: dict[str, Any], token: str
    ) -> tuple[dict[str, Any] | None, str]:
        """GET /api/v1/history/{topic} as the user: (body, "") or (None, why not)."""
        try:
            response = self._sync().get(
                f"/api/v1/history/{topic}", params=params, headers={"X-Auth-Token": token}
            )
        except httpx.HTTPError as error:
            return None, f"backend unreachable: {type(error).__name__}"
        if not response.is_success:
            return None, f"HTTP {response.status_code}: {_message(response)}"
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return None, "history answer is not JSON"
        return (body, "") if isinstance(body, dict) else (None, "history answer is not an object")

    def _sync(self) -> httpx.Client:
        """One kept-alive client for the page layouts' history reads (they run in threads;
        httpx.Client is safe to share), so a page's several reads reuse one connection."""
        if self._sync_client is None:
            self._sync_client = httpx.Client(
                base_url=self.base_url,
                timeout=self.timeout_s,
                verify=self.verify,
                headers={"User-Agent": USER_AGENT},
            )
        return self._sync_client

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url,
            timeout=self.timeout_s,
            verify=self.verify,
            headers={"User-Agent": USER_AGENT},
        )

    async def _post(
        self, path: str, body: dict[str, Any], token: str, accepted: str
    ) -> ControlResult:
        return await self._send("POST", path, body, token, accepted)

    async def _send(
        self, method: str, path: str, body: dict[str, Any], token: str, accepted: str
    ) -> ControlResult:
        try:
            async with self._client() as client:
                response = await client.request(
                    method, path, json=body, headers={"X-Auth-Token": token}
                )
        except httpx.HTTPError as error:
            return ControlResult(False, f"backend unreachable: {type(error).__name__}")
        message = _message(response)
        if response.is_success:
            return ControlResult(True, message or accepted)
        return ControlResult(
            False,
            f"HTTP {response.status_code}: {message}",
            expired=response.status_code == 401,
        )

    async def site_device_enabled(self, device_id: str, enabled: bool, token: str) -> ControlResult:
        """POST /api/v1/devices/{id}/command set_enabled; the backend checks owner and role."""
        body = {"command": "set_enabled", "parameters": {"enabled": enabled}}
        action = "enabled" if enabled else "disabled"
        return await self._post(f"/api/v1/devices/{device_id}/command", body, token, action)

    async def rename_site_device(
        self, site_id: str, device_id: str, name: str, token: str
    ) -> ControlResult:
        """PATCH /api/v1/sites/{site}/devices/{device} {"name"}; the backend checks the owner."""
        path = f"/api/v1/sites/{site_id}/devices/{device_id}"
        return await self._send("PATCH", path, {"name": name}, token, "renamed")

    async def acknowledge_alert(self, alert_id: str, token: str) -> ControlResult:
        return await self._post(f"/api/v1/alerts/{alert_id}/ack", {}, token, "acknowledged")

    async def apply_suggestion(self, suggestion_id: str, token: str) -> ControlResult:
        path = f"/api/v1/suggestions/{suggestion_id}/apply"
        return await self._post(path, {}, token, "applied")


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
                extended = value.get("@Message.ExtendedInfo") or []
                first = extended[0] if extended and isinstance(extended[0], dict) else {}
                return str(first.get("Message") or value["message"])
            if isinstance(value, list) and value:
                return "; ".join(
                    str(v.get("msg", v)) if isinstance(v, dict) else str(v) for v in value
                )
    return ""
