"""The answers of a feature's adoption and quality pages, shared by every process through the store.

A page's answer is the KPI module's records and trends of one feature's month, laid out as the
page draws them (DataFrames). At 100,000 people each is seconds of rollup reads in a process that
remembers nothing yet (a new worker, or after a refresh), so, like a feature's KPI answer
(``figures.feature_kpis``), each is kept under the key of its inputs (``answers.question``: on
PostgreSQL a refresh of later days leaves an older month's answer valid), in this process's memo
and in the store (``kpi_answers``), where the ``precompute-kpis`` job puts the pages a user opens
first: every feature's latest two months, by rollout stage and by department. Any other view (a
cohort breakdown, an older month) is computed on its first read, as before.

An answer covers the days up to ``window_end(month)``; the eight trend weeks end on that day too,
so every rollup row it reads lies in a month up to its end's: the question's stamp covers them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import select

from app import kpi
from app.db import db, utcnow
from app.errors import Detail, NotFound, ValidationFailed
from app.models import Feature, RolloutStage
from app.months import check_month, month_bounds
from app.services.kpi_reads import answers, page_json
from app.services.kpi_reads import cache as kpi_cache
from app.services.kpi_reads import figures as kpis

GROUPINGS = ("stage", "cohort", "department")
# Groupings whose groups split the people (each person in one group): complementary suppression.
SPLITTING = ("stage", "department")
TREND_WEEKS = 8
REST = "Everyone else"
# What the precompute-kpis job stores for each feature's latest PRECOMPUTED_MONTHS months: the
# pages' first view (by rollout stage) and the department breakdown (the heaviest: 40 groups at
# 100,000 people), of the month under way and of the one before (the month an executive reviews).
PRECOMPUTED = (("adoption", "stage"), ("adoption", "department"), ("adoption_weeks", "stage"),
               ("adoption_weeks", "department"), ("quality_weeks", None))
PRECOMPUTED_MONTHS = 2
MEMO = "pages"  # this module's entries in the KPI memo


def stage_groups(key: str, people: pd.DataFrame, cohorts: dict[str, set[int]]) -> dict[str, set[int]]:
    """People by the rollout stage whose cohorts first reach them (stage 1 the champions, stage 2
    the pilot, ...); everyone no cohort stage names is ``Everyone else``.

    :param cohorts: the people of each cohort (``kpis.window_groups``).
    """
    feature = db.session.scalar(select(Feature).where(Feature.key == key))
    if feature is None:
        raise NotFound(f"no feature {key!r}")
    seen: set[int] = set()
    out: dict[str, set[int]] = {}
    stages = db.session.scalars(select(RolloutStage).where(RolloutStage.feature_id == feature.id)
                                .order_by(RolloutStage.position)).all()
    for stage in stages:
        members = set().union(*[cohorts.get(c.key, set()) for c in stage.cohorts]) - seen
        if members:
            out[f"{stage.position}. {stage.name}"] = members
            seen |= members
    out[REST] = set(people["person_id"].astype(int)) - seen
    return out


def groups(key: str, grouping: str, people: pd.DataFrame, spells: pd.DataFrame,
           start: date, end: date) -> dict[str, set[int]]:
    """The groups of a breakdown over the days [start, end]: ``stage``, ``cohort`` or
    ``department``, with the membership as it stood then (``kpis.window_groups``)."""
    if grouping == "stage":
        return stage_groups(key, people, kpis.window_groups("cohort", people, spells, start, end))
    return kpis.window_groups(grouping, people, spells, start, end)


def weeks_ending(end: date, weeks: int = TREND_WEEKS) -> list[tuple[date, date]]:
    """``weeks`` consecutive 7-day windows, the last one ending on ``end``."""
    return [(end - timedelta(days=7 * i + 6), end - timedelta(days=7 * i)) for i in reversed(range(weeks))]


def window_end(month: str) -> date:
    """The month's last day, or today inside the current month (no empty future days)."""
    start, end = month_bounds(month)
    return max(start, min(end, utcnow().date()))


def _feature_id(key: str, month: str, grouping: str | None) -> int:
    check_month(month)
    if grouping is not None and grouping not in GROUPINGS:
        raise ValidationFailed("invalid query", [Detail("group", "must be stage, cohort or department")])
    feature_id = db.session.scalar(select(Feature.id).where(Feature.key == key))
    if feature_id is None:
        raise NotFound(f"no feature {key!r}")
    return feature_id


