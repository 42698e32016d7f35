"""Test fixtures. Every test gets its own database, copied from one migrated template per worker,
so tests are isolated and run in parallel (pytest -n). LIFTOFF_TEST_DATABASE picks the server:
unset for SQLite files, or a PostgreSQL server URL such as
postgresql+psycopg://postgres@127.0.0.1:5432/ for a fresh database per test."""

from __future__ import annotations

import os
import re
import shutil
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from app import create_app
from app.cli.admin import upgrade_database
from app.db import db as _db
from tests.helpers import Served

PG_SERVER = os.environ.get("LIFTOFF_TEST_DATABASE", "")
USING_POSTGRES = PG_SERVER.startswith("postgresql")


# Modules whose module-scoped fixtures take 10-25 s to set up (a seeded database, the app served in
# a subprocess, Chromium, an Unleash server, two hosts behind haproxy): their tests run on one
# xdist worker, so those fixtures are set up once instead of once per worker.
SET_UP_ONCE = ("tests/test_dashboard_junk.py", "tests/test_unleash_apply.py", "tests/test_multi_host.py")


def _set_up_once(module: str) -> bool:
    return module.endswith("_browser.py") or module in SET_UP_ONCE


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Under `pytest -n`, ``--dist load`` as usual but for the modules of ``_set_up_once``, whose
    tests go to one worker together. (xdist's own ``--dist loadgroup`` marks tests by rewriting
    their node ids, which pytest 9.2 no longer reads: it silently spread them.)"""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SetUpOnce(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if _set_up_once(module) else nodeid

    return SetUpOnce(config, log)


def pg_admin_engine():
    url = make_url(PG_SERVER).set(database="postgres")
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def pg_url(name: str) -> str:
    return make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)


def create_pg_database(name: str, template: str | None = None) -> str:
    engine = pg_admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        suffix = f' TEMPLATE "{template}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
    engine.dispose()
    return pg_url(name)


def drop_pg_database(name: str) -> None:
    engine = pg_admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _worker() -> str:
    return re.sub(r"\W", "", os.environ.get("PYTEST_XDIST_WORKER", "main"))


@pytest.fixture(scope="session")
def template_database(tmp_path_factory):
    """One migrated database per worker: the expensive part, done once."""
    if USING_POSTGRES:
        name = f"liftoff_tmpl_{_worker()}_{os.getpid()}"
        url = create_pg_database(name)
        upgrade_database(url)
        yield name
        drop_pg_database(name)
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        upgrade_database(f"sqlite:///{path}")
        yield str(path)


@pytest.fixture
def database_url(template_database, tmp_path):
    """A fresh, migrated, empty database for this test."""
    if USING_POSTGRES:
        name = f"liftoff_t_{_worker()}_{uuid.uuid4().hex[:10]}"
        url = create_pg_database(name, template=template_database)
        yield url
        drop_pg_database(name)
    else:
        path = tmp_path / "liftoff.db"
        shutil.copy(template_database, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def app(database_url, tmp_path):
    """The app on its own database, without Dash (one Dash app per process; see dashboard tests)."""
    application = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "TESTING": True,
            "SKIP_DASH": True,
            "SECRET_KEY": "test-secret",
            "INSTANCE_TMP": str(tmp_path),
        }
    )
    with application.app_context():
        yield application
        _db.session.remove()
        for engine in _db.engines.values():
            engine.dispose()


@pytest.fixture
def session(app):
    """The database session of the test's app context."""
    return _db.session


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def _token(kind: str, environment: str | None = None) -> str:
    from app.services.accounts.access import create_token

    _, secret = create_token(kind, environment, name=f"test {kind}")
    _db.session.commit()
    return secret


@pytest.fixture
def admin_token(app) -> str:
    return _token("admin")


@pytest.fixture
def admin_headers(admin_token) -> dict:
    return {"Authorization": f"Bearer {admin_token}"}


@pytest.fixture
def ingest_headers(app) -> dict:
    return {"Authorization": f"Bearer {_token('ingest')}"}


@pytest.fixture
def client_token(app) -> str:
    """An SDK client token for the production environment."""
    return _token("client", "production")


class LiveServer(Served):
    def __init__(self, application):
        self.app = application
        self.serve(make_server("127.0.0.1", 0, application, threaded=True))


@pytest.fixture
def live_server(app):
    """The test's app served on a free port of 127.0.0.1 (for real SDKs and HTTP clients)."""
    with LiveServer(app) as server:
        yield server
