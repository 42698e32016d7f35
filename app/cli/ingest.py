"""``liftoff import events FILE.csv``: the API's validation, all rows or none, with progress."""

from __future__ import annotations

import csv
import sys

import click

from app.cli import transaction
from app.cli.data import import_group

_BATCH = 10_000
_BOOLEAN = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _row_to_event(row: dict) -> dict:
    """A CSV row as the API's JSON event: empty cells are absent, numbers and booleans parsed;
    a cell that does not parse is passed on unchanged so validation names it."""
    event = {k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip() != ""}
    if "ai_assisted" in event:
        event["ai_assisted"] = _BOOLEAN.get(event["ai_assisted"].lower(), event["ai_assisted"])
    for number in ("duration_seconds", "cost_eur"):
        if number in event:
            try:
                event[number] = float(event[number])
            except ValueError:
                pass
    return event


@import_group.command("events")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--source", default="csv", show_default=True,
              help="Channel the event ids are unique in (a 'source' column overrides it).")
def import_events(file: str, source: str) -> None:
    """Import task events from a CSV file (columns as the API's event fields).

    Every row is checked as the API checks it; a bad row aborts the whole import, listing every
    bad row (numbered from 1 after the header) and column.
    """
    from app.errors import Detail, ValidationFailed
    from app.services.ingest.csv_rows import check_header
    from app.services.ingest.events import EVENT_OPTIONAL, EVENT_REQUIRED, ingest_events

    accepted = duplicates = 0
    problems: list[Detail] = []
    with transaction():
        try:
            with open(file, newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle)
                # A column the contract does not know is refused, naming it, not silently dropped.
                check_header(reader.fieldnames, EVENT_REQUIRED, EVENT_OPTIONAL)
                rows = [_row_to_event(r) for r in reader]
        except (UnicodeDecodeError, csv.Error) as error:  # found by tests/test_fuzz_parsers.py
            raise ValidationFailed(f"{file}: not a UTF-8 CSV file ({error}); nothing was imported") from error
        nul = [Detail("(row)", "contains a NUL character", n) for n, row in enumerate(rows, 1)
               if any("\x00" in f"{k}{v}" for k, v in row.items())]
        if nul:  # PostgreSQL text cannot hold NUL (found by fuzzing)
            raise ValidationFailed(f"{file}: invalid events, nothing was imported", nul)
        with click.progressbar(length=len(rows), label="importing events", file=sys.stderr) as bar:
            for offset in range(0, len(rows), _BATCH):
                batch = rows[offset : offset + _BATCH]
                try:
                    result = ingest_events(batch, source=source)
                    accepted, duplicates = accepted + result.accepted, duplicates + result.duplicates
                except ValidationFailed as error:
                    # Keep checking the other batches so every bad row is listed at once.
                    problems += [Detail(d.field, d.message, (d.index or 0) + offset + 1)
                                 for d in error.details]
                bar.update(len(batch))
        if problems:
            raise ValidationFailed(f"{file}: invalid events, nothing was imported", problems)
        click.echo(f"imported {accepted} events ({duplicates} duplicates skipped) from {file}")
