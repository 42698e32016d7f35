"""``liftoff datasets``: export a versioned dataset of corrections, list a dataset's versions."""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from app.cli import main, transaction


def _actor() -> str:
    # The audit trail and the export record name who ran the command, as other CLI writes do.
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "cli"


@main.group()
def datasets() -> None:
    """Datasets of corrections: each export is a new, recorded version (docs/review.md)."""


@datasets.command("export")
@click.option("--dataset", "dataset_key", required=True, help="dataset name, e.g. drafts-corrections")
@click.option("--feature", required=True, help="the feature whose corrections are exported")
@click.option("--variant", default=None, help="only items served by this variant")
@click.option("--start", default=None, help="first day (YYYY-MM-DD) of the items' dates")
@click.option("--end", default=None, help="last day (YYYY-MM-DD) of the items' dates")
@click.option("--category", default=None, help="only reviewed items of this category")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write here instead of standard output")
def export(dataset_key: str, feature: str, variant: str | None, start: str | None, end: str | None,
           category: str | None, fmt: str, output: Path | None) -> None:
    """Freeze a new version of a dataset of corrections (self-reported corrections and reviewed
    items labelled corrected or wrong) and write it as JSONL or CSV."""
    from app.services.review import datasets as service

    with transaction():
        version = service.export_version(dataset_key, _actor(), feature, variant, start, end, category)
        text = service.render(version, fmt)
        summary = f"{dataset_key} version {version.version}: {version.item_count} item(s)"
    if output is None:
        click.echo(text, nl=False)
        click.echo(summary, err=True)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"{summary} written to {output}")


@datasets.command("versions")
@click.argument("dataset_key")
def versions(dataset_key: str) -> None:
    """List DATASET_KEY's versions: who exported each, when, the filter, how many items."""
    from app.services.review import datasets as service

    with transaction():
        for v in service.list_versions(dataset_key):
            click.echo(f"v{v['version']}\t{v['created_at']}\t{v['created_by']}\t{v['items']} item(s)\t"
                       f"{ {k: x for k, x in v['filter'].items() if x} }")
