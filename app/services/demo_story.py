"""The demo's story, told on top of the seeded history through the same services as the dashboard:
a feature mid-rollout with its playbook, trainings, pulse feedback and open action items; one held
by a failing gate; and the closed months of the features at their last stage.

Every instant is relative to the data's last day (the day before ``liftoff seed`` ran, once the
history is moved there), so the story is always recent. Told once: a second seed finds it told.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from app.db import db
from app.errors import LiftoffError
from app.models import Department, Feature, Person
from app.services import demo_variants
from app.services.enablement import activities
from app.services.ingest import activity, events
from app.services.ingest.feedback import record_feedback
from app.services.people import directory as people
from app.services.reporting import closes
from app.services.rollout import gates
from app.services.rollout import transitions as rollout

ACTOR = "seed"
PLAYBOOK = "pilot-feedback-loop"
# The feature in the middle of its rollout, and the one its gate holds back.
ROLLING = "campaign-brief-assistant"
HELD = "contract-summary-assistant"


@dataclass
class Story:
    features: list[str]
    trainings: int = 0
    feedback: int = 0
    action_items: int = 0
    closed_months: tuple[str, ...] = ()
    gates: dict[str, bool] = field(default_factory=dict)
    variant_events: int = 0

    def lines(self) -> list[str]:
        gates_text = ", ".join(f"{k}: {'passed' if v else 'failed'}" for k, v in self.gates.items())
        return [f"story: {', '.join(self.features)} with the {PLAYBOOK} playbook; "
                f"{self.trainings} trainings, {self.feedback} feedback items, "
                f"{self.action_items} open action items; gates {gates_text}; "
                f"months closed: {', '.join(self.closed_months) or 'none'}",
                f"variants: {demo_variants.KEY} runs {demo_variants.LARGE} and {demo_variants.SMALL} "
                f"({self.variant_events} reviews)"]


def _at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def _department(name: str) -> list[Person]:
    return list(db.session.scalars(select(Person).join(Department, Person.department_id == Department.id)
                                   .where(Department.name == name).order_by(Person.person_id)))


def _cohort(key: str, name: str, members: list[Person], at: datetime) -> None:
    people.replace_cohort_members([{"cohort_key": key, "cohort_name": name, "person_id": p.person_id}
                                   for p in members], effective_at=at)


def _feature(key: str, name: str, description: str, team: str, pilot: str, task_minutes: float) -> None:
    rollout.create_feature({
        "key": key, "name": name, "description": description, "baseline_days": 28,
        "estimated_minutes_saved": round(task_minutes * 0.35, 1), "per_event_cost_eur": 0.02,
        "stages": [{"name": "Pilot kick-off", "cohorts": [pilot], "percentage": 0},
                   {"name": "Pilot in daily use", "cohorts": [pilot], "percentage": 0},
                   {"name": f"All of {team}", "cohorts": [team.lower()], "percentage": 0}],
    }, ACTOR)
    activities.attach_playbook(key, PLAYBOOK, ACTOR)


def _events(key: str, task: str, minutes: float, team: list[Person], pilot: list[Person],
            first_day: date, exposed_from: date, last_day: date) -> int:
    """The team's tasks (fewer at weekends): by hand before the pilot; the pilots take up the
    assistant over their first two weeks and save about a third of the time. Seeded: the same
    every time."""
    rng = random.Random(key)
    rows, day = [], first_day
    pilots = {p.person_id for p in pilot}
    while day <= last_day:
        busy = 2 if day.weekday() < 5 else 1
        for person in team:
            for n in range(rng.randint(0, busy)):
                exposed = person.person_id in pilots and day >= exposed_from
                uptake = min(0.85, (day - exposed_from).days / 14) if exposed else 0.0
                ai = rng.random() < uptake
                took = minutes * (0.65 if ai else 1.0) * rng.uniform(0.8, 1.2)
                rows.append({
                    "event_id": f"{key}-{person.person_id}-{day:%Y%m%d}-{n}", "feature": key,
                    "person_id": person.person_id, "occurred_at": _at(day, 9 + 3 * n).isoformat(),
                    "task": task, "ai_assisted": ai, "duration_seconds": round(took * 60, 1),
                    "outcome": "success" if rng.random() > 0.06 else "error"})
        day += timedelta(days=1)
    for start in range(0, len(rows), 5000):
        events.ingest_events(rows[start:start + 5000], source="seed")
    return len(rows)


def _costs(key: str, first: date, last_day: date, one_off: float, licence: float) -> None:
    """A one-off project in the pilot's first month, then the licence every month to the last."""
    activity.record_cost(key, {"month": f"{first:%Y-%m}", "amount_eur": one_off, "category": "implementation",
                               "note": "pilot set-up (one-off)"})
    month = first.replace(day=1)
    while month <= last_day:
        activity.record_cost(key, {"month": f"{month:%Y-%m}", "amount_eur": licence, "category": "licences",
                                   "note": "pilot seats"})
        month = (month + timedelta(days=32)).replace(day=1)


