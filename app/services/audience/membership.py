"""Membership as it stood: the history of cohort members and of people's departments.

Both are intervals [valid_from, valid_to): a null ``valid_from`` reaches back to the beginning (so an
instant before the first recorded membership sees the first one), a null ``valid_to`` holds still.
``cohort_members`` and ``people.department_id`` stay the state now (the open intervals); flag
compilation and other "now" reads use them. Functions flush and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import DateTime, and_, delete, exists, func, insert, or_, select, type_coerce, update
from sqlalchemy.orm import aliased

from app.db import db
from app.errors import Detail, ValidationFailed
from app.models import (
    Cohort,
    CohortMember,
    CohortMembership,
    Department,
    DepartmentMembership,
    Person,
)

_CHUNK = 500  # ids per IN (...), well under every driver's parameter limit


def in_force(model, instant):
    """SQL: the ``model`` interval holds at ``instant`` (a datetime or a SQL expression)."""
    return and_(or_(model.valid_from.is_(None), model.valid_from <= instant),
                or_(model.valid_to.is_(None), model.valid_to > instant))


def parse_effective_at(raw: object, now: datetime, field: str = "effective_at") -> datetime:
    """An ``effective_at`` value (ISO 8601 with an offset, past or now) as an aware datetime;
    ``now`` when absent. Raises ValidationFailed (422) naming the field otherwise."""
    if raw is None:
        return now
    if isinstance(raw, datetime):
        parsed = raw
    else:
        try:
            if not isinstance(raw, str):
                raise ValueError
            parsed = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise ValidationFailed("invalid effective_at", [
                Detail(field, f"not an ISO 8601 timestamp: {raw!r}")]) from None
    if parsed.tzinfo is None:
        raise ValidationFailed("invalid effective_at", [Detail(field, "needs a UTC offset (e.g. Z)")])
    if parsed > now:
        raise ValidationFailed("invalid effective_at", [Detail(field, "must not be in the future")])
    return parsed.astimezone(UTC)


def _chunks(values: Sequence[int]) -> Iterable[list[int]]:
    values = list(values)
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


# --- departments ----------------------------------------------------------------------------------

def record_department_moves(moves: dict[int, int | None], at: datetime) -> None:
    """Start each moved person's new department at ``at`` (``moves``: person row id -> department
    id, None for none). Call after ``people.department_id`` holds the new values."""
    dm = DepartmentMembership
    with_history: set[int] = set()
    for chunk in _chunks(sorted(moves)):
        # An interval begun at this very instant (or later) is superseded, not closed.
        db.session.execute(delete(dm).where(dm.person_id.in_(chunk), dm.valid_from >= at),
                           execution_options={"synchronize_session": False})
        db.session.execute(update(dm).where(dm.person_id.in_(chunk), dm.valid_to.is_(None))
                           .values(valid_to=at), execution_options={"synchronize_session": False})
        with_history.update(db.session.scalars(select(dm.person_id).where(dm.person_id.in_(chunk))))
    rows = [{"person_id": pid, "department_id": department_id, "valid_from": at}
            for pid, department_id in sorted(moves.items())
            if department_id is not None and pid in with_history]
    if rows:
        db.session.execute(insert(dm), rows)
    record_first_departments()


def record_first_departments() -> None:
    """People with a department and no recorded department at all: that first department holds
    since the beginning (new people, and the department-less people events created)."""
    dm = DepartmentMembership
    source = (select(Person.id, Person.department_id)
              .where(Person.department_id.is_not(None), ~exists().where(dm.person_id == Person.id))
              .order_by(Person.id))
    # Only when someone lacks one: an empty insert would still count as a write of the history
    # (the live KPI revision, kpi_reads/revision.py), and every refresh runs this.
    if db.session.scalar(select(source.exists())):
        db.session.execute(insert(dm).from_select(["person_id", "department_id"], source))
    db.session.flush()


def reconcile_departments(at: datetime) -> bool:
    """Record, at ``at``, department changes written straight to ``people`` (not through the
    people service: scripts, old data): a first department holds since the beginning, a move
    from ``at`` on. Returns whether anything was recorded."""
    dm, any_interval = DepartmentMembership, aliased(DepartmentMembership)
    drifted = db.session.execute(
        select(Person.id, Person.department_id)
        .join(dm, and_(dm.person_id == Person.id, dm.valid_to.is_(None)), isouter=True)
        .where(exists().where(any_interval.person_id == Person.id))
        .where(or_(and_(dm.id.is_(None), Person.department_id.is_not(None)),
                   and_(dm.id.is_not(None), or_(Person.department_id.is_(None),
                                                Person.department_id != dm.department_id))))).all()
    before = db.session.scalar(select(func.count()).select_from(dm))
    record_department_moves({int(pid): dept for pid, dept in drifted}, at)
    return bool(drifted) or db.session.scalar(select(func.count()).select_from(dm)) != before


def department_history() -> pd.DataFrame:
    """Every recorded interval: person_id, department (name), department_id, rate (None: the
    organisation default), valid_from, valid_to (naive UTC; NaT for since / still)."""
    dm = DepartmentMembership
    # Core rows with the instants as stored (naive UTC, made UTC below), not ORM rows converting
    # each value: 10^5 rows at 100,000 people took seconds.
    result = db.session.connection().execute(
        select(dm.person_id, Department.name, dm.department_id, Department.hourly_rate_eur,
               type_coerce(dm.valid_from, DateTime), type_coerce(dm.valid_to, DateTime))
        .join(Department, Department.id == dm.department_id).order_by(dm.person_id, dm.id))
    frame = pd.DataFrame([tuple(row) for row in result], columns=[
        "person_id", "department", "department_id", "rate", "valid_from", "valid_to"])
    return _naive(frame)


# --- cohorts --------------------------------------------------------------------------------------

def replace_cohort_members_from(cohort: Cohort, person_ids: Sequence[int], at: datetime,
                                created: bool) -> None:
    """Make the cohort's recorded members exactly ``person_ids`` from ``at`` on, superseding what
    was recorded for later instants; before ``at`` the history stays as it was.

    :param created: the cohort is new (this is its first recorded membership).
    """
    cm = CohortMembership
    wanted = list(dict.fromkeys(person_ids))
    first = cohort.history_from
    if created or (first is not None and at <= first):
        # The first recorded membership: it holds since the beginning.
        db.session.execute(delete(cm).where(cm.cohort_id == cohort.id),
                           execution_options={"synchronize_session": False})
        if wanted:
            db.session.execute(insert(cm), [{"cohort_id": cohort.id, "person_id": pid} for pid in wanted])
        cohort.history_from = at
        db.session.flush()
        return
    db.session.execute(delete(cm).where(cm.cohort_id == cohort.id, cm.valid_from >= at),
                       execution_options={"synchronize_session": False})
    covering = dict(db.session.execute(
        select(cm.person_id, cm.id).where(cm.cohort_id == cohort.id, in_force(cm, at))).all())
    keep = [covering[pid] for pid in wanted if pid in covering]
    leave = [iid for pid, iid in covering.items() if pid not in set(wanted)]
    for chunk in _chunks(keep):
        db.session.execute(update(cm).where(cm.id.in_(chunk)).values(valid_to=None),
                           execution_options={"synchronize_session": False})
    for chunk in _chunks(leave):
        db.session.execute(update(cm).where(cm.id.in_(chunk)).values(valid_to=at),
                           execution_options={"synchronize_session": False})
    joining = [{"cohort_id": cohort.id, "person_id": pid, "valid_from": at}
               for pid in wanted if pid not in covering]
    if joining:
        db.session.execute(insert(cm), joining)
    db.session.flush()


def reconcile_cohorts(at: datetime) -> None:
    """Record, at ``at``, membership written straight to ``cohort_members`` (not through the people
    service: scripts, old data). A cohort with no history at all gets its members since the
    beginning, as the migration recorded the cohorts it found."""
    cm, now_members = CohortMembership, CohortMember
    unrecorded = select(Cohort.id).where(Cohort.history_from.is_(None),
                                         ~exists().where(cm.cohort_id == Cohort.id))
    fresh = set(db.session.scalars(unrecorded))
    if fresh:
        db.session.execute(insert(cm).from_select(
            ["cohort_id", "person_id"],
            select(now_members.cohort_id, now_members.person_id)
            .where(now_members.cohort_id.in_(fresh))
            .order_by(now_members.cohort_id, now_members.person_id)))
    open_interval = and_(cm.cohort_id == now_members.cohort_id, cm.person_id == now_members.person_id,
                         cm.valid_to.is_(None))
    joined = db.session.execute(select(now_members.cohort_id, now_members.person_id)
                                .where(~exists().where(open_interval))).all()
    if joined:
        db.session.execute(insert(cm), [{"cohort_id": c, "person_id": p, "valid_from": at}
                                        for c, p in joined])
    member = and_(now_members.cohort_id == cm.cohort_id, now_members.person_id == cm.person_id)
    left = list(db.session.scalars(select(cm.id).where(cm.valid_to.is_(None), ~exists().where(member))))
    for chunk in _chunks(left):
        db.session.execute(delete(cm).where(cm.id.in_(chunk), cm.valid_from >= at),
                           execution_options={"synchronize_session": False})
        db.session.execute(update(cm).where(cm.id.in_(chunk)).values(valid_to=at),
                           execution_options={"synchronize_session": False})
    db.session.flush()


def cohort_members_at(cohort_ids: Iterable[int], at: datetime) -> set[int]:
    """Person row ids who were members of any of these cohorts at the instant ``at``."""
    ids = list(cohort_ids)
    if not ids:
        return set()
    cm = CohortMembership
    return set(db.session.scalars(select(cm.person_id).where(cm.cohort_id.in_(ids), in_force(cm, at))))


def cohort_changes_after(cohort_ids: Iterable[int], after: datetime) -> list[datetime]:
    """The instants after ``after`` at which the membership of any of these cohorts changed."""
    ids = list(cohort_ids)
    if not ids:
        return []
    cm = CohortMembership
    instants: set[datetime] = set()
    for column in (cm.valid_from, cm.valid_to):
        instants.update(db.session.scalars(select(column).distinct()
                                           .where(cm.cohort_id.in_(ids), column > after)))
    return sorted(instants)


def cohort_history() -> pd.DataFrame:
    """Every recorded cohort interval: cohort (key), person_id, valid_from, valid_to (naive UTC;
    NaT for since / still); every cohort key is listed in ``attrs["keys"]``."""
    cm = CohortMembership
    rows = db.session.execute(
        select(Cohort.key, cm.person_id, cm.valid_from, cm.valid_to)
        .join(Cohort, Cohort.id == cm.cohort_id).order_by(Cohort.key, cm.person_id, cm.id)).all()
    frame = _naive(pd.DataFrame([tuple(r) for r in rows],
                                columns=["cohort", "person_id", "valid_from", "valid_to"]))
    frame.attrs["keys"] = list(db.session.scalars(select(Cohort.key).order_by(Cohort.key)))
    return frame


def history_stamp() -> tuple:
    """A cheap fingerprint of both histories and of the department rates: any write changes it
    (an insert raises a count or the last id, closing or reopening an interval moves its ends)."""
    stamp: list[tuple] = []
    for model in (DepartmentMembership, CohortMembership):
        stamp.append(tuple(str(v) for v in db.session.execute(select(
            func.count(), func.max(model.id), func.count(model.valid_to), func.max(model.valid_to),
            func.max(model.valid_from))).one()))
    stamp.append(tuple(tuple(r) for r in db.session.execute(
        select(Department.id, Department.hourly_rate_eur).order_by(Department.id))))
    return tuple(stamp)


def _naive(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("valid_from", "valid_to"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_localize(None)
    return frame
