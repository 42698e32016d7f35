"""A breakdown's records: every KPI per group of people (department, cohort, variant), small groups
suppressed.

When the groups split the people (each person in at most one group: departments, variants), all
groups are summed in one pass: each row of a frame gets its group's number, the rows are put in
group order once (a stable sort, so each group's rows keep the frame's order), and each group
sums a slice. ``kpi_record`` per group found each group's rows by binary search instead, frame by
frame, ~10 ms a group at 100,000 people. Both add the same numbers in the same order, so the
figures are equal bit for bit (tests/test_kpi_groups.py). Cohorts overlap: their records are made
group by group.
"""

from __future__ import annotations

from itertools import chain

import numpy as np
import pandas as pd

from app.kpi.did import did_from_cells
from app.kpi.window import (
    GroupSums,
    WindowInputs,
    active_people,
    adoption_figures,
    did_frames,
    everyone_with_tasks,
    exposed_by,
    first_use_figures,
    habit_counts,
    hours_to_first_use,
    kpi_record,
    record_arrays,
    record_of,
    time_to_first_use,
)

MIN_GROUP_EXPOSED = 5
# Figures of a group that are nulled when it has fewer than MIN_GROUP_EXPOSED exposed people.
SUPPRESSIBLE = (
    "exposed_users", "active_users", "adoption_rate", "ai_tasks", "depth", "stickiness",
    "time_saved_hours", "time_saved_estimated", "time_saved_evidence", "value_eur", "error_rate",
    "adoption_rate_ci_low", "adoption_rate_ci_high", "error_rate_ci_low", "error_rate_ci_high",
    "time_saved_per_task", "time_saved_per_task_ci_low", "time_saved_per_task_ci_high",
    "habit", "time_to_first_use_hours", "never_used_share", "did_time_saved_per_task",
    "did_ci_low", "did_ci_high", "did_treated_users", "did_control_users",
)




def hidden_groups(exposed: dict[str, int], splits_people: bool, minimum: int = MIN_GROUP_EXPOSED
                  ) -> set[str]:
    """The groups of a breakdown whose figures are suppressed, from each group's exposed people.

    A group with fewer than ``minimum`` (5) exposed people is hidden. When the groups split the
    people (department, variant: each person in one group), the total minus the shown groups gives
    the hidden ones away, so while the hidden groups together hold 1 to 4 exposed people, the shown
    group with the fewest exposed people (ties: by name) is hidden too. Cohorts overlap, so there
    the total minus the shown groups is no group's figure.
    """
    hidden = {name for name, count in exposed.items() if count < minimum}
    if not splits_people:
        return hidden
    for _count, name in sorted((count, name) for name, count in exposed.items() if name not in hidden):
        if not 0 < sum(exposed[group] for group in hidden) < minimum:
            break
        hidden.add(name)
    return hidden


def _suppress(records: list[dict], splits_people: bool) -> list[dict]:
    exposed = {r["group"]: r["exposed_users"] for r in records}
    hidden = hidden_groups(exposed, splits_people)
    for record in records:
        record["suppressed"] = record["group"] in hidden
        # Hidden although it has 5 or more people, so the smaller hidden ones stay hidden: a screen
        # must not call it "fewer than 5". Saying so gives nothing away (it was >= 5 by the rule).
        record["protects_smaller_groups"] = (record["suppressed"]
                                             and exposed[record["group"]] >= MIN_GROUP_EXPOSED)
        if record["suppressed"]:
            record.update({key: None for key in SUPPRESSIBLE})
    return records


def group_records(inputs: WindowInputs, groups: dict[str, set[int]], splits_people: bool = False
                  ) -> list[dict]:
    """One record per group, its figures nulled (``suppressed``) as ``hidden_groups`` says.

    :param splits_people: the groups split the people (department, variant), so small groups need
        complementary suppression, and all groups are summed in one pass.
    """
    names = sorted(groups)
    split = _split_sums(inputs, groups, names) if splits_people else None
    out = []
    for name in names:
        record = record_of(inputs, split[name]) if split is not None else kpi_record(inputs, groups[name])
        record["group"] = name
        out.append(record)
    return _suppress(out, splits_people)


