"""People, departments and cohorts: the audiences rollouts are aimed at."""

from __future__ import annotations

from flask import jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app import plausible
from app.api import bp, json_body
from app.api.declare import accepts, answers
from app.db import db
from app.errors import NotFound
from app.models import Cohort, CohortMember, Department, Person
from app.schemas.people import CohortIn, DepartmentIn, PersonIn
from app.schemas.responses import INT, STR, array, obj, ref
from app.security import requires
from app.services.people import directory as people_service

FALSE = {"0", "false", "no"}


def department_dict(department: Department) -> dict:
    count = db.session.scalar(
        select(func.count()).select_from(Person).where(Person.department_id == department.id)
    )
    return {"name": department.name, "hourly_rate_eur": department.hourly_rate_eur, "people": count}


def cohort_dict(cohort: Cohort) -> dict:
    return {
        "key": cohort.key,
        "name": cohort.name,
        "members": sorted(m.person.person_id for m in cohort.members),
    }


def person_dict(person: Person) -> dict:
    return {
        "person_id": person.person_id,
        "name": person.name,
        "email": person.email,
        "department": person.department.name if person.department else None,
    }


@bp.post("/people")
@requires("people:write")
@accepts(PersonIn, many=True, max_items=plausible.MAX_BATCH)
@answers(obj(("created", "updated"), created=INT, updated=INT), query={"create_departments": {
    "enum": ["1", "true", "yes", "0", "false", "no"],
    "description": "default true: a department not seen before is created without a rate"}})
def upsert_people():
    """Create or update people by person_id (all rows or none); new departments are created."""
    rows = json_body()  # a CSV import (the CLI) has no cap
    # The contract creates a department not seen before (without a rate); =false opts out.
    create = request.args.get("create_departments", "").lower() not in FALSE
    created, updated = people_service.upsert_people(rows, create_departments=create)
    db.session.commit()
    return jsonify({"created": created, "updated": updated})


@bp.get("/people")
@requires("read")
@answers(array(ref("Person")), query={"department": STR})
def list_people():
    """People, optionally of one department (?department=NAME)."""
    query = select(Person).options(selectinload(Person.department)).order_by(Person.person_id)
    name = request.args.get("department")
    if name is not None:
        department = db.session.scalar(select(Department).where(Department.name == name))
        if department is None:
            raise NotFound(f"no department {name!r}")
        query = query.where(Person.department_id == department.id)
    return jsonify([person_dict(p) for p in db.session.scalars(query)])


@bp.put("/departments/<path:name>")
@requires("people:write")
@accepts(DepartmentIn)
@answers(ref("Department"))
def put_department(name: str):
    """Create a department or set its hourly rate."""
    department = people_service.put_department(name, json_body())
    db.session.commit()
    return jsonify(department_dict(department))


@bp.get("/departments")
@requires("read")
@answers(array(ref("Department")))
def list_departments():
    """Every department with its hourly rate and head count."""
    departments = db.session.scalars(select(Department).order_by(Department.name))
    return jsonify([department_dict(d) for d in departments])


@bp.put("/cohorts/<key>")
@requires("cohorts:write")
@accepts(CohortIn)
@answers(ref("Cohort"))
def put_cohort(key: str):
    """Create a cohort or replace its name and members (from ``effective_at`` on, default now)."""
    spec = json_body()
    cohort = people_service.put_cohort(key, spec)
    db.session.commit()
    return jsonify(cohort_dict(cohort))


@bp.get("/cohorts")
@requires("read")
@answers(array(ref("Cohort")))
def list_cohorts():
    """Every cohort with its members."""
    cohorts = db.session.scalars(
        select(Cohort)
        .options(selectinload(Cohort.members).selectinload(CohortMember.person))
        .order_by(Cohort.key)
    )
    return jsonify([cohort_dict(c) for c in cohorts])


@bp.get("/cohorts/<key>")
@requires("read")
@answers(ref("Cohort"))
def get_cohort(key: str):
    """One cohort with its members."""
    cohort = db.session.scalar(select(Cohort).where(Cohort.key == key))
    if cohort is None:
        raise NotFound(f"no cohort {key!r}")
    return jsonify(cohort_dict(cohort))

