"""People, departments and cohorts: validated upserts shared by the API, the CSV imports and the seed.

Every function checks its whole input first and raises one ``ValidationFailed`` naming each bad row
(``index``) and field, so nothing is half-written. Rows are numbered by ``indices`` when given (the
CSV imports pass file line numbers), otherwise by their 0-based position.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select

from app import plausible
from app.db import db, utcnow
from app.errors import Collector, ValidationFailed
from app.models import Cohort, CohortMember, Department, Person, RolloutStage, stage_cohorts
from app.services.people import membership
from app.services.rollout import exposure

PERSON_FIELDS = ("person_id", "name", "email", "department")
# A pragmatic check: one @, no blanks, a dotted domain of letters, digits and hyphens.
EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
COHORT_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
MAX_LENGTH = {
    "person_id": 200, "name": 200, "email": 320, "department": 120, "cohort": 120, "cohort_name": 200,
}
_CHUNK = 500  # ids per IN (...) query, well under every driver's parameter limit


def _text(problems: Collector, row: dict, field: str, index: int, required: bool = False) -> str | None:
    """A row's string field, stripped; blank means absent. Records a problem when it is not text."""
    value = row.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.add(field, "is required", index)
        return None
    if not isinstance(value, str):
        problems.add(field, "must be a string", index)
        return None
    value = value.strip()
    limit = MAX_LENGTH.get(field)
    if limit and len(value) > limit:
        problems.add(field, f"is longer than {limit} characters", index)
        return None
    return value


def _people_by_id(person_ids: Sequence[str]) -> dict[str, Person]:
    found: dict[str, Person] = {}
    unique = list(dict.fromkeys(person_ids))
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        for person in db.session.scalars(select(Person).where(Person.person_id.in_(chunk))):
            found[person.person_id] = person
    return found


def upsert_people(
    rows: Sequence[dict],
    create_departments: bool = True,
    indices: Sequence[int] | None = None,
) -> tuple[int, int]:
    """Create or update people by ``person_id``; returns ``(created, updated)``.

    An unchanged row counts as neither, so a repeated import is a no-op. People erased under
    GDPR keep their blanked fields: a row for them is accepted and ignored.

    :param rows: ``{"person_id", "name"?, "email"?, "department"?}`` dicts.
    :param create_departments: create a department not seen before without a rate, so the
        organisation default applies (the contract); False refuses it instead.
    :param indices: the number to report for each row (default: its 0-based position).
    """
    indices = list(indices) if indices is not None else list(range(len(rows)))
    problems = Collector()
    clean: list[tuple[int, dict]] = []
    first_seen: dict[str, int] = {}
    departments = {d.name: d for d in db.session.scalars(select(Department))}
    unknown_departments: dict[str, None] = {}
    for row, index in zip(rows, indices, strict=True):
        if not isinstance(row, dict):
            problems.add("(row)", "must be an object", index)
            continue
        person_id = _text(problems, row, "person_id", index, required=True)
        values = {
            "name": _text(problems, row, "name", index),
            "email": _text(problems, row, "email", index),
            "department": _text(problems, row, "department", index),
        }
        if values["email"] is not None and not EMAIL.match(values["email"]):
            problems.add("email", f"not an e-mail address: {values['email']!r}", index)
        department = values["department"]
        if department is not None and department not in departments:
            if create_departments:
                unknown_departments[department] = None
            else:
                problems.add("department", f"unknown department {department!r}", index)
        if person_id is not None:
            if person_id in first_seen:
                problems.add(
                    "person_id", f"duplicate {person_id!r} (first at row {first_seen[person_id]})", index
                )
                continue
            first_seen[person_id] = index
            clean.append((index, {"person_id": person_id, **values}))
    problems.raise_if_any(f"{len({d.index for d in problems.details})} bad people rows")

    for name in unknown_departments:
        departments[name] = Department(name=name, hourly_rate_eur=None)
        db.session.add(departments[name])
    db.session.flush()  # new departments get their ids
    existing = _people_by_id([values["person_id"] for _, values in clean])
    new_people: list[dict] = []
    moves: dict[int, int | None] = {}
    updated = 0
    for _, values in clean:
        # Ids, not relationships: assigning Person.department would load each department's people.
        department_id = departments[values["department"]].id if values["department"] else None
        fields = {"name": values["name"], "email": values["email"], "department_id": department_id}
        person = existing.get(values["person_id"])
        if person is None:
            new_people.append({"person_id": values["person_id"], **fields})
        elif person.erased_at is None and any(getattr(person, k) != v for k, v in fields.items()):
            if person.department_id != department_id:
                moves[person.id] = department_id
            for key, value in fields.items():
                setattr(person, key, value)
            db.session.expire(person, ["department"])  # reload the relationship from the new id
            updated += 1
    if new_people:
        # One executemany instead of an ORM object per row: large imports stay fast.
        db.session.execute(insert(Person), new_people)
    created = len(new_people)
    db.session.flush()
    now = utcnow()
    # A move holds from now on; a person's first department, from the beginning.
    membership.record_department_moves(moves, now)
    if created or updated:
        # New people and department moves can change percentage and cohort audiences.
        exposure.audiences_changed(now)
    return created, updated


