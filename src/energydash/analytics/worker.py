"""`energydash analytics`: the same analytics as the backend's, fed from MQTT telemetry.

It subscribes to every PDU's telemetry (``{pdu_root}/+/telemetry``, the ``pdu/{id}/outlets``
envelope) and the equipment sensors (``mqtt_equipment_topic``), republishes them into its
own hub exactly as the backend's hub holds them, runs ``AnalyticsService`` on that hub and
publishes ``AlertsData`` on ``mqtt_alerts_topic``. With ``analytics_share_group`` the
subscriptions are ``$share/<group>/...``: the broker hands each message to one worker of the
group. Note what a shared subscription splits: *messages*, not devices, so each worker sees
every device on some ticks; the rules are per message and hold, the score models of a worker
see each series at a lower rate. Split devices by running one worker per topic subset instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime

import orjson

from energydash.analytics.service import ALERTS_TOPIC, EQUIPMENT_TOPIC, AnalyticsService
from energydash.config import Settings
from energydash.hub import Hub, TopicState
from energydash.mqtt.client import MqttLink

log = logging.getLogger(__name__)


class AnalyticsWorker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings.model_copy(
            update={"mqtt_share_group": settings.analytics_share_group}
        )
        self.hub = Hub(self.settings)
        self.service = AnalyticsService(self.settings, self.hub)
        self.link: MqttLink | None = None
        self.received = 0
        self.rejected = 0
        self._pdu_root = settings.mqtt_pdu_root.rstrip("/")
        self._detach_forward = None

    async def start(self) -> None:
        link = MqttLink(
            self.settings, f"analytics-{os.getpid()}", asyncio.get_running_loop(), self.handle
        )
        link.subscribe(link.shared(f"{self._pdu_root}/+/telemetry"))
        link.subscribe(link.shared(self.settings.mqtt_equipment_topic))
        self.link = link
        self.service.attach()
        self._detach_forward = self.hub.add_listener(self._forward)
        link.start()

    async def wait_connected(self, timeout_s: float) -> bool:
        return self.link is not None and await self.link.wait_connected(timeout_s)

    async def stop(self) -> None:
        if self._detach_forward:
            self._detach_forward()
        self.service.detach()
        if self.link:
            await asyncio.to_thread(self.link.stop)

    def _forward(self, state: TopicState) -> None:
        if state.topic == ALERTS_TOPIC and self.link is not None:
            self.link.publish(self.settings.mqtt_alerts_topic, state.data_bytes)

    def handle(self, topic: str, payload: bytes) -> None:
        """A telemetry envelope from the broker, on the event loop."""
        try:
            envelope = orjson.loads(payload)
            data = envelope["data"]
            ts = datetime.fromisoformat(str(envelope["ts"]).replace("Z", "+00:00"))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            self.rejected += 1
            log.warning("analytics: %s: not a telemetry envelope (%s)", topic, error)
            return
        if topic == self.settings.mqtt_equipment_topic:
            hub_topic = EQUIPMENT_TOPIC
        else:
            hub_topic = f"pdu/{topic[len(self._pdu_root) + 1 : -len('/telemetry')]}/outlets"
        self.received += 1
        try:
            self.hub.publish(hub_topic, data, ts=ts, source="mqtt")
        except Exception:
            self.rejected += 1
            log.exception("analytics: %s could not be scored", topic)
