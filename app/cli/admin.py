"""Database, users, tokens and the web server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from app.cli import main, make_app, transaction
from app.models.access import ROLES, TOKEN_KINDS

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(url: str, revision: str = "head") -> None:
    from alembic import command

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


@main.group()
def db() -> None:
    """Database schema commands (Alembic)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Apply the migrations to DATABASE_URL."""
    app = make_app()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    upgrade_database(url, revision)
    click.echo(f"database at {_redacted(url)} is at {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert the migrations down to REVISION (e.g. base)."""
    from alembic import command

    app = make_app()
    command.downgrade(alembic_config(app.config["SQLALCHEMY_DATABASE_URI"]), revision)
    click.echo(f"database is at {revision}")


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.group()
def users() -> None:
    """Dashboard users."""


@users.command("create")
@click.option("--email", required=True, help="Login e-mail.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(ROLES),
    help="What the user may do.",
)
@click.option("--password", help="At least 12 characters, not a common one; asked for when omitted.")
@click.option("--generate-password", is_flag=True,
              help="Make up a strong password and print it once, to hand over to the user.")
def users_create(email: str, role: str, password: str | None, generate_password: bool) -> None:
    """Create a user who can log in to the dashboard (audited)."""
    from app.services.accounts import access

    if generate_password:
        if password is not None:
            raise click.UsageError("give --password or --generate-password, not both")
        password = access.generate_password()
    elif password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with transaction():
        user = access.create_user(email, role, password, actor="cli")
        click.echo(f"created {user.role} user {user.email}")
    if generate_password:
        click.echo("their password, shown once (they can change it with an admin's help):")
        click.echo(password)


_BASE_URL = click.option(
    "--base-url", envvar="LIFTOFF_PUBLIC_URL", default="http://127.0.0.1:8050", show_default=True,
    help="The address people open Liftoff at; the link is <base-url>/invite/<secret> "
         "(default from LIFTOFF_PUBLIC_URL).")


@users.command("invite")
@click.option("--email", required=True, help="Login e-mail.")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the user may do.")
@_BASE_URL
def users_invite(email: str, role: str, base_url: str) -> None:
    """Create a user and print a one-time link where they choose their own password (valid a week;
    nobody else ever sees it). Audited."""
    from app.services.accounts import invites

    with transaction():
        user, secret = invites.invite_user(email, role, actor="cli")
        click.echo(f"created {user.role} user {user.email}; send them this link (shown once, valid 7 days):")
    click.echo(invites.link(base_url, secret))


@users.command("new-link")
@click.argument("email")
@_BASE_URL
def users_new_link(email: str, base_url: str) -> None:
    """Print a new one-time link for EMAIL to choose a password (e.g. they never used theirs, or
    forgot their password); their older links stop working. Audited."""
    from app.services.accounts import invites

    with transaction():
        user, secret = invites.reinvite(email, actor="cli")
        click.echo(f"a new link for {user.email} (shown once, valid 7 days; older links no longer work):")
    click.echo(invites.link(base_url, secret))


@users.command("list")
def users_list() -> None:
    """List every user: e-mail, role, active or not, created (never a password)."""
    from app.services.accounts.access import list_users

    with transaction():
        rows = list_users()
        click.echo(f"{'email':<40} {'role':<15} {'state':<9} created")
        for user in rows:
            state = "active" if user.active else "inactive"
            click.echo(f"{user.email:<40} {user.role:<15} {state:<9} {user.created_at:%Y-%m-%d}")
        click.echo(f"{len(rows)} user(s)")


@users.command("set-password")
@click.argument("email")
@click.option("--password", help="The new password (same policy as create); asked for when omitted.")
def users_set_password(email: str, password: str | None) -> None:
    """Give EMAIL a new password; every session of theirs ends."""
    from app.services.accounts.access import set_password

    if password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    with transaction():
        user = set_password(email, password, actor="cli")
        click.echo(f"new password set for {user.email}; their sessions have ended")


@users.command("set-role")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(list(ROLES)))
def users_set_role(email: str, role: str) -> None:
    """Change the role of EMAIL; every session of theirs ends. The last active admin cannot be
    demoted."""
    from app.services.accounts.access import set_role

    with transaction():
        user = set_role(email, role, actor="cli")
        click.echo(f"{user.email} is now {user.role}; their sessions have ended")


@users.command("deactivate")
@click.argument("email")
def users_deactivate(email: str) -> None:
    """Stop EMAIL from logging in; every session of theirs ends at once. The last active admin
    cannot be deactivated."""
    from app.services.accounts.access import set_active

    with transaction():
        user = set_active(email, False, actor="cli")
        click.echo(f"{user.email} deactivated; their sessions have ended")


@users.command("activate")
@click.argument("email")
def users_activate(email: str) -> None:
    """Let EMAIL log in again (a fresh login: sessions from before stay ended)."""
    from app.services.accounts.access import set_active

    with transaction():
        user = set_active(email, True, actor="cli")
        click.echo(f"{user.email} activated")


