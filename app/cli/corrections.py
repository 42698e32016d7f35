"""Corrections from the command line: void cost entries and events, archive features, edit the
stages a feature has not reached. Each needs --reason and is audited as ``cli:<login>``."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import click

from app.cli import main, transaction
from app.cli.rollout import features

REASON = click.option("--reason", required=True, help="Why (required; kept in the audit trail).")


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "cli"


def _json_file(path: Path):
    from app.errors import Detail, ValidationFailed

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValidationFailed(f"{path.name} is not JSON", [Detail("file", str(error))]) from None


@main.group()
def costs() -> None:
    """A feature's cost entries: list them with their ids, void one."""


@costs.command("list")
@click.argument("feature")
def costs_list(feature: str) -> None:
    """List FEATURE's cost entries (id, month, amount, category; voided ones marked)."""
    from app.services.ingest.voids import list_costs

    with transaction():
        rows = list_costs(feature)
    for row in rows:
        mark = f"  VOIDED ({row['void_reason']})" if row["voided"] else ""
        click.echo(f"{row['id']}\t{row['month']}\t{row['amount_eur']:.2f} EUR\t{row['category']}"
                   f"\t{row['note'] or ''}{mark}")


@costs.command("void")
@click.argument("feature")
@click.argument("cost_id", type=click.IntRange(1, 2**31 - 1))
@REASON
def costs_void(feature: str, cost_id: int, reason: str) -> None:
    """Void cost entry COST_ID of FEATURE: it stays listed but no longer counts."""
    from app.services.ingest.voids import void_cost

    with transaction():
        entry = void_cost(feature, cost_id, _actor(), reason)
        click.echo(f"cost entry {entry.id} of {feature} ({entry.month}, {entry.amount_eur:.2f} EUR) "
                   "is void")


@main.group()
def events() -> None:
    """Correct recorded events."""


@events.command("void")
@click.argument("event_ids", nargs=-1)
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file of event ids, one a line (added to those given as arguments).")
@click.option("--source", default="api", show_default=True, help="The events' source.")
@REASON
def events_void(event_ids: tuple[str, ...], file: Path | None, source: str, reason: str) -> None:
    """Void EVENT_IDS (at most 1,000; all or none). The KPIs drop them at the next refresh-kpis
    run, and a closed month they fall in is marked restated."""
    from app.services.ingest.voids import void_events

    ids = list(event_ids)
    if file is not None:
        ids += [line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    with transaction():
        result = void_events({"event_ids": ids, "source": source, "reason": reason}, _actor())
        click.echo(f"{len(result.voided)} events voided, {len(result.already_voided)} were void already")


# One `liftoff features` group (app/cli/rollout.py) holds advance and these corrections.


@features.command("archive")
@click.argument("feature")
@REASON
def features_archive(feature: str, reason: str) -> None:
    """Archive FEATURE: off for everyone, out of the lists, kept in history and KPIs."""
    from app.services.rollout.feature_plan import archive

    with transaction():
        archive(feature, _actor(), reason)
        click.echo(f"{feature} is archived")


@features.command("unarchive")
@click.argument("feature")
@REASON
def features_unarchive(feature: str, reason: str) -> None:
    """Unarchive FEATURE: back at the stage it had."""
    from app.services.rollout.feature_plan import unarchive

    with transaction():
        found = unarchive(feature, _actor(), reason)
        killed = " (killed)" if found.killed else ""
        click.echo(f"{feature} is back at stage {found.current_stage}{killed}")


@features.command("stages")
@click.argument("feature")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@REASON
def features_stages(feature: str, file: Path, reason: str) -> None:
    """Replace FEATURE's stage plan with FILE.json: a list of {"name", "cohorts", "percentage"}
    (or {"stages": [...]}). The stages reached so far must be unchanged."""
    from app.services.rollout.feature_plan import replace_stages

    with transaction():
        plan = _json_file(file)
        if isinstance(plan, dict) and set(plan) == {"stages"}:
            plan = plan["stages"]
        found = replace_stages(feature, plan, _actor(), reason)
        click.echo(f"{feature}: {len(found.stages)} stages, at stage {found.current_stage}")
