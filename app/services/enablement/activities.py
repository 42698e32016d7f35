"""The people side of a rollout: playbooks attached, training held and completed, action items.

Every function validates all of its input before writing anything, flushes, and never commits.
"""

from __future__ import annotations

from sqlalchemy import select

from app.db import db, utcnow
from app.errors import Collector, Detail, NotFound, ValidationFailed
from app.models import (
    ActionItem,
    Attendance,
    Cohort,
    Feature,
    Person,
    PlaybookRun,
    TrainingSession,
)
from app.playbooks import Playbook, playbook_for
from app.schemas.common import parse, refuse, validate, validate_rows
from app.schemas.enablement import (
    ActionItemIn,
    ActionItemPatch,
    AttendeeIn,
    TrainingIn,
    bare_id,
)
from app.services.audience import stages
from app.services.audit import audit
from app.services.lookups import feature_by_key


def playbook_of(feature: Feature) -> Playbook:
    """The feature's attached playbook.

    :raises ValidationFailed: when none is attached.
    """
    if not feature.playbook_key:
        raise ValidationFailed(f"feature {feature.key} has no playbook attached",
                               [Detail("playbook", "attach one first")])
    return playbook_for(feature.playbook_key)


def check_playbook_cohorts(playbook: Playbook) -> None:
    """Every cohort a playbook's trainings name must exist.

    :raises ValidationFailed: naming the file, line and field of each unknown cohort.
    """
    problems = Collector()
    known = set(db.session.scalars(select(Cohort.key)))
    for i, stage in enumerate(playbook.stages):
        for j, training in enumerate(stage.trainings):
            if training.cohort_key is not None and training.cohort_key not in known:
                problems.add(f"stages[{i}].trainings[{j}].audience",
                             f"{playbook.path} line {training.line}: unknown cohort {training.cohort_key!r}")
    problems.raise_if_any(f"invalid playbook {playbook.path}")


def attach_playbook(feature_key: str, playbook_key: str, actor: str) -> PlaybookRun:
    """Attach a playbook to a feature (ending the run of the previous one, if any).

    :param feature_key: the feature.
    :param playbook_key: a file ``playbooks/<key>.yaml``; validated, with its cohorts.
    :param actor: who attaches it, for the audit trail.
    """
    feature = feature_by_key(feature_key)
    playbook = playbook_for(playbook_key)
    check_playbook_cohorts(playbook)
    now = utcnow()
    previous = feature.playbook_key
    for run in db.session.scalars(select(PlaybookRun).where(
            PlaybookRun.feature_id == feature.id, PlaybookRun.ended_at.is_(None))):
        run.ended_at = now
    run = PlaybookRun(feature_id=feature.id, playbook_key=playbook.key, started_at=now)
    feature.playbook_key = playbook.key
    db.session.add(run)
    audit(actor, "playbook.attach", "feature", feature.key, {"playbook": previous},
          {"playbook": playbook.key})
    return run


def stage_audience(feature: Feature, position: int) -> set[int]:
    """Ids of the people in the audience of rollout stage ``position`` (the rollout's own
    definition: cumulative cohorts plus the stage's percentage, as Unleash picks them)."""
    return stages.stage_audience(feature, position)


def _attendees(feature: Feature, position: int | None, rows: list[tuple[int, AttendeeIn]],
               problems: Collector) -> list[tuple[int, bool]]:
    """Judge parsed attendee rows against the stage's audience: each person known, in the
    audience, listed once (named by the row's index)."""
    keys = {row.person_id for _, row in rows}
    ids = dict(db.session.execute(
        select(Person.person_id, Person.id).where(Person.person_id.in_(keys))).all()) if keys else {}
    audience = stage_audience(feature, position) if position is not None else set()
    out: dict[int, bool] = {}
    for i, row in rows:
        key = row.person_id
        if key not in ids:
            problems.add("person_id", f"unknown person {key!r}", i)
        elif position is not None and ids[key] not in audience:
            problems.add("person_id", f"{key!r} is not in the audience of stage {position}", i)
        elif ids[key] in out:
            problems.add("person_id", f"{key!r} is listed twice", i)
        else:
            out[ids[key]] = row.completed
    return list(out.items())


