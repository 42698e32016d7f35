"""People, departments and cohorts: validated upserts shared by the API, the CSV imports and the seed.

Every function checks its whole input first and raises one ``ValidationFailed`` naming each bad row
(``index``) and field, so nothing is half-written. Rows are numbered by ``indices`` when given (the
CSV imports pass file line numbers), otherwise by their 0-based position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select

from app.db import db, utcnow
from app.errors import Collector, ValidationFailed
from app.models import Cohort, CohortMember, Department, Person, RolloutStage, stage_cohorts
from app.schemas.common import refuse, validate, validate_rows
from app.schemas.people import (
    MAX_LENGTH,
    CohortIn,
    CohortMemberRow,
    DepartmentIn,
    PersonIn,
    cohort_key_problem,
)
from app.services.audience import membership
from app.services.rollout import exposure

PERSON_FIELDS = tuple(PersonIn.model_fields)
_CHUNK = 500  # ids per IN (...) query, well under every driver's parameter limit


def _raw_id(row) -> str | None:
    value = row.get("person_id") if isinstance(row, dict) else None
    return value.strip() or None if isinstance(value, str) else None


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
    problems = Collector()
    clean: list[tuple[int, dict]] = []
    first_seen: dict[str, int] = {}
    departments = {d.name: d for d in db.session.scalars(select(Department))}
    unknown_departments: dict[str, None] = {}
    numbers = list(indices) if indices is not None else list(range(len(rows)))
    parsed = dict(validate_rows(PersonIn, rows, problems, numbers))
    for index, raw in zip(numbers, rows, strict=True):
        row = parsed.get(index)
        if row is not None:
            department = row.department
            if department is not None and department not in departments:
                if create_departments:
                    unknown_departments[department] = None
                else:
                    problems.add("department", f"unknown department {department!r}", index)
        # A bad row still takes its person_id, so a later duplicate of it is named too.
        person_id = row.person_id if row is not None else _raw_id(raw)
        if person_id is None:
            continue
        if person_id in first_seen:
            first = first_seen[person_id]
            problems.add("person_id", f"duplicate {person_id!r} (first at row {first})", index)
            continue
        first_seen[person_id] = index
        if row is not None:
            clean.append((index, row.model_dump()))
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
    body = validate(DepartmentIn, spec, problems)
    problems.raise_if_any("invalid department")
    assert body is not None  # a bad body left a problem
    rate = body.hourly_rate_eur
    department = db.session.scalar(select(Department).where(Department.name == name))
    if department is None:
        department = Department(name=name)
        db.session.add(department)
    department.hourly_rate_eur = rate
    db.session.flush()
    return department


@dataclass(frozen=True)
class CohortChange:
    key: str
    created: bool
    added: int
    removed: int


def _check_cohort_key(problems: Collector, key: object, field: str, index: int | None = None) -> None:
    why = cohort_key_problem(key)
    if why is not None:
        problems.add(field, why, index)


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
    raw = spec.get("members") if isinstance(spec, dict) else None
    known = _people_by_id([m.strip() for m in raw if isinstance(m, str)] if isinstance(raw, list) else [])
    cohort_in = validate(CohortIn, spec, problems, context={"people": known})
    people: list[Person] = []
    name, at = None, now
    if cohort_in is not None:
        name = cohort_in.name
        people = [known[pid] for pid in cohort_in.members]
        if cohort_in.effective_at is not None:
            try:
                at = membership.parse_effective_at(cohort_in.effective_at, now)
            except ValidationFailed as error:
                problems.details.extend(error.details)
    refuse(problems, "invalid cohort")
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
    problems = Collector()
    members: dict[str, list[tuple[int, str]]] = {}
    names: dict[str, tuple[int, str]] = {}
    for index, row in validate_rows(CohortMemberRow, rows, problems, indices):
        key, person_id, name = row.cohort_key, row.person_id, row.cohort_name
        if name is not None:
            if key in names and names[key][1] != name:
                problems.add(
                    "cohort_name",
                    f"{name!r} differs from {names[key][1]!r} given at row {names[key][0]}",
                    index,
                )
            names.setdefault(key, (index, name))
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
