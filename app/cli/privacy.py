"""GDPR: export everything held about one person, or erase what identifies them."""

from __future__ import annotations

import json

import click

from app.cli import main, transaction


@main.group()
def people() -> None:
    """One person's data (GDPR export and erasure)."""


@people.command("export")
@click.argument("person_id")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write the JSON here instead of standard output.")
def people_export(person_id: str, output: str | None) -> None:
    """Print (or write) everything held about PERSON_ID as JSON."""
    from app.services.people.privacy import export_person

    with transaction():
        data = json.dumps(export_person(person_id), indent=2, ensure_ascii=False)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(data + "\n")
        click.echo(f"wrote the data of {person_id} to {output}")
    else:
        click.echo(data)


@people.command("erase")
@click.argument("person_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def people_erase(person_id: str, yes: bool) -> None:
    """Blank PERSON_ID's name, e-mail and feedback comments; the KPIs stay intact."""
    from app.services.people.privacy import erase_person

    if not yes:
        click.confirm(f"Erase the personal data of {person_id}? This cannot be undone", abort=True)
    with transaction():
        result = erase_person(person_id, "cli")
    click.echo(f"erased {result['person_id']} at {result['erased_at']} "
               f"({result['comments_replaced']} feedback comment(s) replaced)")