def record_training(feature_key: str, spec: dict, actor: str) -> TrainingSession:
    """Record a training session held for a stage, with its attendees.

    :param spec: ``stage`` (position), ``title``, ``held_on`` (YYYY-MM-DD), ``trainer``,
        ``starts_at``? (ISO 8601 with an offset: a session scheduled at a time of day; its UTC
        date must be ``held_on``, which it gives when ``held_on`` is absent), ``format``?,
        ``duration_minutes``?, ``attendees``: person ids or ``{"person_id", "completed"}`` -- each
        must be in the stage's audience (a scheduled session may have none yet).
    """
    feature = feature_by_key(feature_key)
    problems = Collector()
    positions = [s.position for s in feature.stages]
    training = validate(TrainingIn, spec, problems, context={"stages": positions})
    position, attendees = None, []
    held_on = None
    if training is not None:
        position = training.stage
        attendees = _attendees(feature, position, list(enumerate(training.attendees)), problems)
        held_on = training.held_on or (training.starts_at.date() if training.starts_at else None)
        if held_on is None:
            problems.add("held_on", "is required (or starts_at, whose UTC date it is)")
    elif isinstance(spec, dict) and type(spec.get("stage")) is int and spec["stage"] in positions \
            and isinstance(spec.get("attendees"), list):
        # Another field is bad: the attendees are still judged against the audience, so every
        # problem is named at once (a malformed row is the model's problem, reported already).
        rows = validate_rows(AttendeeIn, [bare_id(r) for r in spec["attendees"]], Collector())
        attendees = _attendees(feature, spec["stage"], rows, problems)
    refuse(problems, "invalid training session")
    assert training is not None  # refuse raised otherwise
    session = TrainingSession(feature_id=feature.id, stage_position=position, title=training.title,
                              format=training.format, trainer=training.trainer, held_on=held_on,
                              starts_at=training.starts_at, duration_minutes=training.duration_minutes)
    session.attendance = [Attendance(person_id=pid, completed=done) for pid, done in attendees]
    db.session.add(session)
    db.session.flush()
    audit(actor, "training.record", "feature", feature.key, None,
          {"session": session.id, "stage": position, "attendees": len(attendees)})
    return session


def record_attendance(session_id: int, rows: list, actor: str) -> TrainingSession:
    """Add or update attendance of a session (``completed`` may change later).

    :param rows: person ids or ``{"person_id", "completed"}``; each must be in the stage's audience.
    """
    session = db.session.get(TrainingSession, session_id)
    if session is None:
        raise NotFound(f"no training session {session_id}")
    feature = db.session.get_one(Feature, session.feature_id)  # a session's feature (a foreign key)
    problems = Collector()
    parsed = validate_rows(AttendeeIn, [bare_id(r) for r in rows] if isinstance(rows, list) else rows,
                           problems)
    attendees = _attendees(feature, session.stage_position, parsed, problems)
    refuse(problems, "invalid attendance")
    existing = {a.person_id: a for a in session.attendance}
    for pid, done in attendees:
        if pid in existing:
            existing[pid].completed = done
        else:
            session.attendance.append(Attendance(person_id=pid, completed=done))
    db.session.flush()
    audit(actor, "training.attendance", "feature", feature.key, None,
          {"session": session.id, "rows": len(attendees)})
    return session


def training_completion(feature: Feature, position: int) -> tuple[int, int]:
    """(people of the stage's audience who completed a training of this or an earlier stage,
    size of the audience)."""
    audience = stage_audience(feature, position)
    completed = set(db.session.scalars(
        select(Attendance.person_id).join(TrainingSession).where(
            TrainingSession.feature_id == feature.id,
            TrainingSession.stage_position <= position,
            Attendance.completed.is_(True))))
    return len(audience & completed), len(audience)


def list_trainings(feature_key: str) -> list[TrainingSession]:
    feature = feature_by_key(feature_key)
    return list(db.session.scalars(select(TrainingSession).where(
        TrainingSession.feature_id == feature.id).order_by(TrainingSession.held_on, TrainingSession.id)))


def create_action_item(feature_key: str, spec: dict, actor: str) -> ActionItem:
    """Add an action item: ``title``, ``owner`` and ``due_on`` (YYYY-MM-DD) are required."""
    feature = feature_by_key(feature_key)
    action = parse(ActionItemIn, spec, "invalid action item")
    fields = action.model_dump(include={"title", "owner", "due_on"} | action.given())
    item = ActionItem(feature_id=feature.id, **fields)
    db.session.add(item)
    db.session.flush()
    audit(actor, "action_item.create", "feature", feature.key, None, {"id": item.id, **fields})
    return item


def update_action_item(item_id: int, spec: dict, actor: str) -> ActionItem:
    """Change an action item's ``title``, ``owner``, ``due_on`` or ``status`` (open|done|dropped)."""
    item = db.session.get(ActionItem, item_id)
    if item is None:
        raise NotFound(f"no action item {item_id}")
    change = parse(ActionItemPatch, spec, "invalid action item")
    fields = change.model_dump(include=change.given())
    before = {k: getattr(item, k) for k in fields}
    for key, value in fields.items():
        setattr(item, key, value)
    db.session.flush()
    audit(actor, "action_item.update", "action_item", str(item.id), before, fields)
    return item


def list_action_items(feature_key: str) -> list[ActionItem]:
    feature = feature_by_key(feature_key)
    return list(db.session.scalars(select(ActionItem).where(ActionItem.feature_id == feature.id)
                                   .order_by(ActionItem.due_on, ActionItem.id)))
