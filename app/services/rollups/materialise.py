"""Materialise the KPI rollups from the events, in SQL (no Python loop per event).

Exposure is not part of any rollup (the KPI reads take it from the exposure spells), so only the
(feature, day) pairs touched by new events, and department sums after people move, are redone.
An event counts for the department its person held at the end of the event's day (UTC): the
recorded history, joined in SQL (``department_on``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Date,
    String,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by

from app.db import db, utcnow
from app.kpi.quality import ERROR_OUTCOMES
from app.models import DepartmentMembership, Event, Feature
from app.models.kpi import (
    SUM_COLUMNS,
    ActivityDay,
    DirtyDay,
    FeatureDay,
    FeatureMonth,
    FirstUse,
    RefreshState,
)
from app.months import month_of
from app.services.audience import membership
from app.services.rollups import rebuild as rollup_rebuild
from app.services.rollups.department_at import department_on, next_day  # noqa: F401  (callers found them here)


@dataclass
class RefreshResult:
    events_read: int
    rows_written: int
    days_recomputed: int
    full: bool


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _day(column):
    # SQLite keeps naive-UTC timestamps as text; date() cuts the day. PostgreSQL casts.
    return func.date(column) if _dialect() == "sqlite" else cast(column, Date)


def _month(column):
    if _dialect() == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def _event_sums() -> list:
    """The rollup's sum columns as SQL aggregates over ``events``, in SUM_COLUMNS order."""
    ai, manual = Event.ai_assisted == true(), Event.ai_assisted == false()
    err = Event.outcome.in_(ERROR_OUTCOMES)
    ok, aband = Event.outcome != "abandoned", Event.outcome == "abandoned"
    timed = Event.duration_seconds.is_not(None)
    priced = Event.cost_eur.is_not(None)
    minutes = Event.duration_seconds / 60.0

    def count(cond):
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    def total(cond, expr):
        return func.coalesce(func.sum(case((cond, expr), else_=0.0)), 0.0)

    return [
        count(ai), count(and_(ai, err)), count(and_(ai, ok)), count(and_(ai, ok, timed)),
        total(and_(ai, ok, timed), minutes), total(and_(ai, ok, timed), minutes * minutes),
        count(and_(ai, aband, timed)), total(and_(ai, aband, timed), minutes),
        total(and_(ai, aband, timed), minutes * minutes),
        count(manual), count(and_(manual, err)), count(and_(manual, ok)),
        count(and_(manual, timed)), total(and_(manual, timed), minutes),
        total(and_(manual, timed), minutes * minutes),
        count(and_(ai, priced)), total(and_(ai, priced), Event.cost_eur),
    ]


def _rebuild_activity(feature_id: int | None, lo: date | None, hi: date | None) -> int:
    """Recompute kpi_activity_days for one feature's days [lo, hi] (everything when None)."""
    where_days: list[ColumnElement[bool]] = []
    where_events: list[ColumnElement[bool]] = [Event.voided_at.is_(None)]  # a voided event counts nowhere
    if feature_id is not None:
        assert lo is not None and hi is not None, "a feature's rebuild names its days"
        where_days += [ActivityDay.feature_id == feature_id, ActivityDay.day.between(lo, hi)]
        where_events += [Event.feature_id == feature_id,
                         Event.occurred_at >= datetime.combine(lo, datetime.min.time()),
                         Event.occurred_at < datetime.combine(hi + timedelta(days=1),
                                                              datetime.min.time())]
    db.session.execute(delete(ActivityDay).where(*where_days))
    day = _day(Event.occurred_at)
    source = (
        select(Event.feature_id, day, Event.person_id, Event.task, *_event_sums(),
               func.min(case((Event.ai_assisted == true(), Event.occurred_at), else_=None)))
        .where(*where_events)
        .group_by(Event.feature_id, day, Event.person_id, Event.task)
        # In primary-key order: the index then grows at its right edge instead of taking ~10^7
        # random insertions (and the sorted GROUP BY needs no hash table of every group).
        .order_by(Event.feature_id, day, Event.person_id, Event.task)
    )
    columns = ["feature_id", "day", "person_id", "task", *SUM_COLUMNS, "ai_first_at"]
    result = db.session.execute(insert(ActivityDay).from_select(columns, source))
    if isinstance(result, CursorResult) and result.rowcount is not None and result.rowcount >= 0:
        return result.rowcount
    # Some drivers report no rowcount for INSERT ... SELECT: count afterwards.
    return db.session.scalar(select(func.count()).select_from(ActivityDay).where(*where_days)) or 0