def _training(key: str, stage: int, title: str, held_on: date, attendees: list[Person],
              completed: int) -> None:
    activities.record_training(key, {
        "stage": stage, "title": title, "held_on": held_on.isoformat(), "trainer": "Enablement team",
        "format": "workshop", "duration_minutes": 60,
        "attendees": [{"person_id": p.person_id, "completed": i < completed}
                      for i, p in enumerate(attendees)],
    }, ACTOR)


def _pulse(key: str, pilot: list[Person], weeks: list[date], ratings: list[list[int]]) -> int:
    """Weekly pulse answers of the pilots (a rating per person per week, some with a comment)."""
    comments = {1: ("quality", "The draft missed the client's main constraint."),
                2: ("usability", "Hard to find where to paste the source material."),
                4: ("training", "The office hours helped me write better prompts."),
                5: ("quality", "Saved me most of an afternoon this week.")}
    rows = []
    for week, scores in zip(weeks, ratings, strict=True):
        for person, rating in zip(pilot, scores, strict=False):
            category, comment = comments.get(rating, (None, None))
            rows.append({"feature": key, "person_id": person.person_id, "rating": rating,
                         "category": category, "comment": comment,
                         "occurred_at": _at(week, 15).isoformat()})
    return len(record_feedback(rows, source="csv"))  # a survey export: the file's rules


