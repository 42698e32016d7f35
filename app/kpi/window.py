"""The KPI answer of one feature over one window, for everyone or for one group of people."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from app.kpi.did import did_time_saved, duration_rows
from app.kpi.exposure import baseline_window, day_start, exposed_people, first_exposure, naive_utc
from app.kpi.rows import PersonRows, id_set, person_rows
from app.kpi.stats import mean_interval, ratio, wilson
from app.kpi.time_saved import (
    baseline_error_interval,
    baseline_error_rate,
    baseline_minutes,
    evidence,
    saved_minutes,
)

HABIT_DAYS = 30
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


@dataclass
class WindowInputs:
    """Everything the KPIs of one feature over [start, end] depend on, as plain frames.

    ``activity`` and ``baseline_activity``: per person_id x task event sums (the rollup columns)
    over the window and over the baseline window; ``activity`` may be split further, with the
    hourly ``rate`` its events are valued at (their person's department then). ``active_days``:
    per person_id, the days with an AI event in the window (``active_days``) and in the 30 days
    ending on ``end`` (``habit_days``).
    ``spells``: person_id, start_at, end_at. ``first_use``: person_id, first_ai_at.
    ``explicit_baselines``: task, minutes_per_task, error_rate, measured_at. ``rates``: hourly
    rate in euros per person_id, for activity without a ``rate`` column.
    """

    feature: str
    start: date
    end: date
    activity: pd.DataFrame
    active_days: pd.DataFrame
    spells: pd.DataFrame
    first_use: pd.DataFrame
    baseline_activity: pd.DataFrame
    explicit_baselines: pd.DataFrame
    rates: pd.Series
    estimated_minutes_saved: float = 0.0
    baseline_days: int = 28
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def baseline_window(self) -> tuple[date, date] | None:
        # Once per window: each group's record asks for it (~1 ms a time at 100,000 people).
        return self._cached("baseline_window", lambda: baseline_window(self.spells, self.baseline_days))

    def _cached(self, name: str, compute):
        # Group breakdowns reuse the feature-wide parts instead of recomputing them per group.
        if name not in self._cache:
            self._cache[name] = compute()
        return self._cache[name]

    @property
    def baselines(self) -> dict[str, float]:
        return self._cached("baselines",
                            lambda: baseline_minutes(self.explicit_baselines, self.baseline_activity))

    @property
    def exposed(self) -> set[int]:
        return self._cached("exposed", lambda: exposed_people(self.spells, self.start, self.end))

    @property
    def first_exposure(self) -> pd.Series:
        return self._cached("first_exposure", lambda: first_exposure(self.spells))

    @property
    def first_use_at(self) -> pd.Series:
        """Each person's first AI use (naive UTC), indexed by person_id."""
        def compute():
            if self.first_use.empty:
                return pd.Series(dtype="datetime64[us]")
            return naive_utc(self.first_use.set_index("person_id")["first_ai_at"])

        return self._cached("first_use_at", compute)

    @property
    def baseline_error_rate(self) -> float | None:
        return self._cached("baseline_error_rate", lambda: baseline_error_rate(
            self.explicit_baselines, self.baseline_activity))

    @property
    def baseline_error_interval(self) -> tuple[float | None, float | None]:
        return self._cached("baseline_error_interval", lambda: baseline_error_interval(
            self.explicit_baselines, self.baseline_activity))


HABIT_THRESHOLDS = (("daily", 20), ("weekly", 3), ("monthly", 1))  # active days of 30, at least


def habit_cohort(active_days: int) -> str:
    """daily (>= 20 active days of 30), weekly (>= 3), monthly (>= 1), else never."""
    for name, least in HABIT_THRESHOLDS:
        if active_days >= least:
            return name
    return "never"


def habit_counts(habit_days: np.ndarray) -> dict[str, int]:
    """How many people fall in each habit cohort, from their active days of the last 30 (one
    vectorised pass: ``habit_cohort`` per person cost a Python call each, 10^5 at 100,000 people)."""
    counts, higher = {}, 0
    for name, least in HABIT_THRESHOLDS:  # from the highest threshold down
        at_least = int(np.count_nonzero(habit_days >= least))
        counts[name], higher = at_least - higher, at_least
    counts["never"] = len(habit_days) - higher
    return counts


def _time_to_first_use(inputs: WindowInputs, exposed: set[int]) -> tuple[float | None, float | None]:
    """Over the people exposed in the window: the median hours from their first exposure to their
    first AI use by the window's end, and the share with no use by then (None, None when nobody
    was exposed; the median None when nobody used it).

    Only uses up to the window's end count, so a closed window's figures stay as they were when
    later events arrive. A person's all-time first use is their first use by the end whenever it
    falls before the end, so the first-use rollup answers any window.
    """
    if not exposed:
        return None, None
    hours = _hours_to_first_use(inputs)
    # Every exposed person has a first exposure, so the index holds them all; a group's people are
    # picked by position (the order does not change a median).
    found = hours.index.get_indexer(pd.Index(np.fromiter(exposed, dtype=np.int64, count=len(exposed))))
    mine = hours.to_numpy()[found[found >= 0]]
    mine = mine[~np.isnan(mine)]
    never_share = 1 - len(mine) / len(exposed)
    if len(mine) == 0:
        return None, never_share
    return float(pd.Series(mine).median()), never_share


def _hours_to_first_use(inputs: WindowInputs) -> pd.Series:
    """Per person with a first exposure: hours from it to their first AI use by the window's end
    (NaN: no use by then). Computed once per window, shared by the feature and every group."""
    def compute() -> pd.Series:
        used = inputs.first_use_at
        used = used[used < day_start(inputs.end + timedelta(days=1))]
        first_seen = inputs.first_exposure
        joined = pd.DataFrame({"exposed": first_seen}).join(used.rename("used"), how="left")
        # AI use before the first exposure (e.g. a tester) counts as immediate use.
        hours = ((joined["used"] - joined["exposed"]).dt.total_seconds() / 3600).clip(lower=0)
        return hours.astype("float64")

    return inputs._cached("hours_to_first_use", compute)


def active_people(active_days: pd.DataFrame) -> set[int]:
    """People with at least one AI event in the window (KPI_DEFINITIONS, ``active_users``): the one
    definition of "active", read by the KPI record and the adoption funnel alike."""
    return id_set(active_days.loc[active_days["active_days"] > 0, "person_id"])


def adoption_figures(exposed: set[int], active: set[int]) -> dict:
    """Exposed and active people, and adoption (active and exposed / exposed) with its interval."""
    adopted = len(active & exposed)
    low, high = wilson(adopted, len(exposed))
    return {"exposed_users": len(exposed), "active_users": len(active),
            "adoption_rate": ratio(adopted, len(exposed)),
            "adoption_rate_ci_low": low, "adoption_rate_ci_high": high}


def kpi_record(inputs: WindowInputs, people: set[int] | None = None) -> dict:
    """Every KPI of KPI_DEFINITIONS.md over the window, for ``people`` (everyone when None)."""
    days = inputs.active_days
    exposed = inputs.exposed if people is None else inputs.exposed & people
    # The activity and its minutes saved, row by row (made once per window), as arrays: a group
    # takes its rows of each array it sums (a DataFrame's take was most of a group's time). Sums
    # skip missing values and add the same numbers in the same order as a Series' sum.
    act = _record_arrays(inputs)
    if people is not None:
        # An array of the group's ids once; each frame's rows by person once for every group.
        group = _id_set(people)
        at = _rows_of(inputs, "activity", inputs.activity).positions(group.array)
        act = {name: values[at] for name, values in act.items()}
        days = _rows_of(inputs, "active_days", days).pick(days, group.array)
    active_days = days[days["active_days"] > 0]
    active = active_people(days)
    n_days = (inputs.end - inputs.start).days + 1
    ai_tasks = int(np.nansum(act["ai_tasks"]))
    saved_total = float(np.nansum(act["saved_min"]))
    per_task, per_task_low, per_task_high = mean_interval(saved_total, float(np.nansum(act["saved_sq"])),
                                                         ai_tasks)
    estimated_n = float(np.nansum(act["estimated_n"]))
    errors, judged = int(np.nansum(act["ai_errors"])), int(np.nansum(act["ai_ok"]))
    error_low, error_high = wilson(errors, judged)
    rates = act["rate"]
    value_eur = float(np.nansum(act["saved_min"] / 60 * np.where(np.isnan(rates), 0.0, rates)))

    habit = habit_counts(_habit_days(inputs, days, exposed))
    ttfu, never_share = _time_to_first_use(inputs, exposed)
    before_exposure = _exposed_by(inputs, inputs.end)
    # Controls: people with tasks in the window or the baseline window, not exposed by its end (a
    # group's people who did no task are no control, so a newcomer leaves a closed window alone).
    everyone = _everyone(inputs)
    control = (everyone if people is None else everyone & people) - before_exposure
    b_window = inputs.baseline_window
    did_before = inputs._cached("did_before", lambda: duration_rows(inputs.baseline_activity))
    did_during = inputs._cached("did_during", lambda: duration_rows(inputs.activity))
    return {
        "feature": inputs.feature,
        "start": inputs.start.isoformat(),
        "end": inputs.end.isoformat(),
        **adoption_figures(exposed, active),
        "ai_tasks": ai_tasks,
        "depth": ratio(ai_tasks, len(active)),
        "stickiness": ratio(float(active_days["active_days"].sum()), n_days * len(active)),
        "time_saved_hours": saved_total / 60,
        "time_saved_estimated": bool(estimated_n > 0),
        "time_saved_evidence": evidence(float(np.nansum(act["measured_n"])), estimated_n),
        "value_eur": value_eur,
        "error_rate": ratio(errors, judged),
        "baseline_error_rate": inputs.baseline_error_rate,
        "baseline_error_rate_ci_low": inputs.baseline_error_interval[0],
        "baseline_error_rate_ci_high": inputs.baseline_error_interval[1],
        "error_rate_ci_low": error_low,
        "error_rate_ci_high": error_high,
        "time_saved_per_task": per_task,
        "time_saved_per_task_ci_low": per_task_low,
        "time_saved_per_task_ci_high": per_task_high,
        "baseline_minutes": inputs.baselines or None,
        "baseline_window_start": b_window[0].isoformat() if b_window else None,
        "baseline_window_end": b_window[1].isoformat() if b_window else None,
        "habit": habit,
        "time_to_first_use_hours": ttfu,
        "never_used_share": never_share,
        # The treated and the controls are all among ``people``: the whole frames give the same
        # rows, and their duration sums are made once for every group.
        **did_time_saved(did_before, did_during, exposed, control,
                         rows=None if people is None else (_rows_of(inputs, "did_before", did_before),
                                                           _rows_of(inputs, "did_during", did_during))),
    }


def _record_arrays(inputs: WindowInputs) -> dict[str, np.ndarray]:
    """What ``kpi_record`` sums, row by row of the activity, as arrays made once per window: its
    counts, each row's hourly rate (its department's then, else its person's), and the minutes
    saved (``saved_minutes``)."""
    def compute() -> dict[str, np.ndarray]:
        act = inputs.activity
        saved = saved_minutes(act, inputs.baselines, inputs.estimated_minutes_saved)
        rates = act["rate"] if "rate" in act.columns else act["person_id"].map(inputs.rates)
        return {**{c: act[c].to_numpy() for c in ("ai_tasks", "ai_errors", "ai_ok")},
                "rate": rates.astype("float64").to_numpy(),
                **{c: saved[c].to_numpy() for c in ("saved_min", "saved_sq", "estimated_n", "measured_n")}}

    return inputs._cached("record_arrays", compute)


def _rows_of(inputs: WindowInputs, name: str, frame: pd.DataFrame) -> PersonRows:
    """The rows by person of the inputs' frame ``name`` (``frame``), made once per window."""
    return inputs._cached(f"rows_{name}", lambda: person_rows(frame))


class _IdSet(frozenset):
    """A group's person ids with the array pandas filters by, made once per group."""

    array: np.ndarray


def _id_set(people: AbstractSet[int]) -> _IdSet:
    if isinstance(people, _IdSet):
        return people
    ids = _IdSet(people)
    ids.array = np.fromiter(ids, dtype=np.int64, count=len(ids))
    return ids


def _habit_days(inputs: WindowInputs, days: pd.DataFrame, exposed: set[int]) -> np.ndarray:
    """Active days of the last 30 of each exposed person (0 for those with none)."""
    if days.empty or not exposed:
        return np.zeros(len(exposed), dtype=np.int64)
    exposed_ids = np.fromiter(exposed, dtype=np.int64, count=len(exposed))
    by_person = days.set_index("person_id")["habit_days"]
    found = by_person.index.get_indexer(pd.Index(exposed_ids))
    values = by_person.to_numpy()
    return np.where(found >= 0, values[np.maximum(found, 0)], 0)


def _everyone(inputs: WindowInputs) -> set[int]:
    """Everyone with a task of this feature in the window or the baseline window."""
    return inputs._cached("everyone", lambda: id_set(inputs.activity["person_id"],
                                                     inputs.baseline_activity["person_id"]))


def _exposed_by(inputs: WindowInputs, end: date) -> set[int]:
    """People exposed at some instant up to the end of ``end`` (not a control any more)."""
    def compute():
        first = inputs.first_exposure
        if first.empty:
            return set()
        return exposed_people(inputs.spells, min(first.min().date(), end), end)

    return inputs._cached(f"exposed_by_{end}", compute)


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
        complementary suppression.
    """
    out = []
    for name in sorted(groups):
        record = kpi_record(inputs, groups[name])
        record["group"] = name
        out.append(record)
    return _suppress(out, splits_people)


def adoption_groups(inputs: WindowInputs, groups: dict[str, set[int]], splits_people: bool = False
                    ) -> list[dict]:
    """Per group, only the adoption figures of ``kpi_record`` (exposed, active, adoption, time to
    first use, never-used share), suppressed alike: what a group table shows, at a fraction of
    the cost of every figure of every group."""
    days = inputs.active_days
    active = id_set(days.loc[days["active_days"] > 0, "person_id"])
    out = []
    for name in sorted(groups):
        exposed = inputs.exposed & groups[name]
        ttfu, never_share = _time_to_first_use(inputs, exposed)
        out.append({"feature": inputs.feature, "start": inputs.start.isoformat(),
                    "end": inputs.end.isoformat(), "group": name, **{key: None for key in SUPPRESSIBLE},
                    **adoption_figures(exposed, active & groups[name]),
                    "time_to_first_use_hours": ttfu, "never_used_share": never_share})
    return _suppress(out, splits_people)
