"""The department an event counts for: the one its person held at the end of the event's day (UTC),
from the recorded history, as a SQL join condition. Shared by the incremental refresh
(materialise.py), the full rebuild on PostgreSQL (rebuild.py) and the KPI reads."""

from __future__ import annotations

from sqlalchemy import Date, and_, cast, func, literal_column, or_

from app.models import DepartmentMembership


def next_day(day, dialect: str):
    """SQL: midnight UTC ending ``day`` (a date expression)."""
    if dialect == "sqlite":
        # Dates and naive-UTC timestamps are ISO text on SQLite, which compares as instants do.
        return func.date(day, "+1 day")
    return cast(day + literal_column("1"), Date)


def department_on(person_id, day, dialect: str):
    """The join condition of the department interval its person held at the end of ``day``
    (an interval [from, to) holds at the day's last instant when from < next midnight <= to)."""
    dm, midnight = DepartmentMembership, next_day(day, dialect)
    return and_(dm.person_id == person_id, or_(dm.valid_from.is_(None), dm.valid_from < midnight),
                or_(dm.valid_to.is_(None), dm.valid_to >= midnight))
