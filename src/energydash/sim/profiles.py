"""Load profiles: the documented shape of each device type, evaluated for the whole fleet at once.

Each profile turns sim time (local hour, weekday) and per-outlet state into a demand
fraction in [0, 1] of the device's rated power. Every shape is vectorised over the outlets
using that profile; nothing loops per outlet. Shapes (``h`` is local hour):

- ``server``: ``0.45 + 0.55 * u`` with utilisation ``u = 0.25 + 0.35 * d(h) + 0.12 * n``,
  where ``d(h) = (1 - cos(2π (h - 4) / 24)) / 2`` peaks at 16:00 and ``n`` is AR(1) noise
  (τ = 5 min); idle servers still draw ~45 % of their rating.
- ``storage``: ``0.70 + 0.05 * d(h) + 0.03 * n`` (spinning disks barely vary).
- ``network_switch``: ``0.55 + 0.05 * d(h) + 0.01 * n`` (fans and ASICs; traffic adds little).
- ``hvac``: a compressor cycling with a 15-minute period; its duty cycle follows the
  outdoor temperature ``T = 19 + 5 cos(2π (doy - 15) / 365) + 8 sin(2π (h - 9) / 24)`` °C
  (southern-hemisphere seasons) as ``clip((T - 18) / 15, 0.15, 1)``; compressor on: 1.0,
  off: 0.12 (fans only).
- ``led_lighting``: 1.0 from 07:00 to 19:00 on weekdays, 0.10 (security lighting) otherwise.
- ``kitchen_appliance``: heating element cycling with a 20-minute period, duty 0.25, rising to
  0.70 at meal times (07-09, 12-14, 17-19); element on: 1.0, off: 0.02.
- ``production_line``: two shifts 06:00-22:00 on weekdays at 0.85 with half-hour breaks at
  10:00 and 18:00 (0.30); nights and weekends standby at 0.08.
- ``empty``: no device, 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PROFILES: tuple[str, ...] = (
    "empty",
    "server",
    "storage",
    "network_switch",
    "hvac",
    "led_lighting",
    "kitchen_appliance",
    "production_line",
)
PROFILE_CODE: dict[str, int] = {name: code for code, name in enumerate(PROFILES)}


@dataclass(frozen=True, slots=True)
class ProfileSpec:
    """Typical equipment behind one outlet: nominal rating range, power factor, device name."""

    name: str
    device_name: str
    rated_power_w: tuple[float, float]
    power_factor: float


# Ratings are per outlet (per cord). Whole-site loads (a 25 kW HVAC plant, a 120 kW
# production line, a 45 kW server row) are spread over many outlets as shares; see the docs.
SPECS: dict[str, ProfileSpec] = {
    "empty": ProfileSpec("empty", "", (0.0, 0.0), 1.0),
    "server": ProfileSpec("server", "Server", (150.0, 400.0), 0.95),
    "storage": ProfileSpec("storage", "Storage Array", (250.0, 500.0), 0.93),
    "network_switch": ProfileSpec("network_switch", "Network Switch", (60.0, 200.0), 0.90),
    "hvac": ProfileSpec("hvac", "HVAC Unit", (600.0, 1200.0), 0.82),
    "led_lighting": ProfileSpec("led_lighting", "LED Lighting", (80.0, 300.0), 0.92),
    "kitchen_appliance": ProfileSpec(
        "kitchen_appliance", "Kitchen Appliance", (800.0, 1800.0), 0.99
    ),
    "production_line": ProfileSpec("production_line", "Production Line", (600.0, 1500.0), 0.85),
}
POWER_FACTOR_BY_CODE = np.array([SPECS[name].power_factor for name in PROFILES])

NOISE_TAU_S = 300.0
HVAC_PERIOD_S = 900.0
KITCHEN_PERIOD_S = 1200.0


def diurnal(hour: float) -> float:
    """0 at 04:00, 1 at 16:00: the daily utilisation shape of IT loads."""
    return 0.5 * (1.0 - math.cos(2.0 * math.pi * (hour - 4.0) / 24.0))


def outdoor_temperature_c(hour: float, day_of_year: int = 15) -> float:
    """Daily swing of ±8 °C peaking at 15:00 around a seasonal mean: 24 °C mid-January
    (southern summer), 14 °C mid-July."""
    seasonal = 19.0 + 5.0 * math.cos(2.0 * math.pi * (day_of_year - 15) / 365.0)
    return seasonal + 8.0 * math.sin(2.0 * math.pi * (hour - 9.0) / 24.0)


def hvac_duty(hour: float, day_of_year: int = 15) -> float:
    return min(1.0, max(0.15, (outdoor_temperature_c(hour, day_of_year) - 18.0) / 15.0))


def lighting_level(hour: float, weekday: int) -> float:
    return 1.0 if weekday < 5 and 7.0 <= hour < 19.0 else 0.10


def kitchen_duty(hour: float) -> float:
    meal = 7.0 <= hour < 9.0 or 12.0 <= hour < 14.0 or 17.0 <= hour < 19.0
    return 0.70 if meal else 0.25


def production_level(hour: float, weekday: int) -> float:
    if weekday >= 5 or not 6.0 <= hour < 22.0:
        return 0.08
    if 10.0 <= hour < 10.5 or 18.0 <= hour < 18.5:
        return 0.30
    return 0.85


class ProfileState:
    """Per-outlet state the shapes need: AR(1) noise and a cycling phase offset."""

    def __init__(self, count: int, rng: np.random.Generator) -> None:
        self.noise = rng.standard_normal(count)
        self.phase = rng.random(count)

    def advance(self, dt_s: float, rng: np.random.Generator) -> None:
        """Step the AR(1) noise so its correlation time is NOISE_TAU_S whatever the tick."""
        a = math.exp(-dt_s / NOISE_TAU_S)
        self.noise *= a
        self.noise += math.sqrt(1.0 - a * a) * rng.standard_normal(self.noise.shape[0])


def demand_fraction(
    codes_index: dict[int, np.ndarray],
    state: ProfileState,
    t_s: float,
    local_hour: float,
    weekday: int,
    out: np.ndarray,
    day_of_year: int = 15,
) -> np.ndarray:
    """Fill ``out`` with each outlet's demand as a fraction of its rating at sim time ``t_s``.

    ``codes_index`` maps a profile code to the outlet indices using it, so each shape is
    evaluated once over its own outlets.
    """
    out.fill(0.0)
    d = diurnal(local_hour)
    noise, phase = state.noise, state.phase
    for code, idx in codes_index.items():
        if idx.size == 0 or code == 0:
            continue
        name = PROFILES[code]
        n = noise[idx]
        if name == "server":
            u = np.clip(0.25 + 0.35 * d + 0.12 * n, 0.0, 1.0)
            value = 0.45 + 0.55 * u
        elif name == "storage":
            value = 0.70 + 0.05 * d + 0.03 * n
        elif name == "network_switch":
            value = 0.55 + 0.05 * d + 0.01 * n
        elif name == "hvac":
            cycle = np.mod(t_s / HVAC_PERIOD_S + phase[idx], 1.0)
            value = np.where(cycle < hvac_duty(local_hour, day_of_year), 1.0, 0.12) * (
                1.0 + 0.02 * n
            )
        elif name == "led_lighting":
            value = lighting_level(local_hour, weekday) * (1.0 + 0.005 * n)
        elif name == "kitchen_appliance":
            cycle = np.mod(t_s / KITCHEN_PERIOD_S + phase[idx], 1.0)
            value = np.where(cycle < kitchen_duty(local_hour), 1.0, 0.02)
        elif name == "production_line":
            value = production_level(local_hour, weekday) * (1.0 + 0.03 * n)
        else:  # pragma: no cover - PROFILES and this function change together
            raise ValueError(f"no shape for profile {name!r}")
        out[idx] = np.clip(value, 0.0, 1.0)
    return out
