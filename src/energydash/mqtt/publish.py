"""MQTT publishing: PDU telemetry per PDU per tick, device data and retained status, commands.

Telemetry reuses the hub's encoded frames (the `pdu/{id}/outlets` envelope is the batched
telemetry of that PDU), so nothing is encoded twice. Commands received on
``{device_root}/{id}/commands`` run through the engine and are acknowledged on the retained
``{device_root}/{id}/status``, with ``ok`` false and a reason when the engine refused them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from energydash.config import Settings
from energydash.hub import Hub, TopicState
from energydash.hub.hub import iso
from energydash.models.devices import DeviceCommand, split_device_id, to_engine_command
from energydash.mqtt.client import MqttLink
from energydash.sim.commands import CommandError
from energydash.sim.engine import Engine

log = logging.getLogger(__name__)


class MqttPublisher:
    def __init__(
        self,
        settings: Settings,
        hub: Hub,
        engine: Engine | None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.on_change = on_change  # fresh hub snapshots after a command
        self.hub = hub
        self.engine = engine
        self.link: MqttLink | None = None
        self.telemetry = 0
        self.device_data = 0
        self.status_published = 0
        self.commands_ok = 0
        self.commands_refused = 0
        self._status_key: dict[str, tuple[Any, ...]] = {}
        self._last_command: dict[str, dict[str, Any]] = {}
        self._detach: Any = None
        self._pdu_root = settings.mqtt_pdu_root.rstrip("/")
        self._device_root = settings.mqtt_device_root.rstrip("/")

    async def start(self) -> None:
        self.link = MqttLink(self.settings, "publish", asyncio.get_running_loop(), self.handle)
        if self.engine is not None:
            self.link.subscribe(self.link.shared(f"{self._device_root}/+/commands"))
        self.link.start()
        self._detach = self.hub.add_listener(self.on_publish)

    async def stop(self) -> None:
        if self._detach:
            self._detach()
        if self.link:
            await asyncio.to_thread(self.link.stop)

    def stats(self) -> dict[str, Any]:
        return {
            "telemetry": self.telemetry,
            "device_data": self.device_data,
            "status": self.status_published,
            "commands_ok": self.commands_ok,
            "commands_refused": self.commands_refused,
        }

    # ------------------------------------------------------------------ out
    def on_publish(self, state: TopicState) -> None:
        """Hub listener: forward simulator topics to MQTT (ingested ones are not echoed)."""
        if self.link is None:
            return
        topic = state.topic
        if topic == "alerts" and state.source == "analytics":
            self.link.publish(self.settings.mqtt_alerts_topic, state.data_bytes)
            return
        if state.source != "sim":
            return
        if topic == "analytics/equipment":
            self.link.publish(self.settings.mqtt_equipment_topic, state.frame("update"))
            return
        if topic.startswith("pdu/") and topic.endswith("/outlets"):
            pdu_id = topic[4 : -len("/outlets")]
            self.link.publish(f"{self._pdu_root}/{pdu_id}/telemetry", state.frame("update"))
            self.telemetry += 1
        elif topic.startswith("devices/"):
            device_id = topic[len("devices/") :]
            self.link.publish(f"{self._device_root}/{device_id}/data", state.data_bytes)
            self.device_data += 1
            data = state.data
            key = (data.get("online"), data.get("power_state"))
            if self._status_key.get(device_id) != key:
                self._status_key[device_id] = key
                self.publish_status(device_id, data)

    def publish_status(self, device_id: str, data: dict[str, Any] | None = None) -> None:
        if self.link is None:
            return
        if data is None:
            state = self.hub.latest(f"devices/{device_id}")
            data = state.data if state else {}
        payload: dict[str, Any] = {
            "device_id": device_id,
            "online": data.get("online"),
            "power_state": data.get("power_state"),
            "ts": iso(datetime.now(UTC)),
        }
        if self.engine is not None:
            try:
                pdu_id, outlet_id = split_device_id(device_id)
                reading = self.engine.fleet.outlet(pdu_id, outlet_id)
                payload["power_state"] = reading.power_state
                payload["power_enabled"] = reading.power_enabled
                payload["online"] = reading.device.online if reading.device else False
            except (KeyError, ValueError):
                pass
        if device_id in self._last_command:
            payload["last_command"] = self._last_command[device_id]
        self.link.publish(
            f"{self._device_root}/{device_id}/status", orjson.dumps(payload), retain=True
        )
        self.status_published += 1

    # ------------------------------------------------------------------ commands in
    def handle(self, topic: str, payload: bytes) -> None:
        """A command message, on the event loop: execute, then acknowledge on status."""
        device_id = topic[len(self._device_root) + 1 : -len("/commands")]
        ack: dict[str, Any] = {"ok": False, "received": iso(datetime.now(UTC))}
        try:
            request = self._parse(payload)
            ack.update(command=request.command, value=request.value, request_id=request.request_id)
            if self.engine is None:
                raise CommandError("this backend runs without a simulation engine")
            result = self.engine.execute(to_engine_command(device_id, request))
            ack.update(ok=bool(result.ok), message=result.message)
            if self.on_change is not None:
                self.on_change()
        except CommandError as error:
            ack.update(message=error.message, field=error.field)
        except ValueError as error:
            ack.update(message=str(error))
        if ack["ok"]:
            self.commands_ok += 1
        else:
            self.commands_refused += 1
            log.info("mqtt command on %s refused: %s", topic, ack.get("message"))
        self._last_command[device_id] = ack
        self.publish_status(device_id)

    @staticmethod
    def _parse(payload: bytes) -> DeviceCommand:
        text = payload.decode("utf-8", errors="replace").strip()
        if text in ("On", "Off", "PowerCycle"):
            return DeviceCommand(command="set_power", value=text)
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise ValueError(
                'payload: not JSON; send {"command": "set_power", "value": "On"}'
            ) from None
        try:
            return DeviceCommand.model_validate(data)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "payload"
            raise ValueError(f"{where}: {first['msg']}") from None
