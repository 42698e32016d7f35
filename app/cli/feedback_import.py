"""``liftoff import feedback FILE.csv``: pulse-survey answers and feedback items from a CSV file."""

from __future__ import annotations

import csv

import click

from app.cli import transaction
from app.cli.data import import_group
from app.errors import Collector
from app.schemas.activity import FeedbackCsvRow
from app.schemas.common import validate_rows

REQUIRED = tuple(n for n, f in FeedbackCsvRow.model_fields.items() if f.is_required())
OPTIONAL = tuple(n for n, f in FeedbackCsvRow.model_fields.items() if not f.is_required())


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
    rows = [row.model_dump(exclude_none=True)
            for _, row in validate_rows(FeedbackCsvRow, records, problems,
                                        indices=range(1, len(records) + 1))]
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
