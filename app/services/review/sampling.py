"""Drawing review samples: a random sample of a feature's AI outputs of one stage (and variant),
stratified by department, with a share of items marked for a second reviewer."""

from __future__ import annotations

import random
import secrets

from sqlalchemy import and_, select

from app.db import db
from app.errors import Collector, Conflict
from app.models import Department, DepartmentMembership, Event, Feature, ReviewItem, ReviewSample
from app.models.review import VARIANT_MAX
from app.playbooks import playbook_for
from app.playbooks.schema import ReviewPlan
from app.services.audience.membership import in_force
from app.services.audit import audit
from app.services.lookups import feature_by_key
from app.services.review.stages import bad_name, in_stage, stage_periods, transitions_of, variant_filter

MAX_SAMPLE = 10_000


def review_plan(feature: Feature, stage: int) -> ReviewPlan:
    """The stage's review plan from the feature's playbook (the defaults without one)."""
    if not feature.playbook_key:
        return ReviewPlan()
    return playbook_for(feature.playbook_key).stage(stage).review


def allocate(strata: dict[str | None, int], size: int) -> dict[str | None, int]:
    """Proportional allocation of ``size`` items over strata of the given sizes, by largest
    remainder (ties: the larger stratum, then by name), never more than a stratum holds."""
    total = sum(strata.values())
    if total <= size:
        return dict(strata)
    exact = {k: size * n / total for k, n in strata.items()}
    quota = {k: int(v) for k, v in exact.items()}
    left = size - sum(quota.values())
    order = sorted(strata, key=lambda k: (-(exact[k] - quota[k]), -strata[k], k or ""))
    for k in order[:left]:
        quota[k] += 1
    return quota


def _population(feature: Feature, stage: int, variant: str | None) -> dict[str | None, list[int]]:
    """Ids of the stage's reviewable AI events (with an output, not voided, never sampled before),
    by the department their person was in when the event happened."""
    periods = stage_periods(transitions_of(feature))
    sampled = select(ReviewItem.event_id).join(ReviewSample, ReviewSample.id == ReviewItem.sample_id) \
        .where(ReviewSample.feature_id == feature.id)
    conditions = [Event.feature_id == feature.id, Event.ai_assisted.is_(True), Event.voided_at.is_(None),
                  Event.output.is_not(None), in_stage(periods, stage), Event.id.not_in(sampled)]
    by_variant = variant_filter(variant)
    if by_variant is not None:
        conditions.append(by_variant)
    rows = db.session.execute(
        select(Event.id, Department.name)
        .outerjoin(DepartmentMembership, and_(DepartmentMembership.person_id == Event.person_id,
                                              in_force(DepartmentMembership, Event.occurred_at)))
        .outerjoin(Department, Department.id == DepartmentMembership.department_id)
        .where(*conditions).order_by(Event.id))
    strata: dict[str | None, list[int]] = {}
    seen: set[int] = set()
    for event_id, department in rows:
        if event_id not in seen:  # overlapping memberships must not double an event's chance
            seen.add(event_id)
            strata.setdefault(department, []).append(event_id)
    return strata


def _number_in(value, low: float, high: float, whole: bool = False) -> bool:
    kind = int if whole else int | float
    return not isinstance(value, bool) and isinstance(value, kind) and low <= value <= high


def draw_sample(feature_key: str, actor: str, stage: int | None = None, variant: str | None = None,
                size: int | None = None, second_share: float | None = None,
                seed: int | None = None) -> ReviewSample:
    """Draw a review sample of a feature's AI outputs.

    :param stage: the rollout stage whose outputs are sampled (default: the current one).
    :param variant: only outputs served by this variant (default: all).
    :param size: how many items (default: the playbook stage's ``review.sample_size``).
    :param second_share: the share of items a second reviewer labels too (default: the playbook's).
    :param seed: makes the draw repeatable (default: random).
    :raises ValidationFailed: a bad parameter, naming it. :raises Conflict: nothing left to review.
    """
    feature = feature_by_key(feature_key)
    problems = Collector()
    stage = feature.current_stage if stage is None else stage
    if not _number_in(stage, 1, max((s.position for s in feature.stages), default=0), whole=True):
        problems.add("stage", f"must be one of the feature's stages (1-{len(feature.stages)})")
    if variant is not None and bad_name(variant, VARIANT_MAX):
        problems.add("variant", f"must be a variant name of at most {VARIANT_MAX} characters")
    if size is not None and not _number_in(size, 1, MAX_SAMPLE, whole=True):
        problems.add("size", f"must be a whole number between 1 and {MAX_SAMPLE}")
    if second_share is not None and not _number_in(second_share, 0, 1):
        problems.add("second_share", "must be a number between 0 and 1")
    if seed is not None and not _number_in(seed, 0, 2**31 - 1, whole=True):
        problems.add("seed", "must be a whole number between 0 and 2147483647")
    problems.raise_if_any("invalid review sample")
    plan = review_plan(feature, stage)
    size = plan.sample_size if size is None else size
    second_share = plan.second_share if second_share is None else float(second_share)
    seed = secrets.randbelow(2**31) if seed is None else seed
    strata = _population(feature, stage, variant)
    if not strata:
        raise Conflict(f"feature {feature.key} has no unreviewed AI output at stage {stage}"
                       + (f" for variant {variant}" if variant else ""))
    rng = random.Random(seed)  # noqa: S311 - a sample, not a secret: repeatable from its seed
    quota = allocate({k: len(v) for k, v in strata.items()}, size)
    chosen = [(event_id, department) for department in sorted(strata, key=lambda k: k or "")
              for event_id in rng.sample(strata[department], quota[department])]
    second = set(rng.sample(range(len(chosen)), round(second_share * len(chosen))))
    sample = ReviewSample(feature_id=feature.id, stage_position=stage, variant=variant, size=len(chosen),
                          second_share=second_share, seed=seed, created_by=actor)
    db.session.add(sample)
    db.session.flush()
    db.session.add_all(ReviewItem(sample_id=sample.id, event_id=event_id, department=department,
                                  needs_second=i in second)
                       for i, (event_id, department) in enumerate(chosen))
    db.session.flush()
    audit(actor, "review.sample", "feature", feature.key, None,
          {"sample": sample.id, "stage": stage, "variant": variant, "items": len(chosen),
           "second_share": second_share, "seed": seed})
    return sample
