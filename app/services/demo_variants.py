"""The demo's variant experiment: Engineering's code-review assistant runs two models side by side,
a large one and a cheaper small one, and the split moves towards the small one as its error rate
holds up. Told through the same services as the dashboard and the API (actor ``seed``), relative
to the history's last day, so that the Compare variants page has a real decision to show: the
small model costs a quarter per review at about the same error rate, and saves a little less time.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from app.db import db
from app.models import Feature, Person
from app.services.ingest import events
from app.services.kpi_reads import variant_exposure
from app.services.people import directory as people
from app.services.rollout import transitions as rollout
from app.services.rollout import variants

KEY = "code-review-assistant"
ACTOR = "seed"
LARGE, SMALL = "large-model", "small-model"
# Per variant: share of the manual time an AI-assisted review takes, error rate, cost per review (€).
# The error rates are exact (every n-th review errs, see _events), so the decision the page shows
# does not flip with the day the seed runs: the small model errs a little less often than the large
# one, costs a quarter, and saves a little less time.
BEHAVIOUR = {LARGE: (0.60, 0.06, 0.08), SMALL: (0.66, 0.055, 0.02)}
MANUAL_ERROR_RATE = 0.07
MANUAL_MINUTES = 20.0


def _at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def tell(engineering: list[Person], start: date, last_day: date) -> int:
    """Create the feature with its two variants (50/50 from its launch, 30/70 three weeks before the
    last day) and its review events; the number of events. Flushed, never committed."""
    launch, reweight = last_day - timedelta(days=56), last_day - timedelta(days=21)
    people.replace_cohort_members([{"cohort_key": "engineering", "cohort_name": "All of Engineering",
                                    "person_id": p.person_id} for p in engineering], effective_at=_at(start))
    rollout.create_feature({
        "key": KEY, "name": "Code review assistant", "baseline_days": 28,
        "description": "Reviews pull requests before a colleague does; a review takes about 20 minutes "
                       "by hand. Two models run side by side.",
        "estimated_minutes_saved": 7.0, "per_event_cost_eur": 0.0,
        "stages": [{"name": "All of Engineering", "cohorts": ["engineering"], "percentage": 0}],
    }, ACTOR)
    rollout.advance(KEY, ACTOR, reason="engineering-wide launch", effective_at=_at(launch))
    variants.define(KEY, {
        "variants": [{"name": LARGE, "weight": 50, "cost_per_task_eur": BEHAVIOUR[LARGE][2],
                      "payload": {"vendor": "openai", "model": "large", "prompt_version": 3}},
                     {"name": SMALL, "weight": 50, "cost_per_task_eur": BEHAVIOUR[SMALL][2],
                      "payload": {"vendor": "mistral", "model": "small", "prompt_version": 3}}],
        "rule": {"control": LARGE, "max_error_rate_increase": 0.03, "objective": "cost_per_task"},
        "reason": "try a model at a quarter of the cost on half of Engineering",
    }, ACTOR, _at(launch))
    variants.define(KEY, {
        "variants": [{"name": LARGE, "weight": 30, "cost_per_task_eur": BEHAVIOUR[LARGE][2],
                      "payload": {"vendor": "openai", "model": "large", "prompt_version": 3}},
                     {"name": SMALL, "weight": 70, "cost_per_task_eur": BEHAVIOUR[SMALL][2],
                      "payload": {"vendor": "mistral", "model": "small", "prompt_version": 3}}],
        "reason": "small model's error rate holds up after five weeks: move more people to it",
    }, ACTOR, _at(reweight))
    db.session.flush()
    feature = db.session.scalar(select(Feature).where(Feature.key == KEY))
    assert feature is not None
    split = variant_exposure.splits(feature)
    assert split is not None
    return _events(engineering, split, start, launch, last_day)


def _events(team: list[Person], split: variant_exposure.Splits, start: date, launch: date,
            last_day: date) -> int:
    """Reviews on working days, by hand before the launch; afterwards most are AI-assisted within
    two weeks, but one engineer in eight never takes it up. One AI event in three names its variant
    (as an SDK reports it); one in ten carries its own metered cost. Seeded: the same every time."""
    rng = random.Random(KEY)
    rows, day = [], start
    done: dict[str | None, int] = {}
    while day <= last_day:
        if day.weekday() < 5:
            for i, person in enumerate(team):
                for n in range(rng.randint(1, 3)):
                    at = _at(day, 9 + 3 * n)
                    uptake = min(0.8, max(0.0, (day - launch).days / 14)) if i % 8 != 3 else 0.0
                    ai = day >= launch and rng.random() < uptake
                    name = split.variant(person.person_id, at) if ai else None
                    share, rate, cost = BEHAVIOUR[name] if name else (1.0, MANUAL_ERROR_RATE, 0.0)
                    k = done[name] = done.get(name, 0) + 1
                    # The k-th task errs when the running count of errors at this rate steps up.
                    erred = int(k * rate) > int((k - 1) * rate)
                    row = {"event_id": f"{KEY}-{person.person_id}-{day:%Y%m%d}-{n}", "feature": KEY,
                           "person_id": person.person_id, "occurred_at": at.isoformat(),
                           "task": "code-review",
                           "ai_assisted": ai,
                           "duration_seconds": round(MANUAL_MINUTES * share * rng.uniform(0.8, 1.2) * 60, 1),
                           "outcome": "error" if erred else "success"}
                    if name and rng.random() < 1 / 3:
                        row["variant"] = name
                    if name and rng.random() < 0.1:
                        row["cost_eur"] = round(cost * rng.uniform(0.5, 2.0), 4)
                    rows.append(row)
        day += timedelta(days=1)
    for first in range(0, len(rows), 5000):
        events.ingest_events(rows[first:first + 5000], source="seed")
    return len(rows)
