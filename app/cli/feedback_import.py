"""``liftoff import feedback FILE.csv``: pulse-survey answers and feedback items from a CSV file."""

from __future__ import annotations

import csv

import click

from app.cli import transaction
from app.cli.data import import_group
from app.errors import Collector
from app.schemas.activity import FeedbackCsvRow

# The file's columns are the fields of the model the rule set reads its rows with.
REQUIRED = tuple(n for n, f in FeedbackCsvRow.model_fields.items() if f.is_required())
OPTIONAL = tuple(n for n, f in FeedbackCsvRow.model_fields.items() if not f.is_required())


def check_header(header: list[str]) -> None:
    """The file's columns: every required one, nothing unknown (the rows are the service's)."""
    problems = Collector()
    for column in REQUIRED:
        if column not in header:
            problems.add(column, "column is missing")
    for column in header:
        if column not in REQUIRED + OPTIONAL:
            problems.add(column, f"unknown column (allowed: {', '.join(REQUIRED + OPTIONAL)})")
    problems.raise_if_any("invalid feedback file")


def feedback_rows(records: list[dict]) -> list[dict]:
    """CSV records as the feedback rule set takes them: cells trimmed, empty cells left out."""
    return [{k: v.strip() for k, v in r.items() if isinstance(v, str) and v.strip()} for r in records]


@import_group.command("feedback")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_feedback(path: str) -> None:
    """Import feedback (feature, person_id, rating 1-5, occurred_at, comment?, category?,
    severity?) from a CSV file: all rows or none, with every bad row listed."""
    from app.services.ingest.feedback import record_feedback

    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        records = list(reader)
        header = [h.strip() for h in (reader.fieldnames or [])]
    records = [{(k or "").strip(): v for k, v in r.items()} for r in records]
    with transaction():
        check_header(header)
        # One rule set with the API and the dashboard; row 1 is the first line after the header.
        stored = record_feedback(feedback_rows(records), source="csv", first_row=1)
        click.echo(f"imported {len(stored)} feedback rows from {path}")
