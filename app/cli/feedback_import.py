"""``liftoff import feedback FILE.csv``: pulse-survey answers and feedback items from a CSV file."""

from __future__ import annotations

import csv
from datetime import datetime

import click

from app import plausible
from app.cli import transaction
from app.cli.data import import_group
from app.errors import Collector

REQUIRED = ("feature", "person_id", "rating", "occurred_at")
OPTIONAL = ("comment", "category", "severity")
SEVERITIES = ("normal", "critical")


def parse_feedback_rows(records: list[dict], header: list[str]) -> list[dict]:
    """Validate CSV records into the rows ``record_feedback`` takes; every bad row is reported
    (row 1 is the first line after the header) and nothing is returned unless all are good."""
    problems = Collector()
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    for column in missing:
        problems.add(column, "column is missing")
    for column in unknown:
        problems.add(column, f"unknown column (allowed: {', '.join(REQUIRED + OPTIONAL)})")
    problems.raise_if_any("invalid feedback file")
    rows = []
    for index, record in enumerate(records, start=1):
        row: dict = {}
        for column in ("feature", "person_id"):
            value = (record.get(column) or "").strip()
            if not value:
                problems.add(column, "is required", index)
            row[column] = value
        rating = (record.get("rating") or "").strip()
        if not rating.isdigit() or not 1 <= int(rating) <= 5:
            problems.add("rating", f"must be a whole number from 1 to 5, not {rating!r}", index)
        else:
            row["rating"] = int(rating)
        occurred = (record.get("occurred_at") or "").strip()
        try:
            parsed = datetime.fromisoformat(occurred)
            if parsed.tzinfo is None:
                problems.add("occurred_at", "needs a UTC offset, e.g. 2026-11-02T09:00:00+00:00", index)
            else:  # in range and not in the future, as the API checks it
                moment = plausible.to_utc(parsed, "occurred_at", index, problems)
                plausible.not_in_future(moment, "occurred_at", index, problems)
        except ValueError:
            problems.add("occurred_at", f"not an ISO 8601 timestamp: {occurred!r}", index)
        row["occurred_at"] = occurred
        for column in ("comment", "category"):
            value = (record.get(column) or "").strip()
            if value:
                row[column] = value
        severity = (record.get("severity") or "").strip()
        if severity and severity not in SEVERITIES:
            problems.add("severity", f"must be one of {', '.join(SEVERITIES)}", index)
        elif severity:
            row["severity"] = severity
        rows.append(row)
    problems.raise_if_any("invalid feedback file")
    return rows


@import_group.command("feedback")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_feedback(path: str) -> None:
    """Import feedback (feature, person_id, rating 1-5, occurred_at, comment?, category?,
    severity?) from a CSV file: all rows or none, with every bad row listed."""
    from app.services.enablement.feedback_triage import import_feedback as store

    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        records = list(reader)
        header = [h.strip() for h in (reader.fieldnames or [])]
    records = [{(k or "").strip(): v for k, v in r.items()} for r in records]
    with transaction():
        rows = parse_feedback_rows(records, header)
        click.echo(f"validated {len(rows)} rows", err=True)
        stored = store(rows)
        click.echo(f"imported {len(stored)} feedback rows from {path}")