def tell(last_day: date) -> Story | None:
    """Tell the story ending on ``last_day`` (flushed, never committed); None when told already.
    ``conclude`` finishes it in a transaction of its own."""
    if db.session.scalar(select(Feature.id).where(Feature.key == ROLLING)) is not None:
        return None
    story = Story(features=[ROLLING, HELD], gates={})
    start = last_day - timedelta(days=70)
    marketing, operations = _department("Marketing"), _department("Operations")
    for key, name, members in (("marketing", "All of Marketing", marketing),
                               ("marketing-pilot", "Marketing pilot", marketing[:12]),
                               ("operations", "All of Operations", operations),
                               ("operations-pilot", "Operations pilot", operations[:10])):
        _cohort(key, name, members, _at(start))

    # Mid-rollout: the pilot kicked off five weeks ago and is in daily use since two weeks.
    _feature(ROLLING, "Campaign brief assistant", "Drafts campaign briefs from the product sheet and "
             "past campaigns; a brief takes about 50 minutes by hand.", "Marketing", "marketing-pilot", 50)
    kickoff, daily = last_day - timedelta(days=35), last_day - timedelta(days=14)
    rollout.advance(ROLLING, ACTOR, reason="pilot kick-off", effective_at=_at(kickoff))
    pilot = marketing[:12]
    _training(ROLLING, 1, "Pilot kick-off - goals, what we measure, how to report problems",
              kickoff + timedelta(days=1), pilot, 11)
    rollout.advance(ROLLING, ACTOR, reason="kick-off gate passed: 11 of 12 trained, feedback 3.9",
                    effective_at=_at(daily))
    _training(ROLLING, 2, "Prompting and checking answers for your team's tasks", daily + timedelta(days=2),
              pilot, 9)
    story.trainings += 2
    weeks = [kickoff + timedelta(days=7 * w + 4) for w in range(5)]
    story.feedback += _pulse(ROLLING, pilot, weeks, [[3, 4, 3, 2, 4, 3, 4, 3], [4, 4, 3, 3, 4, 4, 5, 3, 4],
                                                     [4, 5, 4, 2, 4, 4, 5, 4], [4, 5, 4, 3, 5, 4, 5, 4, 4, 4],
                                                     [5, 4, 4, 4, 5, 4, 5, 4, 4]])
    for title, owner, due in (("Add the brand voice guide to the assistant's sources", "marketing-ops", 5),
                              ("Office hours for the pilots who rate it 3 or less", "change-manager", 9),
                              ("Export this week's corrections to the model team", "ml-platform", 3)):
        due_on = (last_day + timedelta(days=due)).isoformat()
        activities.create_action_item(ROLLING, {"title": title, "owner": owner, "due_on": due_on}, ACTOR)
        story.action_items += 1
    _events(ROLLING, "campaign-brief", 50, marketing, pilot, start, kickoff, last_day)
    _costs(ROLLING, kickoff, last_day, 4000.0, 300.0)

    # Held: its kick-off stage is twelve days old, but only 4 of 10 pilots are trained and a critical
    # problem is still open, so its gate fails and it cannot move on.
    _feature(HELD, "Contract summary assistant", "Summarises supplier contracts into the terms Operations "
             "checks; a summary takes about 30 minutes by hand.", "Operations", "operations-pilot", 30)
    held_from = last_day - timedelta(days=12)
    rollout.advance(HELD, ACTOR, reason="pilot kick-off", effective_at=_at(held_from))
    _training(HELD, 1, "Pilot kick-off - goals, what we measure, how to report problems",
              held_from + timedelta(days=2), operations[:10], 4)
    story.trainings += 1
    held_weeks = [held_from + timedelta(days=4), held_from + timedelta(days=11)]
    story.feedback += _pulse(HELD, operations[:10], held_weeks, [[3, 2, 3, 4, 2, 3], [2, 3, 1, 3, 2, 3, 2]])
    record_feedback([{
        "feature": HELD, "person_id": operations[2].person_id, "rating": 1, "category": "quality",
        "severity": "critical", "comment": "The summary dropped the liability cap of a supplier contract.",
        "occurred_at": _at(last_day - timedelta(days=2), 11).isoformat()}], source="csv")
    story.feedback += 1
    _events(HELD, "contract-summary", 30, operations, operations[:10], start, held_from, last_day)
    _costs(HELD, held_from, last_day, 2500.0, 250.0)

    # Two models side by side on Engineering's code reviews (docs/variants.md).
    story.variant_events = demo_variants.tell(_department("Engineering"), start, last_day)
    # Its seats and set-up cost like any pilot's: the model costs alone would show an absurd ROI.
    _costs(demo_variants.KEY, last_day - timedelta(days=56), last_day, 1500.0, 600.0)
    return story


def conclude(story: Story, last_day: date) -> Story:
    """Once the history is committed (the rollups' full rebuild reads it on a second connection):
    bring the rollups up to date, close the months and evaluate both pilots' gates."""
    from app.services.rollups import materialise as rollups

    rollups.refresh()
    # The features at their last stage: their complete months before the last one are closed (the
    # last one is left for an admin to close from the Operations page).
    story.closed_months = _close_before(last_day)
    for key in (ROLLING, HELD):
        story.gates[key] = gates.evaluate_gate(key, trigger="manual", now=_at(last_day, 18)).passed
    return story


def _close_before(last_day: date) -> tuple[str, ...]:
    """Close the two complete months before the last complete one, through the monthly close."""
    last_complete = closes.previous_month(last_day + timedelta(days=1))
    month_before = closes.previous_month(date(int(last_complete[:4]), int(last_complete[5:]), 1))
    two_before = closes.previous_month(date(int(month_before[:4]), int(month_before[5:]), 1))
    done = []
    for month in (two_before, month_before):
        try:
            closes.close_past_month(month)
            done.append(month)
        except LiftoffError:
            continue  # a month without events, or not over yet: nothing to close
    return tuple(done)
