"""The ``liftoff`` command. Each command owns its transaction: all of it is written, or nothing."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import click
from flask import Flask

from app.errors import LiftoffError


def make_app(with_dash: bool = False) -> Flask:
    from flask import current_app, has_app_context

    from app import create_app

    if has_app_context():
        # Flask declares current_app as a Flask; it is a LocalProxy, which has this method.
        return current_app._get_current_object()  # type: ignore[attr-defined]
    return create_app({"SKIP_DASH": not with_dash})


@contextlib.contextmanager
def transaction(app: Flask | None = None) -> Iterator[Flask]:
    """App context + one transaction: commit on success; on a domain error, roll back, print
    every problem to stderr and exit 1."""
    from flask import current_app, has_app_context

    from app.db import db

    if app is None and has_app_context():
        # tests and `flask liftoff ...` bring their own; current_app is a LocalProxy (typed as Flask)
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    app = app or make_app()
    with app.app_context():
        try:
            yield app
            db.session.commit()
        except LiftoffError as error:
            db.session.rollback()
            click.echo(f"error: {error}", err=True)
            sys.exit(1)
        except BaseException:
            db.session.rollback()
            raise


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Liftoff: staged AI-feature rollouts with KPIs and ROI.

    DATABASE_URL selects the database (default: SQLite under ./instance/).
    """


def register(app: Flask) -> None:
    """Also expose the commands under ``flask`` for people who prefer it."""
    app.cli.add_command(main, "liftoff")


# Sub-command modules attach themselves to ``main`` when imported.
from app.cli import (  # noqa: E402, F401
    admin,
    corrections,
    data,
    datasets,
    feedback_import,
    ingest,
    operations,
    privacy,
    reports,
    rollout,
    variants,
)
