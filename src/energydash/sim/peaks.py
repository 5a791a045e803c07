"""Peak power since the last reset, per outlet, branch, mains (total and per phase), PDU, group.

A real PDU's meter keeps the highest power it saw and when (Redfish ``PeakReading`` /
``PeakReadingTime``). Here every tick folds the reported outlet power and the true branch
sums into running maxima with one numpy call per level; a reset starts the peak again from
the value at the moment of the reset. Outlet peaks follow what the outlet *reports* (a sensor
in dropout adds nothing, a stuck one holds), circuit peaks the circuit meters.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from energydash.sim.pdu import Fleet


class RunningPeak:
    """Running maxima of one level (outlets, branches, ...) and the time each was reached."""

    def __init__(self, n: int) -> None:
        self.value = np.full(n, np.nan)
        self.time_s = np.full(n, np.nan)

    def fold(self, values: np.ndarray, t_s: float) -> None:
        higher = values > self.value
        higher |= np.isnan(self.value) & ~np.isnan(values)
        self.value[higher] = values[higher]
        self.time_s[higher] = t_s

    def reset(self, index: int | slice, values: np.ndarray | float, t_s: float) -> None:
        self.value[index] = values
        self.time_s[index] = t_s

    def get(self, index: int) -> tuple[float | None, float | None]:
        value = float(self.value[index])
        if math.isnan(value):
            return None, None
        return value, float(self.time_s[index])


class PowerPeaks:
    """Every Power sensor's peak; ``update`` once a tick, ``reset_*`` from ResetMetrics."""

    def __init__(self, fleet: Fleet) -> None:
        nph = fleet.phases_per_pdu
        self.outlet = RunningPeak(fleet.n_outlets)
        self.branch = RunningPeak(fleet.n_branches)
        self.main = RunningPeak(fleet.n_mains)
        self.main_phase = RunningPeak(fleet.n_mains * nph)
        self.pdu = RunningPeak(len(fleet.pdus))
        self.groups: dict[tuple[str, str], tuple[float, float]] = {}
        local_phase = fleet.b_phase - fleet.b_pdu * nph
        self._b_main_phase = fleet.b_main * nph + local_phase
        self._nph = nph

    def levels(self, fleet: Fleet) -> dict[str, np.ndarray]:
        """Current power of each level, as the peaks see it."""
        nph = self._nph
        return {
            "outlet": fleet.arrays.outlet_power_w,
            "branch": fleet.b_p,
            "main": np.bincount(fleet.b_main, weights=fleet.b_p, minlength=fleet.n_mains),
            "main_phase": np.bincount(
                self._b_main_phase, weights=fleet.b_p, minlength=fleet.n_mains * nph
            ),
            "pdu": np.bincount(fleet.b_pdu, weights=fleet.b_p, minlength=len(fleet.pdus)),
        }

    def update(self, fleet: Fleet, t_s: float) -> None:
        for name, values in self.levels(fleet).items():
            getattr(self, name).fold(values, t_s)
        if fleet.comm_lost.any():
            return  # a blind PDU's groups would fold zeros; they keep their peak
        for pdu in fleet.pdus:
            for group in pdu.groups:
                idx = [fleet.outlet_info(pdu.id, o).index for o in group.outlet_ids]
                power = float(fleet.p[idx].sum())
                key = (pdu.id, group.id)
                peak = self.groups.get(key)
                if peak is None or power > peak[0]:
                    self.groups[key] = (power, t_s)

    def reset_pdu(self, fleet: Fleet, pdu_index: int, t_s: float) -> None:
        """Every peak of one PDU (Metrics.ResetMetrics)."""
        pdu = fleet.pdus[pdu_index]
        levels = self.levels(fleet)
        s = fleet.outlet_slice(pdu.id)
        self.outlet.reset(s, levels["outlet"][s], t_s)
        for b in pdu.branches:
            self.branch.reset(b.index, levels["branch"][b.index], t_s)
        for m in pdu.mains:
            self.reset_main(fleet, m.index, t_s, levels)
        self.pdu.reset(pdu_index, levels["pdu"][pdu_index], t_s)
        for g in pdu.groups:
            self.groups.pop((pdu.id, g.id), None)

    def reset_main(
        self, fleet: Fleet, main_index: int, t_s: float, levels: dict[str, np.ndarray] | None = None
    ) -> None:
        levels = levels or self.levels(fleet)
        self.main.reset(main_index, levels["main"][main_index], t_s)
        s = slice(main_index * self._nph, (main_index + 1) * self._nph)
        self.main_phase.reset(s, levels["main_phase"][s], t_s)

    def reset_one(self, fleet: Fleet, level: str, index: int, t_s: float) -> None:
        getattr(self, level).reset(index, self.levels(fleet)[level][index], t_s)

    def group(self, pdu_id: str, group_id: str) -> tuple[float | None, float | None]:
        return self.groups.get((pdu_id, group_id), (None, None))
