"""The KPI answer of one feature over one window, for everyone or for one group of people."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

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
    ``remember(name, compute)``, when given, keeps the parts that follow from the spells alone
    (who was exposed, and when first) beyond this object: the reads keep them under the live
    revision, which a refresh of the rollups does not move. They must not be changed.
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
    remember: Callable[[str, Callable[[], Any]], Any] | None = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def baseline_window(self) -> tuple[date, date] | None:
        # Once per window: each group's record asks for it (~1 ms a time at 100,000 people).
        return self._of_spells("baseline_window", lambda: baseline_window(self.spells, self.baseline_days))

    def _cached(self, name: str, compute):
        # Group breakdowns reuse the feature-wide parts instead of recomputing them per group.
        if name not in self._cache:
            self._cache[name] = compute()
        return self._cache[name]

    def _of_spells(self, name: str, compute):
        """A part that follows from the spells alone: kept by ``remember`` when given (at 100,000
        people ~60 ms of each first read after a refresh)."""
        remember = self.remember
        return self._cached(name, compute if remember is None else lambda: remember(name, compute))

    @property
    def baselines(self) -> dict[str, float]:
        return self._cached("baselines",
                            lambda: baseline_minutes(self.explicit_baselines, self.baseline_activity))

    @property
    def exposed(self) -> set[int]:
        return self._of_spells("exposed", lambda: exposed_people(self.spells, self.start, self.end))

    @property
    def first_exposure(self) -> pd.Series:
        return self._of_spells("first_exposure", lambda: first_exposure(self.spells))

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


def time_to_first_use(inputs: WindowInputs, exposed: set[int]) -> tuple[float | None, float | None]:
    """Over the people exposed in the window: the median hours from their first exposure to their
    first AI use by the window's end, and the share with no use by then (None, None when nobody
    was exposed; the median None when nobody used it).

    Only uses up to the window's end count, so a closed window's figures stay as they were when
    later events arrive. A person's all-time first use is their first use by the end whenever it
    falls before the end, so the first-use rollup answers any window.
    """
    if not exposed:
        return None, None
    hours = hours_to_first_use(inputs)
    # Every exposed person has a first exposure, so the index holds them all; a group's people are
    # picked by position (the order does not change a median).
    found = hours.index.get_indexer(pd.Index(np.fromiter(exposed, dtype=np.int64, count=len(exposed))))
    return first_use_figures(hours.to_numpy()[found[found >= 0]], len(exposed))


def first_use_figures(hours: np.ndarray, exposed: int) -> tuple[float | None, float | None]:
    """The median of ``hours`` (the exposed people's hours to their first use; NaN: none yet) and
    the share of the ``exposed`` people with no use (None, None when nobody was exposed)."""
    if not exposed:
        return None, None
    used = hours[~np.isnan(hours)]
    never_share = 1 - len(used) / exposed
    if len(used) == 0:
        return None, never_share
    return float(pd.Series(used).median()), never_share


def hours_to_first_use(inputs: WindowInputs) -> pd.Series:
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
    return adoption_counts(len(exposed), len(active), len(active & exposed))


def adoption_counts(exposed: int, active: int, adopted: int) -> dict:
    """``adoption_figures`` from the numbers of exposed, active, and active and exposed people."""
    low, high = wilson(adopted, exposed)
    return {"exposed_users": exposed, "active_users": active,
            "adoption_rate": ratio(adopted, exposed),
            "adoption_rate_ci_low": low, "adoption_rate_ci_high": high}


@dataclass
class GroupSums:
    """What the record of one group of people (or of everyone) is made of: its counts and sums.
    ``kpi_record`` gathers them for one group; ``app.kpi.groups`` for all groups of a breakdown at
    once when the groups split the people."""

    exposed: int
    active: int
    adopted: int  # active and exposed
    ai_tasks: int
    saved_min: float
    saved_sq: float
    estimated_n: float
    measured_n: float
    ai_errors: int
    ai_ok: int
    value_eur: float
    active_days: float  # the active days of the active people, summed
    habit: dict[str, int]
    time_to_first_use: tuple[float | None, float | None]  # median hours, never-used share
    did: dict


def kpi_record(inputs: WindowInputs, people: set[int] | None = None) -> dict:
    """Every KPI of KPI_DEFINITIONS.md over the window, for ``people`` (everyone when None)."""
    return record_of(inputs, _sums_of(inputs, people))


def _sums_of(inputs: WindowInputs, people: set[int] | None) -> GroupSums:
    days = inputs.active_days
    exposed = inputs.exposed if people is None else inputs.exposed & people
    # The activity and its minutes saved, row by row (made once per window), as arrays: a group
    # takes its rows of each array it sums (a DataFrame's take was most of a group's time). Sums
    # skip missing values and add the same numbers in the same order as a Series' sum.
    act = record_arrays(inputs)
    if people is not None:
        # An array of the group's ids once; each frame's rows by person once for every group.
        group = _id_set(people)
        at = _rows_of(inputs, "activity", inputs.activity).positions(group.array)
        act = {name: values[at] for name, values in act.items()}
        days = _rows_of(inputs, "active_days", days).pick(days, group.array)
    active = active_people(days)
    before_exposure = exposed_by(inputs, inputs.end)
    # Controls: people with tasks in the window or the baseline window, not exposed by its end (a
    # group's people who did no task are no control, so a newcomer leaves a closed window alone).
    everyone = everyone_with_tasks(inputs)
    control = (everyone if people is None else everyone & people) - before_exposure
    did_before, did_during = did_frames(inputs)
    return GroupSums(
        exposed=len(exposed), active=len(active), adopted=len(active & exposed),
        ai_tasks=int(np.nansum(act["ai_tasks"])),
        saved_min=float(np.nansum(act["saved_min"])), saved_sq=float(np.nansum(act["saved_sq"])),
        estimated_n=float(np.nansum(act["estimated_n"])), measured_n=float(np.nansum(act["measured_n"])),
        ai_errors=int(np.nansum(act["ai_errors"])), ai_ok=int(np.nansum(act["ai_ok"])),
        value_eur=float(np.nansum(act["value_eur"])),
        active_days=float(days.loc[days["active_days"] > 0, "active_days"].sum()),
        habit=habit_counts(_habit_days(inputs, days, exposed)),
        time_to_first_use=time_to_first_use(inputs, exposed),
        # The treated and the controls are all among ``people``: the whole frames give the same
        # rows, and their duration sums are made once for every group.
        did=did_time_saved(did_before, did_during, exposed, control,
                           rows=None if people is None else (_rows_of(inputs, "did_before", did_before),
                                                             _rows_of(inputs, "did_during", did_during))),
    )


def did_frames(inputs: WindowInputs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``duration_rows`` of the baseline window's and of the window's activity (once a window)."""
    return (inputs._cached("did_before", lambda: duration_rows(inputs.baseline_activity)),
            inputs._cached("did_during", lambda: duration_rows(inputs.activity)))


def record_of(inputs: WindowInputs, sums: GroupSums) -> dict:
    """The KPI record of one group (or of everyone) over the window, from its sums."""
    n_days = (inputs.end - inputs.start).days + 1
    per_task, per_task_low, per_task_high = mean_interval(sums.saved_min, sums.saved_sq, sums.ai_tasks)
    error_low, error_high = wilson(sums.ai_errors, sums.ai_ok)
    b_window = inputs.baseline_window
    ttfu, never_share = sums.time_to_first_use
    return {
        "feature": inputs.feature,
        "start": inputs.start.isoformat(),
        "end": inputs.end.isoformat(),
        **adoption_counts(sums.exposed, sums.active, sums.adopted),
        "ai_tasks": sums.ai_tasks,
        "depth": ratio(sums.ai_tasks, sums.active),
        "stickiness": ratio(sums.active_days, n_days * sums.active),
        "time_saved_hours": sums.saved_min / 60,
        "time_saved_estimated": bool(sums.estimated_n > 0),
        "time_saved_evidence": evidence(sums.measured_n, sums.estimated_n),
        "value_eur": sums.value_eur,
        "error_rate": ratio(sums.ai_errors, sums.ai_ok),
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
        "habit": sums.habit,
        "time_to_first_use_hours": ttfu,
        "never_used_share": never_share,
        **sums.did,
    }


def record_arrays(inputs: WindowInputs) -> dict[str, np.ndarray]:
    """What ``kpi_record`` sums, row by row of the activity, as arrays made once per window: its
    counts, the minutes saved (``saved_minutes``) and their value in euros (at each row's hourly
    rate: its department's then, else its person's; none counts 0)."""
    def compute() -> dict[str, np.ndarray]:
        act = inputs.activity
        saved = saved_minutes(act, inputs.baselines, inputs.estimated_minutes_saved)
        rate = act["rate"] if "rate" in act.columns else act["person_id"].map(inputs.rates)
        rates = rate.astype("float64").to_numpy()
        saved_min = saved["saved_min"].to_numpy()
        return {**{c: act[c].to_numpy() for c in ("ai_tasks", "ai_errors", "ai_ok")},
                "value_eur": saved_min / 60 * np.where(np.isnan(rates), 0.0, rates),
                "saved_min": saved_min,
                **{c: saved[c].to_numpy() for c in ("saved_sq", "estimated_n", "measured_n")}}

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


def everyone_with_tasks(inputs: WindowInputs) -> set[int]:
    """Everyone with a task of this feature in the window or the baseline window."""
    return inputs._cached("everyone", lambda: id_set(inputs.activity["person_id"],
                                                     inputs.baseline_activity["person_id"]))


def exposed_by(inputs: WindowInputs, end: date) -> set[int]:
    """People exposed at some instant up to the end of ``end`` (not a control any more)."""
    def compute():
        first = inputs.first_exposure
        if first.empty:
            return set()
        return exposed_people(inputs.spells, min(first.min().date(), end), end)

    return inputs._of_spells(f"exposed_by_{end}", compute)
