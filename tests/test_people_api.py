"""POST /people, PUT /departments/{name}, PUT /cohorts/{key} and their read extensions."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.db import db
from app.models import Cohort, Department, Person
from tests.helpers import gen_cohort, gen_department, gen_person


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_post_people_creates_then_updates_by_person_id(client, admin_headers):
    gen_department("Sales", 58.0)
    db.session.commit()
    rows = [
        {"person_id": "e1", "name": "Ann", "email": "ann@example.com", "department": "Sales"},
        {"person_id": "e2", "name": "Bo", "email": "bo@example.com", "department": "Sales"},
    ]
    r = client.post("/api/v1/people", json=rows, headers=admin_headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"created": 2, "updated": 0}

    # The same rows again change nothing; one changed row counts as one update.
    assert client.post("/api/v1/people", json=rows, headers=admin_headers).get_json() == {
        "created": 0, "updated": 0}
    rows[1]["email"] = "bo@corp.example"
    assert client.post("/api/v1/people", json=rows, headers=admin_headers).get_json() == {
        "created": 0, "updated": 1}
    db.session.expire_all()
    bo = db.session.scalar(select(Person).where(Person.person_id == "e2"))
    assert bo.email == "bo@corp.example"
    assert bo.department.name == "Sales"


def test_post_people_lists_every_bad_row_and_writes_nothing(client, admin_headers):
    gen_department("Sales")
    db.session.commit()
    rows = [
        {"person_id": "ok1", "name": "Fine", "email": "fine@example.com", "department": "Sales"},
        {"person_id": "", "email": "not-an-email"},
        {"person_id": "ok1", "department": "N" * 121},
        "not an object",
    ]
    r = client.post("/api/v1/people", json=rows, headers=admin_headers)
    assert r.status_code == 422
    details = {(d["index"], d["field"]) for d in r.get_json()["details"]}
    assert {(1, "person_id"), (1, "email"), (2, "department"), (2, "person_id"),
            (3, "(row)")} <= details
    assert (0, "person_id") not in details
    assert _count(Person) == 0
    # A field the contract does not know is refused on its own, before any other check
    # (contract change: it is named, never dropped, and the body is not looked at further).
    r = client.post("/api/v1/people", json=[rows[0], {"person_id": "x", "shoe_size": 42}],
                    headers=admin_headers)
    assert r.status_code == 422
    assert r.get_json()["details"] == [{"index": 1, "field": "shoe_size", "message": "unknown field"}]
    assert _count(Person) == 0


def test_a_new_department_is_created_without_a_rate_unless_refused(client, admin_headers):
    # The contract: a department not seen before is created without a rate (default applies);
    # the older ?create_departments extension stays, =false opting out.
    rows = [{"person_id": "e1", "department": "Research"}]
    r = client.post("/api/v1/people?create_departments=false", json=rows, headers=admin_headers)
    assert r.status_code == 422
    assert r.get_json()["details"][0] == {"index": 0, "field": "department",
                                          "message": "unknown department 'Research'"}
    assert db.session.scalar(select(Department)) is None
    r = client.post("/api/v1/people", json=rows, headers=admin_headers)
    assert r.get_json() == {"created": 1, "updated": 0}
    research = db.session.scalar(select(Department).where(Department.name == "Research"))
    assert research is not None and research.hourly_rate_eur is None
    rows = [{"person_id": "e2", "department": "Legal"}]
    r = client.post("/api/v1/people?create_departments=true", json=rows, headers=admin_headers)
    assert r.get_json() == {"created": 1, "updated": 0}


def test_malformed_json_is_400_and_wrong_shape_is_422(client, admin_headers):
    r = client.post("/api/v1/people", data="[{not json", headers={
        **admin_headers, "Content-Type": "application/json"})
    assert r.status_code == 400
    assert "malformed JSON" in r.get_json()["error"]
    # Nesting past Python's recursion limit: a 400 too, not a RecursionError (found by fuzzing).
    for path in ("/api/v1/people", "/api/v1/events"):
        r = client.post(path, data="[" * 100_000 + "]" * 100_000, headers={
            **admin_headers, "Content-Type": "application/json"})
        assert r.status_code == 400 and "nested too deeply" in r.get_json()["error"]
    r = client.post("/api/v1/people", json={"person_id": "e1"}, headers=admin_headers)
    assert r.status_code == 422


# One request per test: app.security caches the identity on ``g``, which the test's app context
# shares between requests.
WRITES = [
    ("post", "/api/v1/people", []),
    ("put", "/api/v1/departments/Sales", {"hourly_rate_eur": 1}),
    ("put", "/api/v1/cohorts/c", {"members": []}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_people_writes_need_credentials(client, method, path, body):
    assert getattr(client, method)(path, json=body).status_code == 401


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_people_writes_refuse_ingest_tokens(client, ingest_headers, method, path, body):
    assert getattr(client, method)(path, json=body, headers=ingest_headers).status_code == 403


@pytest.mark.parametrize("path", ["/api/v1/cohorts", "/api/v1/people", "/api/v1/departments"])
def test_people_reads_need_credentials(client, path):
    assert client.get(path).status_code == 401


def test_put_department_creates_and_sets_the_rate(client, admin_headers):
    r = client.put("/api/v1/departments/Legal", json={"hourly_rate_eur": 85}, headers=admin_headers)
    assert r.status_code == 200
    assert r.get_json() == {"name": "Legal", "hourly_rate_eur": 85.0, "people": 0}
    r = client.put("/api/v1/departments/Legal", json={"hourly_rate_eur": None}, headers=admin_headers)
    assert r.get_json()["hourly_rate_eur"] is None
    assert _count(Department) == 1


def test_put_department_validates_the_rate(client, admin_headers):
    for body, field in (({"hourly_rate_eur": -5}, "hourly_rate_eur"),
                        ({"hourly_rate_eur": "lots"}, "hourly_rate_eur"),
                        ({"hourly_rate_eur": True}, "hourly_rate_eur"),
                        ({}, "hourly_rate_eur"),
                        ({"hourly_rate_eur": 5, "rate": 6}, "rate")):
        r = client.put("/api/v1/departments/Legal", json=body, headers=admin_headers)
        assert r.status_code == 422, body
        assert field in {d["field"] for d in r.get_json()["details"]}
    assert _count(Department) == 0


def test_put_cohort_replaces_its_members(client, admin_headers):
    a, b, c = (gen_person(pid) for pid in ("a", "b", "c"))
    db.session.commit()
    r = client.put("/api/v1/cohorts/pilot", json={"name": "Pilot group", "members": ["a", "b"]},
                   headers=admin_headers)
    assert r.status_code == 200
    assert r.get_json() == {"key": "pilot", "name": "Pilot group", "members": ["a", "b"]}
    r = client.put("/api/v1/cohorts/pilot", json={"members": ["c", "b", "c"]}, headers=admin_headers)
    assert r.get_json() == {"key": "pilot", "name": "Pilot group", "members": ["b", "c"]}


def test_put_cohort_names_unknown_members_and_changes_nothing(client, admin_headers):
    gen_cohort("pilot", [gen_person("a")], name="Pilot")
    db.session.commit()
    r = client.put("/api/v1/cohorts/pilot", json={"members": ["a", "ghost", 7]}, headers=admin_headers)
    assert r.status_code == 422
    details = r.get_json()["details"]
    assert {(d["index"], d["field"]) for d in details} == {(1, "members"), (2, "members")}
    assert "ghost" in details[0]["message"] + details[1]["message"]
    r = client.put("/api/v1/cohorts/bad key!", json={"members": []}, headers=admin_headers)
    assert r.status_code == 422
    assert r.get_json()["details"][0]["field"] == "key"
    db.session.expire_all()
    assert [m.person.person_id for m in db.session.scalar(select(Cohort)).members] == ["a"]


def test_read_extensions_list_cohorts_and_people_by_department(client, admin_headers):
    sales, hr = gen_department("Sales"), gen_department("HR")
    s1, s2 = gen_person("s1", sales), gen_person("s2", sales)
    gen_person("h1", hr)
    gen_cohort("champions", [s2, s1], name="Champions")
    db.session.commit()
    cohorts = client.get("/api/v1/cohorts", headers=admin_headers).get_json()
    assert cohorts == [{"key": "champions", "name": "Champions", "members": ["s1", "s2"]}]
    people = client.get("/api/v1/people?department=Sales", headers=admin_headers).get_json()
    assert [p["person_id"] for p in people] == ["s1", "s2"]
    assert people[0]["department"] == "Sales"
    assert len(client.get("/api/v1/people", headers=admin_headers).get_json()) == 3
    assert client.get("/api/v1/people?department=Nope", headers=admin_headers).status_code == 404
    departments = client.get("/api/v1/departments", headers=admin_headers).get_json()
    assert {d["name"]: d["people"] for d in departments} == {"Sales": 2, "HR": 1}


def test_department_names_may_hold_slashes_and_spaces(client, admin_headers):
    r = client.put("/api/v1/departments/Sales/EMEA North", json={"hourly_rate_eur": 61.5},
                   headers=admin_headers)
    assert r.status_code == 200
    assert r.get_json()["name"] == "Sales/EMEA North"
