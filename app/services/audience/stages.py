"""Whom a rollout stage reaches: its cohorts and those of the stages before it, plus its
percentage of everybody, bucketed as the Unleash SDKs bucket them (app/flags/stickiness.py).

The one definition of a stage's audience: the exposure spells (rollout/exposure.py), the impact of
a change before it is made, the training audience (enablement/) and the dashboard all read it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.db import column_lists, db
from app.flags.stickiness import buckets
from app.models import CohortMember, Feature, Person
from app.services.audience import membership


class People:
    """Everybody's (row id, person_id), loaded once per recompute and only if a percentage needs it."""

    def __init__(self) -> None:
        self._rows: list[tuple[int, str]] | None = None
        self._buckets: dict[str, list[float]] = {}

    @property
    def rows(self) -> list[tuple[int, str]]:
        if self._rows is None:
            people = Person.__table__
            ids, person_ids = column_lists(select(people.c.id, people.c.person_id))
            self._rows = list(zip(ids, person_ids, strict=True))
        return self._rows

    def buckets(self, feature_key: str) -> list[float]:
        """Everybody's flexibleRollout bucket for the feature (in ``rows`` order), hashed once."""
        if feature_key not in self._buckets:
            self._buckets[feature_key] = list(buckets(feature_key, (uid for _, uid in self.rows)))
        return self._buckets[feature_key]


def live_cohort_ids(feature: Feature, through: int) -> set[int]:
    """Ids of the cohorts of stages 1 to ``through`` (the cohorts of a stage stay in later ones)."""
    return {c.id for s in feature.stages if s.position <= through for c in s.cohorts}


def stage_audience(feature: Feature, position: int, people: People | None = None,
                   at: datetime | None = None) -> set[int]:
    """Person row ids in the audience of stage ``position`` (cumulative cohorts plus its percentage).

    :param feature: the feature, with its stages.
    :param position: 1-based stage; 0 means off (nobody).
    :param at: the instant whose cohort membership counts; None for the membership now.
    """
    live = [s for s in feature.stages if 0 < s.position <= position]  # in position order
    if not live:
        return set()
    # As flag compilation reads it: a position past the last stage row (a feature loaded with a
    # current stage but fewer stages) is the last stage up to it, not an error on every page.
    stage = live[-1]
    audience: set[int] = set()
    cohort_ids = live_cohort_ids(feature, position)
    if cohort_ids and at is None:
        audience.update(
            db.session.scalars(
                select(CohortMember.person_id).where(CohortMember.cohort_id.in_(cohort_ids))
            )
        )
    elif cohort_ids and at is not None:
        audience.update(membership.cohort_members_at(cohort_ids, at))
    if stage.percentage >= 100:
        audience.update(pid for pid, _ in (people or People()).rows)
    elif stage.percentage > 0:
        people = people or People()
        cut = stage.percentage
        audience.update(pid for (pid, _), b in zip(people.rows, people.buckets(feature.key), strict=True)
                        if b <= cut)
    return audience


def production_audience(feature: Feature, people: People | None = None) -> set[int]:
    """Who has the feature in production right now: nobody when it is killed, off or archived."""
    if feature.killed or feature.current_stage <= 0 or feature.archived_at is not None:
        return set()
    return stage_audience(feature, feature.current_stage, people)
