"""The MQTT connection of the command-line tools (`replay`, `record`): one way to connect.

Both tools take the same connection options (``commands/_options.add_mqtt_client_options``)
into a ``ToolConnection``, so a default or an identity added for one applies to the other. MQTT
3.1.1 and 5 are both spoken; with 5 the session is a clean start and publishes can carry
message expiry and user properties.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

MqttVersion = Literal["3.1.1", "5"]


class ToolConnectError(Exception):
    """The broker cannot be reached or refused the connection; the message says which."""


@dataclass
class ToolConnection:
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = ""
    username: str = ""
    password: str = ""
    tls: bool = False
    tls_ca: str | None = None
    tls_insecure: bool = False
    keepalive_s: int = 30
    mqtt_version: MqttVersion = "3.1.1"
    user_properties: list[tuple[str, str]] = field(default_factory=list)
    message_expiry_s: int = 0


def make_client(conn: Any, client_id: str, *, clean_session: bool) -> paho.Client:
    """A paho client for ``conn`` (a ToolConnection or options with the same fields)."""
    version = getattr(conn, "mqtt_version", "3.1.1")
    if version == "5":
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    else:
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=paho.MQTTv311,
        )
    client._energydash_clean = clean_session  # type: ignore[attr-defined]
    if conn.username:
        client.username_pw_set(conn.username, conn.password or None)
    if conn.tls:
        client.tls_set(
            ca_certs=conn.tls_ca,
            cert_reqs=ssl.CERT_NONE if conn.tls_insecure else ssl.CERT_REQUIRED,
        )
        if conn.tls_insecure:
            client.tls_insecure_set(True)
    client.reconnect_delay_set(min_delay=1, max_delay=2)
    return client


def publish_properties(conn: Any) -> Properties | None:
    """MQTT 5 PUBLISH properties (expiry, user properties), None for 3.1.1 or when unset."""
    if getattr(conn, "mqtt_version", "3.1.1") != "5":
        return None
    expiry = getattr(conn, "message_expiry_s", 0)
    users = getattr(conn, "user_properties", None) or []
    if not expiry and not users:
        return None
    props = Properties(PacketTypes.PUBLISH)
    if expiry:
        props.MessageExpiryInterval = int(expiry)
    if users:
        props.UserProperty = list(users)
    return props


def connect(client: paho.Client, conn: Any, what: str, timeout: float = 10.0) -> None:
    """Connect and start the network loop; ToolConnectError if refused or unreachable."""
    connected = threading.Event()
    failure: list[str] = []
    previous = client.on_connect

    def on_connect(c: paho.Client, u: Any, f: Any, rc: Any, p: Any = None) -> None:
        if rc.is_failure:
            failure.append(str(rc))
        connected.set()
        if previous is not None:
            previous(c, u, f, rc, p)

    client.on_connect = on_connect
    kwargs: dict[str, Any] = {"keepalive": conn.keepalive_s}
    if getattr(conn, "mqtt_version", "3.1.1") == "5":
        kwargs["clean_start"] = getattr(client, "_energydash_clean", True)
    try:
        client.connect(conn.host, conn.port, **kwargs)
    except (OSError, ssl.SSLError) as error:
        raise ToolConnectError(
            f"cannot reach the MQTT broker at {conn.host}:{conn.port} ({what}): {error}; "
            "start one with `energydash broker`"
        ) from None
    client.loop_start()
    if not connected.wait(timeout) or failure:
        client.loop_stop()
        reason = failure[0] if failure else "no CONNACK in time"
        raise ToolConnectError(f"MQTT broker {conn.host}:{conn.port} refused {what}: {reason}")
    client.on_connect = previous
