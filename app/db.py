"""The database handle and the declarative base every model shares."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, Select, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


class UTCDateTime(TypeDecorator):
    """Stored as naive UTC (SQLite keeps no offset); always handed back timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def column_lists(stmt: Select) -> list[list]:
    """Each column of ``stmt``'s rows as one list (all in the same row order).

    PostgreSQL hands each column over as one array (``array_agg`` over the result), which the
    driver parses in C: 100,000 ids in milliseconds, where a row each costs several microseconds
    of Python. SQLite, in process and small, reads row by row. Values come as the driver types them.
    """
    width = len(stmt.selected_columns)
    if not is_postgresql():
        rows = db.session.connection().execute(stmt).all()
        return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]
    rows_of = stmt.subquery()
    arrays = db.session.connection().execute(select(*[func.array_agg(c) for c in rows_of.c])).one()
    return [list(values) if values is not None else [] for values in arrays]


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    # SQLite ignores foreign keys unless asked, and WAL lets the dashboard read while jobs write.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()
