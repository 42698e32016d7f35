"""The scheduler process, jobs run by hand, connectors and alert channels."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import click

from app.cli import main, make_app, transaction


@main.command()
@click.option("--poll", default=2.0, show_default=True, type=float,
              help="Seconds between leader-lock checks (how fast a standby takes over).")
def scheduler(poll: float) -> None:
    """Run the scheduled jobs (a separate process; safe to start twice on PostgreSQL).

    The processes elect a leader; the others wait and take over within POLL seconds when it dies.
    """
    from app.services.operations.jobs import start_scheduler

    app = make_app()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"scheduler waiting for the leader lock (poll {poll:g}s); Ctrl-C stops it", err=True)
    start_scheduler(app, poll=poll, stop=stop)


@main.group()
def jobs() -> None:
    """The registered periodic jobs and their runs."""


@jobs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def jobs_list(as_json: bool) -> None:
    """List every job with its schedule and last run."""
    from app.services.operations.job_runs import close_dead_runs, last_runs, run_record
    from app.services.operations.jobs import current_leader, listed_jobs

    with transaction():
        close_dead_runs()  # runs whose process was killed show as interrupted (committed at the end)
        latest = last_runs()
        specs, problem = listed_jobs()
        if problem:
            click.echo(f"warning: connector pulls not listed: {problem}", err=True)
        if as_json:
            click.echo(json.dumps([{"name": s.name, "schedule": s.schedule, "last_run":
                                    run_record(latest[s.name]) if s.name in latest else None}
                                   for s in specs], indent=2))
            return
        click.echo(f"{'JOB':<28} {'SCHEDULE':<14} {'LAST RUN':<20} {'STATUS':<8} {'READ':>7} "
                   f"{'WRITTEN':>7}  ERROR")
        for spec in specs:
            run = latest.get(spec.name)
            if run is None:
                click.echo(f"{spec.name:<28} {spec.schedule:<14} {'never':<20}")
                continue
            error = (run.error or "").splitlines()[0][:60] if run.error else ""
            click.echo(f"{spec.name:<28} {spec.schedule:<14} {run.started_at:%Y-%m-%d %H:%M:%S} "
                       f"{run.status:<8} {run.rows_read:>7} {run.rows_written:>7}  {error}")
        leader = current_leader()
        if leader is not None:
            click.echo(f"\nscheduler leader: {leader.holder} since {leader.acquired_at:%Y-%m-%d %H:%M:%S}"
                       f" UTC, last heartbeat {leader.heartbeat_at:%H:%M:%S}")


@jobs.command("run")
@click.argument("name")
@click.option("--full", is_flag=True, help="Full recomputation (jobs that support it).")
@click.option("--attempts", default=1, show_default=True, type=click.IntRange(1, 10),
              help="Retry with exponential backoff up to this many attempts.")
def jobs_run(name: str, full: bool, attempts: int) -> None:
    """Run job NAME now; exits non-zero if it fails."""
    from app.services.operations.job_runs import run_record
    from app.services.operations.jobs import run_job

    with transaction():
        click.echo(f"running {name} ...", err=True)
        run = run_job(name, "manual", full=full, max_attempts=attempts)
        record = run_record(run)
    click.echo(f"{name}: {record['status']} in {record['duration_seconds']}s (attempt {record['attempt']}), "
               f"{record['rows_read']} rows read, {record['rows_written']} written")
    if record["status"] != "success":  # a warning too: its work is committed, a step after it failed
        click.echo(f"{'warning' if record['status'] == 'warning' else 'error'}: {record['error']}", err=True)
        sys.exit(1)


@main.command("close")
@click.option("--month", required=True, metavar="YYYY-MM", help="Any past month (not the current one).")
def close_month(month: str) -> None:
    """Close (freeze) MONTH's ROI figures: any past month, not only the last one.

    The rollups are refreshed first, so the close holds every event accepted so far. A month
    closed already stays as it was. The monthly report goes to its subscribers as after the job.
    A month without events is closed too (the API, the dashboard and the job refuse one), with a
    warning: its figures are all zero.
    """
    from app.services.reporting import closes, report_mail

    with transaction() as app:
        result = closes.close_past_month(month, allow_empty=True)
        record = closes.close_record(result.close)
        empty = result.new and not closes.has_activity(month)
    if empty:
        click.echo(f"warning: {closes.month_label(month)} has no events: its figures are all zero",
                   err=True)
    warning = None
    if result.new:  # committed by now: only a close that holds is mailed
        with app.app_context():
            warning = report_mail.deliver(month, result.news).warning
    total = record["figures"]["total"]
    state = "closed" if result.new else "already closed (unchanged)"
    click.echo(f"{month}: {state} at {record['closed_at']}; net {total['net_eur']:.2f} EUR, "
               f"cumulative net {total['cumulative_net_eur']:.2f} EUR")
    if warning:
        click.echo(f"warning: {warning}", err=True)


@main.group()
def connectors() -> None:
    """Connectors: YAML files in connectors/ (LIFTOFF_CONNECTORS_DIR) or configured in the app."""


@connectors.command("list")
def connectors_list() -> None:
    """List every connector with its kind, target, schedule and origin."""
    from app.connectors.config import all_connectors

    with transaction():
        for c in all_connectors():
            state = "" if c.enabled else " (disabled)"
            click.echo(f"{c.name:<24} {c.kind:<16} -> {c.target:<13} {c.schedule:<14} {c.origin}{state}")


@connectors.command("check")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def connectors_check(files: tuple[Path, ...]) -> None:
    """Validate connector YAML FILES (default: all of them); exits 1 naming each bad file and field."""
    from app.connectors.config import all_connectors, load_file

    with transaction():
        checked = [load_file(f) for f in files] if files else all_connectors()
        click.echo(f"{len(checked)} connector(s) valid")


@connectors.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def connectors_add(file: Path) -> None:
    """Store the connector of YAML FILE in the app (replacing one of the same name)."""
    from app.connectors.config import load_file, read_yaml, save_connector

    with transaction():
        load_file(file)
        document = read_yaml(file.read_text())
        assert isinstance(document, dict), "load_file has rejected a document that is not a mapping"
        row = save_connector(document)
        click.echo(f"connector {row.name} saved in the app")


@main.group()
def alerts() -> None:
    """Alert channels: webhooks (Slack-compatible) and e-mail, global or per feature."""


@alerts.command("add")
@click.option("--kind", required=True, type=click.Choice(["webhook", "email"]))
@click.option("--target", required=True, help="Webhook URL or e-mail address.")
@click.option("--feature", help="Only this feature's alerts (default: every alert).")
def alerts_add(kind: str, target: str, feature: str | None) -> None:
    """Add an alert channel."""
    from app.alerts import add_channel

    with transaction():
        channel = add_channel(kind, target, feature)
        click.echo(f"alert channel {channel.id}: {kind} {target}" + (f" for {feature}" if feature else ""))


@alerts.command("test")
@click.option("--feature", help="Reach this feature's channels too.")
def alerts_test(feature: str | None) -> None:
    """Send a test alert to every channel; exits 1 if none was reached."""
    from app.alerts import send_alert

    with transaction():
        reached = send_alert("Liftoff test alert", "If you read this, alerts reach you.", feature)
    click.echo(f"reached: {', '.join(reached) or 'nobody'}")
    if not reached:
        sys.exit(1)
