"""The audit log is append-only: the ORM refuses to change or remove an entry, and the database's
own triggers (migration 0006) refuse raw SQL too, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from app.db import db
from app.models import AuditEntry
from app.security import AuditLogIsAppendOnly
from app.services.audit import audit

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def entry(app):
    row = audit("tester", "rollout.advance", "feature", "demo", after={"stage": 1}, reason="planned")
    db.session.commit()
    return row


def test_the_orm_refuses_to_update_an_entry(entry):
    entry.reason = "rewritten history"
    with pytest.raises(AuditLogIsAppendOnly, match="append-only"):
        db.session.flush()
    db.session.rollback()
    assert db.session.scalar(select(AuditEntry.reason)) == "planned"


def test_the_orm_refuses_to_delete_an_entry(entry):
    db.session.delete(entry)
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 1


@pytest.mark.parametrize("statement", [
    update(AuditEntry).values(reason="x"),
    delete(AuditEntry),
    delete(AuditEntry).where(AuditEntry.actor == "tester"),
])
def test_bulk_orm_statements_are_refused(entry, statement):
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.execute(statement)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 1


@pytest.mark.parametrize("sql", ["UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log"])
def test_the_database_refuses_raw_sql(entry, sql):
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text(sql))
    db.session.rollback()
    assert db.session.scalar(text("SELECT reason FROM audit_log")) == "planned"


def test_new_entries_are_still_written(entry):
    audit("tester", "rollout.kill", "feature", "demo", reason="second")
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 2


@pytest.mark.postgres
def test_postgres_refuses_truncate_too(entry):
    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("LIFTOFF_TEST_DATABASE is not a PostgreSQL server")
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text("TRUNCATE audit_log"))
    db.session.rollback()


def test_no_code_path_updates_or_deletes_audit_entries():
    # Besides the guards: the source never even tries (the guards' own module is the exception).
    pattern = re.compile(r"(update|delete)\(\s*AuditEntry|audit_log\b.*\b(UPDATE|DELETE)", re.I)
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("app", "dashboards")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "security.py" and pattern.search(path.read_text())
    ]
    assert offenders == []
