"""The one command API every face uses to change the simulation.

Commands are frozen dataclasses; ``Engine.execute`` validates a command fully before it
changes anything and raises ``CommandError`` naming the offending field otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

PowerAction = Literal["On", "Off", "PowerCycle"]
BreakerAction = Literal["On", "Off"]
MetricsKind = Literal["outlet", "branch", "main", "group", "pdu"]
FaultKind = Literal[
    "sensor_stuck",
    "sensor_dropout",
    "sensor_noisy",
    "relay_failure",
    "branch_overload",
    "comm_loss",
    "pdu_power_loss",
    "cooling_failure",
]
POWER_ACTIONS: tuple[str, ...] = ("On", "Off", "PowerCycle")
BREAKER_ACTIONS: tuple[str, ...] = ("On", "Off")
METRICS_KINDS: tuple[str, ...] = ("outlet", "branch", "main", "group", "pdu")
MAX_OUTLET_NAME = 64  # characters of a user-given outlet or PDU name (RenameOutlet, RenamePdu)
FAULT_KINDS: tuple[str, ...] = (
    "sensor_stuck",
    "sensor_dropout",
    "sensor_noisy",
    "relay_failure",
    "branch_overload",
    "comm_loss",
    "pdu_power_loss",
    "cooling_failure",
)


class CommandError(Exception):
    """A command that was refused; nothing changed. ``field`` names the offending input."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


def parse_flag(value: Any, what: str, field: str) -> bool:
    """A boolean from JSON or a command's text (true/false, on/off, 1/0, yes/no).

    Anything else is a CommandError "``what`` must be true or false" naming ``field``.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "on", "1", "yes"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "off", "0", "no"):
        return False
    raise CommandError(f"{what} must be true or false, got {value!r}", field)


@dataclass(frozen=True, slots=True)
class CommandResult:
    ok: bool
    message: str
    fault_id: str | None = None
    group_id: str | None = None


@dataclass(frozen=True, slots=True)
class OutletPower:
    pdu_id: str
    outlet_id: str
    action: str


@dataclass(frozen=True, slots=True)
class GroupPower:
    pdu_id: str
    group_id: str
    action: str


@dataclass(frozen=True, slots=True)
class CircuitPower:
    """Switch every outlet of a branch circuit."""

    pdu_id: str
    circuit_id: str
    action: str


@dataclass(frozen=True, slots=True)
class BreakerControl:
    """On closes (resets) a breaker, tripped or opened; Off opens it."""

    pdu_id: str
    circuit_id: str
    action: str


@dataclass(frozen=True, slots=True)
class ResetMetrics:
    """Reset the resettable ``energy_kwh``; ``lifetime_energy_kwh`` never resets."""

    pdu_id: str
    kind: str
    target_id: str | None = None


@dataclass(frozen=True, slots=True)
class CreateGroup:
    pdu_id: str
    name: str
    outlet_ids: tuple[str, ...] | list[str]
    group_id: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteGroup:
    pdu_id: str
    group_id: str


@dataclass(frozen=True, slots=True)
class SetDevice:
    """Plug a device with a load profile into an outlet (or change the one there)."""

    pdu_id: str
    outlet_id: str
    profile: str
    name: str | None = None
    rated_power_w: float | None = None


@dataclass(frozen=True, slots=True)
class RemoveDevice:
    pdu_id: str
    outlet_id: str


@dataclass(frozen=True, slots=True)
class SetOutletEnabled:
    """Redfish PowerEnabled: a disabled outlet refuses power control."""

    pdu_id: str
    outlet_id: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class SetPowerOnDelay:
    """Redfish PowerOnDelaySeconds: how long an outlet waits before it powers On."""

    pdu_id: str
    outlet_id: str
    delay_s: float


@dataclass(frozen=True, slots=True)
class SetRestorePolicy:
    """Redfish PowerRestorePolicy: AlwaysOn, AlwaysOff or LastState after a PDU power loss."""

    pdu_id: str
    outlet_id: str
    policy: str


@dataclass(frozen=True, slots=True)
class RenameOutlet:
    """The outlet's own name (Redfish ``Name``, the dashboard's heat map and detail panel)."""

    pdu_id: str
    outlet_id: str
    name: str


@dataclass(frozen=True, slots=True)
class RenamePdu:
    """The PDU's own name (Redfish RackPDU ``Name``, the dashboard's PDU selector and header)."""

    pdu_id: str
    name: str


@dataclass(frozen=True, slots=True)
class ResetPeak:
    """Restart one Power sensor's peak (kind as ResetMetrics; ``phase`` for a mains phase)."""

    pdu_id: str
    kind: str
    target_id: str | None = None
    phase: str | None = None


@dataclass(frozen=True, slots=True)
class SetDeviceOnline:
    pdu_id: str
    outlet_id: str
    online: bool


@dataclass(frozen=True, slots=True)
class InjectFault:
    kind: str
    pdu_id: str
    target_id: str | None = None
    params: dict[str, Any] | None = field(default=None, hash=False)


@dataclass(frozen=True, slots=True)
class ClearFault:
    fault_id: str


Command = (
    OutletPower
    | GroupPower
    | CircuitPower
    | BreakerControl
    | ResetMetrics
    | CreateGroup
    | DeleteGroup
    | SetDevice
    | RemoveDevice
    | SetOutletEnabled
    | SetDeviceOnline
    | SetPowerOnDelay
    | SetRestorePolicy
    | RenameOutlet
    | RenamePdu
    | ResetPeak
    | InjectFault
    | ClearFault
)
