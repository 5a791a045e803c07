"""What a PDU's owner writes on it: UserLabel, AssetTag, Location, and its identity (UUID, part).

The OCP Rack PDU profile makes these writable on the RackPDU and its Chassis (one physical
box, so both show the same values). They are Redfish-side facts about the hardware, not
electrical state, so they live here and not in the simulation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from energydash.redfish import errors
from energydash.redfish.registries import message
from energydash.sim.pdu import PduInfo

MAX_TEXT = 64
RACK_UNITS = ("EIA_310", "OpenU")
PART_NUMBER = "AP8886"  # the Schneider Electric SmartPDU family the default tree follows
PLACEMENT_TEXT = ("Rack", "Row")


@dataclass
class Asset:
    uuid: str
    user_label: str
    asset_tag: str = ""
    placement: dict[str, Any] = field(default_factory=dict)
    circuit_labels: dict[str, str] = field(default_factory=dict)

    def chassis_fields(self) -> dict[str, Any]:
        """The Chassis's share: Chassis has no UserLabel."""
        fields = self.fields()
        del fields["UserLabel"]
        return fields

    def fields(self) -> dict[str, Any]:
        """The properties shared by the RackPDU and its Chassis."""
        return {
            "UserLabel": self.user_label,
            "AssetTag": self.asset_tag,
            "UUID": self.uuid,
            "PartNumber": PART_NUMBER,
            "Location": {"Placement": dict(self.placement)},
        }


class Assets:
    """One ``Asset`` per PDU id, created with defaults on first use."""

    def __init__(self, seed: int, salt: str = "") -> None:
        self._seed = f"{seed}{salt}"
        self._by_pdu: dict[str, Asset] = {}

    def saved(self) -> dict[str, dict[str, Any]]:
        """What owners wrote, per PDU id (the UUID follows from the seed and is not kept)."""
        return {
            pdu_id: {
                "UserLabel": a.user_label,
                "AssetTag": a.asset_tag,
                "Location": {"Placement": dict(a.placement)},
                "CircuitLabels": dict(a.circuit_labels),
            }
            for pdu_id, a in self._by_pdu.items()
        }

    def restore(self, pdus: list[PduInfo], rows: Any, where: str) -> None:
        """Apply ``saved()`` rows to the PDUs that still exist, checked by the PATCH setters.

        Raises ValueError naming ``where`` and the property; nothing changes then.
        """
        if not isinstance(rows, dict):
            raise ValueError(f"{where}: must be an object of PDU id to labels")
        staged = Assets.__new__(Assets)
        staged._seed, staged._by_pdu = self._seed, {}
        for pdu in pdus:
            row = rows.get(pdu.id)
            if row is None:
                continue
            if not isinstance(row, dict):
                raise ValueError(f"{where}.{pdu.id}: must be an object")
            asset = staged.of(pdu)
            setters = asset_setters(asset)
            for name, value in row.items():
                if name == "CircuitLabels":
                    ok = isinstance(value, dict) and all(
                        isinstance(v, str) and len(v) <= MAX_TEXT for v in value.values()
                    )
                    if not ok:
                        raise ValueError(f"{where}.{pdu.id}.{name}: must map circuit ids to labels")
                    asset.circuit_labels = {str(k): v for k, v in value.items()}
                    continue
                setter = setters.get(name)
                problem = errors.property_unknown(name) if setter is None else setter(value)
                if problem is not None:
                    raise ValueError(f"{where}.{pdu.id}.{name}: {problem['Message']}")
        self._by_pdu.update(staged._by_pdu)

    def of(self, pdu: PduInfo) -> Asset:
        asset = self._by_pdu.get(pdu.id)
        if asset is None:
            asset = Asset(
                uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"energydash-pdu-{self._seed}-{pdu.id}")),
                user_label=pdu.name,
                placement={
                    "Rack": f"R{pdu.index // 2 + 1:02d}",
                    "Row": "A",
                    "RackOffset": 1 + (pdu.index % 2) * 21,
                    "RackOffsetUnits": "EIA_310",
                },
            )
            self._by_pdu[pdu.id] = asset
        return asset


def text_setter(asset: Asset, attr: str, name: str):  # type: ignore[no-untyped-def]
    def setter(value: Any) -> dict[str, Any] | None:
        if not isinstance(value, str):
            return errors.value_type_error(value, name)
        if len(value) > MAX_TEXT:
            return message("Base", "PropertyValueFormatError", value[:20] + "...", name)
        setattr(asset, attr, value)
        return None

    return setter


def location_setter(asset: Asset):  # type: ignore[no-untyped-def]
    """PATCH ``Location``: only ``Placement`` with Rack, Row, RackOffset, RackOffsetUnits.

    Checks the whole object before it changes anything, so a bad member leaves all as it was.
    """

    def setter(value: Any) -> dict[str, Any] | None:
        if not isinstance(value, dict) or set(value) - {"Placement"}:
            return errors.value_type_error(str(value), "Location")
        placement = value.get("Placement", {})
        if not isinstance(placement, dict):
            return errors.value_type_error(str(placement), "Location/Placement")
        new = dict(asset.placement)
        for key, item in placement.items():
            path = f"Location/Placement/{key}"
            if key in PLACEMENT_TEXT:
                if not isinstance(item, str) or len(item) > MAX_TEXT:
                    return errors.value_type_error(str(item), path)
            elif key == "RackOffset":
                if not isinstance(item, int) or isinstance(item, bool) or not 0 <= item <= 100:
                    return message("Base", "PropertyValueOutOfRange", str(item), path)
            elif key == "RackOffsetUnits":
                if item not in RACK_UNITS:
                    return errors.value_not_in_list(str(item), path)
            else:
                return errors.property_unknown(path)
            new[key] = item
        asset.placement = new
        return None

    return setter


def asset_setters(asset: Asset, *, chassis: bool = False) -> dict[str, Any]:
    setters = {
        "UserLabel": text_setter(asset, "user_label", "UserLabel"),
        "AssetTag": text_setter(asset, "asset_tag", "AssetTag"),
        "Location": location_setter(asset),
    }
    if chassis:
        del setters["UserLabel"]
    return setters
