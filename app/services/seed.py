"""Loading the demo company from ``seed_data/`` through the same services the API uses.

Idempotent: people and cohorts are upserts, features already present keep their history, costs and
baselines already recorded are recognised, and events carry stable ids that ingestion deduplicates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from app.db import db
from app.models import Baseline, CostEntry, Feature
from app.services.ingest import activity, events
from app.services.ingest.csv_rows import CsvRow, open_text, read_rows
from app.services.people import directory as people
from app.services.rollout import transitions as rollout

ACTOR = "seed"
EVENT_BATCH = 5000  # half the API's batch limit
EVENT_COLUMNS = ("event_id", "feature", "person_id", "occurred_at", "task", "ai_assisted",
                 "duration_seconds", "outcome")
TRANSITIONS = {"advance": rollout.advance, "rollback": rollout.rollback, "kill": rollout.kill,
               "resume": rollout.resume}

Progress = Callable[[str, int, int], None]
# The last day of seed_data/'s history (HISTORY_END of seed_data/generate.py, fixed dates), and
# the last day it has events on (a Friday: events fall on working days).
HISTORY_END = date(2026, 10, 31)
LAST_EVENT_DAY = date(2026, 10, 30)


def shift_to(today: date) -> timedelta:
    """How far to move the history so that its last events fall on the day before ``today``
    (whole days: on a Monday the history ends on Sunday, so no source reads as late); never back."""
    return timedelta(days=max(0, (today - timedelta(days=1) - LAST_EVENT_DAY).days))


def _shift_month(month: str, shift: timedelta) -> str:
    """A cost's month moved with the history: by as many months as its last month moved, so the
    month the history now ends in carries the last month's licences and usage."""
    end = HISTORY_END - timedelta(days=1) + shift  # where LAST_EVENT_DAY lands
    months = (end.year - HISTORY_END.year) * 12 + end.month - HISTORY_END.month
    index = int(month[:4]) * 12 + int(month[5:]) - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def has_features(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds features (a people-only directory has none: no story to tell)."""
    return bool(json.loads((data_dir / "features.json").read_text(encoding="utf-8")))


@dataclass
class SeedSummary:
    departments: int = 0
    people_created: int = 0
    people_updated: int = 0
    cohorts_changed: int = 0
    features_created: list[str] = field(default_factory=list)
    transitions: int = 0
    baselines: int = 0
    costs: int = 0
    events_accepted: int = 0
    events_duplicate: int = 0

    @property
    def changed(self) -> bool:
        return any((self.people_created, self.people_updated, self.cohorts_changed,
                    self.features_created, self.transitions, self.baselines, self.costs,
                    self.events_accepted))

    def lines(self) -> list[str]:
        if not self.changed:
            return ["the demo company is already loaded: nothing changed"]
        return [
            f"departments: {self.departments}",
            f"people: {self.people_created} created, {self.people_updated} updated",
            f"cohorts changed: {self.cohorts_changed}",
            f"features created: {', '.join(self.features_created) or 'none'} "
            f"({self.transitions} rollout transitions)",
            f"baselines: {self.baselines} recorded; cost entries: {self.costs} recorded",
            f"events: {self.events_accepted} accepted, {self.events_duplicate} already there",
        ]


def _rows(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> list[CsvRow]:
    with open_text(path) as stream:
        return read_rows(stream, required, optional)


def _number(text: str) -> float | None:
    return float(text) if text.strip() else None


def load_seed(data_dir: Path, progress: Progress | None = None,
              shift: timedelta = timedelta(0)) -> SeedSummary:
    """Load every seed file of ``data_dir`` (see seed_data/generate.py); never commits.

    :param data_dir: the directory generate.py wrote.
    :param progress: called as ``progress(step, done, total)`` while loading.
    :param shift: how far to move every date of the history (``shift_to(today)``: up to yesterday).
    """
    report = progress or (lambda step, done, total: None)
    summary = SeedSummary()
    for row in _rows(data_dir / "departments.csv", ("name", "hourly_rate_eur")):
        people.put_department(row.values["name"], {"hourly_rate_eur": _number(row.values["hourly_rate_eur"])})
        summary.departments += 1
    report("departments", summary.departments, summary.departments)

    rows = _rows(data_dir / "people.csv", people.PERSON_FIELDS)
    summary.people_created, summary.people_updated = people.upsert_people(
        [r.values for r in rows], indices=[r.line for r in rows]
    )
    report("people", len(rows), len(rows))

    rows = _rows(data_dir / "cohorts.csv", ("cohort_key", "person_id"), ("cohort_name",))
    changes = people.replace_cohort_members([r.values for r in rows], indices=[r.line for r in rows])
    summary.cohorts_changed = sum(1 for c in changes if c.created or c.added or c.removed)
    report("cohorts", len(changes), len(changes))

    _load_features(data_dir / "features.json", summary, report, shift)
    _load_baselines(data_dir / "baselines.csv", summary, shift)
    _load_costs(data_dir / "costs.csv", summary, shift)
    _load_events(data_dir / "events.csv.gz", summary, report, shift)
    return summary


def _feature_id(key: str) -> int | None:
    return db.session.scalar(select(Feature.id).where(Feature.key == key))


def _load_features(path: Path, summary: SeedSummary, report: Progress, shift: timedelta) -> None:
    plans = json.loads(path.read_text(encoding="utf-8"))
    for done, plan in enumerate(plans, start=1):
        key = plan["spec"]["key"]
        if _feature_id(key) is None:
            # A feature already present keeps its history: replaying it would double the transitions.
            rollout.create_feature(plan["spec"], ACTOR)
            for move in plan["history"]:
                TRANSITIONS[move["action"]](
                    key, ACTOR, reason=move.get("reason"),
                    effective_at=datetime.fromisoformat(move["effective_at"]) + shift,
                )
                summary.transitions += 1
            summary.features_created.append(key)
        report("features", done, len(plans))


def _load_baselines(path: Path, summary: SeedSummary, shift: timedelta) -> None:
    columns = ("feature", "task", "minutes_per_task", "error_rate", "source", "measured_at")
    for row in _rows(path, columns):
        values = row.values
        feature_id = _feature_id(values["feature"])
        measured_at = datetime.fromisoformat(values["measured_at"]) + shift
        known = db.session.scalar(select(Baseline.id).where(
            Baseline.feature_id == feature_id, Baseline.task == values["task"],
            Baseline.source == values["source"], Baseline.measured_at == measured_at,
        ))
        if known is None:
            activity.record_baseline({
                "feature": values["feature"], "task": values["task"],
                "minutes_per_task": _number(values["minutes_per_task"]),
                "error_rate": _number(values["error_rate"]),
                "source": values["source"], "measured_at": measured_at.isoformat(),
            })
            summary.baselines += 1


def _load_costs(path: Path, summary: SeedSummary, shift: timedelta) -> None:
    for row in _rows(path, ("feature", "month", "amount_eur", "category", "note")):
        values = {**row.values, "month": _shift_month(row.values["month"], shift)}
        known = db.session.scalar(select(CostEntry.id).where(
            CostEntry.feature_id == _feature_id(values["feature"]), CostEntry.month == values["month"],
            CostEntry.category == values["category"], CostEntry.note == values["note"],
        ))
        if known is None:
            activity.record_cost(values["feature"], {
                "month": values["month"], "amount_eur": float(values["amount_eur"]),
                "category": values["category"], "note": values["note"],
            })
            summary.costs += 1


def _event(values: dict[str, str], shift: timedelta) -> dict:
    """A CSV row as the API would receive it: JSON booleans, numbers and nulls."""
    occurred_at = values["occurred_at"]
    if shift:
        occurred_at = (datetime.fromisoformat(occurred_at) + shift).isoformat()
    return {**values, "occurred_at": occurred_at, "ai_assisted": values["ai_assisted"] == "true",
            "duration_seconds": _number(values["duration_seconds"])}


def _load_events(path: Path, summary: SeedSummary, report: Progress, shift: timedelta) -> None:
    rows = _rows(path, EVENT_COLUMNS)
    for start in range(0, len(rows), EVENT_BATCH):
        batch = [_event(r.values, shift) for r in rows[start : start + EVENT_BATCH]]
        result = events.ingest_events(batch, source="seed")
        summary.events_accepted += result.accepted
        summary.events_duplicate += result.duplicates
        report("events", min(start + EVENT_BATCH, len(rows)), len(rows))
