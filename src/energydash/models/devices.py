"""Device requests shared by REST and MQTT: create/update bodies and commands.

A device is what is plugged into an outlet; its id is ``{pdu_id}-{outlet_id}``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from energydash.sim import commands as sim

MAX_ID_LENGTH = 64
MAX_NAME_LENGTH = 128
MAX_OUTLET_NAME_LENGTH = sim.MAX_OUTLET_NAME
MAX_RATED_POWER_W = 100_000.0  # far above any outlet: 10 A x 480 V is 4.8 kW


class DeviceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pdu_id: str = Field(max_length=MAX_ID_LENGTH)
    outlet_id: str = Field(max_length=MAX_ID_LENGTH)
    profile: str = Field(max_length=32, description="Load profile, e.g. server, storage, hvac.")
    name: str | None = Field(None, max_length=MAX_NAME_LENGTH)
    rated_power_w: float | None = Field(None, gt=0, le=MAX_RATED_POWER_W, allow_inf_nan=False)


class DeviceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: str | None = Field(None, max_length=32)
    name: str | None = Field(None, max_length=MAX_NAME_LENGTH)
    rated_power_w: float | None = Field(None, gt=0, le=MAX_RATED_POWER_W, allow_inf_nan=False)


class OutletUpdate(BaseModel):
    """``PATCH /api/v1/pdus/{pdu}/outlets/{outlet}``: the outlet's own name (its Redfish Name)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_OUTLET_NAME_LENGTH)


class PduUpdate(BaseModel):
    """``PATCH /api/v1/pdus/{pdu}``: the PDU's own name (its Redfish RackPDU Name)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_OUTLET_NAME_LENGTH)


class DeviceCommand(BaseModel):
    """``set_power`` On/Off/PowerCycle, ``set_enabled`` and ``set_online`` true/false."""

    model_config = ConfigDict(extra="forbid")

    command: Literal["set_power", "set_enabled", "set_online"]
    value: Any
    request_id: str | None = Field(
        None, max_length=128, description="Echoed in the MQTT acknowledgement."
    )


class CommandAuth(BaseModel):
    """Who sends an MQTT command: what the backend verifies before executing it."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(
        min_length=1,
        max_length=256,
        description="A Redfish session token (X-Auth-Token) of an account holding "
        "ConfigureComponents, from POST /redfish/v1/SessionService/Sessions.",
    )


class MqttDeviceCommand(DeviceCommand):
    """A command on ``{device_root}/{id}/commands``: the REST body plus its sender's credential.

    The credential is never echoed in the acknowledgement or written to a log.
    """

    auth: CommandAuth | None = None


def split_device_id(device_id: str) -> tuple[str, str]:
    """``1-A3`` → (``1``, ``A3``); ValueError naming the id otherwise."""
    pdu_id, sep, outlet_id = device_id.rpartition("-")
    if not sep or not pdu_id or not outlet_id:
        raise ValueError(f"device id {device_id!r} is not '<pdu_id>-<outlet_id>' (e.g. 1-A3)")
    return pdu_id, outlet_id


def to_engine_command(device_id: str, request: DeviceCommand) -> sim.Command:
    """The engine command for a device command; CommandError naming ``value`` if it is bad."""
    try:
        pdu_id, outlet_id = split_device_id(device_id)
    except ValueError as error:
        raise sim.CommandError(str(error), "device_id") from None
    if request.command == "set_power":
        if request.value not in sim.POWER_ACTIONS:
            raise sim.CommandError(
                f"set_power: value must be one of {list(sim.POWER_ACTIONS)}, got {request.value!r}",
                "value",
            )
        return sim.OutletPower(pdu_id, outlet_id, request.value)
    if request.command == "set_enabled":
        return sim.SetOutletEnabled(
            pdu_id, outlet_id, sim.parse_flag(request.value, "set_enabled: value", "value")
        )
    return sim.SetDeviceOnline(
        pdu_id, outlet_id, sim.parse_flag(request.value, "set_online: value", "value")
    )
