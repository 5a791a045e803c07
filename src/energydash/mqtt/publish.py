"""MQTT publishing: PDU telemetry per PDU per tick, device data and retained status, commands.

Telemetry reuses the hub's encoded frames (the `pdu/{id}/outlets` envelope is the batched
telemetry of that PDU), so nothing is encoded twice. Commands received on
``{device_root}/{id}/commands`` run through the engine and are acknowledged on the retained
``{device_root}/{id}/status``, with ``ok`` false and a reason when the engine refused them.
A command runs only when its sender passes ``mqtt.senders`` (a Redfish session token with
``ConfigureComponents`` by default); refusals are counted and every decision is audited.

While the broker is away (or its backlog is over ``mqtt_outbound_queue_limit``), telemetry is
dropped, not queued: only the newest snapshot matters, and it is sent once on reconnect.
Statuses (with their command acknowledgement) are kept, the newest per device, and sent on
reconnect. ``telemetry_dropped`` counts what was dropped (``/metrics``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from energydash.api import site_audit
from energydash.api.sites import can_change
from energydash.auth import AuthStore
from energydash.config import Settings
from energydash.hub import Hub, TopicState
from energydash.hub import site_snapshots as site_views
from energydash.hub.hub import iso
from energydash.models.audit import AuditRecord, Result
from energydash.models.devices import MqttDeviceCommand, split_device_id, to_engine_command
from energydash.models.sites import IotDeviceCommand, IotDeviceStatus
from energydash.mqtt import senders
from energydash.mqtt.client import MqttLink
from energydash.sim.commands import CommandError
from energydash.sim.engine import Engine
from energydash.sim.sites import KINDS as site_kinds
from energydash.sim.sites import UpdateSiteDevice, command_spec

log = logging.getLogger(__name__)


class MqttPublisher:
    def __init__(
        self,
        settings: Settings,
        hub: Hub,
        engine: Engine | None,
        on_change: Callable[[], object] | None = None,
        auth: AuthStore | None = None,
    ) -> None:
        self.settings = settings
        self.senders = senders.CommandSenders(settings, auth)
        self.on_change = on_change  # fresh hub snapshots after a command
        self.hub = hub
        self.engine = engine
        self.link: MqttLink | None = None
        self.telemetry = 0
        self.device_data = 0
        self.status_published = 0
        self.commands_ok = 0
        self.commands_refused = 0
        self.commands_unauthenticated = 0
        self.commands_forbidden = 0
        self.telemetry_dropped = 0
        self._status_key: dict[str, tuple[Any, ...]] = {}
        self._last_command: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._pending_status: OrderedDict[str, bytes] = OrderedDict()
        self._stale: set[str] = set()  # hub topics whose newest state the broker has not had
        outlets = engine.fleet.n_outlets if engine is not None else 0
        self._max_devices = settings.ingest_max_devices + outlets
        self._detach: Any = None
        self._pdu_root = settings.mqtt_pdu_root.rstrip("/")
        self._device_root = settings.mqtt_device_root.rstrip("/")
        self.site_publisher: Any = None  # fresh site topics after a site device command

    async def start(self) -> None:
        self.link = MqttLink(self.settings, "publish", asyncio.get_running_loop(), self.handle)
        self.link.on_connected = self.catch_up
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
            "commands_unauthenticated": self.commands_unauthenticated,
            "commands_forbidden": self.commands_forbidden,
            "telemetry_dropped": self.telemetry_dropped,
            "status_pending": len(self._pending_status),
            "backlog": self.link.backlog() if self.link else 0,
            "inbox_dropped": self.link.inbox_dropped if self.link else 0,
        }

    def catch_up(self) -> None:
        """After a (re)connect: the newest state of what was dropped, then pending statuses."""
        if self.link is None:
            return
        stale, self._stale = self._stale, set()
        for topic in sorted(stale):
            state = self.hub.latest(topic)
            if state is not None:
                self.on_publish(state)
        pending, self._pending_status = self._pending_status, OrderedDict()
        for device_id, payload in pending.items():
            self.link.publish(f"{self._device_root}/{device_id}/status", payload, retain=True)
            self.status_published += 1

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
            if self.link.can_take_droppable():
                self.link.publish(self.settings.mqtt_equipment_topic, state.frame("update"))
            else:
                self.telemetry_dropped += 1
            return
        telemetry = topic.startswith("pdu/") and topic.endswith("/outlets")
        device = topic.startswith("devices/")
        site_devices = topic.startswith("site/") and topic.endswith("/devices")
        if not (telemetry or device or site_devices):
            return
        if not self.link.can_take_droppable():
            self.telemetry_dropped += 1
            self._stale.add(topic)
        elif telemetry:
            pdu_id = topic[4 : -len("/outlets")]
            self.link.publish(f"{self._pdu_root}/{pdu_id}/telemetry", state.frame("update"))
            self.telemetry += 1
        elif site_devices:
            self.publish_site_devices(state)
        else:
            device_id = topic[len("devices/") :]
            self.link.publish(f"{self._device_root}/{device_id}/data", state.data_bytes)
            self.device_data += 1
        if device:
            device_id = topic[len("devices/") :]
            data = state.data
            key = (data.get("online"), data.get("power_state"))
            if self._status_key.get(device_id) != key:
                self._status_key[device_id] = key
                self.publish_status(device_id, data)

    def publish_site_devices(self, state: TopicState) -> None:
        """Each device of a site: data in the IoT-mock shape, retained status when it changes."""
        if self.engine is None or self.link is None:
            return
        sites = self.engine.sites
        for row in state.data.get("devices", []):
            device_id = row["device_id"]
            if not sites.has_device(device_id):
                continue
            k = sites.device_index(device_id)
            data = site_views.iot_data(sites, k)
            self.link.publish(f"{self._device_root}/{device_id}/data", data.model_dump_json())
            self.device_data += 1
            key = ("site", data.status, data.enabled)
            if self._status_key.get(device_id) != key:
                self._status_key[device_id] = key
                self.publish_site_status(device_id)

    def publish_site_status(self, device_id: str) -> None:
        if self.engine is None or self.link is None or not self.engine.sites.has_device(device_id):
            return
        sites = self.engine.sites
        k = sites.device_index(device_id)
        online, enabled = bool(sites.devices.online[k]), bool(sites.devices.enabled[k])
        status = IotDeviceStatus(
            device_id=device_id,
            status="online" if online else "offline",
            online=online,
            enabled=enabled,
            site_id=sites.device_site(device_id),
            ts=iso(datetime.now(UTC)),
            last_command=self._last_command.get(device_id),
        )
        self.link.publish(
            f"{self._device_root}/{device_id}/status", status.model_dump_json(), retain=True
        )
        self.status_published += 1

    def handle_site_command(self, device_id: str, payload: bytes) -> None:
        """A command for a site device: the IoT-mock form (``parameters``) or the outlet form."""
        assert self.engine is not None
        ack: dict[str, Any] = {"ok": False, "received": iso(datetime.now(UTC))}
        user = "anonymous"
        try:
            text = payload.decode("utf-8", errors="replace").strip()
            if text in ("On", "Off"):
                request = IotDeviceCommand(command="set_power", value=text)
            else:
                try:
                    request = IotDeviceCommand.model_validate(orjson.loads(payload))
                except orjson.JSONDecodeError:
                    raise ValueError(
                        'payload: not JSON; send {"command": "set_enabled", '
                        '"parameters": {"enabled": false}}'
                    ) from None
                except ValidationError as error:
                    first = error.errors()[0]
                    where = ".".join(str(p) for p in first["loc"]) or "payload"
                    raise ValueError(f"{where}: {first['msg']}") from None
            ack.update(command=request.command, request_id=request.request_id)
            sender = self.senders.check(request)
            user = sender.user
            owner = self.engine.sites.site_owner(self.engine.sites.device_site(device_id))
            if sender.caller is not None and not can_change(sender.caller, owner):
                raise senders.CommandDenied(
                    "forbidden", f"forbidden: {sender.user} may not change this site", user
                )
            kind = site_kinds[
                int(self.engine.sites.devices.kind[self.engine.sites.device_index(device_id)])
            ]
            spec = command_spec(kind, request.command, request.parameters, request.value)
            result = self.engine.execute(UpdateSiteDevice(device_id, spec))
            ack.update(ok=bool(result.ok), message=result.message)
            site_publisher = self.site_publisher
            if site_publisher is not None:
                site_publisher.publish()
        except (senders.CommandDenied, CommandError, ValueError) as error:
            user = self._refusal(ack, error) or user
        self._tally(ack, f"for site device {device_id}")
        self._last_command[device_id] = ack
        site_audit.record(
            None,
            AuditRecord(
                ts=datetime.now(UTC),
                user=user,
                face="mqtt",
                action=f"device.{ack.get('command') or 'command'}"[:64],
                target=f"devices/{device_id}",
                result="ok" if ack["ok"] else "refused",
                detail=str(ack.get("message") or "")[:500],
            ),
        )
        self.publish_site_status(device_id)

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
        body = orjson.dumps(payload)
        if not self.link.connected:
            # retained state: the newest per device is all the broker needs when it is back
            self._pending_status[device_id] = body
            self._pending_status.move_to_end(device_id)
            while len(self._pending_status) > self._max_devices:
                self._pending_status.popitem(last=False)
            return
        self.link.publish(f"{self._device_root}/{device_id}/status", body, retain=True)
        self.status_published += 1

    # ------------------------------------------------------------------ commands in
    def handle(self, topic: str, payload: bytes) -> None:
        """A command message, on the event loop: check its sender, execute, acknowledge."""
        device_id = topic[len(self._device_root) + 1 : -len("/commands")]
        if self.engine is not None and self.engine.sites.has_device(device_id):
            self.handle_site_command(device_id, payload)
            return
        ack: dict[str, Any] = {"ok": False, "received": iso(datetime.now(UTC))}
        sender: senders.Sender | None = None
        user, role = "anonymous", None
        command: str | None = None
        result: Result = "refused"
        try:
            request = self._parse(payload)
            command = request.command
            ack.update(command=request.command, value=request.value, request_id=request.request_id)
            sender = self.senders.check(request)
            user, role = sender.user, sender.role
            if self.engine is None:
                raise CommandError("this backend runs without a simulation engine")
            outcome = self.engine.execute(to_engine_command(device_id, request))
            ack.update(ok=bool(outcome.ok), message=outcome.message)
            result = "ok" if outcome.ok else "failed"
            if self.on_change is not None:
                self.on_change()
        except (senders.CommandDenied, CommandError, ValueError) as error:
            user = self._refusal(ack, error) or user
        self._tally(ack, f"on {topic}")
        senders.record(
            user=user,
            role=role,
            command=command,
            device_id=device_id,
            result=result,
            detail=str(ack.get("message") or ack.get("value") or ""),
            origin=f"mqtt {sender.how if sender else 'no credential'}",
        )
        self._last_command[device_id] = ack
        self._last_command.move_to_end(device_id)
        while len(self._last_command) > self._max_devices:
            self._last_command.popitem(last=False)
        self.publish_status(device_id)

    def _refusal(self, ack: dict[str, Any], error: Exception) -> str | None:
        """A refused command's reason in its acknowledgement, counted by kind; the sender's
        name when the refusal was about who sent it (outlet and site commands alike)."""
        if isinstance(error, senders.CommandDenied):
            ack.update(message=error.message)
            if error.kind == "forbidden":
                self.commands_forbidden += 1
            else:
                self.commands_unauthenticated += 1
            return error.user
        if isinstance(error, CommandError):
            ack.update(message=error.message, field=error.field)
        else:
            ack.update(message=str(error))
        return None

    def _tally(self, ack: dict[str, Any], what: str) -> None:
        if ack["ok"]:
            self.commands_ok += 1
        else:
            self.commands_refused += 1
            log.info("mqtt command %s refused: %s", what, ack.get("message"))

    @staticmethod
    def _parse(payload: bytes) -> MqttDeviceCommand:
        text = payload.decode("utf-8", errors="replace").strip()
        if text in ("On", "Off", "PowerCycle"):
            return MqttDeviceCommand(command="set_power", value=text)
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise ValueError(
                'payload: not JSON; send {"command": "set_power", "value": "On"}'
            ) from None
        try:
            return MqttDeviceCommand.model_validate(data)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "payload"
            raise ValueError(f"{where}: {first['msg']}") from None
