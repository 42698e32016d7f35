"""A feature's KPI answer, keyed by the inputs it came from, and shared by every process and host.

A feature's answer over [start, end] depends on the live inputs (spells, people, departments,
cohorts, baselines, variants: the live revision) and on rollup rows of days up to ``end`` only:
the window, its 30 habit days, the baseline window, and every first use up to ``end``. On
PostgreSQL that rollup part is stamped by the feature's ``kpi_feature_months`` rows of the months
up to ``end``'s (how many, and the newest transaction that wrote one): a refresh rewrites the month
rows of every day it recomputes, and only a refresh of a day up to ``end`` can change a first use
up to ``end``. So a new day moves the key of the windows that reach its month and leaves every
earlier month's answer valid, in each process's memo and in the store. SQLite has no ``xmin``:
there the key is the KPI revision, as for every other read.

The store (``kpi_answers``) holds the answers of the months the dashboard and the board report
open on, computed by the ``precompute-kpis`` job (``app.services.kpi_reads.precompute``). A web
process's first read of one of them, after a refresh or in a new worker, is then one primary-key
read instead of seconds of rollup reads at 100,000 people; any other window is computed as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, select

from app.db import db
from app.models.kpi import FeatureMonth, KpiAnswer
from app.months import month_of
from app.services.kpi_reads import cache as kpi_cache
from app.services.kpi_reads.day_blocks import rows_stamp


@dataclass(frozen=True)
class Question:
    """A feature's window as a key: ``text`` names it and its inputs' stamp (the store's key);
    ``memo_version`` is the memo version it is remembered under."""

    text: str
    memo_version: str


def question(feature_id: int, start: date, end: date, group_by: str | None, version: str | None
             ) -> Question | None:
    """The key of a feature's answer over [start, end] as the inputs stand; None when nothing may
    be remembered (``version`` is None: this transaction holds uncommitted KPI writes).

    :param group_by: the API's breakdown, or what else is asked of the window (a dashboard
        page's answer: ``feature_pages``).
    :param version: ``kpi_cache.version()``, read by the caller.
    """
    if version is None:
        return None
    window = f"{feature_id}|{start.isoformat()}|{end.isoformat()}|{group_by or '-'}"
    if db.session.get_bind().dialect.name != "postgresql":
        return Question(f"{window}|R{kpi_cache.revision_of(version)}", version)
    live = kpi_cache.live_version()
    if live is None:
        return None
    month = month_of(end)
    # Probed once per KPI revision (a refresh moves it): ~2,000 rows of a feature's year.
    rows, newest = kpi_cache.cached(version, ("months_stamp", feature_id, month), lambda: rows_stamp(
        FeatureMonth.__tablename__, FeatureMonth.feature_id == feature_id, FeatureMonth.month <= month))
    return Question(f"{window}|L{kpi_cache.revision_of(live)}|M{rows}.{newest}", live)


def stored_text(asked: Question) -> str | None:
    """The text the store holds under ``asked``, or None."""
    return db.session.scalar(select(KpiAnswer.answer).where(KpiAnswer.question == asked.text))


def stored(asked: Question) -> dict | None:
    """The answer the store holds under ``asked``, or None."""
    text = stored_text(asked)
    return None if text is None else json.loads(text)


def stored_questions() -> set[str]:
    return set(db.session.scalars(select(KpiAnswer.question)))


def as_json(answer: dict) -> str | None:
    """The answer as JSON that reads back equal, or None when it cannot be (a NaN, an infinity:
    the API writes those as null, so that answer is not stored and is computed on each read)."""
    try:
        text = json.dumps(answer, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError):
        return None
    return text if json.loads(text) == answer else None


def store(asked: Question, feature_id: int, text: str) -> None:
    """Keep ``text`` (``as_json``) under ``asked`` (the caller's transaction commits it)."""
    db.session.merge(KpiAnswer(question=asked.text, feature_id=feature_id, answer=text))


def keep_only(questions: set[str]) -> int:
    """Drop every stored answer not under ``questions``; returns how many went."""
    gone = [q for q in stored_questions() if q not in questions]
    for i in range(0, len(gone), 500):
        db.session.execute(delete(KpiAnswer).where(KpiAnswer.question.in_(gone[i:i + 500])))
    return len(gone)
