"""Exposure spells: who had which feature in production, from when to when.

A spell opens when a person enters a feature's live audience and closes when they leave it. The
audience is re-derived from scratch (cohorts of the live stages plus the percentage) and compared
with the open spells by set arithmetic, so the same call is right after a transition, a kill, a
cohort change or new people, and calling it twice changes nothing. A change back-dated to an
instant replays the spells from then on: the audience at that instant and at every later
transition or cohort change, each with the cohort membership as it stood then.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    and_,
    any_,
    bindparam,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import selectinload

from app.db import column_lists, db, is_postgresql
from app.kpi.exposure import exposed_between
from app.models import ExposureSpell, Feature, RolloutStage, RolloutTransition
from app.services.audience import membership
from app.services.audience.stages import People, live_cohort_ids, stage_audience

# Bound parameters per statement: well below SQLite's and PostgreSQL's limits.
CHUNK = 5000


def _chunks(values: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(values), CHUNK):
        yield values[i : i + CHUNK]


def _whose(person_ids: list[int]) -> Iterable[ColumnElement[bool] | None]:
    """Conditions that together select these people's spells. PostgreSQL takes them as one array
    parameter (``= ANY``): 40,000 ids in one statement, where an IN list of placeholders per
    chunk spent seconds in the driver's query rewriting; SQLite gets IN lists in chunks."""
    if is_postgresql():
        yield ExposureSpell.person_id == any_(bindparam("people", sorted(person_ids), type_=ARRAY(Integer)))
        return
    for group in _chunks(sorted(person_ids)):
        yield ExposureSpell.person_id.in_(group)


def _close(feature_id: int, person_ids: list[int], at: datetime, everyone: bool) -> None:
    open_spell = and_(ExposureSpell.feature_id == feature_id, ExposureSpell.end_at.is_(None))
    for whose in [None] if everyone else _whose(person_ids):
        where = open_spell if whose is None else and_(open_spell, whose)
        # A spell opened at or after ``at`` (a later people change, then a back-dated transition)
        # never held: drop it rather than leave a spell that ends before it starts.
        db.session.execute(
            delete(ExposureSpell).where(where, ExposureSpell.start_at >= at),
            execution_options={"synchronize_session": False},
        )
        db.session.execute(
            update(ExposureSpell).where(where).values(end_at=at),
            execution_options={"synchronize_session": False},
        )


def _open(feature_id: int, person_ids: list[int], at: datetime) -> None:
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # COPY on the session's own connection (same transaction): 100,000 rows in well under a
        # second, where an INSERT per row would take several.
        # One block of COPY text, not a row each (40,000 write_row calls took most of a second).
        naive_utc = at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
        block = "".join(f"{feature_id}\t{pid}\t{naive_utc}\n" for pid in sorted(person_ids))
        driver = connection.connection.driver_connection
        assert driver is not None, "a connection in use has its driver's connection"
        with driver.cursor() as cursor, cursor.copy(
            "COPY exposure_spells (feature_id, person_id, start_at) FROM STDIN"
        ) as copy:
            copy.write(block)
        return
    connection.execute(
        insert(ExposureSpell.__table__),
        [{"feature_id": feature_id, "person_id": pid, "start_at": at} for pid in sorted(person_ids)],
    )


def _rollout_at(feature: Feature, at: datetime, transitions: list[tuple]) -> tuple[int, bool]:
    """(stage, off) of the feature at the instant ``at``, from its transitions in order (off: killed
    or archived); from the last one on, the feature's own state (which is what it stands at now)."""
    if not transitions or at >= transitions[-1][0]:
        return feature.current_stage, feature.killed or feature.archived_at is not None
    stage, killed, archived = 0, False, False  # before its first transition a feature is off
    for effective_at, to_stage, killed_after, action in transitions:
        if effective_at > at:
            break
        stage, killed = to_stage, killed_after
        archived = action == "archive" or (archived and action != "unarchive")
    return stage, killed or archived


def _reopen_from(feature_id: int, since: datetime) -> None:
    """Forget what the spells say from ``since`` on: spells begun then or later go, and the spells
    holding at ``since`` are open again, to be closed by the replay."""
    spell = ExposureSpell
    db.session.execute(delete(spell).where(spell.feature_id == feature_id, spell.start_at >= since),
                       execution_options={"synchronize_session": False})
    db.session.execute(update(spell).where(spell.feature_id == feature_id, spell.end_at > since)
                       .values(end_at=None), execution_options={"synchronize_session": False})