def _question(feature_id: int, page: str, month: str, grouping: str | None, version: str | None
              ) -> answers.Question | None:
    """The key of a page's answer of ``month`` (its window: the month to ``window_end``)."""
    return answers.question(feature_id, month_bounds(month)[0], window_end(month),
                            f"{page}:{grouping or '-'}", version)


def _kept(page: str, key: str, month: str, grouping: str | None, compute: Callable[[date, date], dict]
          ) -> dict:
    """``compute(start, end)`` for the month's window, remembered under the key of its inputs, and
    read from the store when it holds it. The answer is handed out as remembered: pages only read it."""
    feature_id = _feature_id(key, month, grouping)
    start, end = month_bounds(month)[0], window_end(month)
    asked = _question(feature_id, page, month, grouping, kpi_cache.version())
    if asked is None:
        return compute(start, end)

    def read() -> dict:
        text = answers.stored_text(asked)
        return compute(start, end) if text is None else page_json.loads(text)

    return kpi_cache.cached(asked.memo_version, (MEMO, asked.text), read, copies=False)


def adoption(key: str, month: str, grouping: str = "stage") -> dict:
    """The adoption of a feature in a month: the headline record, the funnel and the per-group
    records (``groups``).

    :param grouping: ``stage`` (champions, pilot, the rest), ``cohort`` or ``department``.
    """
    def compute(start: date, end: date) -> dict:
        inputs, people = kpis.kpi_inputs(key, start, end)
        record = kpi.kpi_record(inputs)
        return {"feature": key, "month": month, "start": start, "end": end, "record": record,
                "funnel": kpi.adoption_funnel(inputs, record),
                "groups": pd.DataFrame(kpi.adoption_groups(
                    inputs, groups(key, grouping, people, inputs.spells, start, end),
                    splits_people=grouping in SPLITTING))}

    return _kept("adoption", key, month, grouping, compute)


def adoption_weeks(key: str, month: str, grouping: str = "stage") -> dict:
    """Adoption over the TREND_WEEKS weeks to the month's end: per group of ``grouping`` and for
    everyone (``trend``, group ``All``), and per department (``heatmap``); a group with fewer than
    5 exposed people in a week is ``suppressed`` there (and, for stages and departments, which
    split the people, the smallest shown one beside it while the hidden ones hold 1 to 4)."""
    def compute(_start: date, end: date) -> dict:
        inputs, people = kpis.trend_inputs(key, weeks_ending(end))

        def trend(by: str) -> pd.DataFrame:
            # Each week with the membership as it stood then; every group named in every week.
            weekly = [groups(key, by, people, inputs.spells, lo, hi) for lo, hi in inputs.weeks]
            names = set().union(*weekly)
            weekly = [{name: week.get(name, set()) for name in names} for week in weekly]
            return kpi.adoption_trend(inputs, weekly, kpi.MIN_GROUP_EXPOSED, splits_people=by in SPLITTING)

        chosen = trend(grouping)
        departments = chosen if grouping == "department" else trend("department")
        heatmap = departments[departments["group"] != kpi.trend.EVERYONE].reset_index(drop=True)
        return {"trend": chosen, "heatmap": heatmap}

    return _kept("adoption_weeks", key, month, grouping, compute)


def quality_weeks(key: str, month: str) -> dict:
    """Error rate and minutes saved per AI task, with their intervals, over the TREND_WEEKS weeks
    to the month's end (``trend``), and the baseline error rate they are drawn against."""
    def compute(_start: date, end: date) -> dict:
        inputs = kpis.trend_inputs(key, weeks_ending(end))[0]
        return {"trend": kpi.quality_trend(inputs), "baseline_error_rate": inputs.baseline_error_rate}

    return _kept("quality_weeks", key, month, None, compute)


PAGES: dict[str, Callable[..., dict]] = {"adoption": adoption, "adoption_weeks": adoption_weeks,
                                          "quality_weeks": quality_weeks}


def precompute_questions(feature_id: int, key: str, month: str, version: str
                         ) -> list[tuple[answers.Question, Callable[[], str | None]]]:
    """The store's questions for ``PRECOMPUTED`` pages of a feature's month, each with what
    computes its text (None when it cannot be stored)."""
    out: list[tuple[answers.Question, Callable[[], str | None]]] = []
    for page, grouping in PRECOMPUTED:
        asked = _question(feature_id, page, month, grouping, version)
        if asked is not None:
            args = (key, month) if grouping is None else (key, month, grouping)
            out.append((asked, functools.partial(_page_text, page, args)))
    return out


def _page_text(page: str, args: tuple) -> str | None:
    return page_json.dumps(PAGES[page](*args))
