"""People, their departments and the cohorts rollouts target."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import UTCDateTime, db, utcnow


class Department(db.Model):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # None means the organisation default (LIFTOFF_DEFAULT_HOURLY_RATE) applies.
    hourly_rate_eur: Mapped[float | None] = mapped_column(Float)

    people: Mapped[list[Person]] = relationship(back_populates="department")


class Person(db.Model):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The id the company and the SDKs know this person by (may be pseudonymous).
    person_id: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # GDPR erasure blanks the identifying fields but keeps the row so aggregates stay intact.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    department: Mapped[Department | None] = relationship(back_populates="people")


class Cohort(db.Model):
    __tablename__ = "cohorts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the first recorded membership took effect (null: since the beginning). The intervals of
    # that first membership start at null, so earlier instants see it; a replacement back-dated to
    # this instant or before supersedes it entirely instead of leaving it in force before.
    history_from: Mapped[datetime | None] = mapped_column(UTCDateTime)

    members: Mapped[list[CohortMember]] = relationship(
        back_populates="cohort", cascade="all, delete-orphan"
    )


class CohortMember(db.Model):
    __tablename__ = "cohort_members"

    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    cohort: Mapped[Cohort] = relationship(back_populates="members")
    person: Mapped[Person] = relationship()


class CohortMembership(db.Model):
    """A person was a member of a cohort from ``valid_from`` (null: since the beginning) until
    ``valid_to`` (null: still). ``cohort_members`` is the open intervals: the membership now."""

    __tablename__ = "cohort_memberships"
    __table_args__ = (Index("ix_cohort_memberships_cohort_person", "cohort_id", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DepartmentMembership(db.Model):
    """A person belonged to a department from ``valid_from`` (null: since the beginning, which is
    how a person's first recorded department reaches back) until ``valid_to`` (null: still).
    No interval in force means no department. ``people.department_id`` is the open interval."""

    __tablename__ = "department_memberships"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
