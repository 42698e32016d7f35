"""What the people picker and the People & cohorts page read: people found by what a user types,
whole departments and cohorts, the people an uploaded list names, and each cohort with its size.
No Dash, no request: tests call these directly.

Typed text reaches SQL only as a bound LIKE pattern with its wildcards escaped (``autoescape``), so
"50%" finds "50%" and nothing else.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import func, or_, select

from app import plausible
from app.db import db
from app.models import Cohort, CohortMember, Department, Person

SEARCH_LIMIT = 20  # people offered per search: type more to narrow it down
GROUP_LIMIT = plausible.MAX_COHORT_MEMBERS  # at most this many people chosen at once
UPLOAD_BYTES = 1_000_000  # a list of 100,000 e-mail addresses fits a few MB; ids far less
COHORT_COLUMNS = ["key", "name", "members", "history_from"]


def person_label(name: str | None, department: str | None, person_id: str) -> str:
    """How a person is shown wherever one is picked: name and department, the id to tell namesakes
    apart (a person erased under GDPR has no name left)."""
    return f"{name or '(no name)'} · {department or 'no department'} ({person_id})"


def _labelled(query) -> list[dict]:
    rows = db.session.execute(query).all()
    return [{"label": person_label(name, dept, pid), "value": pid} for pid, name, dept in rows]


def _people_query():
    return (select(Person.person_id, Person.name, Department.name)
            .join(Department, Department.id == Person.department_id, isouter=True)
            .where(Person.erased_at.is_(None)))


def search_people(term: str | None, limit: int = SEARCH_LIMIT, offset: int = 0) -> tuple[list[dict], int]:
    """People whose name, e-mail, id, department or cohort (key or name) contains ``term``
    (case-insensitive), by name; at most ``limit`` of them after the first ``offset`` (a page),
    and how many matched in all.

    :returns: (``[{"label", "value": person_id}]``, total matches).
    """
    term = (term or "").strip()
    if not term:
        return [], 0
    in_cohort = (select(CohortMember.person_id).join(Cohort, Cohort.id == CohortMember.cohort_id)
                 .where(or_(Cohort.key.icontains(term, autoescape=True),
                            Cohort.name.icontains(term, autoescape=True))))
    where = or_(Person.name.icontains(term, autoescape=True),
                Person.email.icontains(term, autoescape=True),
                Person.person_id.icontains(term, autoescape=True),
                Department.name.icontains(term, autoescape=True),
                Person.id.in_(in_cohort))
    query = _people_query().where(where)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    found = _labelled(query.order_by(Person.name, Person.person_id).offset(max(0, offset)).limit(limit))
    return found, total


def labels_for(person_ids: list[str]) -> list[dict]:
    """The picker options of people already chosen (so the picker keeps showing their names)."""
    ids = [pid for pid in dict.fromkeys(person_ids) if isinstance(pid, str)]
    if not ids:
        return []
    known: dict[str, dict] = {}
    for start in range(0, len(ids), 500):
        for option in _labelled(_people_query().where(Person.person_id.in_(ids[start:start + 500]))):
            known[option["value"]] = option
    return [known[pid] for pid in ids if pid in known]


def group_options() -> list[dict]:
    """Every department and cohort with its head count, for adding a whole group at once."""
    departments = db.session.execute(
        select(Department.name, func.count(Person.id))
        .join(Person, (Person.department_id == Department.id) & Person.erased_at.is_(None), isouter=True)
        .group_by(Department.name).order_by(Department.name)).all()
    cohorts = db.session.execute(
        select(Cohort.key, Cohort.name, func.count(CohortMember.person_id))
        .join(CohortMember, CohortMember.cohort_id == Cohort.id, isouter=True)
        .group_by(Cohort.key, Cohort.name).order_by(Cohort.name)).all()
    return ([{"label": f"Department {name} ({_people(n)})", "value": f"department:{name}"}
             for name, n in departments]
            + [{"label": f"Cohort {name} [{key}] ({_people(n)})", "value": f"cohort:{key}"}
               for key, name, n in cohorts])


def _people(n: int) -> str:
    return "1 person" if n == 1 else f"{n:,} people"


def group_members(group: str | None) -> list[str] | None:
    """The person ids of ``department:NAME`` or ``cohort:KEY`` by name; None for no such group."""
    kind, _, name = (group or "").partition(":")
    if kind == "department":
        department = db.session.scalar(select(Department.id).where(Department.name == name))
        if department is None:
            return None
        where = Person.department_id == department
    elif kind == "cohort":
        cohort = db.session.scalar(select(Cohort.id).where(Cohort.key == name))
        if cohort is None:
            return None
        where = Person.id.in_(select(CohortMember.person_id).where(CohortMember.cohort_id == cohort))
    else:
        return None
    return list(db.session.scalars(select(Person.person_id).where(where, Person.erased_at.is_(None))
                                   .order_by(Person.name, Person.person_id).limit(GROUP_LIMIT)))


@dataclass
class UploadedList:
    """People named by an uploaded file: those found, and each row that named nobody."""

    person_ids: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _decode(contents: str) -> str:
    """A dcc.Upload value (``data:<type>;base64,<data>``) as text."""
    _, _, encoded = contents.partition(",")
    raw = base64.b64decode(encoded, validate=True)
    if len(raw) > UPLOAD_BYTES:
        raise ValueError(f"the file is larger than {UPLOAD_BYTES:,} bytes")
    return raw.decode("utf-8-sig")


def read_people_list(contents: str | None) -> UploadedList:
    """The people an uploaded CSV names, one per row: by e-mail or person id, in the first column or
    in a column headed ``email`` or ``person_id``. Each row that names nobody is a problem naming
    its line; blank lines are skipped."""
    out = UploadedList()
    try:
        text = _decode(contents or "")
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        out.problems.append(f"not a CSV file of e-mail addresses or person ids: {error}")
        return out
    rows = list(csv.reader(io.StringIO(text)))
    column, first = 0, 1
    if rows and rows[0]:
        heads = [h.strip().lower() for h in rows[0]]
        for name in ("email", "e-mail", "person_id", "id"):
            if name in heads:
                column, first = heads.index(name), 2
                rows = rows[1:]
                break
    wanted: list[tuple[int, str]] = []
    for line, row in enumerate(rows, start=first):
        value = row[column].strip() if len(row) > column else ""
        if value:
            wanted.append((line, value))
    if len(wanted) > GROUP_LIMIT:
        out.problems.append(f"{len(wanted):,} rows; at most {GROUP_LIMIT:,} at once")
        return out
    emails = {v.lower() for _, v in wanted if "@" in v}
    ids = {v for _, v in wanted if "@" not in v}
    by_email: dict[str, str] = {}
    by_id: set[str] = set()
    for chunk in _chunks(sorted(emails)):
        # e is never None (a NULL e-mail matches no IN): the test narrows the nullable column.
        by_email.update((e.lower(), pid) for e, pid in db.session.execute(
            select(Person.email, Person.person_id)
            .where(func.lower(Person.email).in_(chunk), Person.erased_at.is_(None))).all()
            if e is not None)
    for chunk in _chunks(sorted(ids)):
        by_id.update(db.session.scalars(select(Person.person_id).where(
            Person.person_id.in_(chunk), Person.erased_at.is_(None))))
    for line, value in wanted:
        found = by_email.get(value.lower()) if "@" in value else (value if value in by_id else None)
        if found is None:
            what = "e-mail address" if "@" in value else "person id"
            out.problems.append(f"line {line}: no person with the {what} {value[:200]!r}")
        else:
            out.person_ids.append(found)
    out.person_ids = list(dict.fromkeys(out.person_ids))
    return out


def _chunks(values: list[str], size: int = 500):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def cohorts() -> pd.DataFrame:
    """Every cohort with its member count and since when its membership is recorded."""
    rows = db.session.execute(
        select(Cohort.key, Cohort.name, func.count(CohortMember.person_id), Cohort.history_from)
        .join(CohortMember, CohortMember.cohort_id == Cohort.id, isouter=True)
        .group_by(Cohort.id, Cohort.key, Cohort.name, Cohort.history_from).order_by(Cohort.name)).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=COHORT_COLUMNS)


def cohort_detail(key: str | None) -> dict | None:
    """A cohort's key, name and members (person ids, by name); None when there is none."""
    cohort = db.session.scalar(select(Cohort).where(Cohort.key == key)) if key else None
    if cohort is None:
        return None
    members = list(db.session.scalars(
        select(Person.person_id).join(CohortMember, CohortMember.person_id == Person.id)
        .where(CohortMember.cohort_id == cohort.id).order_by(Person.name, Person.person_id)))
    return {"key": cohort.key, "name": cohort.name, "members": members}