Ranges = list[tuple[int, date, date]] | None  # (feature, first day, last day); None: everything


def _in_ranges(feature, day, ranges: list[tuple[int, Any, Any]] | None) -> list[ColumnElement[bool]]:
    """The condition of rows of those features' days or months (none: every row)."""
    if ranges is None:
        return []
    return [or_(*[and_(feature == feature_id, day.between(lo, hi)) for feature_id, lo, hi in ranges])]


def _rebuild_feature_days(ranges: Ranges) -> None:
    """Re-sum kpi_feature_days (per department) from the activity rows of those features' days, in
    one statement: the department history is hashed once, not once per feature (~40 ms each at
    100,000 people)."""
    db.session.execute(delete(FeatureDay).where(*_in_ranges(FeatureDay.feature_id, FeatureDay.day, ranges)))
    department = func.coalesce(DepartmentMembership.department_id, literal(0))
    sums = [func.sum(getattr(ActivityDay, name)) for name in SUM_COLUMNS]
    source = (
        select(ActivityDay.feature_id, ActivityDay.day, department, ActivityDay.task,
               _month(ActivityDay.day), *sums)
        .select_from(ActivityDay)
        .outerjoin(DepartmentMembership,
                   department_on(ActivityDay.person_id, ActivityDay.day, _dialect()))
        .where(*_in_ranges(ActivityDay.feature_id, ActivityDay.day, ranges))
        .group_by(ActivityDay.feature_id, ActivityDay.day, department, ActivityDay.task)
    )
    columns = ["feature_id", "day", "department_id", "task", "month", *SUM_COLUMNS]
    db.session.execute(insert(FeatureDay).from_select(columns, source))


def _rebuild_feature_months(ranges: Ranges) -> None:
    """Re-sum kpi_feature_months for the months holding those features' days."""
    months = None if ranges is None else [(f, month_of(lo), month_of(hi)) for f, lo, hi in ranges]
    db.session.execute(delete(FeatureMonth).where(
        *_in_ranges(FeatureMonth.feature_id, FeatureMonth.month, months)))
    source = (
        select(FeatureDay.feature_id, FeatureDay.month, FeatureDay.department_id, FeatureDay.task,
               *[func.sum(getattr(FeatureDay, name)) for name in SUM_COLUMNS])
        .where(*_in_ranges(FeatureDay.feature_id, FeatureDay.month, months))
        .group_by(FeatureDay.feature_id, FeatureDay.month, FeatureDay.department_id, FeatureDay.task)
    )
    columns = ["feature_id", "month", "department_id", "task", *SUM_COLUMNS]
    db.session.execute(insert(FeatureMonth).from_select(columns, source))


