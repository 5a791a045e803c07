"""MQTT ingest: replayed facility and market rows and real-device telemetry into the hub.

Each payload is validated; a bad one is counted and logged once per topic per minute and
never stops ingestion. Rows are merged into tables and flushed to the hub at most every
``mqtt_ingest_flush_s``, so a replay at thousands of rows a second costs one hub publish per
topic per flush, not one per row.

Bounds: a payload over ``mqtt_max_payload_bytes`` is counted (``oversized``) and dropped before
it is parsed; at most ``ingest_max_facilities`` facility codes and ``ingest_max_market_regions``
(network, region) pairs are created (rows for more are refused as malformed); at most
``ingest_max_devices`` ingested devices are kept, the least recently heard one is forgotten to
make room (``devices_evicted``), and one silent for ``ingest_device_ttl_s`` is forgotten too
(``devices_expired``). ``accepted`` counts only messages from others: the echo of this backend's
own device telemetry is counted as ``echoes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from energydash.config import Settings
from energydash.hub import Hub
from energydash.hub.hub import iso
from energydash.models.ingest import DeviceRow, FacilityRow, MarketRow, dataset_of, rows_of
from energydash.models.topics import FacilitiesData, FacilityColumns, MarketData, MarketRegion
from energydash.mqtt.client import MqttLink
from energydash.sim.engine import Engine

log = logging.getLogger(__name__)
MALFORMED_LOG_EVERY_S = 60.0
FACILITY_FIELDS = (
    "name",
    "region",
    "fueltech",
    "status",
    "lat",
    "lng",
    "capacity_mw",
    "power_mw",
    "emissions_t",
)


class MalformedPayload(ValueError):
    pass


class MqttIngest:
    def __init__(self, settings: Settings, hub: Hub, engine: Engine | None = None) -> None:
        self.settings = settings
        self.hub = hub
        self.engine = engine
        self.link: MqttLink | None = None  # set in start()
        self.accepted = 0
        self.malformed = 0
        self.oversized = 0
        self.echoes = 0
        self.devices_evicted = 0
        self.devices_expired = 0
        self._devices: OrderedDict[str, float] = OrderedDict()  # id -> monotonic last heard
        self.malformed_by_topic: dict[str, int] = {}
        self._last_warned: dict[str, float] = {}
        self.facilities: dict[str, dict[str, Any]] = {}
        self.facility_network: str | None = None
        self.facility_ts: datetime | None = None
        self.facility_dataset: str | None = None
        self.market: dict[str, dict[str, dict[str, Any]]] = {}
        self.market_ts: dict[str, datetime] = {}
        self.market_dataset: dict[str, str] = {}
        self._dirty: set[str] = set()
        self._flusher: asyncio.Task[None] | None = None
        self._facility_root = settings.mqtt_facility_root.rstrip("/")
        self._market_root = settings.mqtt_market_root.rstrip("/")
        self._device_root = settings.mqtt_device_root.rstrip("/")
        hub.sources.on_release(self._forget_replay)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.link = MqttLink(self.settings, "ingest", loop, self.handle)
        for topic in (
            f"{self._facility_root}/#",
            f"{self._market_root}/#",
            f"{self._device_root}/+/data",
        ):
            self.link.subscribe(self.link.shared(topic))
        self.link.start()
        self._flusher = asyncio.create_task(self._flush_loop(), name="energydash-ingest-flush")

    async def stop(self) -> None:
        if self._flusher:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        self.flush()
        if self.link:
            await asyncio.to_thread(self.link.stop)

    def stats(self) -> dict[str, Any]:
        link = self.link
        return {
            "accepted": self.accepted,
            "malformed": self.malformed,
            "oversized": self.oversized,
            "echoes": self.echoes,
            "devices": len(self._devices),
            "devices_evicted": self.devices_evicted,
            "devices_expired": self.devices_expired,
            "received": link.received if link else 0,
            "inbox_dropped": link.inbox_dropped if link else 0,
            "reconnects": max((link.connects if link else 0) - 1, 0),
        }

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.mqtt_ingest_flush_s)
            try:
                self.flush()
                self.expire_devices()
                self.hub.sources.expire()  # a replay gone silent hands the grid back
            except Exception:
                log.exception("ingest flush failed")

    # ------------------------------------------------------------------ messages
    def handle(self, topic: str, payload: bytes) -> None:
        """One MQTT message, on the event loop."""
        limit = self.settings.mqtt_max_payload_bytes
        if len(payload) > limit:
            self.oversized += 1
            self._reject(topic, MalformedPayload(f"{len(payload)} bytes, over the {limit} limit"))
            return
        try:
            try:
                data = orjson.loads(payload)
            except orjson.JSONDecodeError as error:
                raise MalformedPayload(f"not JSON: {error}") from None
            if topic.startswith(self._facility_root + "/"):
                self._facility(topic, data)
            elif topic.startswith(self._market_root + "/"):
                self._market(topic, data)
            elif topic.startswith(self._device_root + "/") and topic.endswith("/data"):
                if not self._device(topic, data):
                    self.echoes += 1
                    return
            else:
                raise MalformedPayload("topic not handled by ingest")
            self.accepted += 1
        except (MalformedPayload, ValidationError, ValueError) as error:
            self._reject(topic, error)

    def _reject(self, topic: str, error: Exception) -> None:
        self.malformed += 1
        self.malformed_by_topic[topic] = self.malformed_by_topic.get(topic, 0) + 1
        now = time.monotonic()
        if now - self._last_warned.get(topic, -1e9) >= MALFORMED_LOG_EVERY_S:
            self._last_warned[topic] = now
            if isinstance(error, ValidationError):
                first = error.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "payload"
                reason = f"{where}: {first['msg']}"
            else:
                reason = str(error)
            log.warning(
                "malformed payload on %s (%d so far on this topic; next warning in a minute): %s",
                topic,
                self.malformed_by_topic[topic],
                reason,
            )

    @staticmethod
    def _group_rows(data: Any) -> tuple[list[dict[str, Any]], Any]:
        try:
            return rows_of(data)
        except ValueError as error:
            raise MalformedPayload(str(error)) from None

    def _facility(self, topic: str, data: Any) -> None:
        rows, group_ts = self._group_rows(data)
        code_from_topic = topic[len(self._facility_root) + 1 :]
        parsed = []
        for index, row in enumerate(rows):
            if "facility_code" not in row and "code" not in row and "facility" not in row:
                # ".../facilities/all" carries many facilities: each row must name its own
                if "/" in code_from_topic or code_from_topic in ("", "all"):
                    raise MalformedPayload(f"rows[{index}]: no facility_code")
                row = {**row, "facility_code": code_from_topic}
            if group_ts is not None and "timestamp" not in row:
                row = {**row, "timestamp": group_ts}
            try:
                parsed.append(FacilityRow.model_validate(row))
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise MalformedPayload(f"rows[{index}].{where}: {first['msg']}") from None
        new_codes = {r.facility_code for r in parsed} - self.facilities.keys()
        room = self.settings.ingest_max_facilities - len(self.facilities)
        if len(new_codes) > room:
            raise MalformedPayload(
                f"{len(new_codes)} new facility codes, room for {max(room, 0)} "
                f"(ENERGYDASH_INGEST_MAX_FACILITIES={self.settings.ingest_max_facilities})"
            )
        stamps = [r.timestamp for r in parsed if r.timestamp]
        dataset = dataset_of(data)
        if dataset and self.facility_dataset and dataset != self.facility_dataset:
            self._forget_replay(["facilities"])  # another dataset: never one table of both
        for row in parsed:  # all rows valid: apply them (a bad message changes nothing)
            entry = self.facilities.setdefault(row.facility_code, dict.fromkeys(FACILITY_FIELDS))
            for name in FACILITY_FIELDS:
                value = getattr(row, name)
                if value is not None:
                    entry[name] = value
            if row.network:
                self.facility_network = row.network
        if stamps:
            # the dataset time of the rows that produced these values: a looped replay rewinds
            self.facility_ts = max(stamps)
        self.facility_dataset = dataset or self.facility_dataset
        self._dirty.add("facilities")
        # the market of this network sums these facilities where its own rows say nothing
        self._dirty.add(f"market/{self.facility_network or self.settings.grid_network}")

    def _market(self, topic: str, data: Any) -> None:
        rest = topic[len(self._market_root) + 1 :].split("/")
        topic_network = rest[0] if rest and rest[0] else None
        topic_metric = rest[1] if len(rest) > 1 else None
        rows, group_ts = self._group_rows(data)
        updates = []
        for index, row in enumerate(rows):
            if group_ts is not None and "timestamp" not in row:
                row = {**row, "timestamp": group_ts}
            try:
                parsed = MarketRow.model_validate(row)
                values = parsed.values(topic_metric)
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise MalformedPayload(f"rows[{index}].{where}: {first['msg']}") from None
            except ValueError as error:
                raise MalformedPayload(f"rows[{index}].{error}") from None
            network = parsed.network or topic_network
            if not network:
                raise MalformedPayload(f"rows[{index}]: no network in the row or the topic")
            region = parsed.region or network
            if not values:
                raise MalformedPayload(f"rows[{index}]: no value, metric or market column")
            updates.append((network, region, values, parsed.timestamp))
        known = sum(len(r) for r in self.market.values())
        fresh = {(n, r) for n, r, _, _ in updates if r not in self.market.get(n, {})}
        limit = self.settings.ingest_max_market_regions
        if known + len(fresh) > limit:
            raise MalformedPayload(
                f"{len(fresh)} new market regions, room for {max(limit - known, 0)} "
                f"(ENERGYDASH_INGEST_MAX_MARKET_REGIONS={limit})"
            )
        dataset = dataset_of(data)
        for network in {n for n, _, _, _ in updates}:
            known = self.market_dataset.get(network)
            if dataset and known and dataset != known:
                self._forget_replay([f"market/{network}"])  # another dataset: start over
        stamps: dict[str, datetime] = {}
        for network, region, values, ts in updates:
            regions = self.market.setdefault(network, {})
            entry = regions.setdefault(region, {"region": region, "generation_by_fueltech_mw": {}})
            entry.update(values)
            if ts and (network not in stamps or ts > stamps[network]):
                stamps[network] = ts
            self._dirty.add(f"market/{network}")
            if dataset:
                self.market_dataset[network] = dataset
        self.market_ts.update(stamps)  # follows the rows' dataset time, backwards on a loop

    def _device(self, topic: str, data: Any) -> bool:
        """Publish a device's data; False for the echo of our own simulated device."""
        device_id = topic[len(self._device_root) + 1 : -len("/data")]
        if "/" in device_id or not device_id:
            raise MalformedPayload("device id must be one topic level")
        if self._simulated(device_id):
            return False  # our own publisher's echo: the simulator already feeds this topic
        if not isinstance(data, dict):
            raise MalformedPayload("device data must be a JSON object")
        row = DeviceRow.model_validate(data)
        self._heard(device_id)
        pdu_id, _, outlet_id = device_id.rpartition("-")
        self.hub.publish(
            f"devices/{device_id}",
            {
                "device_id": device_id,
                "pdu_id": pdu_id or None,
                "outlet_id": outlet_id if pdu_id else None,
                "name": row.name,
                "profile": row.profile,
                "online": row.online,
                "power_state": row.power_state,
                "power_w": row.power_w,
                "energy_kwh": row.energy_kwh,
            },
            ts=(row.timestamp or datetime.now(UTC)).astimezone(UTC),
            source="mqtt",
        )
        return True

    def _heard(self, device_id: str) -> None:
        """Mark a device as just heard, forgetting the least recent one when over the bound."""
        devices = self._devices
        devices[device_id] = time.monotonic()
        devices.move_to_end(device_id)
        while len(devices) > self.settings.ingest_max_devices:
            oldest, _ = devices.popitem(last=False)
            self.hub.drop(f"devices/{oldest}")
            self.devices_evicted += 1

    def expire_devices(self, now: float | None = None) -> int:
        """Forget ingested devices silent for ``ingest_device_ttl_s``; how many went."""
        now = time.monotonic() if now is None else now
        cutoff = now - self.settings.ingest_device_ttl_s
        gone = 0
        while self._devices:
            device_id, heard = next(iter(self._devices.items()))
            if heard > cutoff:
                break
            del self._devices[device_id]
            self.hub.drop(f"devices/{device_id}")
            gone += 1
        self.devices_expired += gone
        return gone

    def _simulated(self, device_id: str) -> bool:
        if self.engine is None:
            return False
        if self.engine.sites.has_device(device_id):
            return True  # a site device: the site publisher feeds it
        pdu_id, _, outlet_id = device_id.rpartition("-")
        fleet = self.engine.fleet
        if not fleet.has_pdu(pdu_id):
            return False
        return any(o.id == outlet_id for o in fleet.pdu_info(pdu_id).outlets)

    def _forget_replay(self, topics: list[str]) -> None:
        """Drop the tables behind replayed topics (released, or another dataset begins)."""
        for topic in topics:
            if topic == "facilities":
                self.facilities.clear()
                self.facility_network = self.facility_ts = self.facility_dataset = None
            elif topic.startswith("market/"):
                network = topic.split("/", 1)[1]
                self.market.pop(network, None)
                self.market_ts.pop(network, None)
                self.market_dataset.pop(network, None)
            self._dirty.discard(topic)

    # ------------------------------------------------------------------ hub
    def flush(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for topic in sorted(dirty):
            if topic == "facilities":
                self._publish_facilities()
            else:
                self._publish_market(topic.split("/", 1)[1])

    def _publish_facilities(self) -> None:
        codes = sorted(self.facilities)
        rows = [self.facilities[c] for c in codes]
        network = self.facility_network or self.settings.grid_network
        ts = (self.facility_ts or datetime.now(UTC)).astimezone(UTC)
        columns = {name: [row[name] for row in rows] for name in FACILITY_FIELDS}
        columns["name"] = [row["name"] or code for code, row in zip(codes, rows, strict=True)]
        # model_construct: rows were validated as they arrived, this only shapes the table
        data = FacilitiesData.model_construct(
            network=network,
            interval=iso(ts) if self.facility_ts else None,
            facilities=FacilityColumns.model_construct(code=codes, **columns),
            source="replay",
            dataset=self.facility_dataset,
        )
        self.hub.sources.claim("facilities", self.facility_dataset)
        self.hub.publish("facilities", data.model_dump(), ts=ts, source="replay")

    def _facility_totals(self, network: str) -> dict[str, tuple[float, dict[str, float]]]:
        """Per region of ``network``: replayed facilities' output and its mix by fueltech."""
        if (self.facility_network or self.settings.grid_network) != network:
            return {}
        totals: dict[str, tuple[float, dict[str, float]]] = {}
        for row in self.facilities.values():
            region, power = row["region"], row["power_mw"]
            if region is None or power is None:
                continue
            total, mix = totals.get(region, (0.0, {}))
            tech = row["fueltech"] or "unknown"
            mix[tech] = mix.get(tech, 0.0) + power
            totals[region] = (total + power, mix)
        return totals

    def _publish_market(self, network: str) -> None:
        market = self.market.get(network, {})
        derived = self._facility_totals(network)
        if not market and not derived:
            return
        ts = self.market_ts.get(network) or (self.facility_ts if derived else None)
        regions = []
        from_facilities = False
        for region in sorted(set(market) | set(derived)):
            entry = market.get(region, {})
            generation = entry.get("generation_mw")
            mix = entry.get("generation_by_fueltech_mw") or {}
            if region in derived and (generation is None or not mix):
                from_facilities = True
                total, by_tech = derived[region]
                generation = total if generation is None else generation
                mix = mix or {tech: round(mw, 3) for tech, mw in by_tech.items()}
            regions.append(
                MarketRegion.model_construct(
                    region=region,
                    price_aud_per_mwh=entry.get("price_aud_per_mwh"),
                    demand_mw=entry.get("demand_mw"),
                    generation_mw=generation,
                    net_interchange_mw=entry.get("net_interchange_mw"),
                    emissions_t_per_mwh=entry.get("emissions_t_per_mwh"),
                    generation_by_fueltech_mw=mix,
                )
            )
        dataset = self.market_dataset.get(network) or (self.facility_dataset if derived else None)
        data = MarketData.model_construct(
            network=network,
            interval=iso(ts) if ts else None,
            regions=regions,
            source="replay",
            dataset=dataset,
            generation_from="facilities" if from_facilities else "market",
        )
        topic = f"market/{network}"
        self.hub.sources.claim(topic, dataset)
        self.hub.publish(
            topic, data.model_dump(), ts=(ts or datetime.now(UTC)).astimezone(UTC), source="replay"
        )
