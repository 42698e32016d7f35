"""The people side of a rollout: playbooks attached, training held and completed, action items.

Every function validates all of its input before writing anything, flushes, and never commits.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from app import plausible
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
from app.models.enablement import OWNER_MAX
from app.playbooks import Playbook, playbook_for
from app.services.audit import audit
from app.services.lookups import feature_by_key
from app.services.rollout import exposure

ACTION_STATUSES = ("open", "done", "dropped")


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
    return exposure.stage_audience(feature, position)


def _check_stage(feature: Feature, stage: object, problems: Collector) -> int | None:
    positions = [s.position for s in feature.stages]
    if isinstance(stage, bool) or not isinstance(stage, int) or stage not in positions:
        problems.add("stage", f"must be one of the feature's stages {positions}")
        return None
    return stage


def _parse_day(value: object, field: str, problems: Collector) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        problems.add(field, f"not a date (YYYY-MM-DD): {value!r}")
        return None
    if not 1900 <= day.year <= 2999:  # the years of app/months.py: no overflow in date arithmetic
        problems.add(field, "must be a date from 1900 to 2999")
        return None
    return day


def _parse_instant(value: object, field: str, problems: Collector) -> datetime | None:
    """An optional ISO 8601 instant with its offset, as UTC (years as ``_parse_day``)."""
    if value is None:
        return None
    try:
        instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        problems.add(field, f"not an ISO 8601 timestamp: {str(value)[:60]!r}")
        return None
    if instant.tzinfo is None:
        problems.add(field, "needs a UTC offset (e.g. Z)")
        return None
    if not 1900 <= instant.year <= 2999:
        problems.add(field, "must be from 1900 to 2999")
        return None
    return instant.astimezone(UTC)


def _attendees(feature: Feature, position: int | None, rows: object,
               problems: Collector) -> list[tuple[int, bool]]:
    """Validate attendee rows (``"p001"`` or ``{"person_id", "completed"}``) against the audience."""
    if not isinstance(rows, list):
        problems.add("attendees", "must be a list")
        return []
    if len(rows) > plausible.MAX_BATCH:
        problems.add("attendees", f"{len(rows):,} rows; at most {plausible.MAX_BATCH:,} at once")
        return []
    wanted: list[tuple[int, str, bool]] = []
    for i, row in enumerate(rows):
        spec = {"person_id": row} if isinstance(row, str) else row
        if not isinstance(spec, dict) or not isinstance(spec.get("person_id"), str):
            problems.add("person_id", "must be a person id", i)
            continue
        completed = spec.get("completed", True)
        if not isinstance(completed, bool):
            problems.add("completed", "must be true or false", i)
            continue
        wanted.append((i, spec["person_id"], completed))
    keys = {key for _, key, _ in wanted}
    ids = dict(db.session.execute(
        select(Person.person_id, Person.id).where(Person.person_id.in_(keys))).all()) if keys else {}
    audience = stage_audience(feature, position) if position is not None else set()
    out: dict[int, bool] = {}
    for i, key, completed in wanted:
        if key not in ids:
            problems.add("person_id", f"unknown person {key!r}", i)
        elif position is not None and ids[key] not in audience:
            problems.add("person_id", f"{key!r} is not in the audience of stage {position}", i)
        elif ids[key] in out:
            problems.add("person_id", f"{key!r} is listed twice", i)
        else:
            out[ids[key]] = completed
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
    starts_at = _parse_instant(spec.get("starts_at"), "starts_at", problems)
    if starts_at is not None and spec.get("held_on") is None:
        spec = {**spec, "held_on": starts_at.date().isoformat()}
    position = _check_stage(feature, spec.get("stage"), problems)
    title = spec.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.add("title", "is required")
    trainer = spec.get("trainer")
    if not isinstance(trainer, str) or not trainer.strip():
        problems.add("trainer", "is required")
    held_on = _parse_day(spec.get("held_on"), "held_on", problems)
    if starts_at is not None and held_on is not None and starts_at.date() != held_on:
        problems.add("starts_at", f"falls on {starts_at.date().isoformat()} (UTC), not on held_on")
    duration = spec.get("duration_minutes")
    if duration is not None and (
            isinstance(duration, bool) or not isinstance(duration, int) or duration <= 0):
        problems.add("duration_minutes", "must be a positive whole number")
    fmt = spec.get("format")
    if fmt is not None and not isinstance(fmt, str):
        problems.add("format", "must be a text")
    attendees = _attendees(feature, position, spec.get("attendees", []), problems)
    problems.raise_if_any("invalid training session")
    session = TrainingSession(feature_id=feature.id, stage_position=position, title=title.strip(),
                              format=fmt, trainer=trainer.strip(), held_on=held_on,
                              starts_at=starts_at, duration_minutes=duration)
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
    feature = db.session.get(Feature, session.feature_id)
    problems = Collector()
    attendees = _attendees(feature, session.stage_position, rows, problems)
    problems.raise_if_any("invalid attendance")
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


def _action_fields(spec: dict, problems: Collector, creating: bool) -> dict:
    out: dict = {}
    if "title" in spec or creating:
        title = spec.get("title")
        if not isinstance(title, str) or not title.strip():
            problems.add("title", "is required")
        else:
            out["title"] = title.strip()
    if "owner" in spec or creating:
        owner = spec.get("owner")
        if not isinstance(owner, str) or not owner.strip():
            problems.add("owner", "every action item needs an owner")
        elif len(owner.strip()) > OWNER_MAX:
            problems.add("owner", f"at most {OWNER_MAX} characters")
        else:
            out["owner"] = owner.strip()
    if "due_on" in spec or creating:
        out["due_on"] = _parse_day(spec.get("due_on"), "due_on", problems)
    if "status" in spec:
        if spec["status"] not in ACTION_STATUSES:
            problems.add("status", f"must be one of {', '.join(ACTION_STATUSES)}")
        else:
            out["status"] = spec["status"]
    return out


def create_action_item(feature_key: str, spec: dict, actor: str) -> ActionItem:
    """Add an action item: ``title``, ``owner`` and ``due_on`` (YYYY-MM-DD) are required."""
    feature = feature_by_key(feature_key)
    problems = Collector()
    fields = _action_fields(spec, problems, creating=True)
    problems.raise_if_any("invalid action item")
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
    problems = Collector()
    fields = _action_fields(spec, problems, creating=False)
    problems.raise_if_any("invalid action item")
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