def _merge_first_use(feature_id: int | None, lo: date | None, hi: date | None) -> None:
    """Move each person's first AI use earlier where the recomputed days hold an earlier one."""
    where: list[ColumnElement[bool]] = [ActivityDay.ai_first_at.is_not(None)]
    if feature_id is not None:
        where += [ActivityDay.feature_id == feature_id, ActivityDay.day.between(lo, hi)]
    earliest_of_days = (select(ActivityDay.feature_id, ActivityDay.person_id,
                               func.min(ActivityDay.ai_first_at).label("first_ai_at"))
                        .where(*where).group_by(ActivityDay.feature_id, ActivityDay.person_id).subquery())
    # Only the first uses that are new or move earlier reach the upsert: ON CONFLICT ... WHERE locks
    # (writes to) every conflicting row even when it leaves it unchanged, and a new day's people
    # mostly used the feature before (1.7 s of a 150,000-event day at 100,000 people).
    source = (select(earliest_of_days.c.feature_id, earliest_of_days.c.person_id,
                     earliest_of_days.c.first_ai_at)
              .outerjoin(FirstUse, and_(FirstUse.feature_id == earliest_of_days.c.feature_id,
                                        FirstUse.person_id == earliest_of_days.c.person_id))
              .where(or_(FirstUse.person_id.is_(None),
                         earliest_of_days.c.first_ai_at < FirstUse.first_ai_at)))
    if _dialect() == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert

        earliest: Any = func.least  # a SQL function either way; SQLAlchemy types the two apart
    else:
        # The same insert ... on conflict of SQLite's dialect; its stubs type it as another class.
        from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]

        earliest = func.min
    stmt = upsert(FirstUse).from_select(["feature_id", "person_id", "first_ai_at"], source)
    stmt = stmt.on_conflict_do_update(
        index_elements=["feature_id", "person_id"],
        set_={"first_ai_at": earliest(FirstUse.first_ai_at, stmt.excluded.first_ai_at)},
        # Only the first uses that move (the source holds no others; a concurrent writer aside).
        where=stmt.excluded.first_ai_at < FirstUse.first_ai_at,
    )
    db.session.execute(stmt)


def _restore_voided_first_uses(feature_id: int, lo: date, hi: date) -> None:
    """A first use that was a voided event moves later (or goes): recompute, from the events still
    counted, the first uses in [lo, hi] that fall on the instant of a voided AI event of that person.
    Only voids can move a first use later, so nothing else needs this (and ingestion-only days find
    no such row)."""
    start = datetime.combine(lo, datetime.min.time())
    stop = datetime.combine(hi + timedelta(days=1), datetime.min.time())
    suspects = list(db.session.scalars(
        select(FirstUse.person_id).distinct()
        .join(Event, and_(Event.feature_id == FirstUse.feature_id, Event.person_id == FirstUse.person_id,
                          Event.occurred_at == FirstUse.first_ai_at))
        # The days' range on the events' side too (equal by the join): the planner then walks
        # ix_events_feature_occurred over those days, not every event of the feature (8 s of a
        # day's refresh at 100,000 people).
        .where(FirstUse.feature_id == feature_id, FirstUse.first_ai_at >= start,
               FirstUse.first_ai_at < stop, Event.feature_id == feature_id, Event.occurred_at >= start,
               Event.occurred_at < stop, Event.voided_at.is_not(None), Event.ai_assisted == true())))
    for i in range(0, len(suspects), 1000):
        chunk = suspects[i:i + 1000]
        db.session.execute(delete(FirstUse).where(FirstUse.feature_id == feature_id,
                                                  FirstUse.person_id.in_(chunk)))
        source = (select(Event.feature_id, Event.person_id, func.min(Event.occurred_at))
                  .where(Event.feature_id == feature_id, Event.person_id.in_(chunk),
                         Event.ai_assisted == true(), Event.voided_at.is_(None))
                  .group_by(Event.feature_id, Event.person_id))
        db.session.execute(insert(FirstUse).from_select(["feature_id", "person_id", "first_ai_at"], source))


