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
        self.value = np.full(n, -np.inf)  # -inf: no reading yet (NaN readings never win)
        self.time_s = np.full(n, np.nan)

    def fold(self, values: np.ndarray, t_s: float) -> None:
        higher = values > self.value
        np.copyto(self.value, values, where=higher)
        np.copyto(self.time_s, t_s, where=higher)

    def reset(self, index: int | slice, values: np.ndarray | float, t_s: float) -> None:
        self.value[index] = np.where(np.isnan(values), -np.inf, values)
        self.time_s[index] = t_s

    def get(self, index: int) -> tuple[float | None, float | None]:
        value = float(self.value[index])
        if not math.isfinite(value):
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
        # groups as one flat index (members, start of each group), rebuilt when they change
        self._group_key: tuple[tuple[int, int, int], ...] = ()
        self._group_ids: list[tuple[str, str]] = []
        self._group_members = np.zeros(0, dtype=np.intp)
        self._group_starts = np.zeros(0, dtype=np.intp)
        self._group_peaks = np.zeros(0)
        self._group_times = np.zeros(0)
        self._group_pos: dict[tuple[str, str], int] = {}
        self._group_pdu = np.zeros(0, dtype=np.intp)
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
        self._index_groups(fleet)
        if not self._group_ids:
            return
        powers = np.add.reduceat(fleet.p[self._group_members], self._group_starts)
        higher = powers > self._group_peaks
        if fleet.comm_lost.any():  # a blind PDU's groups keep their peak
            higher &= ~fleet.comm_lost[self._group_pdu]
        self._group_peaks[higher] = powers[higher]
        self._group_times[higher] = t_s

    def _index_groups(self, fleet: Fleet) -> None:
        """Rebuild the flat group index when a group was created or deleted (or restored)."""
        key = tuple(
            (id(p.groups), len(p.groups), id(p.groups[-1]) if p.groups else 0) for p in fleet.pdus
        )
        if key == self._group_key:
            return
        self._group_key = key
        old = {k: (self._group_peaks[i], self._group_times[i]) for k, i in self._group_pos.items()}
        ids: list[tuple[str, str]] = []
        members: list[int] = []
        starts: list[int] = []
        pdu_of: list[int] = []
        for pdu in fleet.pdus:
            for group in pdu.groups:
                if not group.outlet_ids:
                    continue
                ids.append((pdu.id, group.id))
                starts.append(len(members))
                pdu_of.append(pdu.index)
                members += [fleet.outlet_info(pdu.id, o).index for o in group.outlet_ids]
        self._group_ids = ids
        self._group_pos = {k: i for i, k in enumerate(ids)}
        self._group_members = np.array(members, dtype=np.intp)
        self._group_starts = np.array(starts, dtype=np.intp)
        self._group_pdu = np.array(pdu_of, dtype=np.intp)
        self._group_peaks = np.array([old.get(k, (-np.inf, 0.0))[0] for k in ids], dtype=float)
        self._group_times = np.array([old.get(k, (-np.inf, 0.0))[1] for k in ids], dtype=float)

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
            self.forget_group(pdu.id, g.id)

    def reset_main(
        self, fleet: Fleet, main_index: int, t_s: float, levels: dict[str, np.ndarray] | None = None
    ) -> None:
        levels = levels or self.levels(fleet)
        self.main.reset(main_index, levels["main"][main_index], t_s)
        s = slice(main_index * self._nph, (main_index + 1) * self._nph)
        self.main_phase.reset(s, levels["main_phase"][s], t_s)

    def reset_one(self, fleet: Fleet, level: str, index: int, t_s: float) -> None:
        getattr(self, level).reset(index, self.levels(fleet)[level][index], t_s)

    def forget_group(self, pdu_id: str, group_id: str) -> None:
        """Reset a group's peak: the next tick starts it again."""
        index = self._group_pos.get((pdu_id, group_id))
        if index is not None:
            self._group_peaks[index] = -np.inf

    def group(self, pdu_id: str, group_id: str) -> tuple[float | None, float | None]:
        index = self._group_pos.get((pdu_id, group_id))
        if index is None or not np.isfinite(self._group_peaks[index]):
            return None, None
        return float(self._group_peaks[index]), float(self._group_times[index])