def adoption_groups(inputs: WindowInputs, groups: dict[str, set[int]], splits_people: bool = False
                    ) -> list[dict]:
    """Per group, only the adoption figures of ``kpi_record`` (exposed, active, adoption, time to
    first use, never-used share), suppressed alike: what a group table shows, at a fraction of
    the cost of every figure of every group."""
    active = active_people(inputs.active_days)
    out = []
    for name in sorted(groups):
        exposed = inputs.exposed & groups[name]
        ttfu, never_share = time_to_first_use(inputs, exposed)
        out.append({"feature": inputs.feature, "start": inputs.start.isoformat(),
                    "end": inputs.end.isoformat(), "group": name, **{key: None for key in SUPPRESSIBLE},
                    **adoption_figures(exposed, active & groups[name]),
                    "time_to_first_use_hours": ttfu, "never_used_share": never_share})
    return _suppress(out, splits_people)


class _Split:
    """Each person's group number (-1: in no group), and frames' rows put in group order."""

    def __init__(self, groups: dict[str, set[int]], names: list[str]) -> None:
        sizes = [len(groups[name]) for name in names]
        ids = np.fromiter(chain.from_iterable(groups[name] for name in names), dtype=np.int64,
                          count=sum(sizes))
        codes = np.repeat(np.arange(len(names), dtype=np.int16 if len(names) < _SMALL else np.int64),
                          sizes)
        self.size = len(names)
        # Person ids are the people table's keys, about as many as people: a table indexed by id
        # answers a frame's rows in one gather (a binary search per row cost ~60 ms a frame at
        # 100,000 people); ids far sparser than that are searched.
        self._table = None
        if len(ids) and ids.min() >= 0 and ids.max() < 4 * len(ids) + 1_000_000:
            self._table = np.full(int(ids.max()) + 1, -1, dtype=codes.dtype)
            self._table[ids] = codes
        order = np.argsort(ids, kind="stable")
        self._ids, self._codes = ids[order], codes[order]
        self.overlaps = bool(len(ids) > 1 and (self._ids[1:] == self._ids[:-1]).any())

    def code_of(self, person_ids: np.ndarray) -> np.ndarray:
        if len(self._ids) == 0:
            return np.full(len(person_ids), -1, dtype=np.int16)
        if self._table is not None:
            inside = (person_ids >= 0) & (person_ids < len(self._table))
            codes = np.where(inside, self._table[np.where(inside, person_ids, 0)], -1)
            return codes.astype(self._codes.dtype)
        at = np.minimum(np.searchsorted(self._ids, person_ids), len(self._ids) - 1)
        return np.where(self._ids[at] == person_ids, self._codes[at], -1).astype(self._codes.dtype)

    def count(self, person_ids: np.ndarray) -> np.ndarray:
        """How many of ``person_ids`` (each once) each group holds."""
        codes = self.code_of(person_ids)
        return np.bincount(codes[codes >= 0], minlength=self.size)


_SMALL = 16_000  # group numbers (twice as many keys, see _did_cells) fit int16: a radix sort