def _replay(feature: Feature, since: datetime, people: People) -> None:
    """Re-derive the feature's spells from ``since`` on: its audience at ``since`` and at every
    later transition or change of its cohorts' membership, as the membership stood then."""
    rows = db.session.execute(
        select(RolloutTransition.effective_at, RolloutTransition.to_stage, RolloutTransition.killed_after,
               RolloutTransition.action)
        .where(RolloutTransition.feature_id == feature.id)
        .order_by(RolloutTransition.effective_at, RolloutTransition.id))
    transitions: list[tuple[datetime, int, bool, str]] = [
        (effective_at, to_stage, killed, action) for effective_at, to_stage, killed, action in rows]
    cohort_ids = live_cohort_ids(feature, len(feature.stages))
    later = sorted({t for t, *_ in transitions if t > since}
                   | set(membership.cohort_changes_after(cohort_ids, since)))
    _reopen_from(feature.id, since)
    holding = _holding(feature.id)
    for at in [since, *later]:
        stage, off = _rollout_at(feature, at, transitions)
        wanted = set() if off or stage <= 0 else stage_audience(feature, stage, people, at)
        leaving = holding - wanted
        if leaving:
            _close(feature.id, list(leaving), at, everyone=not wanted)
        joining = wanted - holding
        if joining:
            _open(feature.id, list(joining), at)
        holding = wanted


def audiences_changed(at: datetime, feature_ids: Iterable[int] | None = None,
                      segments_changed: bool = False) -> None:
    """Call after anything that can change who is in a feature's audience (a transition, a
    cohort's members, new people): re-derives the audiences of these features (all of them when
    None) from ``at`` on, as the rollout and the cohort membership stood at each instant, so the
    exposure spells open and close when the audience changed, and marks the flag payload changed.

    :param at: when the change took effect (timezone-aware; past or now).
    :param feature_ids: the features concerned; None for every feature.
    :param segments_changed: cohorts changed, so an external Unleash must hear of these features
        (always so when ``feature_ids`` is None; a transition queues its own sync).
    """
    db.session.flush()
    # Row locks (PostgreSQL) serialise concurrent recomputes of one feature, so two transactions
    # never both open a spell for the same person; id order keeps them free of deadlocks.
    query = (
        select(Feature)
        .options(selectinload(Feature.stages).selectinload(RolloutStage.cohorts))
        .with_for_update(of=Feature)
        .execution_options(populate_existing=True)
    )
    if feature_ids is not None:
        ids = list(feature_ids)
        query = query.where(Feature.id.in_(ids))
    membership.reconcile_cohorts(at)
    people = People()
    seen: list[int] = []
    for feature in db.session.scalars(query.order_by(Feature.id)):
        seen.append(feature.id)
        _replay(feature, at, people)
    from app.flags import payload_cache, sync  # the compiled payload reads cohorts and features too

    payload_cache.mark_changed()
    if (feature_ids is None or segments_changed) and seen:
        # A cohort or people change alters segments: an external Unleash must hear of it now,
        # not only at the next reconcile (a transition queues its own sync).
        sync.queue_sync(seen)


def _window(start: date | datetime, end: date | datetime) -> tuple[datetime, datetime]:
    # Calendar days are closed ranges [start, end]; instants are half-open [start, end).
    if not isinstance(start, datetime):
        start = datetime.combine(start, time())
    if not isinstance(end, datetime):
        end = datetime.combine(end + timedelta(days=1), time())
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    end = end if end.tzinfo else end.replace(tzinfo=UTC)
    return start, end


def _naive(moment: datetime) -> pd.Timestamp:
    return pd.Timestamp(moment.astimezone(UTC).replace(tzinfo=None))


def exposed_people(feature_id: int, start: date | datetime, end: date | datetime) -> set[int]:
    """Person row ids exposed to the feature at any instant of the window.

    :param start: first day (closed) or first instant.
    :param end: last day (closed) or the instant the window ends (exclusive).
    """
    lo, hi = _window(start, end)
    # The spells that may touch the window, read in SQL; who of them was exposed is the KPI
    # module's rule (app/kpi/exposure.py), the same the KPI windows apply.
    rows = db.session.execute(
        select(ExposureSpell.person_id, ExposureSpell.start_at, ExposureSpell.end_at).where(
            ExposureSpell.feature_id == feature_id, ExposureSpell.start_at < hi,
            or_(ExposureSpell.end_at.is_(None), ExposureSpell.end_at > lo))
    ).all()
    spells = pd.DataFrame(rows, columns=["person_id", "start_at", "end_at"])
    return exposed_between(spells, _naive(lo), _naive(hi))


def exposed_users(feature_id: int, start: date | datetime, end: date | datetime) -> int:
    """Number of distinct people exposed at any instant of the window (KPI ``exposed_users``)."""
    return len(exposed_people(feature_id, start, end))


def _holding(feature_id: int) -> set[int]:
    spells = ExposureSpell.__table__
    (holding,) = column_lists(
        select(spells.c.person_id).where(spells.c.feature_id == feature_id, spells.c.end_at.is_(None)))
    return set(holding)


def exposed_now(feature_id: int) -> int:
    """People holding an open spell of the feature."""
    return len(_holding(feature_id))
