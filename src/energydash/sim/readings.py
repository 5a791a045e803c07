"""Readings: plain dataclasses of python numbers copied from the live arrays at call time.

A sensor in dropout (or a PDU that lost communication) reads ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class DeviceInfo:
    name: str
    profile: str
    rated_power_w: float
    online: bool


@dataclass(slots=True)
class OutletReading:
    voltage_v: float | None
    current_a: float | None
    power_w: float | None
    apparent_va: float | None
    reactive_var: float | None
    power_factor: float | None
    energy_kwh: float | None
    lifetime_energy_kwh: float | None
    sensor_reset_time: datetime | None
    frequency_hz: float | None
    power_state: str  # "On" | "Off" | "PoweringOn"
    power_enabled: bool
    health: str  # "OK" | "Warning" | "Critical"
    health_reasons: list[str]
    device: DeviceInfo | None


@dataclass(slots=True)
class PhaseReading:
    voltage_v: float | None
    current_a: float | None
    power_w: float | None
    apparent_va: float | None
    reactive_var: float | None
    power_factor: float | None
    energy_kwh: float | None
    lifetime_energy_kwh: float | None = None


@dataclass(slots=True)
class CircuitReading:
    phases: dict[str, PhaseReading]
    power_w: float | None
    apparent_va: float | None
    reactive_var: float | None
    energy_kwh: float | None
    lifetime_energy_kwh: float | None
    current_a: float | None
    voltage_v: float | None
    frequency_hz: float | None
    power_factor: float | None
    breaker_state: str  # "Normal" | "Tripped" | "Off"
    power_state: str  # "On" | "Off"
    health: str
    health_reasons: list[str]
    sensor_reset_time: datetime | None
    # Delta inputs only: line currents derived from the leg currents (see docs).
    line_current_a: dict[str, float | None] = field(default_factory=dict)


@dataclass(slots=True)
class PduReading:
    phases: dict[str, PhaseReading]
    power_w: float | None
    apparent_va: float | None
    reactive_var: float | None
    energy_kwh: float | None
    lifetime_energy_kwh: float | None
    current_a: float | None
    voltage_v: float | None
    frequency_hz: float | None
    power_factor: float | None
    health: str
    health_reasons: list[str]
    comm_ok: bool
    sensor_reset_time: datetime | None
    line_current_a: dict[str, float | None] = field(default_factory=dict)


@dataclass(slots=True)
class GroupReading:
    power_w: float | None
    apparent_va: float | None
    reactive_var: float | None
    current_a: float | None
    energy_kwh: float | None
    lifetime_energy_kwh: float | None
    power_state: str  # "On" | "Off" | "Mixed"
    health: str
    health_reasons: list[str]
    sensor_reset_time: datetime | None
