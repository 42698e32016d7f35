"""Labelling review items, the reviewer's queue, and what a sample's labels add up to."""

from __future__ import annotations

from sqlalchemy import func, select

from app.db import db, utcnow
from app.errors import Collector, Conflict, NotFound
from app.kpi.review import cohens_kappa, reviewed_error_rate
from app.models import EVENT_TEXT_MAX, LABELS, Event, ReviewItem, ReviewLabel, ReviewSample
from app.models.review import CATEGORY_MAX
from app.plausible import text_problem
from app.services.audit import audit
from app.services.lookups import feature_by_key

NEEDS_CATEGORY = ("corrected", "wrong")


def _checked(label, category, fix) -> tuple[str | None, str | None]:
    """The category and fix to store (stripped category, fix as written), or ValidationFailed
    naming each bad field: labels outside the set, a fix on anything but ``corrected``."""
    problems = Collector()
    if label not in LABELS:
        problems.add("label", f"must be one of {', '.join(LABELS)}")
    if category is not None and (not isinstance(category, str) or len(category.strip()) > CATEGORY_MAX
                                 or text_problem(category)):
        problems.add("category", f"must be a text of at most {CATEGORY_MAX} characters")
    category = category.strip() or None if isinstance(category, str) else None
    if label in NEEDS_CATEGORY and category is None:
        problems.add("category", f"a {label} label needs a category (what kind of error)")
    if fix is not None and not isinstance(fix, str):
        problems.add("fix", "must be a text")
    elif isinstance(fix, str) and len(fix) > EVENT_TEXT_MAX:
        problems.add("fix", f"must be at most {EVENT_TEXT_MAX} characters")
    fix = fix if isinstance(fix, str) and fix.strip() else None
    if label == "corrected" and fix is None:
        problems.add("fix", "a corrected label needs the fixed version")
    elif label in LABELS and label != "corrected" and fix is not None:
        problems.add("fix", "only a corrected label carries a fix")
    problems.raise_if_any("invalid review label")
    return category, fix


def label_item(item_id: int, reviewer: str, label: str | None, category: str | None = None,
               fix: str | None = None) -> ReviewLabel:
    """Record (or change) ``reviewer``'s label of an item. The first reviewer labels round 1; a
    different reviewer labels round 2 on the items marked for a second review only.

    :raises NotFound: no such item. :raises ValidationFailed: naming the bad field.
    :raises Conflict: the item needs no (further) reviewer.
    """
    item = db.session.get(ReviewItem, item_id)
    if item is None:
        raise NotFound(f"no review item {item_id}")
    category, fix = _checked(label, category, fix)
    assert label is not None  # _checked refused anything outside LABELS
    labels = {lb.round: lb
              for lb in db.session.scalars(select(ReviewLabel).where(ReviewLabel.item_id == item.id))}
    mine = next((lb for lb in labels.values() if lb.reviewer == reviewer), None)
    before = None
    if mine is not None:
        before = {"label": mine.label, "category": mine.category}
        mine.label, mine.category, mine.fix, mine.labelled_at = label, category, fix, utcnow()
    elif 1 not in labels or (item.needs_second and 2 not in labels):
        mine = ReviewLabel(item_id=item.id, round=1 if 1 not in labels else 2, reviewer=reviewer,
                           label=label, category=category, fix=fix)
    else:
        raise Conflict(f"review item {item.id} is labelled already"
                       + ("" if item.needs_second else " and needs no second reviewer"))
    db.session.add(mine)
    db.session.flush()
    # The fix is a free text: the audit keeps the verdict, never the text.
    audit(reviewer, "review.label", "review_item", str(item.id), before,
          {"round": mine.round, "label": label, "category": category})
    return mine


