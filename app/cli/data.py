"""Importing people and cohorts, seeding the demo company and its demo users."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from app.cli import main, transaction
from app.models.access import ROLES

SEED_DIR = Path(__file__).resolve().parents[2] / "seed_data"
DEMO_PASSWORD = "liftoff-demo"  # noqa: S105  (printed for the demo; documented as such)
DEMO_DOMAIN = "demo.liftoff"
DEMO_ROLES = ROLES  # one demo login per role


@main.group("import")
def import_group() -> None:
    """Import CSV files: all rows or none, with every bad row listed."""


@contextlib.contextmanager
def _progress(path: Path, label: str) -> Iterator:
    """A byte-sized progress bar on stderr (shown only on a terminal, so logs stay clean)."""
    with click.progressbar(length=path.stat().st_size, label=label, file=sys.stderr) as bar:
        yield bar.update


def _read(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()):
    from app.errors import Collector
    from app.services.ingest.csv_rows import open_text, read_rows

    problems = Collector()
    with open_text(path) as stream, _progress(path, f"reading {path.name}") as advance:
        rows = read_rows(stream, required, optional, problems, progress=advance)
    return rows, problems


@import_group.command("people")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--create-departments/--no-create-departments",
    default=True,
    show_default=True,
    help="Create departments the file names but the database lacks (without an hourly rate, so "
         "the organisation default applies); --no-create-departments refuses them instead.",
)
def import_people(file: Path, create_departments: bool) -> None:
    """Create or update people from FILE.csv (columns person_id,name,email,department)."""
    from app.errors import ValidationFailed
    from app.services.people.directory import PERSON_FIELDS, upsert_people

    with transaction():
        rows, problems = _read(file, PERSON_FIELDS)
        try:
            created, updated = upsert_people(
                [r.values for r in rows], create_departments, indices=[r.line for r in rows]
            )
        except ValidationFailed as error:
            problems.details.extend(error.details)
        # Malformed lines and bad values are reported together, in file order.
        problems.details.sort(key=lambda d: d.index or 0)
        problems.raise_if_any(f"{file.name}: nothing imported, fix these rows")
        click.echo(f"{file.name}: {created} people created, {updated} updated")


@import_group.command("cohorts")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--effective-at", default=None, metavar="ISO8601",
              help="When these members took effect (with an offset, past or now; default now).")
def import_cohorts(file: Path, effective_at: str | None) -> None:
    """Set cohort members from FILE.csv (columns cohort_key,person_id[,cohort_name]).

    One member per row. Each cohort named in the file gets exactly the people listed for it from
    --effective-at on (what was recorded for later instants is superseded); new cohorts are
    created (named by cohort_name, else by their key).
    """
    from app.db import utcnow
    from app.errors import ValidationFailed
    from app.services.audience.membership import parse_effective_at
    from app.services.people.directory import replace_cohort_members

    with transaction():
        rows, problems = _read(file, ("cohort_key", "person_id"), ("cohort_name",))
        changes = []
        try:
            # Parsed here (a bad value joins the row problems, as before): the service takes a datetime.
            at = parse_effective_at(effective_at, utcnow()) if effective_at is not None else None
            changes = replace_cohort_members([r.values for r in rows], indices=[r.line for r in rows],
                                             effective_at=at)
        except ValidationFailed as error:
            problems.details.extend(error.details)
        problems.details.sort(key=lambda d: d.index or 0)
        problems.raise_if_any(f"{file.name}: nothing imported, fix these rows")
        for change in changes:
            verb = "created" if change.created else "updated"
            click.echo(f"cohort {change.key}: {verb}, +{change.added} -{change.removed} members")


@main.command()
@click.option(
    "--data-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=SEED_DIR,
    show_default=True,
    help="Directory holding the demo company's files.",
)
@click.option("--fixed-dates", is_flag=True,
              help="Keep the history's own calendar (1 May to 31 October 2026) instead of moving it "
                   "to end yesterday.")
@click.option("--without-story", is_flag=True,
              help="Only the history of seed_data/: no mid-rollout feature, trainings, feedback, "
                   "gates or closed months (app/services/demo_story.py).")
def seed(data_dir: Path, fixed_dates: bool, without_story: bool) -> None:
    """Load the demo company (idempotent: a second run changes nothing).

    Its history is moved to end yesterday (unless --fixed-dates), then the story is
    told on top: a feature mid-rollout with its playbook, trainings, pulse feedback and action
    items, one held by a failing gate, and closed months.
    """
    from datetime import timedelta

    from app.db import utcnow
    from app.services import demo_story
    from app.services.seed import LAST_EVENT_DAY, has_features, load_seed, shift_to

    on_terminal = sys.stderr.isatty()

    def report(step: str, done: int, total: int) -> None:
        # A live counter on a terminal; one line per finished step in logs.
        if on_terminal:
            click.echo(f"\r  {step}: {done}/{total}", nl=done >= total, err=True)
        elif done >= total:
            click.echo(f"  {step}: {total}", err=True)

    shift = timedelta(0) if fixed_dates else shift_to(utcnow().date())
    story = None
    with transaction():
        summary = load_seed(data_dir, progress=report, shift=shift)
        if not without_story and has_features(data_dir):
            story = demo_story.tell(LAST_EVENT_DAY + shift)
    if story is not None:
        with transaction():  # the rollups and closes read the committed history
            demo_story.conclude(story, LAST_EVENT_DAY + shift)
    for line in summary.lines() if story is None else [*summary.lines(), *story.lines()]:
        click.echo(line)


@main.command("demo-users")
@click.option("--password", default=DEMO_PASSWORD, show_default=True, help="Password for every demo user.")
def demo_users(password: str) -> None:
    """Create one demo login per role (idempotent) and print them."""
    from sqlalchemy import select

    from app.db import db
    from app.models import User
    from app.services.accounts.access import create_user

    with transaction():
        for role in DEMO_ROLES:
            email = f"{role.replace('_', '-')}@{DEMO_DOMAIN}"
            if db.session.scalar(select(User).where(User.email == email)) is None:
                create_user(email, role, password)
    click.echo("Demo logins (change them on the Administration page, as the admin, before anyone else "
               "can reach this server):")
    for role in DEMO_ROLES:
        click.echo(f"  {role:<15} {role.replace('_', '-')}@{DEMO_DOMAIN}  password: {password}")
