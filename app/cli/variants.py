"""A feature's variants from the command line: compare them, promote the winner."""

from __future__ import annotations

from datetime import timedelta

import click

from app.cli import transaction
from app.cli.rollout import CLI_ACTOR, features


def _figure(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


@features.command("promote")
@click.argument("key")
@click.argument("variant")
@click.option("--reason", required=True, help="Why this variant won; kept in the audit log.")
@click.option("--override", is_flag=True,
              help="Promote although the stage gate's criteria for the variant fail (audited).")
def features_promote(key: str, variant: str, reason: str, override: bool) -> None:
    """Give VARIANT of feature KEY weight 100 % (the others 0): every exposed person gets it.

    The current stage's variant criteria (evaluation pass rate of the variant's model, the decision
    rule, criteria naming the variant) must pass, else each failing one is listed and nothing
    changes, unless --override.
    """
    from app.services.rollout.promotion import promote

    with transaction():
        _, criteria = promote(key, variant, CLI_ACTOR, reason, override)
        click.echo(f"{key}: {variant} now serves 100 % of the exposed people")
        for c in criteria:
            verdict = "passed" if c["passed"] else "FAILED (overridden)"
            click.echo(f"  {verdict}: {c['metric']}: {c['message']}")


@features.command("compare")
@click.argument("key")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 366),
              help="The window: the last DAYS days up to today.")
@click.option("--control", help="The variant to compare against (default: the rule's, else the first).")
def features_compare(key: str, days: int, control: str | None) -> None:
    """Compare the variants of feature KEY: figures, differences from the control with their 95 %
    intervals, the sample-ratio check and the decision."""
    from app.db import utcnow
    from app.services.kpi_reads.variant_figures import comparison

    with transaction():
        end = utcnow().date()
        got = comparison(key, end - timedelta(days=days - 1), end, control)
    click.echo(f"{key} {got['start']}..{got['end']}, control {got['control']}")
    for v in got["variants"]:
        if v["suppressed"]:
            click.echo(f"  {v['variant']:<20} weight {v['weight']:>3} %  fewer than 5 exposed (hidden)")
            continue
        click.echo(f"  {v['variant']:<20} weight {v['weight']:>3} %  exposed {v['exposed_users']:>6}  "
                   f"adoption {_figure(v['adoption_rate'])}  errors {_figure(v['error_rate'])}  "
                   f"EUR/task {_figure(v['cost_per_task_eur'], 4)}  "
                   f"net EUR/person {_figure(v['net_eur_per_exposed_person'], 2)}")
    for name, diff in got["differences"].items():
        for metric, d in diff.items():
            flag = " *" if d["excludes_zero"] else ""
            click.echo(f"  {name} - {got['control']}: {metric} {_figure(d['difference'], 4)} "
                       f"[{_figure(d['ci_low'], 4)}, {_figure(d['ci_high'], 4)}]{flag}")
    srm = got["sample_ratio"]
    click.echo(f"  sample ratio: p = {_figure(srm['p_value'], 4)}"
               f"{'  MISMATCH (p < 0.001)' if srm['mismatch'] else ''}")
    decision = got["decision"]
    if decision["rule"]:
        click.echo(f"  decision: {decision['winner'] or 'no variant meets the rule yet'}")