def people_fingerprint() -> str:
    """A hash of the recorded department history (a change in it moves the department sums).

    PostgreSQL hashes it in the database (sha256 of one string of every interval): the rows
    through Python took ~1 s of each refresh at 100,000 people. Its value differs from the
    Python one, so the first refresh after this change re-sums the department rollups once.
    """
    dm = DepartmentMembership
    if _dialect() == "postgresql":
        def text_of(column):
            return func.coalesce(cast(column, String), "None")

        interval = func.concat_ws(":", dm.person_id, dm.department_id, text_of(dm.valid_from),
                                  text_of(dm.valid_to))
        separator = aggregate_order_by(literal(";"), dm.person_id, dm.valid_from.is_not(None), dm.valid_from,
                                       dm.id)
        whole = func.coalesce(func.string_agg(interval, separator), "")
        return db.session.execute(
            select(func.encode(func.sha256(func.convert_to(whole, "UTF8")), "hex"))).scalar_one()
    rows = db.session.execute(select(dm.person_id, dm.department_id, dm.valid_from, dm.valid_to)
                              .order_by(dm.person_id, dm.valid_from.is_not(None), dm.valid_from, dm.id))
    digest = hashlib.sha256()
    for person, department, valid_from, valid_to in rows:
        digest.update(f"{person}:{department}:{valid_from}:{valid_to};".encode())
    return digest.hexdigest()