def put_department(name: str, spec: dict) -> Department:
    """Create the department or set its hourly rate.

    :param name: the department's name, as people rows refer to it.
    :param spec: ``{"hourly_rate_eur": 55.0}``; null means the organisation default rate.
    """
    problems = Collector()
    name = (name or "").strip()
    if not name:
        problems.add("name", "is required")
    elif len(name) > MAX_LENGTH["department"]:
        problems.add("name", f"is longer than {MAX_LENGTH['department']} characters")
    if not isinstance(spec, dict):
        raise ValidationFailed("invalid department", [])
    if "hourly_rate_eur" not in spec:
        problems.add("hourly_rate_eur", "is required (null for the organisation default)")
    rate = spec.get("hourly_rate_eur")
    if rate is not None:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate):
            problems.add("hourly_rate_eur", "must be a number")
        elif rate < 0:
            problems.add("hourly_rate_eur", "must not be negative")
        else:
            plausible.within(rate, "hourly_rate_eur", plausible.MAX_HOURLY_RATE_EUR, None, problems,
                             " EUR an hour")
    problems.raise_if_any("invalid department")
    department = db.session.scalar(select(Department).where(Department.name == name))
    if department is None:
        department = Department(name=name)
        db.session.add(department)
    department.hourly_rate_eur = float(rate) if rate is not None else None
    db.session.flush()
    return department


@dataclass(frozen=True)
class CohortChange:
    key: str
    created: bool
    added: int
    removed: int


def _check_cohort_key(problems: Collector, key: object, field: str, index: int | None = None) -> None:
    if not isinstance(key, str) or not key:
        problems.add(field, "is required", index)
    elif len(key) > MAX_LENGTH["cohort"]:
        problems.add(field, f"is longer than {MAX_LENGTH['cohort']} characters", index)
    elif not COHORT_KEY.match(key):
        problems.add(field, "may hold only letters, digits and _ . : - and must start with a letter or digit",
                     index)


def _apply_cohort(key: str, name: str | None, members: list[Person],
                  at: datetime) -> tuple[Cohort, CohortChange]:
    """Create the cohort if new, rename it when asked, and make its members exactly ``members``
    from ``at`` on (which is also the membership now: ``at`` is never in the future)."""
    cohort = db.session.scalar(select(Cohort).where(Cohort.key == key))
    created = cohort is None
    if cohort is None:
        cohort = Cohort(key=key, name=name or key)
        db.session.add(cohort)
        db.session.flush()
    elif name is not None:
        cohort.name = name
    current = set(db.session.scalars(
        select(CohortMember.person_id).where(CohortMember.cohort_id == cohort.id)))
    wanted = list(dict.fromkeys(person.id for person in members))
    removed = sorted(current - set(wanted))
    added = [pid for pid in wanted if pid not in current]
    # Set-based statements rather than the members collection: cohorts can hold thousands.
    for start in range(0, len(removed), _CHUNK):
        db.session.execute(delete(CohortMember).where(
            CohortMember.cohort_id == cohort.id,
            CohortMember.person_id.in_(removed[start : start + _CHUNK])))
    if added:
        rows = [{"cohort_id": cohort.id, "person_id": pid} for pid in added]
        db.session.execute(insert(CohortMember), rows)
    membership.replace_cohort_members_from(cohort, wanted, at, created)
    db.session.expire(cohort, ["members"])
    db.session.flush()
    return cohort, CohortChange(key, created, len(added), len(removed))


