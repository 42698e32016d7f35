"""People, departments and cohorts: the audiences rollouts are aimed at."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator

from app import plausible
from app.schemas.common import Body, Figure, OptionalText, OptionalTimestamp, Text, problem

# A pragmatic check: one @, no blanks, a dotted domain of letters, digits and hyphens.
EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
COHORT_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
MAX_LENGTH = {
    "person_id": 200, "name": 200, "email": 320, "department": 120, "cohort": 120, "cohort_name": 200,
}


class PersonIn(Body):
    """A person of the directory (a row of ``POST /people`` and of the people CSV)."""

    person_id: Text(MAX_LENGTH["person_id"]) = Field(
        description="any opaque, pseudonymous id: no e-mail needed")
    name: OptionalText(MAX_LENGTH["name"]) = None
    email: OptionalText(MAX_LENGTH["email"]) = None
    department: OptionalText(MAX_LENGTH["department"]) = None
    """A department's name; one not seen before is created without a rate (unless refused)."""

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.match(value):
            raise problem(f"not an e-mail address: {value!r}")
        return value


class DepartmentIn(Body):
    """``PUT /departments/{name}``: the hourly rate, null for the organisation default."""

    hourly_rate_eur: Figure(plausible.MAX_HOURLY_RATE_EUR, " EUR an hour")


def _members(value: Any) -> Any:
    if not isinstance(value, list):
        raise problem("is required: a list of person_id strings")
    if len(value) > plausible.MAX_COHORT_MEMBERS:
        raise problem(f"{len(value):,} members; a cohort holds at most {plausible.MAX_COHORT_MEMBERS:,}")
    return value


def _known_person(person_id: str, info: ValidationInfo) -> str:
    # The service passes the people that exist as the context, so an unknown member is reported
    # together with every other problem of the body.
    known = info.context.get("people") if isinstance(info.context, dict) else None
    if known is not None and person_id not in known:
        raise problem(f"unknown person {person_id!r}")
    return person_id


Member = Annotated[Text(MAX_LENGTH["person_id"]), AfterValidator(_known_person)]


class CohortIn(Body):
    """``PUT /cohorts/{key}``: the cohort's name and exactly these members."""

    name: OptionalText(MAX_LENGTH["cohort_name"]) = None
    members: Annotated[list[Member],
                       Field(max_length=plausible.MAX_COHORT_MEMBERS), BeforeValidator(_members)]
    """person_ids; members are replaced, not merged."""
    effective_at: OptionalTimestamp = None
    """From when (ISO 8601 with an offset, past or now; default now)."""


def cohort_key_problem(key: object) -> str | None:
    """Why ``key`` cannot be a cohort's key (it is a path segment or a CSV cell, not a body)."""
    if not isinstance(key, str) or not key:
        return "is required"
    if len(key) > MAX_LENGTH["cohort"]:
        return f"is longer than {MAX_LENGTH['cohort']} characters"
    if not COHORT_KEY.match(key):
        return "may hold only letters, digits and _ . : - and must start with a letter or digit"
    return None


def _cohort_key(value: Any) -> Any:
    key = (value or "").strip() if isinstance(value, str | None) else value
    why = cohort_key_problem(key)
    if why is not None:
        raise problem(why)
    return key


class CohortMemberRow(Body):
    """A line of the cohorts CSV (``liftoff import cohorts``): one member of one cohort."""

    cohort_key: Annotated[str, Field(max_length=MAX_LENGTH["cohort"]), BeforeValidator(_cohort_key)]
    person_id: Text(MAX_LENGTH["person_id"])
    cohort_name: OptionalText(MAX_LENGTH["cohort_name"]) = None
