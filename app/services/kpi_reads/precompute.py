"""Compute once, for every process and host, the KPI answers the month views open on.

The executive view, the portfolio and the board report read every feature's answer of a calendar
month (``board_report.month_quality``): the latest month, and the twelve before it for the board
report's history; the quality page reads a month to today. The adoption and quality pages' own
answers of the latest two months (``feature_pages.PRECOMPUTED``: their first view) are stored too.
At 100,000 people and 50 M events each is seconds of rollup reads when no process remembers it, so
a page of twenty features took minutes in a new worker. The ``precompute-kpis`` job (the scheduler
process) computes the ones the store lacks under the key of their inputs (``answers.question``)
and drops the rest; web processes then read them with one primary-key read each. A refresh of the
newest day moves only the newest month's keys.

Consistency: the answers are computed in the job's transaction; one is stored only while the KPI
revision still reads as it did when the run began (every commit of a KPI input moves it), so no
answer mixes two states. A run that sees it move stops, keeps what it stored, and the next run
goes on from there. A run also stops after ``budget_seconds``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from app.db import db
from app.models import Feature
from app.models.kpi import FeatureMonth
from app.months import month_before, month_bounds
from app.services.kpi_reads import answers, feature_pages, figures
from app.services.kpi_reads import cache as kpi_cache
from app.services.kpi_reads import revision as kpi_revision

log = logging.getLogger(__name__)
HISTORY_MONTHS = 12  # the board report's history (app.services.reporting.board_report)


@dataclass
class PrecomputeResult:
    computed: int
    stored: int
    dropped: int
    missing: int  # left for the next run (the budget ran out, or the inputs moved)


def months() -> list[str]:
    """The latest month with rollups and the ``HISTORY_MONTHS`` before it, newest first."""
    latest = db.session.scalar(select(func.max(FeatureMonth.month)))
    if latest is None:
        return []
    out = [latest]
    for _ in range(HISTORY_MONTHS):
        out.append(month_before(out[-1]))
    return out


def windows(month: str) -> list[tuple[date, date]]:
    """The windows of ``month`` that are read: the calendar month (the executive view, the board
    report) and, inside the current month, the month to today (the quality page)."""
    start, end = month_bounds(month)
    to_date = feature_pages.window_end(month)
    return [(start, end)] if to_date == end else [(start, end), (start, to_date)]


def _wanted(version: str) -> list[tuple[answers.Question, int, Callable[[], str | None]]]:
    """Every answer the store should hold, in the order to compute them, each with its feature and
    what computes its text: the newest month of every feature first (what the pages open on), the
    pages of the newest months next, then the older months feature by feature: a feature's spells,
    first uses and baseline window stay in the memo for all its months instead of being read again
    for each."""
    features = db.session.execute(select(Feature.id, Feature.key).order_by(Feature.key)).all()
    kept = months()
    out: list[tuple[answers.Question, int, Callable[[], str | None]]] = []

    def month_answers(feature_id: int, key: str, month: str) -> None:
        for start, end in windows(month):
            asked = answers.question(feature_id, start, end, None, version)
            if asked is not None:
                out.append((asked, feature_id, functools.partial(_month_text, key, start, end)))

    for feature_id, key in features:
        for month in kept[:1]:
            month_answers(feature_id, key, month)
    for feature_id, key in features:
        for month in kept[:feature_pages.PRECOMPUTED_MONTHS]:
            out += [(asked, feature_id, text)
                    for asked, text in feature_pages.precompute_questions(feature_id, key, month, version)]
    for feature_id, key in features:
        for month in kept[1:]:
            month_answers(feature_id, key, month)
    return out


def _month_text(key: str, start: date, end: date) -> str | None:
    return answers.as_json(figures.feature_kpis(key, start, end))


def precompute(budget_seconds: float = 120.0) -> PrecomputeResult:
    """Store every answer of ``_wanted`` that the store lacks, and drop the answers of other
    windows or of older inputs (nothing is committed here)."""
    began = time.perf_counter()
    revision = kpi_revision.current()
    version = kpi_cache.version()
    if revision is None or version is None:
        return PrecomputeResult(0, 0, 0, 0)
    wanted = _wanted(version)
    have = answers.stored_questions()
    computed, new = 0, []
    for asked, feature_id, compute in wanted:
        if asked.text in have:
            continue
        if time.perf_counter() - began > budget_seconds:
            break
        text = compute()
        computed += 1
        if kpi_revision.current() != revision:
            log.info("precompute-kpis: the KPI inputs moved; the next run goes on")
            break
        if text is not None:
            new.append((asked, feature_id, text))
            have.add(asked.text)
    # Written together at the end: on SQLite the first write takes the database's one write lock,
    # which must not be held while the answers are computed (other writers wait at most 10 s).
    for asked, feature_id, text in new:
        answers.store(asked, feature_id, text)
    stored = len(new)
    dropped = answers.keep_only({asked.text for asked, *_ in wanted})
    missing = sum(1 for asked, *_ in wanted if asked.text not in have)
    return PrecomputeResult(computed, stored, dropped, missing)
