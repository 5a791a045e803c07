"""Sensor ``Thresholds``: caution and critical limits on current, power, temperature, humidity.

One array of limits per sensor family (outlet current, outlet power, branch current, branch
power, inlet temperature, inlet humidity), columns ``LowerCritical, LowerCaution, UpperCaution,
UpperCritical`` (NaN: not set). After every tick ``evaluate`` compares each family's readings
with its limits in one numpy pass; a sensor whose level changed sends a SensorEvent
(``ReadingAboveUpperCautionThreshold``... ``SensorReadingNormalRange``) and shows the level in
its ``Status.Health``. Defaults: 80 % / 100 % of the rating for current and power (power at
nominal voltage), 10/5 °C and 32/35 °C for the inlet (ASHRAE A1 allowable up to 32 °C), and
20/10 %RH and 70/80 %RH for humidity. PATCH ``Thresholds`` on the sensor changes them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from energydash.redfish import errors
from energydash.redfish.registries import message
from energydash.sim.pdu import Fleet

COLUMNS = ("LowerCritical", "LowerCaution", "UpperCaution", "UpperCritical")
HEALTH = ("OK", "Warning", "Critical")
UNITS = {"Current": "A", "Power": "W", "Temperature": "Cel", "Humidity": "%"}
MAX_LIMIT = 1e7
# (quantity, what the sensor measures) -> family
FAMILIES = {
    ("Current", "outlet"): "outlet_current",
    ("Power", "outlet"): "outlet_power",
    ("Current", "branch"): "branch_current",
    ("Power", "branch"): "branch_power",
    ("Temperature", "probe"): "inlet_temperature",
    ("Humidity", "probe"): "inlet_humidity",
}
# publish(family, index, SensorEvent key, args after the sensor name)
Publish = Callable[[str, int, str, list[str]], None]


class SensorThresholds:
    def __init__(self, fleet: Fleet) -> None:
        volts = fleet.settings.pdu_nominal_voltage_v
        n_pdus = len(fleet.pdus)

        def rated(rating: np.ndarray) -> np.ndarray:
            limits = np.full((rating.size, 4), np.nan)
            limits[:, 2] = 0.8 * rating
            limits[:, 3] = rating
            return limits

        self.limits: dict[str, np.ndarray] = {
            "outlet_current": rated(fleet.o_rating_a),
            "outlet_power": rated(fleet.o_rating_a * volts),
            "branch_current": rated(fleet.b_rating_a),
            "branch_power": rated(fleet.b_rating_a * volts),
            "inlet_temperature": np.tile([5.0, 10.0, 32.0, 35.0], (n_pdus, 1)),
            "inlet_humidity": np.tile([10.0, 20.0, 70.0, 80.0], (n_pdus, 1)),
        }
        self.defaults = {k: v.copy() for k, v in self.limits.items()}
        self.levels = {k: np.zeros(v.shape[0], dtype=np.int8) for k, v in self.limits.items()}
        self.side = {k: np.zeros(v.shape[0], dtype=np.int8) for k, v in self.limits.items()}
        self.on_change: Callable[[], None] | None = None  # persistence hook (RedfishService)

    # ------------------------------------------------------------------ persistence
    @staticmethod
    def keys(fleet: Fleet) -> dict[str, list[str]]:
        """Per family, the id of each row (``pdu/outlet``, ``pdu/branch``, ``pdu``)."""
        outlets = [f"{p.id}/{o.id}" for p in fleet.pdus for o in p.outlets]
        branches = [f"{p.id}/{b.id}" for p in fleet.pdus for b in p.branches]
        pdus = [p.id for p in fleet.pdus]
        return {
            "outlet_current": outlets,
            "outlet_power": outlets,
            "branch_current": branches,
            "branch_power": branches,
            "inlet_temperature": pdus,
            "inlet_humidity": pdus,
        }

    def saved(self, fleet: Fleet) -> dict[str, dict[str, list[float | None]]]:
        """The rows a client changed from their defaults, by family and sensor id."""
        out: dict[str, dict[str, list[float | None]]] = {}
        for family, keys in self.keys(fleet).items():
            limits, defaults = self.limits[family], self.defaults[family]
            same = (limits == defaults) | (np.isnan(limits) & np.isnan(defaults))
            for i in np.flatnonzero(~same.all(axis=1)).tolist():
                row = [None if math.isnan(v) else float(v) for v in limits[i].tolist()]
                out.setdefault(family, {})[keys[i]] = row
        return out

    def restore(self, fleet: Fleet, saved: Any, where: str) -> None:
        """Apply ``saved()`` to the sensors that still exist; ValueError (nothing changed) when
        a row is not four ordered limits within bounds."""
        if not isinstance(saved, dict):
            raise ValueError(f"{where}: must be an object of family to rows")
        staged = {k: v.copy() for k, v in self.limits.items()}
        keys = self.keys(fleet)
        for family, rows in saved.items():
            if family not in staged or not isinstance(rows, dict):
                raise ValueError(f"{where}.{family}: not a sensor family with rows")
            index = {k: i for i, k in enumerate(keys[family])}
            for key, row in rows.items():
                place = f"{where}.{family}.{key}"
                ok = isinstance(row, list) and len(row) == len(COLUMNS)
                values = [math.nan if v is None else v for v in row] if ok else []
                if not ok or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
                ):
                    raise ValueError(f"{place}: must be {len(COLUMNS)} numbers or nulls")
                array = np.array(values, dtype=float)
                present = array[~np.isnan(array)]
                if np.any(np.abs(present) > MAX_LIMIT) or (np.diff(present) < 0).any():
                    raise ValueError(f"{place}: limits must be ordered and within {MAX_LIMIT:g}")
                if key in index:
                    staged[family][index[key]] = array
        for family, limits in staged.items():
            self.limits[family][:] = limits

    # ------------------------------------------------------------------ readings
    @staticmethod
    def readings(fleet: Fleet) -> dict[str, np.ndarray]:
        env = fleet.environment
        return {
            "outlet_current": fleet.arrays.outlet_current_a,
            "outlet_power": fleet.arrays.outlet_power_w,
            "branch_current": fleet.b_i,
            "branch_power": fleet.b_p,
            "inlet_temperature": env.temperature_c,
            "inlet_humidity": env.humidity_pct,
        }

    def evaluate(self, fleet: Fleet, publish: Publish) -> None:
        """Compare every family with its limits; publish a SensorEvent per level change."""
        for family, values in self.readings(fleet).items():
            limits = self.limits[family]
            with np.errstate(invalid="ignore"):
                upper_crit = values >= limits[:, 3]
                upper_caut = values >= limits[:, 2]
                lower_crit = values <= limits[:, 0]
                lower_caut = values <= limits[:, 1]
            level = np.where(upper_crit | lower_crit, 2, np.where(upper_caut | lower_caut, 1, 0))
            level = level.astype(np.int8)
            known = ~np.isnan(values)
            old = self.levels[family]
            changed = np.flatnonzero(known & (level != old))
            for index in changed:
                i = int(index)
                upper = bool(upper_caut[i])
                self._announce(family, i, int(old[i]), int(level[i]), upper, values, publish)
                self.side[family][i] = 1 if upper else -1
            old[known] = level[known]

    def _announce(
        self,
        family: str,
        i: int,
        before: int,
        after: int,
        upper: bool,
        values: np.ndarray,
        publish: Publish,
    ) -> None:
        units = UNITS[_quantity(family)]
        reading = f"{float(values[i]):.2f}"
        limits = self.limits[family][i]
        if after == 0:
            publish(family, i, "SensorReadingNormalRange", [reading, units])
            return
        if after > before:
            if upper:
                key = (
                    "ReadingAboveUpperCriticalThreshold"
                    if after == 2
                    else ("ReadingAboveUpperCautionThreshold")
                )
                limit = limits[3] if after == 2 else limits[2]
            else:
                key = (
                    "ReadingBelowLowerCriticalThreshold"
                    if after == 2
                    else ("ReadingBelowLowerCautionThreshold")
                )
                limit = limits[0] if after == 2 else limits[1]
        else:  # critical back to caution
            upper = self.side[family][i] >= 0
            key = (
                "ReadingBelowUpperCriticalThreshold"
                if upper
                else ("ReadingAboveLowerCriticalThreshold")
            )
            limit = limits[3] if upper else limits[0]
        publish(family, i, key, [reading, units, f"{float(limit):g}"])

    # ------------------------------------------------------------------ Redfish view
    def render(self, family: str, index: int) -> dict[str, Any]:
        row = self.limits[family][index]
        return {
            name: {"Reading": round(float(value), 3)}
            for name, value in zip(COLUMNS, row, strict=True)
            if not math.isnan(value)
        }

    def health(self, family: str, index: int) -> str:
        return HEALTH[int(self.levels[family][index])]

    def setter(self, family: str, index: int):  # type: ignore[no-untyped-def]
        """The PATCH setter of ``Thresholds``: checks everything before it changes anything."""

        def set_thresholds(value: Any) -> dict[str, Any] | None:
            if not isinstance(value, dict):
                return errors.value_type_error(str(value)[:40], "Thresholds")
            row = self.limits[family][index].copy()
            for name, item in value.items():
                if name not in COLUMNS:
                    return errors.property_unknown(f"Thresholds/{name}")
                if item is None:
                    row[COLUMNS.index(name)] = np.nan
                    continue
                if not isinstance(item, dict) or set(item) != {"Reading"}:
                    return errors.value_type_error(str(item)[:40], f"Thresholds/{name}")
                reading = item["Reading"]
                if isinstance(reading, bool) or not isinstance(reading, (int, float)):
                    return errors.value_type_error(str(reading), f"Thresholds/{name}/Reading")
                if not -MAX_LIMIT <= reading <= MAX_LIMIT:
                    return message(
                        "Base", "PropertyValueOutOfRange", str(reading), f"Thresholds/{name}"
                    )
                row[COLUMNS.index(name)] = float(reading)
            present = row[~np.isnan(row)]
            if (np.diff(present) < 0).any():
                msg = message("Base", "PropertyValueConflict", "Thresholds", "Thresholds")
                msg["Message"] = (
                    "Thresholds must be ordered LowerCritical <= LowerCaution <= "
                    "UpperCaution <= UpperCritical."
                )
                return msg
            self.limits[family][index] = row
            if self.on_change is not None:
                self.on_change()
            return None

        return set_thresholds


def _quantity(family: str) -> str:
    return {
        "outlet_current": "Current",
        "branch_current": "Current",
        "outlet_power": "Power",
        "branch_power": "Power",
        "inlet_temperature": "Temperature",
        "inlet_humidity": "Humidity",
    }[family]