def queue(sample_id: int, reviewer: str) -> list[ReviewItem]:
    """The items of a sample waiting for ``reviewer``: unlabelled ones, then those marked for a
    second review that someone else labelled first."""
    sample = db.session.get(ReviewSample, sample_id)
    if sample is None:
        raise NotFound(f"no review sample {sample_id}")
    items = list(db.session.scalars(select(ReviewItem).where(ReviewItem.sample_id == sample_id)
                                    .order_by(ReviewItem.id)))
    labelled: dict[int, dict[int, str]] = {}
    for item_id, round_, who in db.session.execute(
            select(ReviewLabel.item_id, ReviewLabel.round, ReviewLabel.reviewer)
            .join(ReviewItem, ReviewItem.id == ReviewLabel.item_id).where(ReviewItem.sample_id == sample_id)):
        labelled.setdefault(item_id, {})[round_] = who
    first = [i for i in items if i.id not in labelled]
    second = [i for i in items if i.needs_second and set(labelled.get(i.id, {})) == {1}
              and labelled[i.id][1] != reviewer]
    return first + second


def _labels_of(samples) -> tuple[list[str], list[tuple[str, str]]]:
    """First-round labels, and (round 1, round 2) pairs, of the items of the given samples query."""
    rows = db.session.execute(
        select(ReviewLabel.item_id, ReviewLabel.round, ReviewLabel.label)
        .join(ReviewItem, ReviewItem.id == ReviewLabel.item_id)
        .where(ReviewItem.sample_id.in_(samples)).order_by(ReviewLabel.item_id))
    by_item: dict[int, dict[int, str]] = {}
    for item_id, round_, label in rows:
        by_item.setdefault(item_id, {})[round_] = label
    firsts = [rounds[1] for rounds in by_item.values() if 1 in rounds]
    pairs = [(rounds[1], rounds[2]) for rounds in by_item.values() if 1 in rounds and 2 in rounds]
    return firsts, pairs


def sample_summary(sample_id: int) -> dict:
    """A sample's progress and figures: reviewed error rate with its interval, and kappa."""
    sample = db.session.get(ReviewSample, sample_id)
    if sample is None:
        raise NotFound(f"no review sample {sample_id}")
    firsts, pairs = _labels_of(select(ReviewSample.id).where(ReviewSample.id == sample.id))
    seconds = db.session.scalar(select(func.count()).select_from(ReviewItem).where(
        ReviewItem.sample_id == sample.id, ReviewItem.needs_second.is_(True)))
    return {"id": sample.id, "stage": sample.stage_position, "variant": sample.variant,
            "items": sample.size, "labelled": len(firsts), "second_reviews_due": seconds,
            "second_reviews_done": len(pairs), "created_by": sample.created_by,
            "created_at": sample.created_at.isoformat(), "seed": sample.seed,
            **reviewed_error_rate(firsts), "agreement": cohens_kappa(pairs)}


def reviewed_quality(feature_key: str, stage: int | None = None, variant: str | None = None) -> dict:
    """The reviewed error rate (with its interval) and the reviewers' kappa over every sample of a
    feature, or of one stage and variant: the quality figure beside the self-reported one."""
    feature = feature_by_key(feature_key)
    samples = select(ReviewSample.id).where(ReviewSample.feature_id == feature.id)
    if stage is not None:
        samples = samples.where(ReviewSample.stage_position == stage)
    if variant is not None:
        samples = samples.where(ReviewSample.variant == variant)
    firsts, pairs = _labels_of(samples)
    return {"feature": feature.key, "stage": stage, "variant": variant, **reviewed_error_rate(firsts),
            "agreement": cohens_kappa(pairs)}


def item_view(item: ReviewItem) -> dict:
    """An item as a reviewer sees it: the AI output, the user's own correction if any, and labels."""
    event = db.session.get(Event, item.event_id)
    if event is None:  # review_items.event_id is a foreign key: an item's event always exists
        raise NotFound(f"event {item.event_id} of review item {item.id}")
    labels = db.session.scalars(select(ReviewLabel).where(ReviewLabel.item_id == item.id)
                                .order_by(ReviewLabel.round))
    return {"id": item.id, "event_id": event.event_id, "task": event.task,
            "occurred_at": event.occurred_at.isoformat(), "department": item.department,
            "outcome": event.outcome, "output": event.output, "correction": event.correction,
            "model_version": event.model_version, "needs_second": item.needs_second,
            "labels": [{"round": lb.round, "reviewer": lb.reviewer, "label": lb.label,
                        "category": lb.category, "fix": lb.fix} for lb in labels]}

