""""Who gets it?": whether one person has a feature in production at an instant, and why.

The answer is derived the way the flag payload decides it (app/flags/compile.py): off when the
feature is archived, killed or not started; else on when the person is in a cohort of any stage
reached so far (a segment strategy at 100 %), else on when their ``flexibleRollout`` bucket
(app/flags/stickiness.py, the SDK's own hash) is within the current stage's percentage. For a past
instant the rollout is replayed from the transitions and the cohort membership is read as it
stood then, as the exposure spells are (app/services/rollout/exposure.py). Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from app.db import db, utcnow
from app.errors import Detail, NotFound, ValidationFailed
from app.flags.stickiness import bucket
from app.models import Cohort, CohortMember, CohortMembership, Feature, Person, RolloutTransition
from app.services.audience.membership import in_force
from app.services.rollout import transitions as rollout


@dataclass(frozen=True)
class Answer:
    """Whether ``person_id`` has the feature at ``at``, and the rule that decided it.

    ``rule`` is one of ``archived``, ``killed``, ``off`` (not started or rolled back to off),
    ``cohort`` (``cohort`` of stage ``stage_name`` lets them in), ``percentage`` (their ``bucket``
    is within ``percentage``), ``outside`` (no cohort of theirs, bucket above the percentage).
    """

    feature: str
    person_id: str
    person_name: str
    at: datetime
    on: bool
    rule: str
    stage: int
    stage_name: str | None
    cohort: str | None
    cohort_stage: str | None
    bucket: int
    percentage: int

    @property
    def why(self) -> str:
        """The decision in one sentence, naming the stage, cohort or bucket."""
        stage = f"stage {self.stage_name!r} ({self.stage})" if self.stage_name else f"stage {self.stage}"
        if self.rule == "archived":
            return "Off: the feature is archived (off for everyone)."
        if self.rule == "killed":
            return f"Off: the feature is killed (kill switch on, at {stage})."
        if self.rule == "off":
            return "Off: the rollout has not started (or was rolled back to off)."
        if self.rule == "cohort":
            return (f"On: member of cohort {self.cohort!r}, included since stage {self.cohort_stage!r} "
                    f"(now at {stage}).")
        if self.rule == "percentage":
            return (f"On: bucket {self.bucket} of 100 is within the {self.percentage} % of {stage} "
                    "(sticky on the person id).")
        pct = (f"bucket {self.bucket} of 100 is above the {self.percentage} % of {stage}"
               if self.percentage else f"{stage} adds no percentage of everyone")
        return f"Off: in no cohort of the stages reached, and {pct}."


def _rollout_at(feature: Feature, at: datetime) -> tuple[int, bool, bool]:
    """(stage, killed, archived) at ``at``, replayed from the transitions in effect order."""
    rows = db.session.execute(
        select(RolloutTransition.effective_at, RolloutTransition.to_stage, RolloutTransition.killed_after,
               RolloutTransition.action)
        .where(RolloutTransition.feature_id == feature.id)
        .order_by(RolloutTransition.effective_at, RolloutTransition.id)).all()
    if not rows or at >= rows[-1][0]:
        return feature.current_stage, feature.killed, feature.archived_at is not None
    stage, killed, archived = 0, False, False  # before its first transition a feature is off
    for effective_at, to_stage, killed_after, action in rows:
        if effective_at > at:
            break
        stage, killed = to_stage, killed_after
        archived = action == "archive" or (archived and action != "unarchive")
    return stage, killed, archived


def _cohorts_of(person: Person, cohort_ids: list[int], at: datetime | None) -> set[int]:
    """The cohorts among ``cohort_ids`` the person belongs to now (``at`` None) or at ``at``."""
    if not cohort_ids:
        return set()
    if at is None:
        query = select(CohortMember.cohort_id).where(CohortMember.person_id == person.id,
                                                     CohortMember.cohort_id.in_(cohort_ids))
    else:
        query = select(CohortMembership.cohort_id).where(
            CohortMembership.person_id == person.id, CohortMembership.cohort_id.in_(cohort_ids),
            in_force(CohortMembership, at))
    return set(db.session.scalars(query))


def person_options(search: str | None = None, limit: int = 50) -> list[dict]:
    """People for a searchable picker, by name: ``[{"label": "Name (E1001)", "value": "E1001"}]``;
    ``search`` matches the name or the id (case-insensitive). Erased people are left out."""
    query = select(Person.person_id, Person.name).where(Person.erased_at.is_(None))
    if search and search.strip():
        needle = f"%{search.strip().lower()}%"
        query = query.where(func.lower(Person.name).like(needle) | func.lower(Person.person_id).like(needle))
    rows = db.session.execute(query.order_by(Person.name, Person.person_id).limit(limit)).all()
    return [{"label": f"{name or pid} ({pid})", "value": pid} for pid, name in rows]


def explain(key: str, person_id: str, at: datetime | None = None) -> Answer:
    """Whether the person has the feature in production at ``at`` (now when None), and why.

    :raises NotFound: no such feature or person.
    :raises ValidationFailed: ``at`` without a UTC offset, or in the future.
    """
    now = utcnow()
    if at is not None:
        if at.tzinfo is None:
            raise ValidationFailed("invalid instant", [Detail("at", "needs a UTC offset (e.g. Z)")])
        at = at.astimezone(UTC)
        if at > now:
            raise ValidationFailed("invalid instant", [Detail("at", "must not be in the future")])
    feature = rollout._load(key)
    person = db.session.scalar(select(Person).where(Person.person_id == person_id))
    if person is None:
        raise NotFound(f"no person {person_id!r}")
    stage, killed, archived = (feature.current_stage, feature.killed, feature.archived_at is not None) \
        if at is None else _rollout_at(feature, at)
    live = [s for s in feature.stages if 0 < s.position <= stage]
    stage_name = live[-1].name if live else None
    percentage = live[-1].percentage if live else 0
    person_bucket = bucket(feature.key, person.person_id)

    def answer(on: bool, rule: str, cohort: Cohort | None = None, cohort_stage: str | None = None) -> Answer:
        return Answer(feature=feature.key, person_id=person.person_id, person_name=person.name or "",
                      at=at or now, on=on, rule=rule, stage=stage, stage_name=stage_name,
                      cohort=cohort.key if cohort else None, cohort_stage=cohort_stage,
                      bucket=person_bucket, percentage=percentage)

    if archived:
        return answer(False, "archived")
    if killed:
        return answer(False, "killed")
    if not live:
        return answer(False, "off")
    theirs = _cohorts_of(person, [c.id for s in live for c in s.cohorts], at)
    for s in live:  # the earliest stage that let them in
        for cohort in s.cohorts:
            if cohort.id in theirs:
                return answer(True, "cohort", cohort, s.name)
    if percentage > 0 and person_bucket <= percentage:
        return answer(True, "percentage")
    return answer(False, "outside")
