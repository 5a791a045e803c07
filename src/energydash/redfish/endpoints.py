"""One Redfish endpoint per PDU, as real PDUs have on their own management cards.

With ``ENERGYDASH_REDFISH_PORT_BASE=N``, PDU k (k = 1, 2, ...) also answers on
127.0.0.1:(N+k-1) as a Redfish service of its own: its own service root, accounts and
sessions (an ``AuthStore`` of its own, seeded from the same settings, kept under
``data_dir/pdus/<id>``), its own event service and log, one RackPDU and one Chassis with id
``1``, its own card (firmware, reboots, certificate). The fleet service on the main port stays.

A ``PduView`` shows the resources one PDU as the whole fleet with that PDU renamed ``1``;
``EngineView`` turns the commands of that service back to the real PDU id and hands it only
that PDU's engine events. Threshold evaluation stays with the fleet service (one numpy pass
for the fleet); its SensorEvents about PDU k are forwarded to endpoint k with the URIs
rewritten. Every endpoint is a uvicorn server on the backend's event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING, Any

from energydash.sim.engine import Engine
from energydash.sim.events import SimEvent
from energydash.sim.pdu import Fleet, PduInfo

if TYPE_CHECKING:
    from energydash.redfish.events import EventRecord
    from energydash.redfish.service import RedfishService

log = logging.getLogger(__name__)
LOCAL_ID = "1"


class PeaksView:
    def __init__(self, peaks: Any, real_id: str) -> None:
        self._peaks = peaks
        self._real = real_id

    def group(self, pdu_id: str, group_id: str) -> tuple[float | None, float | None]:
        return self._peaks.group(self._real, group_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._peaks, name)


class PduView:
    """The fleet as one PDU's card sees it: that PDU alone, with id ``1``."""

    def __init__(self, fleet: Fleet, real_id: str) -> None:
        self._fleet = fleet
        self.real_id = real_id
        self.peaks = PeaksView(fleet.peaks, real_id)

    def _real(self, pdu_id: str) -> str:
        if str(pdu_id) != LOCAL_ID:
            raise KeyError(pdu_id)
        return self.real_id

    def _info(self) -> PduInfo:
        return dataclasses.replace(self._fleet.pdu_info(self.real_id), id=LOCAL_ID)

    @property
    def pdus(self) -> list[PduInfo]:
        return [self._info()]

    def has_pdu(self, pdu_id: str) -> bool:
        return str(pdu_id) == LOCAL_ID

    def pdu_info(self, pdu_id: str) -> PduInfo:
        self._real(pdu_id)
        return self._info()

    def outlet_info(self, pdu_id: str, outlet_id: str) -> Any:
        return self._fleet.outlet_info(self._real(pdu_id), outlet_id)

    def circuit_info(self, pdu_id: str, circuit_id: str) -> Any:
        return self._fleet.circuit_info(self._real(pdu_id), circuit_id)

    def group_info(self, pdu_id: str, group_id: str) -> Any:
        return self._fleet.group_info(self._real(pdu_id), group_id)

    def outlet(self, pdu_id: str, outlet_id: str) -> Any:
        return self._fleet.outlet(self._real(pdu_id), outlet_id)

    def circuit(self, pdu_id: str, circuit_id: str) -> Any:
        return self._fleet.circuit(self._real(pdu_id), circuit_id)

    def pdu(self, pdu_id: str) -> Any:
        return self._fleet.pdu(self._real(pdu_id))

    def group(self, pdu_id: str, group_id: str) -> Any:
        return self._fleet.group(self._real(pdu_id), group_id)

    def outlet_slice(self, pdu_id: str) -> slice:
        return self._fleet.outlet_slice(self._real(pdu_id))

    def __getattr__(self, name: str) -> Any:  # arrays, settings, environment, ...
        return getattr(self._fleet, name)


