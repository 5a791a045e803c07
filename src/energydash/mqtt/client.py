"""One MQTT connection on paho-mqtt 2.x whose network loop runs on its own thread.

Everything paho hands over crosses to the asyncio loop with ``call_soon_threadsafe``; an
exception in a callback is logged, never lost with the thread. The session is persistent
(``clean_session=False`` with a stable client id), so QoS 1 messages published while we were
away are delivered when the link comes back, and subscriptions are renewed on every connect. It
connects as the ``backend`` identity (``mqtt.identities.client_credentials``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from energydash.config import Settings
from energydash.mqtt.identities import client_credentials

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes], None]
DRAIN_BUDGET_S = 0.005


class MqttLink:
    """A named connection (``ingest``, ``publish``) with its subscriptions and counters."""

    def __init__(
        self,
        settings: Settings,
        role: str,
        loop: asyncio.AbstractEventLoop,
        on_message: MessageHandler | None = None,
    ) -> None:
        self.settings = settings
        self.role = role
        self.loop = loop
        self.on_message = on_message
        self.subscriptions: list[tuple[str, int]] = []
        self.connected = False
        self.connects = 0
        self.disconnects = 0
        self.received = 0
        self.published = 0
        self.callback_errors = 0
        self.on_connected: Callable[[], None] | None = None  # on the loop, after each connect
        self._connected_event = threading.Event()
        self._inbox: deque[tuple[str, bytes]] = deque()  # paho thread -> event loop
        self._inbox_lock = threading.Lock()
        self._drain_scheduled = False
        self.inbox_dropped = 0
        self.client_id = f"{settings.mqtt_client_id}-{role}-{settings.port}"
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False,
            protocol=paho.MQTTv311,
        )
        client.username_pw_set(*client_credentials(settings, "backend"))
        if settings.mqtt_tls:
            client.tls_set()
        client.max_inflight_messages_set(settings.mqtt_max_inflight)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self.client = client

    def subscribe(self, topic: str, qos: int | None = None) -> None:
        """Add a subscription; (re)made on every connect."""
        entry = (topic, self.settings.mqtt_qos if qos is None else qos)
        self.subscriptions.append(entry)
        if self.connected:
            self.client.subscribe(entry[0], entry[1])

    def shared(self, topic: str) -> str:
        """``$share/<group>/topic`` when a share group is set, else the topic itself."""
        group = self.settings.mqtt_share_group
        return f"$share/{group}/{topic}" if group else topic

    def start(self) -> None:
        self.client.connect_async(
            self.settings.mqtt_host,
            self.settings.mqtt_port,
            keepalive=self.settings.mqtt_keepalive_s,
        )
        self.client.loop_start()

    async def wait_connected(self, timeout_s: float) -> bool:
        return await asyncio.to_thread(self._connected_event.wait, timeout_s)

    def stop(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()
        self.connected = False

    def backlog(self) -> int:
        """Messages paho holds for the broker: unsent, or sent and not yet acknowledged."""
        return len(getattr(self.client, "_out_messages", ()))

    def can_take_droppable(self) -> bool:
        """Whether telemetry may be queued now: connected, and the backlog under its bound."""
        return self.connected and self.backlog() < self.settings.mqtt_outbound_queue_limit

    def publish(
        self, topic: str, payload: bytes | str, *, qos: int | None = None, retain: bool = False
    ) -> None:
        qos = self.settings.mqtt_qos if qos is None else qos
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc == paho.MQTT_ERR_SUCCESS or info.rc == paho.MQTT_ERR_NO_CONN:
            # NO_CONN with QoS>0: paho keeps the message and sends it after reconnecting
            self.published += 1
        else:
            log.warning(
                "mqtt %s: publish to %s failed: %s", self.role, topic, paho.error_string(info.rc)
            )

    # ------------------------------------------------------------------ paho thread
    def _on_connect(
        self,
        client: paho.Client,
        userdata: object,
        flags: object,
        reason: object,
        properties: object,
    ) -> None:
        try:
            if getattr(reason, "is_failure", False):
                log.warning("mqtt %s: connection refused: %s", self.role, reason)
                return
            self.connected = True
            self.connects += 1
            self._connected_event.set()
            if self.subscriptions:
                client.subscribe(list(self.subscriptions))
            if self.on_connected is not None and not self.loop.is_closed():
                self.loop.call_soon_threadsafe(self.on_connected)
            log.info(
                "mqtt %s connected to %s:%d (%d subscriptions)",
                self.role,
                self.settings.mqtt_host,
                self.settings.mqtt_port,
                len(self.subscriptions),
            )
        except Exception:
            self.callback_errors += 1
            log.exception("mqtt %s: on_connect failed", self.role)

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: object,
        flags: object,
        reason: object,
        properties: object,
    ) -> None:
        was = self.connected
        self.connected = False
        self._connected_event.clear()
        if was:
            self.disconnects += 1
            log.warning("mqtt %s disconnected (%s); reconnecting", self.role, reason)

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        try:
            self.received += 1
            if self.on_message is None or self.loop.is_closed():
                return
            if len(self._inbox) >= self.settings.mqtt_inbox_limit:
                self.inbox_dropped += 1  # the loop cannot keep up: shed, never grow without bound
                return
            self._inbox.append((message.topic, bytes(message.payload)))
            with self._inbox_lock:
                if self._drain_scheduled:
                    return
                self._drain_scheduled = True
            self.loop.call_soon_threadsafe(self._drain)
        except Exception:
            self.callback_errors += 1
            log.exception("mqtt %s: handing a message to the event loop failed", self.role)

    def _drain(self) -> None:
        """Handle queued messages for at most DRAIN_BUDGET_S, then let the loop run (ticks,
        HTTP) before the rest: a flood of commands must not starve the engine."""
        deadline = time.perf_counter() + DRAIN_BUDGET_S
        inbox = self._inbox
        while inbox:
            topic, payload = inbox.popleft()
            self._dispatch(topic, payload)
            if time.perf_counter() > deadline:
                break
        with self._inbox_lock:
            if not inbox:
                self._drain_scheduled = False
                return
        self.loop.call_soon(self._drain)

    def _dispatch(self, topic: str, payload: bytes) -> None:
        try:
            assert self.on_message is not None
            self.on_message(topic, payload)
        except Exception:
            self.callback_errors += 1
            log.exception("mqtt %s: handling %s failed", self.role, topic)
