"""Event ingestion: validate every row, then store the whole batch in bulk, or nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import insert, select

from app import plausible
from app.db import db, utcnow
from app.errors import Collector, Detail, ValidationFailed
from app.models import Event as EventRow
from app.models import Feature, FeatureVariant, Person
from app.models.kpi import DirtyDay
from app.schemas.common import Body, PastTimestamp, Timestamp, unknown_only, validate, validate_rows

# The event fields of KPI_DEFINITIONS.md, as the CSV import takes them for columns, are the model's.
from app.schemas.events import EVENT_OPTIONAL, EVENT_REQUIRED, Event  # noqa: F401

MAX_BATCH = plausible.MAX_BATCH
_LOOKUP_CHUNK = 500  # bound parameters per IN (...) lookup, well under every driver's limit


@dataclass
class IngestResult:
    accepted: int
    duplicates: int


def parse_timestamp(value, field: str, index: int | None, problems: Collector, *,
                    past_only: bool = False) -> datetime | None:
    """An ISO 8601 timestamp that carries an offset, as aware UTC from 1970 on (with ``past_only``
    at most 5 minutes ahead of the server's clock); adds a detail otherwise. The rule is the
    schema layer's (``Timestamp`` / ``PastTimestamp`` of app/schemas/common.py)."""
    model: type[_Moment] = _Recent if past_only else _Moment
    moment = validate(model, {"at": value}, problems, index=index)
    if moment is None:
        problems.details[-1].field = field
        return None
    return moment.at


class _Moment(Body):
    at: Timestamp


class _Recent(_Moment):
    at: PastTimestamp


def _plain(event: Event, default_source: str) -> dict:
    """A parsed event as the plain values the insert takes (feature/person still external keys)."""
    return {**event.model_dump(), "task": event.task or "default",
            "source": event.source or default_source}


def _named(row, key: str) -> str | None:
    # A row that failed validation still names its feature and person when it can, so an unknown
    # one is reported together with the row's other problems.
    value = row.get(key) if isinstance(row, dict) else None
    return value.strip() or None if isinstance(value, str) else None


def _check_variants(named: list[tuple[int, dict]], features: dict[str, int], problems: Collector) -> None:
    """A ``variant`` must be one of its feature's variants (KPI_DEFINITIONS.md, Inputs)."""
    wanted = {features[r["feature"]] for _, r in named if r.get("variant") and r["feature"] in features}
    if not wanted:
        return
    known: dict[int, set[str]] = {f: set() for f in wanted}
    for owner, name in db.session.execute(select(FeatureVariant.feature_id, FeatureVariant.name)
                                          .where(FeatureVariant.feature_id.in_(wanted))):
        known[owner].add(name)
    for index, row in named:
        feature_id = features.get(row["feature"])
        if row.get("variant") and feature_id is not None and row["variant"] not in known[feature_id]:
            has = ", ".join(sorted(known[feature_id])) or "none"
            problems.add("variant", f"feature {row['feature']!r} has no variant {row['variant']!r} "
                                    f"(its variants: {has})", index)


def _ids_by_key(column, id_column, keys: set[str]) -> dict[str, int]:
    if len(keys) > _LOOKUP_CHUNK:
        # One scan of the (small) table beats many large IN lists.
        return {k: i for k, i in db.session.execute(select(column, id_column)) if k in keys}
    found: dict[str, int] = {}
    ordered = sorted(keys)
    for i in range(0, len(ordered), _LOOKUP_CHUNK):
        chunk = ordered[i : i + _LOOKUP_CHUNK]
        found.update(db.session.execute(select(column, id_column).where(column.in_(chunk))).all())
    return found


def _existing_event_ids(source: str, event_ids: list[str]) -> set[str]:
    seen: set[str] = set()
    for i in range(0, len(event_ids), _LOOKUP_CHUNK):
        chunk = event_ids[i : i + _LOOKUP_CHUNK]
        seen.update(db.session.scalars(
            select(EventRow.event_id).where(EventRow.source == source, EventRow.event_id.in_(chunk))
        ))
    return seen


def _resolve_people(checked: list[tuple[int, dict]], problems: Collector) -> dict[str, int]:
    keys = {row["person_id"] for _, row in checked if row.get("person_id")}
    people = _ids_by_key(Person.person_id, Person.id, keys)
    missing = keys - people.keys()
    if missing and current_app.config.get("AUTO_CREATE_PEOPLE"):
        if problems.details:
            return people  # the batch fails anyway: create nobody
        # Documented setting: unknown people become department-less people (no name, no e-mail).
        db.session.execute(insert(Person), [{"person_id": key, "created_at": utcnow()}
                                            for key in sorted(missing)])
        people.update(_ids_by_key(Person.person_id, Person.id, missing))
        missing = set()
    for index, row in checked:
        if row.get("person_id") in missing:
            problems.add("person_id", f"unknown person {row['person_id']!r}", index)
    return people


def ingest_events(rows: list[dict], source: str = "api", bound: bool = False) -> IngestResult:
    """Validate every row (fields of KPI_DEFINITIONS.md), then store all or none.

    :param rows: event dicts as in the API (``occurred_at`` ISO 8601 with offset).
    :param source: the channel; ``event_id`` is unique per source (a row's ``source`` overrides).
    :param bound: the caller may use ``source`` only: a row naming another source is refused.
    :raises ValidationFailed: one detail per bad row and field; nothing is stored.
    """
    if not isinstance(rows, list):
        raise ValidationFailed("the body must be a JSON array of events")
    if len(rows) > MAX_BATCH:
        raise ValidationFailed(
            "too many events in one batch",
            [Detail("events", f"{len(rows)} events; a batch holds at most {MAX_BATCH}, split it")],
        )
    problems = Collector()
    parsed = dict(validate_rows(Event, rows, problems, row_field="row"))
    checked: list[tuple[int, dict[str, Any], bool]] = [(i, _plain(parsed[i], source) if i in parsed else
                {"feature": _named(row, "feature"), "person_id": _named(row, "person_id"),
                 "source": _named(row, "source")}, i in parsed)
               for i, row in enumerate(rows)]
    refuse_unknown = unknown_only(problems.details)
    if refuse_unknown:
        raise ValidationFailed("unknown fields; nothing was stored", refuse_unknown)
    if bound:
        for i, clean, _ in checked:
            if clean.get("source") not in (None, source):
                problems.add("source", f"this token posts under its own source {source!r} only", i)
    valid = [(i, clean) for i, clean, good in checked if good]
    named = [(i, clean) for i, clean, _ in checked]
    features = _ids_by_key(Feature.key, Feature.id, {r["feature"] for _, r in named if r["feature"]})
    for index, row in named:
        if row["feature"] and row["feature"] not in features:
            problems.add("feature", f"unknown feature {row['feature']!r}", index)
    _check_variants(named, features, problems)
    people = _resolve_people(named, problems)
    problems.raise_if_any("invalid events; nothing was stored")

    # A repeat inside the batch or of an already stored event is a duplicate: counted, not stored.
    fresh: dict[tuple[str, str], dict] = {}
    for _, row in valid:
        fresh.setdefault((row["source"], row["event_id"]), row)
    if _dialect() != "postgresql":  # PostgreSQL skips stored ones in the insert itself
        by_source: dict[str, list[str]] = {}
        for src, event_id in fresh:
            by_source.setdefault(src, []).append(event_id)
        for src, ids in by_source.items():
            for event_id in _existing_event_ids(src, ids):
                del fresh[(src, event_id)]
    now = utcnow()
    records = [
        {
            "source": row["source"], "event_id": row["event_id"],
            "feature_id": features[row["feature"]], "person_id": people[row["person_id"]],
            "occurred_at": row["occurred_at"], "task": row["task"],
            "ai_assisted": row["ai_assisted"], "duration_seconds": row["duration_seconds"],
            "outcome": row["outcome"], "ingested_at": now, "cost_eur": row["cost_eur"],
            "output": row["output"], "correction": row["correction"],
            "model_version": row["model_version"], "variant": row["variant"],
        }
        for row in fresh.values()
    ]
    # No revision bump: new events reach the KPIs with the next refresh (app/services/kpi_reads/revision.py).
    accepted = _insert_new(records) if records else 0
    return IngestResult(accepted=accepted, duplicates=len(rows) - accepted)


def _dialect() -> str:
    return db.session.get_bind().dialect.name


_COLUMNS = ("source", "event_id", "feature_id", "person_id", "occurred_at", "task", "ai_assisted",
            "duration_seconds", "outcome", "ingested_at", "cost_eur", "output", "correction",
            "model_version", "variant")


def _insert_new(records: list[dict]) -> int:
    """Insert in bulk; an event already stored (or stored meanwhile by a concurrent batch) is
    skipped. Returns how many were inserted."""
    if _dialect() == "postgresql":
        return _copy_new(records)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    stmt = sqlite_insert(EventRow).on_conflict_do_nothing(index_elements=["source", "event_id"])
    inserted = len(db.session.execute(stmt.returning(EventRow.id), records).all())
    days = sorted({(r["feature_id"], r["occurred_at"].astimezone(UTC).date()) for r in records})
    mark = sqlite_insert(DirtyDay)
    mark = mark.on_conflict_do_update(index_elements=["feature_id", "day"],
                                      set_={"version": DirtyDay.version + 1})
    db.session.execute(mark, [{"feature_id": f, "day": d, "version": 1} for f, d in days])
    return inserted


def _copy_new(records: list[dict]) -> int:
    """PostgreSQL: COPY the batch into a temporary table, then one INSERT ... SELECT ... ON
    CONFLICT DO NOTHING, in the session's transaction (a multi-row VALUES of 10,000 rows spends
    most of its time building the statement)."""
    driver = db.session.connection().connection.driver_connection
    assert driver is not None  # a live connection of the session's transaction
    cursor = driver.cursor()
    names = ", ".join(_COLUMNS)
    with cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS incoming_events (source varchar(120), "
            "event_id varchar(200), feature_id integer, person_id integer, occurred_at timestamp, "
            "task varchar(120), ai_assisted boolean, duration_seconds double precision, "
            "outcome varchar(20), ingested_at timestamp, cost_eur double precision, output text, "
            "correction text, model_version varchar(200), variant varchar(100)) ON COMMIT DROP")
        cursor.execute("TRUNCATE incoming_events")
        with cursor.copy(f"COPY incoming_events ({names}) FROM STDIN") as copy:
            for r in records:
                copy.write_row((
                    r["source"], r["event_id"], r["feature_id"], r["person_id"],
                    r["occurred_at"].astimezone(UTC).replace(tzinfo=None), r["task"],
                    r["ai_assisted"], r["duration_seconds"], r["outcome"],
                    r["ingested_at"].astimezone(UTC).replace(tzinfo=None), r["cost_eur"],
                    r["output"], r["correction"], r["model_version"], r["variant"],
                ))
        cursor.execute(f"INSERT INTO events ({names}) SELECT {names} FROM incoming_events "  # noqa: S608
                       "ON CONFLICT (source, event_id) DO NOTHING")
        inserted = cursor.rowcount
        cursor.execute(
            "INSERT INTO kpi_dirty_days (feature_id, day, version) "
            # In key order: concurrent batches touching the same days then lock them in the same
            # order instead of deadlocking (seen with two gunicorn workers in benchmarks/kpi_scale).
            "SELECT DISTINCT feature_id, CAST(occurred_at AS date), 1 FROM incoming_events "
            "ORDER BY 1, 2 "
            "ON CONFLICT (feature_id, day) DO UPDATE SET version = kpi_dirty_days.version + 1")
        return inserted