class EngineView:
    """The engine for one PDU's service: commands go to the real PDU, events come from it."""

    def __init__(self, engine: Engine, real_id: str) -> None:
        self._engine = engine
        self.real_id = real_id
        self.fleet = PduView(engine.fleet, real_id)
        self.clock = engine.clock
        self.settings = engine.settings

    def execute(self, command: Any) -> Any:
        if getattr(command, "pdu_id", LOCAL_ID) != LOCAL_ID:
            from energydash.sim.commands import CommandError

            raise CommandError(f"no PDU {command.pdu_id!r} on this card (only 1)", "pdu_id")
        if hasattr(command, "pdu_id"):
            command = dataclasses.replace(command, pdu_id=self.real_id)
        return self._engine.execute(command)

    def on_event(self, callback: Callable[[SimEvent], None]) -> Callable[[], None]:
        def mine(event: SimEvent) -> None:
            if event.pdu_id == self.real_id:
                callback(dataclasses.replace(event, pdu_id=LOCAL_ID))

        return self._engine.on_event(mine)

    def on_tick(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        return self._engine.on_tick(callback)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


class CardWireFaults:
    """The fleet's wire faults as PDU ``real_id``'s card meets them.

    A fault on that PDU is on the network path to its card, so it hits every request to the
    card (its own URIs say ``1``, not the fleet id); a fault on another PDU never does; a
    ``uri_pattern`` fault matches the card's own paths.
    """

    def __init__(self, wire: Any, real_id: str) -> None:
        self._wire = wire
        self.real_id = real_id

    def for_path(self, path: str) -> list[Any]:
        if not self._wire.active:
            return []
        return [
            f
            for f in self._wire.current()
            if f.pdu_id == self.real_id or (f.pdu_id is None and f.matches(path))
        ]

    def __getattr__(self, name: str) -> Any:  # active, remaining_s, wait_out, inject, ...
        return getattr(self._wire, name)


def rewrite(uri: str | None, real_id: str) -> str | None:
    """A fleet URI of PDU ``real_id`` as that PDU's own card names it."""
    if uri is None:
        return None
    for family in ("/redfish/v1/PowerEquipment/RackPDUs/", "/redfish/v1/Chassis/"):
        head = family + real_id
        if uri == head or uri.startswith(head + "/"):
            return family + LOCAL_ID + uri[len(head) :]
    return uri


class PduEndpoints:
    """Starts and stops the per-PDU services and their listeners."""

    def __init__(self, fleet_service: RedfishService) -> None:
        self.fleet_service = fleet_service
        self.services: dict[str, RedfishService] = {}
        self._servers: list[Any] = []
        self._date_task: asyncio.Task[None] | None = None

    def port_of(self, pdu_id: str) -> int:
        pdus = [p.id for p in self.fleet_service.engine.fleet.pdus]
        return self.fleet_service.settings.redfish_port_base + pdus.index(pdu_id)

    async def start(self) -> None:
        import uvicorn

        from energydash.auth.guard import Guard
        from energydash.redfish.parser import RedfishHttpProtocol
        from energydash.redfish.service import RedfishService

        fleet = self.fleet_service
        settings = fleet.settings
        for pdu in fleet.engine.fleet.pdus:
            own = settings.model_copy(
                update={
                    "data_dir": Path(settings.data_dir) / "pdus" / pdu.id,
                    "port": self.port_of(pdu.id),
                    "redfish_port_base": 0,
                    "scenario_file": "",
                    "redfish_http_redirect_port": 0,
                }
            )
            view = EngineView(fleet.engine, pdu.id)
            service = RedfishService(view, own, single_pdu=pdu.id, thresholds=fleet.thresholds)  # type: ignore[arg-type]
            service.wire = CardWireFaults(fleet.wire, pdu.id)  # type: ignore[assignment]
            await service.start()
            self.services[pdu.id] = service
            config = uvicorn.Config(
                Guard(service.app, own),  # the same Host and body rules as the fleet service
                host="127.0.0.1",
                port=own.port,
                http=RedfishHttpProtocol,
                lifespan="off",
                log_config=None,
                access_log=False,
            )
            server = uvicorn.Server(config)
            config.load()
            server.lifespan = config.lifespan_class(config)  # "off": nothing to start
            await server.startup()
            self._servers.append(server)
        fleet.events.forward = self._forward
        self._date_task = asyncio.get_running_loop().create_task(
            self._keep_date(), name="redfish-endpoints-date"
        )
        log.info(
            "%d per-PDU Redfish endpoints on 127.0.0.1:%d-%d",
            len(self.services),
            settings.redfish_port_base,
            settings.redfish_port_base + len(self.services) - 1,
        )

    def _forward(self, record: EventRecord) -> None:
        """A fleet SensorEvent about PDU k goes to endpoint k, with its own URIs."""
        if record.message["MessageId"].split(".", 1)[0] != "SensorEvent" or not record.origin:
            return
        for real_id, service in self.services.items():
            origin = rewrite(record.origin, real_id)
            if origin != record.origin:
                message = dict(record.message)
                service.events.fan_out(dataclasses.replace(record, origin=origin, message=message))
                return

    async def _keep_date(self) -> None:
        # what uvicorn's main loop does once a second, for every endpoint at once
        while True:
            date = [(b"date", formatdate(time.time(), usegmt=True).encode())]
            for server in self._servers:
                server.server_state.default_headers = date + server.config.encoded_headers
            await asyncio.sleep(1.0)

    async def stop(self) -> None:
        if self._date_task is not None:
            self._date_task.cancel()
        for server in self._servers:
            server.should_exit = True
            await server.shutdown()
        self._servers.clear()
        for service in self.services.values():
            await service.stop()
            service.close()
        self.services.clear()
