"""Two backends in one $share group split ingestion: every row reaches exactly one of them."""

from __future__ import annotations

import asyncio

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from energydash.config import Settings
from energydash.hub import Hub
from energydash.mqtt.broker import BrokerProcess
from energydash.mqtt.ingest import MqttIngest
from energydash.net import free_port


@pytest.mark.mosquitto
def test_share_group_splits_rows_between_backends(
    settings: Settings, mosquitto_broker: BrokerProcess
) -> None:
    async def main() -> tuple[set[str], set[str], int]:
        ingests = []
        for _ in range(2):
            cfg = settings.model_copy(
                update={
                    "mqtt_port": mosquitto_broker.port,
                    "mqtt_share_group": "backends",
                    "mqtt_ingest_flush_s": 0.05,
                    "port": free_port(),  # distinct client ids, as two real backends have
                }
            )
            ingest = MqttIngest(cfg, Hub(cfg))
            await ingest.start()
            assert await ingest.link.wait_connected(10)
            ingests.append(ingest)
        await asyncio.sleep(0.5)  # subscriptions acknowledged
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id="share-test")
        client.connect("127.0.0.1", mosquitto_broker.port)
        client.loop_start()
        for i in range(100):
            payload = orjson.dumps({"facility_code": f"S{i:03d}", "power_mw": i})
            client.publish(f"energydash/facilities/S{i:03d}", payload, qos=1).wait_for_publish(5)
        for _ in range(100):
            if sum(ingest.accepted for ingest in ingests) >= 100:
                break
            await asyncio.sleep(0.05)
        client.disconnect()
        client.loop_stop()
        for ingest in ingests:
            await ingest.stop()
        a, b = (set(ingest.facilities) for ingest in ingests)
        return a, b, sum(ingest.accepted for ingest in ingests)

    a, b, accepted = asyncio.run(main())
    assert accepted == 100
    assert a | b == {f"S{i:03d}" for i in range(100)}
    assert not a & b  # no row ingested twice
    assert a and b  # both backends took a share