@users.command("end-sessions")
@click.argument("email")
def users_end_sessions(email: str) -> None:
    """Log EMAIL out everywhere (a lost laptop, a copied cookie)."""
    from app.services.accounts.access import end_sessions, get_user
    from app.services.audit import audit

    with transaction():
        user = get_user(email)
        end_sessions(user)
        audit("cli", "user.end_sessions", "user", user.email)
        click.echo(f"every session of {user.email} has ended")


@users.command("report-subscription")
@click.argument("email")
@click.option("--on/--off", "on", required=True,
              help="--on: e-mail EMAIL the monthly ROI report at each monthly close; --off: stop.")
def users_report_subscription(email: str, on: bool) -> None:
    """Subscribe EMAIL to the monthly ROI report, or unsubscribe them.

    After each monthly close, every active executive or admin who subscribed gets the one-page
    report by e-mail (SMTP_HOST, SMTP_PORT, SMTP_FROM, ...; see docs/scheduler.md). Other roles
    cannot subscribe. Users can also tick the box on the dashboard's Executive page.
    """
    from app.services.reporting.report_mail import set_subscription

    with transaction():
        user, changed = set_subscription(email, on)
        what = "subscribed to" if on else "unsubscribed from"
        click.echo(f"{user.email} {what} the monthly report{'' if changed else ' (no change)'}")


@main.group()
def tokens() -> None:
    """API tokens (admin, ingest), server-side SDK client tokens and browser/mobile frontend tokens."""


@tokens.command("create")
@click.option("--kind", required=True, type=click.Choice(TOKEN_KINDS))
@click.option(
    "--environment",
    type=click.Choice(["development", "production"]),
    help="Client and frontend tokens only (default production).",
)
@click.option("--name", help="A label to recognise the token by.")
@click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), help="Expiry date (UTC).")
def tokens_create(kind: str, environment: str | None, name: str | None, expires) -> None:
    """Create a token; its secret is printed once, alone on the last line."""
    from app.services.accounts.access import create_token

    expires_at = expires.replace(tzinfo=UTC) if expires else None
    with transaction():
        token, secret = create_token(kind, environment, name, expires_at, actor="cli")
        where = f" for {token.environment}" if token.environment else ""
        click.echo(f"created {token.kind} token '{token.name}'{where} (id {token.id}); "
                   "store the secret now, it is not shown again:")
    click.echo(secret)


@tokens.command("list")
def tokens_list() -> None:
    """List every token: id, kind, environment, name, prefix, state, expiry, last used (never the
    secret)."""
    from app.services.accounts.access import list_tokens, token_last_used, token_state

    with transaction():
        rows = list_tokens()
        used = token_last_used([t.id for t in rows])
        click.echo(f"{'id':>5}  {'kind':<8} {'environment':<12} {'state':<8} {'expires':<17} "
                   f"{'last used':<17} {'prefix':<32} name")
        for token in rows:
            expires = f"{token.expires_at:%Y-%m-%d %H:%M}" if token.expires_at else "-"
            last = f"{used[token.id]:%Y-%m-%d %H:%M}" if token.id in used else "never"
            click.echo(f"{token.id:>5}  {token.kind:<8} {token.environment or '-':<12} "
                       f"{token_state(token):<8} {expires:<17} {last:<17} {token.prefix:<32} {token.name}")
        click.echo(f"{len(rows)} token(s)")


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke the token with this id (audited)."""
    from app.services.accounts.access import revoke_token

    with transaction():
        token = revoke_token(token_id, actor="cli")
        click.echo(f"revoked token {token.id} ({token.name}) at {datetime.now(UTC):%Y-%m-%d %H:%M}")


# Threads of `liftoff serve`: SDK polls are answered in microseconds, but a dashboard callback or a
# KPI read can take a second, and should not make the polls queue behind it.
SERVE_THREADS = 8


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the web app, the API, the Unleash client API and the dashboard.

    One process, served by waitress (a production-grade, multi-threaded WSGI server, on every OS);
    hosts that serve many people run gunicorn with several workers (docs/operations.md).
    """
    import logging

    import waitress

    from app import serving

    app = make_app(with_dash=True)
    if app.config.get("RUN_SCHEDULER_IN_PROCESS"):
        # The single-process demo only; gunicorn workers never get here (docs/scheduler.md).
        from app.services.operations.jobs import start_scheduler

        start_scheduler(app)
        click.echo("scheduler running in this process (LIFTOFF_SCHEDULER_IN_PROCESS=1)")
    click.echo(f"Liftoff on http://{host}:{port}/  (dashboard: /dashboard/, health: /healthz)")
    # waitress warns each time a request waits for a free thread: under a burst of polls that is a
    # line per request, and the requests are answered anyway.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    serving.settle_for_serving()
    waitress.serve(app, host=host, port=port, threads=SERVE_THREADS, ident="liftoff")