def _cohorts_changed(cohorts: list[Cohort], at: datetime) -> None:
    """Re-derive, from ``at`` on, the exposure of the features whose stages name these cohorts."""
    ids = [c.id for c in cohorts]
    features = sorted(set(db.session.scalars(
        select(RolloutStage.feature_id).join(stage_cohorts, stage_cohorts.c.stage_id == RolloutStage.id)
        .where(stage_cohorts.c.cohort_id.in_(ids)))))
    exposure.audiences_changed(at, features, segments_changed=True)


def put_cohort(key: str, spec: dict) -> Cohort:
    """Create or replace a cohort: its name and exactly these members.

    :param key: the cohort's key, as rollout stages refer to it.
    :param spec: ``{"name"?, "members": ["person_id", ...], "effective_at"?}``; members are
        replaced, not merged, from ``effective_at`` (ISO 8601 with an offset, past or now; default
        now) onward, superseding what was recorded for later instants.
    """
    now = utcnow()
    problems = Collector()
    _check_cohort_key(problems, key, "key")
    if not isinstance(spec, dict):
        raise ValidationFailed("invalid cohort", [])
    name = _text(problems, spec, "name", None)
    members = spec.get("members")
    people: list[Person] = []
    if not isinstance(members, list):
        problems.add("members", "is required: a list of person_id strings")
    elif len(members) > plausible.MAX_COHORT_MEMBERS:
        problems.add("members", f"{len(members):,} members; a cohort holds at most "
                                f"{plausible.MAX_COHORT_MEMBERS:,}")
    else:
        ids = []
        for index, person_id in enumerate(members):
            if not isinstance(person_id, str) or not person_id.strip():
                problems.add("members", "must be a person_id string", index)
            else:
                ids.append((index, person_id.strip()))
        known = _people_by_id([pid for _, pid in ids])
        for index, person_id in ids:
            if person_id not in known:
                problems.add("members", f"unknown person {person_id!r}", index)
        people = [known[pid] for _, pid in ids if pid in known]
    at = now
    if isinstance(spec, dict) and spec.get("effective_at") is not None:
        try:
            at = membership.parse_effective_at(spec["effective_at"], now)
        except ValidationFailed as error:
            problems.details.extend(error.details)
    problems.raise_if_any("invalid cohort")
    cohort, change = _apply_cohort(key, name, people, at)
    # A back-dated replacement can rewrite the past even when the members now are the same.
    if change.added or change.removed or at < now:
        _cohorts_changed([cohort], at)
    return cohort


def replace_cohort_members(
    rows: Sequence[dict], indices: Sequence[int] | None = None, effective_at: datetime | None = None,
) -> list[CohortChange]:
    """Set the members of every cohort named in ``rows`` (one member per row), creating new ones.

    Each cohort named gets exactly the people listed for it; other cohorts are untouched.

    :param rows: ``{"cohort_key", "person_id", "cohort_name"?}`` dicts.
    :param indices: the number to report for each row (the CSV import passes line numbers).
    :param effective_at: when the new members took effect (past or now; default now).
    """
    now = utcnow()
    at = membership.parse_effective_at(effective_at, now)
    indices = list(indices) if indices is not None else list(range(len(rows)))
    problems = Collector()
    members: dict[str, list[tuple[int, str]]] = {}
    names: dict[str, tuple[int, str]] = {}
    for row, index in zip(rows, indices, strict=True):
        key = (row.get("cohort_key") or "").strip()
        _check_cohort_key(problems, key, "cohort_key", index)
        person_id = _text(problems, row, "person_id", index, required=True)
        name = _text(problems, row, "cohort_name", index)
        if key and name is not None:
            if key in names and names[key][1] != name:
                problems.add(
                    "cohort_name",
                    f"{name!r} differs from {names[key][1]!r} given at row {names[key][0]}",
                    index,
                )
            names.setdefault(key, (index, name))
        if key and person_id is not None:
            members.setdefault(key, []).append((index, person_id))
    known = _people_by_id([pid for pairs in members.values() for _, pid in pairs])
    for pairs in members.values():
        for index, person_id in pairs:
            if person_id not in known:
                problems.add("person_id", f"unknown person {person_id!r}", index)
    problems.raise_if_any(f"{len({d.index for d in problems.details})} bad cohort rows")
    changes, touched = [], []
    for key, pairs in members.items():
        people = [known[pid] for _, pid in pairs]
        cohort, change = _apply_cohort(key, names.get(key, (0, None))[1], people, at)
        changes.append(change)
        if change.added or change.removed or at < now:
            touched.append(cohort)
    if touched:
        _cohorts_changed(touched, at)
    return changes
