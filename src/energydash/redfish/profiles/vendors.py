"""The device profiles: what each one changes in a PDU's Redfish tree, and where that comes from.

A profile is data: a handful of switches read by ``shaper.Shaper`` (URIs, ids, readings) and
``table.ProfiledTable`` (routes). ``dmtf`` switches nothing. Every switch that breaks DMTF
conformance is listed in ``quirks`` (what the Service Validator test allows for that profile)
with the public capture it was modelled on in ``source``.
"""

from __future__ import annotations

from dataclasses import dataclass

from energydash.config import PDU_PROFILES


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    claims_ocp: bool  # the OCP Rack PDU profile is checked on a fleet of these (interop test)
    source: str  # public capture or mock the shape was taken from ("" for dmtf)
    # outlets: URI ids are "{outlet_prefix}{n}" (n = 1..outlets), None keeps the engine's A1...
    outlet_prefix: str | None = None
    outlet_id_prefix: str | None = None  # the outlet's "Id" when it differs from its URI id
    outlet_name: str | None = None  # the outlet's "Name", from {n} and {branch}
    sensors_under_pdu: bool = False  # sensors at RackPDUs/{id}/Sensors, linked from the PDU
    outlet_sensor_infix: str = ""  # outlet sensors named {Quantity}{infix}{n} (PowerOUTLET7)
    bare_actions: bool = False  # action targets without the /Actions/ segment
    float32_readings: bool = False  # readings pass through an IEEE float32 (229.10600280761719)
    outlet_data_source_uri: bool = True  # outlets carry DataSourceUri on their readings
    outlet_delays: bool = False  # outlets carry PowerCycleDelaySeconds, PowerStateInTransition
    pdu_type: str | None = None  # @odata.type of the RackPDU when it is not today's
    pdu_drop: tuple[str, ...] = ()  # RackPDU properties the older schema version lacks
    load_segments: bool = (
        False  # POST /redfish/v1/PowerDistribution/{id}/PowerControl/Loadsegment/{n}/
    )
    manufacturer: str | None = None
    quirks: tuple[str, ...] = ()  # non-conformant switches, by name


DMTF = Profile("dmtf", claims_ocp=True, source="")

SCHNEIDER_MOCK = Profile(
    "schneider-mock",
    claims_ocp=False,  # sensors live under the PDU, not the Chassis the OCP profile requires
    source="oabboud/smartPDU-mockup: mock_pdu_api.py",
    outlet_prefix="",
    outlet_name="Outlet {n}",
    sensors_under_pdu=True,
    outlet_sensor_infix="OUTLET",
    load_segments=True,
    quirks=("deprecated-pdu-sensors-link", "loadsegment-post"),
)

RARITAN_PX3 = Profile(
    "raritan-px3",
    claims_ocp=True,
    source="criteo/hwbench: hwbench/environment/vendors/pdus/tests/raritan/pdu.json, outlet.json",
    outlet_prefix="",
    outlet_name="Outlet {n}",
    outlet_data_source_uri=False,
    outlet_delays=True,
    pdu_type="#PowerDistribution.v1_3_3.PowerDistribution",
    pdu_drop=("PowerCapacityVA",),  # added in PowerDistribution v1_4_0
    manufacturer="Raritan (simulated by EnergyDash)",
)

ENLOGIC = Profile(
    "enlogic",
    claims_ocp=False,  # non-conformant action targets and ids; sensors under the PDU
    source="criteo/hwbench: hwbench/environment/vendors/pdus/tests/enlogic/pdu.json, outlet.json",
    outlet_prefix="OUTLET",
    outlet_id_prefix="OUTLET ",
    outlet_name="Outlet OUTLET {n}, Branch Circuit {branch}",
    sensors_under_pdu=True,
    outlet_sensor_infix="OUTLET",
    bare_actions=True,
    float32_readings=True,
    manufacturer="ENLOGIC (simulated by EnergyDash)",
    quirks=("id-differs-from-uri", "action-target-without-actions", "deprecated-pdu-sensors-link"),
)

PROFILES: dict[str, Profile] = {p.name: p for p in (DMTF, SCHNEIDER_MOCK, RARITAN_PX3, ENLOGIC)}
assert tuple(PROFILES) == PDU_PROFILES, "config.PDU_PROFILES and the profiles must agree"
OCP_PROFILES = tuple(name for name, p in PROFILES.items() if p.claims_ocp)


def assign(setting: str, pdu_ids: list[str]) -> dict[str, Profile]:
    """``ENERGYDASH_PDU_PROFILES`` cycled over the fleet in order: PDU k gets entry (k-1) mod n."""
    names = [part.strip() for part in setting.split(",") if part.strip()] or ["dmtf"]
    return {pdu_id: PROFILES[names[k % len(names)]] for k, pdu_id in enumerate(pdu_ids)}
