"""Rollout changes from the command line, through the same gate as the API and the dashboard."""

from __future__ import annotations

import click

from app.cli import main, transaction

# The operator at the shell holds the database itself, so the command acts as no dashboard user;
# the audit log names it "cli".
CLI_ACTOR = "cli"


@main.group()
def features() -> None:
    """Feature rollouts: advance through the gate; archive, unarchive, edit stages not reached;
    compare variants and promote the winner."""


@features.command("advance")
@click.argument("key")
@click.option("--reason", help="Why; required with --override, kept in the audit log.")
@click.option("--override", is_flag=True,
              help="Advance although the next stage's gate fails (audited as an override).")
def features_advance(key: str, reason: str | None, override: bool) -> None:
    """Move feature KEY to its next stage once the gate guarding it passes.

    A failing gate lists each failing criterion (observed against required) and changes nothing,
    unless --override is given with a --reason.
    """
    from app.services.rollout.gates import advance_stage

    with transaction():
        feature, evaluation = advance_stage(key, CLI_ACTOR, reason, override)
        gate = ("no gate to judge" if evaluation is None else
                "gate passed" if evaluation.passed else "gate failed: overridden")
        click.echo(f"{feature.key} is now at stage {feature.current_stage} of {len(feature.stages)} ({gate})")
