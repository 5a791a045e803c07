"""One PDU's tree in its profile's shape: URIs and ids out, URIs back in, readings as sent.

The resources render as always (``redfish.render``, the same engine, the same numbers); a
``Shaper`` then rewrites what leaves (URIs, ``Id``, the few properties a profile changes) and
turns the profile's URIs that come in (paths, ``Links`` in a POST body) back to the engine's.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from energydash.redfish.profiles.vendors import Profile

if TYPE_CHECKING:
    from energydash.redfish.http import Request

V1 = "/redfish/v1/"
OUTLET_QUANTITIES = ("Voltage", "Current", "Power", "Energy", "Frequency")
OUT_CACHE_SIZE = 8192  # well above one PDU's URIs (about 300 sensors, 48 outlets, actions)
READING_KEYS = frozenset(
    {"Reading", "ApparentVA", "ReactiveVAR", "PowerFactor", "LifetimeReading", "PeakReading"}
)


class Shaper:
    """The URI and body rewriting of one PDU (``pdu_id`` as its service names it)."""

    def __init__(self, profile: Profile, pdu_id: str, outlet_ids: list[str]) -> None:
        self.profile = profile
        self.pdu_id = pdu_id
        self.rack = f"{V1}PowerEquipment/RackPDUs/{pdu_id}"
        self.sensors = f"{V1}Chassis/{pdu_id}/Sensors"
        self.number = {oid: n for n, oid in enumerate(outlet_ids, 1)}
        self.engine_id = dict(enumerate(outlet_ids, 1))
        prefix = profile.outlet_prefix
        self.to_uri = {} if prefix is None else {o: f"{prefix}{n}" for o, n in self.number.items()}
        self.from_uri = {v: k for k, v in self.to_uri.items()}
        self._out_cache: dict[str, str] = {}

    # ------------------------------------------------------------------ URIs
    def uri_out(self, uri: str) -> str:
        """An engine URI as this profile names it (memoised: the tree's URIs are few)."""
        known = self._out_cache.get(uri)
        if known is None:
            if len(self._out_cache) >= OUT_CACHE_SIZE:
                self._out_cache.clear()
            known = self._out_cache[uri] = self._uri_out(uri)
        return known

    def _uri_out(self, uri: str) -> str:
        profile = self.profile
        if uri.startswith(self.rack + "/"):
            rest = uri[len(self.rack) + 1 :].split("/")
            if self.to_uri and rest[0] == "Outlets" and len(rest) > 1:
                rest[1] = self.to_uri.get(rest[1], rest[1])
            if profile.bare_actions and "Actions" in rest:
                rest.remove("Actions")
            return self.rack + "/" + "/".join(rest)
        if profile.sensors_under_pdu and (
            uri == self.sensors or uri.startswith(self.sensors + "/")
        ):
            rest = uri[len(self.sensors) :].split("/")  # ["", "PowerA1", ...]
            if len(rest) > 1:
                rest[1] = self._sensor_out(rest[1])
            if profile.bare_actions and "Actions" in rest:
                rest.remove("Actions")
            return self.rack + "/Sensors" + "/".join(rest)
        return uri

    def uri_in(self, uri: str) -> str | None:
        """A URI of this profile as the engine's tree names it; None: no such resource here."""
        profile = self.profile
        if profile.sensors_under_pdu and (
            uri == self.sensors or uri.startswith(self.sensors + "/")
        ):
            return None  # the sensors moved under the PDU
        if not uri.startswith(self.rack + "/"):
            return uri
        rest = uri[len(self.rack) + 1 :].split("/")
        if profile.bare_actions and len(rest) >= 2 and "." in rest[-1] and rest[-2] != "Actions":
            rest.insert(len(rest) - 1, "Actions")
        if self.to_uri and rest[0] == "Outlets" and len(rest) > 1:
            engine_id = self.from_uri.get(rest[1])
            if engine_id is None:
                return None
            rest[1] = engine_id
        if profile.sensors_under_pdu and rest[0] == "Sensors":
            tail = rest[1:]
            if tail:
                sensor = self._sensor_in(tail[0])
                if sensor is None:
                    return None
                tail[0] = sensor
            return self.sensors + "".join("/" + part for part in tail)
        return self.rack + "/" + "/".join(rest)

    def _sensor_out(self, sensor_id: str) -> str:
        for quantity in OUTLET_QUANTITIES:
            if sensor_id.startswith(quantity):
                n = self.number.get(sensor_id[len(quantity) :])
                if n is not None:
                    return f"{quantity}{self.profile.outlet_sensor_infix}{n}"
        return sensor_id

    def _sensor_in(self, sensor_id: str) -> str | None:
        infix = self.profile.outlet_sensor_infix
        for quantity in OUTLET_QUANTITIES:
            if not sensor_id.startswith(quantity):
                continue
            subject = sensor_id[len(quantity) :]
            if subject in self.number:
                return None  # an outlet sensor by its engine name: not a name of this profile
            if subject.startswith(infix) and subject[len(infix) :].isdigit():
                engine_id = self.engine_id.get(int(subject[len(infix) :]))
                return None if engine_id is None else f"{quantity}{engine_id}"
        return sensor_id

    # ------------------------------------------------------------------ bodies
    def body_in(self, value: Any) -> Any:
        """A request body with the profile's URIs turned to the engine's (``Links`` of a POST)."""
        if isinstance(value, dict):
            return {k: self.body_in(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.body_in(v) for v in value]
        if isinstance(value, str) and value.startswith(V1):
            inner = self.uri_in(value.rstrip("/"))
            return value if inner is None else inner
        return value

    def shape(self, body: dict[str, Any], request: Request) -> dict[str, Any]:
        """A rendered resource as this profile sends it."""
        profile = self.profile
        out = self._out(body, None)
        odata_type = out.get("@odata.type", "")
        if not isinstance(odata_type, str):
            return out
        if odata_type.startswith("#Outlet."):
            self._outlet(out, request)
        elif odata_type.startswith("#Sensor.") and profile.sensors_under_pdu:
            out["Id"] = str(out.get("@odata.id", "")).rpartition("/")[2]
        elif odata_type.startswith("#PowerDistribution."):
            if profile.pdu_type:
                out["@odata.type"] = profile.pdu_type
            for name in profile.pdu_drop:
                out.pop(name, None)
            if profile.sensors_under_pdu:
                out["Sensors"] = {"@odata.id": self.rack + "/Sensors"}
            if profile.manufacturer:
                out["Manufacturer"] = profile.manufacturer
        elif odata_type.startswith("#Chassis."):
            if profile.sensors_under_pdu:
                out.pop("Sensors", None)
            if profile.manufacturer:
                out["Manufacturer"] = profile.manufacturer
        return out

    def _out(self, value: Any, key: str | None) -> Any:
        if isinstance(value, dict):
            return {k: self._out(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self._out(v, key) for v in value]
        if isinstance(value, str):
            return self.uri_out(value) if value.startswith(V1) else value
        if (
            self.profile.float32_readings
            and type(value) is float
            and key in READING_KEYS
            and math.isfinite(value)
        ):
            # what a device that keeps readings as float32 prints: 229.1 -> 229.10000610351562
            return float(np.float32(value))
        return value

    def _outlet(self, out: dict[str, Any], request: Request) -> None:
        profile = self.profile
        engine_id = request.params.get("outlet", "")
        n = self.number.get(engine_id)
        if n is not None and profile.outlet_prefix is not None:
            out["Id"] = f"{profile.outlet_id_prefix or profile.outlet_prefix}{n}"
        if n is not None and profile.outlet_name:
            branch = str(out.get("Links", {}).get("BranchCircuit", {}).get("@odata.id", ""))
            out["Name"] = profile.outlet_name.format(n=n, branch=branch.rpartition("/")[2])
        if not profile.outlet_data_source_uri:
            _drop_key(out, "DataSourceUri")
        if profile.outlet_delays:
            fleet = request.service.engine.fleet
            index = fleet.outlet_info(request.params["pdu"], engine_id).index
            out["PowerCycleDelaySeconds"] = request.service.engine.settings.power_cycle_delay_s
            out["PowerStateInTransition"] = not math.isnan(float(fleet.pending_on_at[index]))


def _drop_key(value: Any, key: str) -> None:
    if isinstance(value, dict):
        value.pop(key, None)
        for inner in value.values():
            _drop_key(inner, key)
    elif isinstance(value, list):
        for inner in value:
            _drop_key(inner, key)