def _slices(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The stable order that sorts ``keys`` (0 .. size - 1; -1: left out), and where each key's
    run starts in it (``bounds[k]:bounds[k + 1]``). numpy sorts 16-bit keys stably by radix, in
    time linear in the rows."""
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(size + 1))
    return order, bounds


def _values_of(series: pd.Series, people: np.ndarray, missing) -> tuple[np.ndarray, np.ndarray]:
    """The values of ``series`` (indexed by person) for ``people``, ``missing`` where it has none;
    and where it has one."""
    found = series.index.get_indexer(pd.Index(people))
    known = found >= 0
    values = np.full(len(people), missing, dtype=np.result_type(series.to_numpy().dtype, type(missing)))
    values[known] = series.to_numpy()[found[known]]
    return values, known


def _ids(people: set[int]) -> np.ndarray:
    return np.sort(np.fromiter(people, dtype=np.int64, count=len(people)))


def _split_sums(inputs: WindowInputs, groups: dict[str, set[int]], names: list[str]
                ) -> dict[str, GroupSums] | None:
    """Every group's ``GroupSums``, as ``kpi_record`` gathers them one group at a time; None when
    a person is in two groups (then the groups do not split the people)."""
    split = _Split(groups, names)
    if split.overlaps:
        return None
    days = inputs.active_days
    # The exposed people, in group order: their count, activity, habit and first use per group.
    exposed = _ids(inputs.exposed)
    e_order, e_bounds = _slices(split.code_of(exposed), split.size)
    exposed = exposed[e_order]
    active = _ids(active_people(days))
    adopted = np.isin(exposed, active)
    habit, _ = _values_of(days.set_index("person_id")["habit_days"], exposed, 0)
    hours_of, known = _values_of(hours_to_first_use(inputs), exposed, np.nan)
    # The activity's arrays and the active days, each in group order once.
    a_order, a_bounds = _slices(split.code_of(inputs.activity["person_id"].to_numpy(dtype=np.int64)),
                                split.size)
    act = {name: values[a_order] for name, values in record_arrays(inputs).items()}
    on = days[days["active_days"] > 0]
    d_order, d_bounds = _slices(split.code_of(on["person_id"].to_numpy(dtype=np.int64)), split.size)
    active_days = on["active_days"].to_numpy()[d_order]
    control = _ids(everyone_with_tasks(inputs) - exposed_by(inputs, inputs.end))
    cells = _did_cells(split, did_frames(inputs), exposed, control)
    active_n, control_n = split.count(active), split.count(control)
    out = {}
    for code, name in enumerate(names):
        e = slice(e_bounds[code], e_bounds[code + 1])
        a = slice(a_bounds[code], a_bounds[code + 1])
        n_exposed = int(e.stop - e.start)
        mine = {key: values[a] for key, values in act.items()}
        out[name] = GroupSums(
            exposed=n_exposed, active=int(active_n[code]), adopted=int(np.count_nonzero(adopted[e])),
            ai_tasks=int(np.nansum(mine["ai_tasks"])),
            saved_min=float(np.nansum(mine["saved_min"])), saved_sq=float(np.nansum(mine["saved_sq"])),
            estimated_n=float(np.nansum(mine["estimated_n"])),
            measured_n=float(np.nansum(mine["measured_n"])),
            ai_errors=int(np.nansum(mine["ai_errors"])), ai_ok=int(np.nansum(mine["ai_ok"])),
            value_eur=float(np.nansum(mine["value_eur"])),
            active_days=float(active_days[d_bounds[code]:d_bounds[code + 1]].sum()),
            habit=habit_counts(habit[e]),
            time_to_first_use=first_use_figures(hours_of[e][known[e]], n_exposed),
            did=did_from_cells(cells[code], n_exposed, int(control_n[code])),
        )
    return out


def _did_cells(split: _Split, frames: tuple[pd.DataFrame, pd.DataFrame], treated: np.ndarray,
               control: np.ndarray) -> list[list[tuple[float, float, float]]]:
    """Per group, ``did_time_saved``'s four cells: the treated's timed tasks before and during, then
    the controls' (the treated and the controls never overlap: the treated were exposed by the
    window's end)."""
    treated, control = np.sort(treated), np.sort(control)
    sums = []
    for frame in frames:
        people = frame["person_id"].to_numpy(dtype=np.int64)
        codes = split.code_of(people)
        role = np.where(np.isin(people, treated), 0, np.where(np.isin(people, control), 1, -1))
        keys = np.where((codes >= 0) & (role >= 0), codes * 2 + role, -1).astype(codes.dtype)
        order, bounds = _slices(keys, 2 * split.size)
        columns = [frame[c].to_numpy()[order] for c in ("n", "total", "sq")]
        n, total, sq = ([float(np.nansum(column[bounds[k]:bounds[k + 1]])) for k in range(2 * split.size)]
                        for column in columns)
        sums.append(list(zip(n, total, sq, strict=True)))
    before, during = sums
    return [[before[2 * g], during[2 * g], before[2 * g + 1], during[2 * g + 1]] for g in range(split.size)]
