"""Weekly trends: a few figures of many consecutive windows (and groups) at once.

A trend chart needs adoption per group and week, or error rate and time saved per week, not every
figure of ``kpi_record``; running the whole record per week and group cost seconds at 10 M events.
These functions take sums already cut per week and apply the same formulas (``adoption_figures``,
``wilson``, ``saved_minutes``, ``mean_interval``, ``exposed_people``), so each figure equals the one
``kpi_record`` gives for that window and group (tests/test_kpi_trend.py holds them to it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import cast

import pandas as pd

from app.kpi.exposure import exposed_people
from app.kpi.groups import hidden_groups
from app.kpi.stats import mean_interval, ratio, wilson
from app.kpi.time_saved import saved_minutes
from app.kpi.window import adoption_figures

EVERYONE = "All"
ADOPTION_COLUMNS = ["week", "group", "exposed_users", "active_users", "adoption_rate",
                    "adoption_rate_ci_low", "adoption_rate_ci_high", "suppressed"]
QUALITY_COLUMNS = ["week", "ai_tasks", "error_rate", "error_rate_ci_low", "error_rate_ci_high",
                   "time_saved_per_task", "time_saved_per_task_ci_low", "time_saved_per_task_ci_high"]


@dataclass
class TrendInputs:
    """What the weekly figures of one feature depend on.

    ``weeks``: the windows [start, end], in order; the frames number them 0, 1, ... in column
    ``week``. ``active``: week, person_id of everyone with an AI task in that week. ``sums``: week,
    task and the rollup sum columns over everyone. ``spells``: person_id, start_at, end_at.
    ``baselines``: minutes per task (as ``baseline_minutes`` gives them);
    ``baseline_error_rate``: as ``baseline_error_rate`` gives it (the same for every week).
    """

    weeks: list[tuple[date, date]]
    active: pd.DataFrame
    sums: pd.DataFrame
    spells: pd.DataFrame
    baselines: dict[str, float]
    estimated_minutes_saved: float = 0.0
    baseline_error_rate: float | None = None


def adoption_trend(inputs: TrendInputs, groups: dict[str, set[int]] | list[dict[str, set[int]]],
                   min_exposed: int, splits_people: bool = False) -> pd.DataFrame:
    """Per week: adoption of everyone (group ``All``) and of each group, as ``kpi_record`` counts it
    (active: an AI task in the week; adoption: active and exposed / exposed). A group with fewer
    than ``min_exposed`` exposed people that week is ``suppressed``, its figures null, and so is a
    group ``hidden_groups`` hides beside it when the groups split the people (``splits_people``).

    :param groups: the same groups every week, or one dict per week (membership as it stood)."""
    # The week column holds integers; pandas types a group key as any scalar.
    active_by_week = {int(cast(int, w)): set(part["person_id"].astype(int))
                      for w, part in inputs.active.groupby("week")}
    rows = []
    for index, (start, end) in enumerate(inputs.weeks):
        exposed = exposed_people(inputs.spells, start, end)
        active = active_by_week.get(index, set())
        week_groups = groups[index] if isinstance(groups, list) else groups
        figures = {name: adoption_figures(exposed & people, active & people)
                   for name, people in sorted(week_groups.items())}
        hidden = hidden_groups({name: f["exposed_users"] for name, f in figures.items()},
                               splits_people, min_exposed)
        everyone = adoption_figures(exposed, active)
        rows.append([start, EVERYONE, *[everyone[c] for c in ADOPTION_COLUMNS[2:-1]], False])
        for name, group in figures.items():
            suppressed = name in hidden
            rows.append([start, name, *[None if suppressed else group[c] for c in ADOPTION_COLUMNS[2:-1]],
                         suppressed])
    return pd.DataFrame(rows, columns=ADOPTION_COLUMNS)


def quality_trend(inputs: TrendInputs) -> pd.DataFrame:
    """Per week, over everyone: AI tasks, error rate with its Wilson interval, and minutes saved
    per AI task with its interval (the sums are linear, so per-task sums give the exact totals)."""
    saved = saved_minutes(inputs.sums, inputs.baselines, inputs.estimated_minutes_saved)
    per_week = pd.concat([inputs.sums[["week", "ai_tasks", "ai_errors", "ai_ok"]],
                          saved[["saved_min", "saved_sq"]]], axis=1).groupby("week").sum()
    by_week = per_week.to_dict("index")
    rows = []
    for index, (start, _end) in enumerate(inputs.weeks):
        if index in by_week:
            week = by_week[index]
            tasks, errors, judged = int(week["ai_tasks"]), int(week["ai_errors"]), int(week["ai_ok"])
            total, total_sq = float(week["saved_min"]), float(week["saved_sq"])
        else:
            tasks = errors = judged = 0
            total = total_sq = 0.0
        rows.append([start, tasks, ratio(errors, judged), *wilson(errors, judged),
                     *mean_interval(total, total_sq, tasks)])
    return pd.DataFrame(rows, columns=QUALITY_COLUMNS)
