"""What a PDU fleet is made of: PDUs, mains, branches, outlets and outlet groups.

Schneider-style naming: PDUs "Rack PDU 1".., mains "AC1".., branches "A", "B", "C".. (one
breaker each), outlets "A1".."A16", "B1".. (branch letter + position), named "Outlet A1".
Phases are labelled "L1".."L3" (line to neutral: single-phase and wye) or "L1L2", "L2L3",
"L3L1" (line to line: delta), matching Redfish's Line1ToNeutral / Line1ToLine2 keys.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

from energydash.config import Settings

MODELS = {
    "single_phase": "AP8881",
    "three_phase_wye": "AP8886",
    "three_phase_delta": "AP8865",
}
WYE_PHASES = ("L1", "L2", "L3")
DELTA_LEGS = ("L1L2", "L2L3", "L3L1")


@dataclass(slots=True)
class CircuitInfo:
    id: str
    name: str
    kind: str  # "main" | "branch"
    phases: list[str]
    rating_a: float
    outlet_ids: list[str]
    index: int = 0  # position in the fleet's branch (or main) arrays


@dataclass(slots=True)
class OutletInfo:
    id: str
    name: str
    branch_id: str
    phase: str
    rating_a: float
    outlet_type: str
    power_on_delay_s: float
    index: int


@dataclass(slots=True)
class GroupInfo:
    id: str
    name: str
    outlet_ids: list[str]
    user_created: bool = False


@dataclass(slots=True)
class PduInfo:
    id: str
    name: str
    model: str
    serial: str
    input_type: str
    nominal_voltage_v: float
    frequency_hz: float
    mains: list[CircuitInfo]
    branches: list[CircuitInfo]
    outlets: list[OutletInfo]
    groups: list[GroupInfo] = field(default_factory=list)
    index: int = 0

    @property
    def phases(self) -> list[str]:
        """The phase (or delta leg) labels of this PDU's input."""
        return phase_labels(self.input_type)


def phase_labels(input_type: str) -> list[str]:
    if input_type == "single_phase":
        return ["L1"]
    if input_type == "three_phase_delta":
        return list(DELTA_LEGS)
    return list(WYE_PHASES)


def branch_letter(position: int) -> str:
    """A, B, .. Z, AA, AB, .. for branches beyond 26."""
    letters = string.ascii_uppercase
    if position < 26:
        return letters[position]
    return letters[position // 26 - 1] + letters[position % 26]


def build_pdus(settings: Settings, serials: list[str]) -> list[PduInfo]:
    """The fleet's topology from settings; every PDU has the same shape."""
    pdus: list[PduInfo] = []
    phases = phase_labels(settings.pdu_input)
    outlet_index = 0
    branch_index = 0
    main_index = 0
    per_main = -(-settings.pdu_branches // settings.pdu_mains)
    for p in range(settings.pdu_count):
        pdu_id = str(p + 1)
        branches: list[CircuitInfo] = []
        outlets: list[OutletInfo] = []
        for b in range(settings.pdu_branches):
            letter = branch_letter(b)
            phase = phases[b % len(phases)]
            ids = [f"{letter}{k + 1}" for k in range(settings.pdu_outlets_per_branch)]
            branches.append(
                CircuitInfo(
                    id=letter,
                    name=f"Branch Circuit {letter}",
                    kind="branch",
                    phases=[phase],
                    rating_a=settings.pdu_branch_rating_a,
                    outlet_ids=ids,
                    index=branch_index,
                )
            )
            branch_index += 1
            for outlet_id in ids:
                outlets.append(
                    OutletInfo(
                        id=outlet_id,
                        name=f"Outlet {outlet_id}",
                        branch_id=letter,
                        phase=phase,
                        rating_a=settings.pdu_outlet_rating_a,
                        outlet_type=settings.pdu_outlet_type,
                        power_on_delay_s=settings.outlet_power_on_delay_s,
                        index=outlet_index,
                    )
                )
                outlet_index += 1
        mains: list[CircuitInfo] = []
        for m in range(settings.pdu_mains):
            fed = branches[m * per_main : (m + 1) * per_main]
            main_phases = [ph for ph in phases if any(ph in br.phases for br in fed)] or phases
            mains.append(
                CircuitInfo(
                    id=f"AC{m + 1}",
                    name=f"Mains Input AC{m + 1}",
                    kind="main",
                    phases=main_phases,
                    rating_a=settings.pdu_main_rating_a,
                    outlet_ids=[o for br in fed for o in br.outlet_ids],
                    index=main_index,
                )
            )
            main_index += 1
        groups: list[GroupInfo] = []
        if settings.pdu_group_size > 0:
            size = settings.pdu_group_size
            for g in range(0, len(outlets), size):
                gid = str(g // size + 1)
                groups.append(
                    GroupInfo(
                        id=gid,
                        name=f"Outlet Group {gid}",
                        outlet_ids=[o.id for o in outlets[g : g + size]],
                    )
                )
        pdus.append(
            PduInfo(
                id=pdu_id,
                name=f"Rack PDU {pdu_id}",
                model=MODELS[settings.pdu_input],
                serial=serials[p],
                input_type=settings.pdu_input,
                nominal_voltage_v=settings.pdu_nominal_voltage_v,
                frequency_hz=float(settings.pdu_frequency_hz),
                mains=mains,
                branches=branches,
                outlets=outlets,
                groups=groups,
                index=p,
            )
        )
    return pdus