def _ranges(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days [(first, last), ...]."""
    out: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if out and day == out[-1][1] + timedelta(days=1):
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


def _as_date(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _clear_dirty(read: list[tuple[int, date, int]]) -> None:
    """Forget the dirty days absorbed, unless a batch touched them again since they were read."""
    key = tuple_(DirtyDay.feature_id, DirtyDay.day, DirtyDay.version)
    for i in range(0, len(read), 1000):  # one statement per thousand, not one per day
        db.session.execute(delete(DirtyDay).where(key.in_(read[i:i + 1000])))


def _touched_days(state: RefreshState) -> dict[int, set[date]]:
    """Per feature, the days to recompute: marked dirty by ingestion, or holding events
    ingested after the last run by any other path."""
    per_feature: dict[int, set[date]] = {}
    for feature_id, day, _ in _dirty():
        per_feature.setdefault(feature_id, set()).add(_as_date(day))
    feature_ids = list(db.session.scalars(select(Feature.id)))
    day = _day(Event.occurred_at)
    late = db.session.execute(
        select(Event.feature_id, day)
        .where(Event.feature_id.in_(feature_ids), Event.ingested_at > state.watermark)
        .group_by(Event.feature_id, day)
    ).all() if feature_ids else []
    for feature_id, touched_day in late:
        per_feature.setdefault(feature_id, set()).add(_as_date(touched_day))
    return per_feature


def _dirty() -> list[tuple[int, date, int]]:
    return [(feature_id, day, version) for feature_id, day, version in db.session.execute(
        select(DirtyDay.feature_id, DirtyDay.day, DirtyDay.version))]


def _events_on(feature_id: int, lo: date, hi: date) -> tuple[int, int]:
    """The feature's events on the days [lo, hi] that count (not voided), and its voided AI events
    there: only those can move a first use later (``_restore_voided_first_uses``), so a day
    without any skips that probe (~30 ms a feature at 100,000 people). One scan for both."""
    counted = func.count().filter(Event.voided_at.is_(None))
    voided_ai = func.count().filter(Event.voided_at.is_not(None), Event.ai_assisted == true())
    n, voided = db.session.execute(select(counted, voided_ai).where(
        Event.feature_id == feature_id,
        Event.occurred_at >= datetime.combine(lo, datetime.min.time()),
        Event.occurred_at < datetime.combine(hi + timedelta(days=1), datetime.min.time()))).one()
    return int(n or 0), int(voided or 0)


# Day ranges summed by one statement: a refresh after a day touches one range per feature, a late
# batch a few; a backfill of years is cut so no statement grows without bound.
_RANGES_A_STATEMENT = 200

# The PostgreSQL advisory lock that lets one refresh run at a time (any fixed 64-bit number).
REFRESH_LOCK = 0x4C4946544F4B5049  # "LIFTOKPI"


def _one_refresh_at_a_time() -> None:
    """Wait until no other refresh runs, then hold that until this transaction ends.

    Two refreshes at once would both delete and re-insert the same rollup rows (a duplicate key)
    and both create the first refresh state. PostgreSQL: a transaction-level advisory lock, freed
    by the commit or rollback. SQLite has one writer at a time: the first statement here is a write,
    so the database's write lock is taken before anything is read; another refresh (or any writer)
    waits for it up to the busy timeout (10 s) and then fails cleanly, having written nothing.
    """
    if _dialect() == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(REFRESH_LOCK)))
    else:
        db.session.execute(update(RefreshState).where(RefreshState.id == 1).values(id=RefreshState.id))


def refresh(full: bool = False) -> RefreshResult:
    """Bring the rollups up to the events ingested so far; ``full`` rebuilds everything.

    Only the (feature, day) pairs with events ingested since the last run are recomputed, so a
    rerun with nothing new changes nothing. One refresh runs at a time, across processes: a second
    one waits for the first to commit, then finds (nearly) nothing left to do.
    """
    _one_refresh_at_a_time()
    started = utcnow()
    if _dialect() == "postgresql":
        # Grouping millions of rows spills to disk with the default 4 MB of sort memory.
        db.session.execute(db.text("SET LOCAL work_mem = '256MB'"))
    # Read anew: a state this session loaded before the lock was waited for may be stale.
    state = db.session.get(RefreshState, 1, populate_existing=True)
    # Departments written outside the people service; the full rebuild's second connection cannot
    # see them before this transaction commits, so its department sums are redone here then.
    reconciled = membership.reconcile_departments(started)
    fingerprint = people_fingerprint()
    dirty = _dirty()
    if full or state is None:
        if _dialect() == "postgresql":
            # TRUNCATE is far cheaper than deleting millions of rows one by one.
            db.session.execute(db.text(
                "TRUNCATE kpi_activity_days, kpi_feature_days, kpi_feature_months, kpi_first_use"))
            written = rollup_rebuild.rebuild_all(_event_sums(), lambda: _rebuild_activity(None, None, None))
            if reconciled:
                _rebuild_feature_days(None)
        else:
            db.session.execute(delete(FirstUse))
            written = _rebuild_activity(None, None, None)
            _rebuild_feature_days(None)
            _merge_first_use(None, None, None)
        _rebuild_feature_months(None)
        # Every event lands in exactly one AI or manual count: no second pass over the events.
        events_read = int(db.session.scalar(select(func.coalesce(
            func.sum(FeatureMonth.ai_tasks + FeatureMonth.manual_tasks), 0))) or 0)
        days = 0
        full = True
    else:
        per_feature = _touched_days(state)
        written = days = events_read = 0
        ranges = [(feature_id, lo, hi) for feature_id, feature_days in sorted(per_feature.items())
                  for lo, hi in _ranges(list(feature_days))]
        for feature_id, lo, hi in ranges:
            days += (hi - lo).days + 1
            counted, voided_ai = _events_on(feature_id, lo, hi)
            events_read += counted
            written += _rebuild_activity(feature_id, lo, hi)
            if voided_ai:
                _restore_voided_first_uses(feature_id, lo, hi)
            _merge_first_use(feature_id, lo, hi)
        if fingerprint == state.people_fingerprint:
            for i in range(0, len(ranges), _RANGES_A_STATEMENT):
                _rebuild_feature_days(ranges[i:i + _RANGES_A_STATEMENT])
                _rebuild_feature_months(ranges[i:i + _RANGES_A_STATEMENT])
        else:
            _rebuild_feature_days(None)
            _rebuild_feature_months(None)
    _clear_dirty(dirty)
    if state is None:
        state = RefreshState(id=1, watermark=started, people_fingerprint=fingerprint)
        db.session.add(state)
    state.watermark, state.refreshed_at, state.people_fingerprint = started, utcnow(), fingerprint
    db.session.flush()
    return RefreshResult(events_read=events_read, rows_written=written, days_recomputed=days,
                         full=full)
