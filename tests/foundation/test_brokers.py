"""The local broker launcher: both engines accept MQTT clients and survive a restart."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import pytest

from energydash.mqtt.broker import BrokerLimits, BrokerProcess, amqtt_config, mosquitto_config


def _roundtrip(broker: BrokerProcess, topic: str = "energydash/test") -> bytes:
    received = threading.Event()
    payloads: list[bytes] = []

    def on_message(_client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        payloads.append(message.payload)
        received.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.subscribe(topic, qos=1)
        # The SUBACK comes back asynchronously: publish until the subscription delivers.
        for _ in range(50):
            client.publish(topic, b"hello", qos=1).wait_for_publish(2)
            if received.wait(0.1):
                break
    finally:
        client.loop_stop()
        client.disconnect()
    assert payloads, f"no message came back through {broker.engine}"
    return payloads[0]


def test_broker_delivers_a_published_message(mqtt_broker: BrokerProcess) -> None:
    assert _roundtrip(mqtt_broker) == b"hello"


def test_broker_accepts_clients_again_after_restart(mqtt_broker: BrokerProcess) -> None:
    mqtt_broker.restart()
    assert _roundtrip(mqtt_broker) == b"hello"


def test_start_refuses_a_port_already_in_use(amqtt_broker: BrokerProcess) -> None:
    second = BrokerProcess("amqtt", port=amqtt_broker.port, broker_dir=amqtt_broker.broker_dir)
    with pytest.raises(RuntimeError, match="already in use"):
        second.start()


def test_generated_configs_bind_only_the_given_host(tmp_path) -> None:
    conf = mosquitto_config("127.0.0.1", 1999, tmp_path)
    assert "listener 1999 127.0.0.1" in conf
    assert '"bind": "127.0.0.1:1999"' in amqtt_config("127.0.0.1", 1999)


def test_generated_config_bounds_every_client_queue_and_expires_sessions(tmp_path) -> None:
    limits = BrokerLimits(max_queued_messages=500, max_queued_bytes=1_000_000,
                          persistent_client_expiration="2d")  # fmt: skip
    conf = mosquitto_config("127.0.0.1", 1999, tmp_path, limits=limits).splitlines()
    assert {"max_queued_messages 500", "max_queued_bytes 1000000",
            "persistent_client_expiration 2d"} <= set(conf)  # fmt: skip
    assert '"session_expiry_interval": 172800' in amqtt_config("127.0.0.1", 1999, limits=limits)
    default = BrokerLimits.from_settings()
    assert default.max_queued_messages > 0 and default.max_queued_bytes > 0  # bounded by default
