"""Datasets of corrections: each export freezes a new version of a named dataset.

A version's items are every ``corrected`` AI event of the feature that carries a ``correction``
(self-reported), and every reviewed item whose first-round label is ``corrected`` or ``wrong``,
filtered by variant, date and category; one item per event (a reviewed event carries its review).
Items are references: texts are read from the event and the label at export, so a GDPR erase or
the retention job blanks them in every version, and no copy outlives them.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select

from app.db import db
from app.errors import Collector, Detail, NotFound, ValidationFailed
from app.models import (
    Dataset,
    DatasetItem,
    DatasetVersion,
    Event,
    Feature,
    ReviewItem,
    ReviewLabel,
    ReviewSample,
)
from app.models.review import CATEGORY_MAX, VARIANT_MAX
from app.services.audit import audit
from app.services.lookups import feature_by_key, variant_models
from app.services.review.stages import (
    bad_name,
    event_variant,
    stage_at,
    stage_periods,
    transitions_of,
    variant_filter,
)
from app.spreadsheets import csv_records

FIRST_YEAR, LAST_YEAR = 1900, 2999
KEY = re.compile(r"^[a-z0-9][a-z0-9._-]{0,119}$")
FORMATS = ("jsonl", "csv")
FIELDS = ("item_id", "source", "event_id", "task", "occurred_at", "stage", "variant", "model_version",
          "output", "correction", "label", "category", "origin")


def _day(raw, field: str, problems: Collector) -> date | None:
    """A filter day: a date of the years 1900-2999 (as every window of the app), else a problem."""
    if raw is None or raw == "":
        return None
    day = raw if isinstance(raw, date) else None
    if isinstance(raw, str):
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            day = None
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
        problems.add(field, f"must be a date YYYY-MM-DD of the years {FIRST_YEAR}-{LAST_YEAR}")
        return None
    return day


def check_filter(feature: str, variant: str | None = None, start=None, end=None,
                 category: str | None = None) -> dict:
    """The filter as stored (ISO dates), or ValidationFailed naming each bad field."""
    problems = Collector()
    if variant is not None and bad_name(variant, VARIANT_MAX):
        problems.add("variant", f"must be a variant name of at most {VARIANT_MAX} characters")
    if category is not None and bad_name(category, CATEGORY_MAX):
        problems.add("category", f"must be a category of at most {CATEGORY_MAX} characters")
    first, last = _day(start, "start", problems), _day(end, "end", problems)
    if first and last and first > last:
        problems.add("end", "must not be before start")
    problems.raise_if_any("invalid dataset filter")
    return {"feature": feature, "variant": variant or None, "start": first.isoformat() if first else None,
            "end": last.isoformat() if last else None, "category": category.strip() if category else None}


def _candidates(feature: Feature, flt: dict) -> list[tuple[int, int | None, datetime]]:
    """(event id, label id or None, occurred_at) of every item the filter selects."""
    conditions = [Event.feature_id == feature.id, Event.ai_assisted.is_(True), Event.voided_at.is_(None)]
    if flt["start"]:
        start = datetime.combine(date.fromisoformat(flt["start"]), time(), UTC)
        conditions.append(Event.occurred_at >= start)
    if flt["end"]:
        end = datetime.combine(date.fromisoformat(flt["end"]) + timedelta(days=1), time(), UTC)
        conditions.append(Event.occurred_at < end)
    by_variant = variant_filter(flt["variant"])
    if by_variant is not None:
        conditions.append(by_variant)
    reviewed: dict[int, int] = {}
    stamps: dict[int, datetime] = {}
    for event_id, label_id, at in db.session.execute(
            select(ReviewItem.event_id, func.max(ReviewLabel.id), Event.occurred_at)
            .join(ReviewLabel, ReviewLabel.item_id == ReviewItem.id)
            .join(ReviewSample, ReviewSample.id == ReviewItem.sample_id)
            .join(Event, Event.id == ReviewItem.event_id)
            .where(ReviewSample.feature_id == feature.id, ReviewLabel.round == 1,
                   ReviewLabel.label.in_(("corrected", "wrong")), *conditions,
                   *([ReviewLabel.category == flt["category"]] if flt["category"] else []))
            .group_by(ReviewItem.event_id, Event.occurred_at)):
        reviewed[event_id], stamps[event_id] = label_id, at
    if not flt["category"]:  # self-reported corrections carry no category
        stamps.update(db.session.execute(select(Event.id, Event.occurred_at).where(
            *conditions, Event.outcome == "corrected", Event.correction.is_not(None))).all())
    return [(event_id, reviewed.get(event_id), stamps[event_id]) for event_id in sorted(stamps)]


def dataset_by_key(key: str) -> Dataset:
    dataset = db.session.scalar(select(Dataset).where(Dataset.key == key))
    if dataset is None:
        raise NotFound(f"no dataset {key!r}")
    return dataset


def export_version(dataset_key: str, actor: str, feature: str, variant: str | None = None, start=None,
                   end=None, category: str | None = None) -> DatasetVersion:
    """Freeze the next version of dataset ``dataset_key`` (created on its first export) from the
    filter, and record who exported it, when, with which filter and how many items.

    :raises ValidationFailed: a bad key or filter field, naming it. :raises NotFound: no such feature.
    """
    if not isinstance(dataset_key, str) or not KEY.match(dataset_key):
        raise ValidationFailed("invalid dataset", [Detail(
            "dataset", "must be 1-120 lower-case letters, digits, '.', '_' or '-', starting with a letter "
                       "or digit")])
    flt = check_filter(feature, variant, start, end, category)
    target = feature_by_key(feature)
    dataset = db.session.scalar(select(Dataset).where(Dataset.key == dataset_key))
    if dataset is None:
        dataset = Dataset(key=dataset_key)
        db.session.add(dataset)
        db.session.flush()
    number = (db.session.scalar(select(func.max(DatasetVersion.version)).where(
        DatasetVersion.dataset_id == dataset.id)) or 0) + 1
    items = _candidates(target, flt)
    version = DatasetVersion(dataset_id=dataset.id, version=number, feature_id=target.id,
                             filter=json.dumps(flt), item_count=len(items), created_by=actor)
    db.session.add(version)
    db.session.flush()
    periods = stage_periods(transitions_of(target))
    db.session.add_all(DatasetItem(version_id=version.id, event_id=event_id, label_id=label_id,
                                   stage_position=stage_at(periods, at)) for event_id, label_id, at in items)
    db.session.flush()
    audit(actor, "dataset.export", "dataset", dataset.key, None,
          {"version": number, "filter": flt, "items": len(items)})
    return version


def version_of(dataset_key: str, version: int | None = None) -> DatasetVersion:
    """A version of a dataset (the latest when ``version`` is None)."""
    dataset = dataset_by_key(dataset_key)
    query = select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id)
    query = query.where(DatasetVersion.version == version) if version is not None else \
        query.order_by(DatasetVersion.version.desc()).limit(1)
    found = db.session.scalar(query)
    if found is None:
        raise NotFound(f"dataset {dataset_key!r} has no version {version}" if version is not None
                       else f"dataset {dataset_key!r} has no version yet")
    return found


def version_record(version: DatasetVersion) -> dict:
    dataset = db.session.get(Dataset, version.dataset_id)
    if dataset is None:  # dataset_versions.dataset_id is a foreign key: its dataset always exists
        raise NotFound(f"dataset {version.dataset_id} of version {version.version}")
    return {"dataset": dataset.key, "version": version.version, "filter": json.loads(version.filter),
            "items": version.item_count, "created_by": version.created_by,
            "created_at": version.created_at.isoformat()}


def list_versions(dataset_key: str) -> list[dict]:
    dataset = dataset_by_key(dataset_key)
    return [version_record(v) for v in db.session.scalars(
        select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id)
        .order_by(DatasetVersion.version))]


def version_rows(version: DatasetVersion) -> list[dict]:
    """The items of a version as plain rows (``FIELDS``), texts as they stand now."""
    variant = event_variant()
    columns = [DatasetItem, Event, ReviewLabel] + ([variant] if variant is not None else [])
    rows = db.session.execute(
        select(*columns).join(Event, Event.id == DatasetItem.event_id)
        .outerjoin(ReviewLabel, ReviewLabel.id == DatasetItem.label_id)
        .where(DatasetItem.version_id == version.id).order_by(Event.occurred_at, DatasetItem.id))
    models = variant_models(version.feature_id)
    out = []
    for item, event, label, *served in rows:
        fix = label.fix if label is not None and label.label == "corrected" else None
        variant = served[0] if served else None
        out.append({"item_id": item.id, "source": event.source, "event_id": event.event_id,
                    "task": event.task, "occurred_at": event.occurred_at.isoformat(),
                    "stage": item.stage_position, "variant": variant,
                    # The event's own model, else the one its variant serves.
                    "model_version": event.model_version or models.get(variant or ""),
                    "output": event.output,
                    "correction": fix if fix is not None else event.correction,
                    "label": label.label if label is not None else None,
                    "category": label.category if label is not None else None,
                    "origin": "review" if label is not None else "self_reported"})
    return out


def render(version: DatasetVersion, fmt: str) -> str:
    """A version as ``jsonl`` (one object a line) or ``csv`` (formula-like cells neutralised)."""
    if fmt not in FORMATS:
        raise ValidationFailed("unknown export format", [Detail("format", "must be jsonl or csv")])
    rows = version_rows(version)
    if fmt == "csv":
        return csv_records(FIELDS, rows)
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)

