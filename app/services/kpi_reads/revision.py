"""The one revision every KPI cache keys on: a counter in the database that every commit writing
a KPI input (the rollups a refresh writes from the events, exposure, stages, cohorts, people and
departments, costs, baselines, feature terms, closes) bumps, so every process on every host sees a
change at its next read.

The bump is not left to each service: a session listener notes which tables a transaction wrote
(ORM flushes and ``session.execute`` of insert, update and delete statements alike) and bumps the
counter in that same transaction, just before it commits. It is the transaction's last write, so
the counter's row lock, which serialises concurrent bumps, is held only while committing and never
while waiting for another lock (no deadlock through it). A rolled-back transaction bumps nothing.
Writes through raw SQL text call ``touch()``.

Tables are KPI inputs unless listed in ``NOT_KPI_INPUTS``: a new table counts by default (at worst
a needless recompute), and the frequent writes that no KPI reads (SDK metrics, job runs, leader
heartbeats, the audit log) never invalidate the caches.

A second counter (row 2, migration 0019), the *live* revision, moves only when a KPI input other
than the rollups (``ROLLUP_TABLES``) is written. What a read takes besides the rollups (spells,
people, the department and cohort histories, and what follows from them alone) is remembered
under it, so a refresh-kpis run, which writes only rollups, leaves it warm: at 100,000 people
those parts were most of the first read after each refresh.
"""

from __future__ import annotations

from typing import cast

from flask import Flask
from sqlalchemy import CursorResult, event, select, update
from sqlalchemy.orm import Session, SessionTransaction

from app.db import db
from app.models.kpi import KpiRevision

NOT_KPI_INPUTS = frozenset({
    # Events (and their voids) reach KPI reads only through the refresh, which writes the rollups
    # and so bumps the revision then (the contract: reads reflect the last refresh). Counting them
    # here would drop every memo on each ingest batch, keeping busy systems' caches always cold.
    "events",
    # The refresh's own bookkeeping (its watermark, the dirty days it absorbed): a refresh that
    # found nothing new writes only these, and must not drop every memo (it runs every 5 minutes).
    "kpi_refresh_state",
    # Answers computed from the inputs (app/services/kpi_reads/answers.py), like a memo entry.
    "kpi_answers",
    "kpi_revision", "kpi_dirty_days", "users", "api_tokens", "feedback", "playbook_runs",
    "training_sessions", "attendance", "action_items", "gate_evaluations", "drift_checks",
    "job_runs", "audit_log", "sdk_instances", "flag_metrics", "flag_variant_metrics", "metric_buckets",
    "rejected_fetches",
    "flag_syncs", "flag_revisions", "apscheduler_jobs", "scheduler_leaders", "connectors",
    "connector_watermarks", "connector_files", "alert_channels",
})
# What a refresh writes: derived from the events, read only through the rollup reads.
ROLLUP_TABLES = frozenset({
    "kpi_activity_days", "kpi_feature_days", "kpi_feature_months", "kpi_first_use",
    "kpi_monthly_closes",
})
_CHANGED = "kpi_inputs_changed"  # key in Session.info: this transaction wrote a KPI input
_LIVE_CHANGED = "kpi_live_inputs_changed"  # ... and one that is not a rollup
ALL, LIVE = 1, 2  # the rows of kpi_revision


def current(row: int = ALL) -> int | None:
    """The revision (``LIVE``: the live inputs' one) as this transaction sees it (one primary-key
    read); None when this transaction itself has written KPI inputs not yet committed (nothing it
    reads may be remembered for others)."""
    revision = db.session.scalar(select(KpiRevision.revision).where(KpiRevision.id == row))
    if db.session.info.get(_CHANGED):  # the read above flushed whatever was pending
        return None
    return 0 if revision is None else int(revision)


def touch(session: Session | None = None, live: bool = True) -> None:
    """Note that this transaction changed KPI inputs by a path the listener cannot see (raw SQL);
    ``live=False`` when they were rollups only."""
    info = (session or db.session).info
    info[_CHANGED] = True
    if live:
        info[_LIVE_CHANGED] = True


def bump(session: Session, live: bool = True) -> None:
    """Add one to the revision, and to the live one when ``live`` (creating a row a database
    lacks)."""
    for row in (ALL, LIVE) if live else (ALL,):
        result = cast(CursorResult, session.execute(update(KpiRevision).where(KpiRevision.id == row)
                                                    .values(revision=KpiRevision.revision + 1)))
        if result.rowcount == 0:
            session.add(KpiRevision(id=row, revision=1))
            session.flush()


def _is_input(table_name: str | None) -> bool:
    return table_name is not None and table_name not in NOT_KPI_INPUTS


def _note(session: Session, table_name: str | None) -> None:
    if _is_input(table_name):
        touch(session, live=table_name not in ROLLUP_TABLES)


def _after_flush(session: Session, _context) -> None:
    if session.info.get(_LIVE_CHANGED):
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        _note(session, getattr(getattr(obj, "__table__", None), "name", None))


def _do_orm_execute(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        _note(state.session, getattr(table, "name", None))


def _before_commit(session: Session) -> None:
    session.flush()  # commit flushes after this hook: see the pending writes now
    if session.info.pop(_CHANGED, False):
        bump(session, live=bool(session.info.pop(_LIVE_CHANGED, False)))


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost one: committed (bumped) or rolled back
        session.info.pop(_CHANGED, None)
        session.info.pop(_LIVE_CHANGED, None)


def init_app(_app: Flask) -> None:
    """Install the listeners (once per process, whatever the number of apps)."""
    for name, listener in (("after_flush", _after_flush), ("do_orm_execute", _do_orm_execute),
                           ("before_commit", _before_commit),
                           ("after_transaction_end", _after_transaction_end)):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
