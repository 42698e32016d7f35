"""scripts/backup.sh and scripts/restore.sh on PostgreSQL: a seeded database, backed up, restored
into a new database, holds the same rows in every table, and the app runs on it."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, inspect, select, text

from app import create_app
from app.db import db
from app.models import Event
from tests.conftest import USING_POSTGRES, drop_pg_database, pg_url
from tests.helpers import gen_cohort, gen_feature, gen_person
from tests.kpi_scenarios import event

needs_postgres = pytest.mark.skipif(not USING_POSTGRES,
                                    reason="needs LIFTOFF_TEST_DATABASE=postgresql+psycopg://...")
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def row_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        tables = inspect(engine).get_table_names()
        with engine.connect() as conn:
            return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in tables}
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.slow
@needs_postgres
def test_backup_then_restore_into_a_new_database_keeps_every_row(app, client, database_url,
                                                                  ingest_headers, tmp_path):
    people = [gen_person(f"p{i:03d}") for i in range(30)]
    gen_cohort("champions", people[:5])
    gen_feature("draft")
    db.session.commit()
    rows = [event("draft", f"p{i % 30:03d}", f"2026-10-{1 + i % 28:02d}T10:00:00Z", duration=60)
            for i in range(200)]
    assert client.post("/api/v1/events", json=rows, headers=ingest_headers).get_json()["accepted"] == 200
    db.session.remove()
    source = row_counts(database_url)
    assert source["events"] == 200 and source["people"] == 30 and source["alembic_version"] == 1

    dump = tmp_path / "liftoff.dump"
    backup = subprocess.run([str(SCRIPTS / "backup.sh"), database_url, str(dump)], capture_output=True,
                            text=True, timeout=120)
    assert backup.returncode == 0, backup.stderr
    assert dump.stat().st_size > 0 and not Path(f"{dump}.partial").exists()

    name = f"liftoff_restore_{uuid.uuid4().hex[:10]}"
    target = pg_url(name)
    try:
        restore = subprocess.run([str(SCRIPTS / "restore.sh"), str(dump), target], capture_output=True,
                                 text=True, timeout=120)
        assert restore.returncode == 0, restore.stderr
        assert "schema revision" in restore.stdout
        assert row_counts(target) == source

        # A second restore over the now populated database is refused and changes nothing.
        again = subprocess.run([str(SCRIPTS / "restore.sh"), str(dump), target], capture_output=True,
                               text=True, timeout=120)
        assert again.returncode == 1 and "already holds" in again.stderr
        assert row_counts(target) == source

        restored = create_app({"SQLALCHEMY_DATABASE_URI": target, "TESTING": True, "SKIP_DASH": True,
                               "SECRET_KEY": "x"})
        with restored.app_context():
            ids = set(db.session.scalars(select(Event.event_id)))
            assert ids == {r["event_id"] for r in rows}
            assert db.session.scalar(select(func.sum(Event.duration_seconds))) == 200 * 60
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
    finally:
        drop_pg_database(name)


def test_the_scripts_refuse_bad_arguments(tmp_path):
    assert subprocess.run([str(SCRIPTS / "backup.sh"), "sqlite:///x.db"], capture_output=True,
                          timeout=30).returncode == 2
    target = "postgresql://postgres@127.0.0.1:5432/liftoff_never_created"
    missing = subprocess.run([str(SCRIPTS / "restore.sh"), str(tmp_path / "none.dump"), target],
                             capture_output=True, text=True, timeout=30)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
