"""KPIs with the membership as it stood: department moves and cohort changes in the middle of a month.

Scenario (worked out by hand). Sales pays 60 EUR/h, Ops 30 EUR/h. s1..s5 are in Sales, o1..o5 in
Ops, and m was in Sales until 2026-03-15 12:00, then in Ops. The feature saves an estimated 60
minutes per AI task and is at 100 % for everyone from 2026-01-01. AI events: m on Feb 10, Mar 10,
Mar 15 09:00 (before the move, but on the day of the move: counts for Ops) and Mar 20; s1 on Mar 5;
o1 on Mar 6.

* March: 5 AI tasks, 5 hours saved; value 60 (s1) + 30 (o1) + 60 + 30 + 30 (m) = 210 EUR. By
  department, m counts in Ops (his department at the end of his exposure in March): Ops 6 exposed,
  4 tasks, 30 + 60 + 30 + 30 = 150 EUR; Sales 5 exposed, 1 task, 60 EUR.
* February: m counts in Sales: Sales 6 exposed, 1 task, 60 EUR; Ops 5 exposed, 0 tasks.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.db import db
from app.models import Person
from app.services.kpi_reads import figures as kpis
from app.services.people import directory as people_service
from app.services.rollout import transitions as rollout
from dashboards.kpi import data as kpi_data
from tests.helpers import gen_department, utc
from tests.kpi_scenarios import event, post_events, refresh

SALES, OPS = [f"s{i}" for i in range(1, 6)], [f"o{i}" for i in range(1, 6)]


@pytest.fixture
def moved(app, client, ingest_headers, monkeypatch):
    gen_department("Sales", 60.0)
    gen_department("Ops", 30.0)
    people_service.upsert_people([{"person_id": p, "department": "Sales"} for p in [*SALES, "m"]]
                                 + [{"person_id": p, "department": "Ops"} for p in OPS])
    rollout.create_feature({"key": "drafts", "name": "Drafts", "estimated_minutes_saved": 60,
                            "stages": [{"name": "everyone", "cohorts": [], "percentage": 100}]}, "ana")
    rollout.advance("drafts", "ana", effective_at=utc(2026, 1, 1))
    with monkeypatch.context() as clock:
        clock.setattr(people_service, "utcnow", lambda: utc(2026, 3, 15, 12))
        people_service.upsert_people([{"person_id": "m", "department": "Ops"}])
    db.session.commit()
    post_events(client, ingest_headers, [
        event("drafts", "m", "2026-02-10T10:00:00Z"), event("drafts", "m", "2026-03-10T10:00:00Z"),
        event("drafts", "m", "2026-03-15T09:00:00Z"), event("drafts", "m", "2026-03-20T10:00:00Z"),
        event("drafts", "s1", "2026-03-05T10:00:00Z"), event("drafts", "o1", "2026-03-06T10:00:00Z"),
    ])
    refresh()
    kpi_data.clear_cache()
    return client


def _groups(answer: dict) -> dict[str, dict]:
    return {g["group"]: g for g in answer["groups"]}


def test_a_move_mid_month_values_each_day_at_the_department_of_then(moved, admin_headers):
    r = moved.get("/api/v1/features/drafts/kpis?start=2026-03-01&end=2026-03-31&group_by=department",
                  headers=admin_headers)
    assert r.status_code == 200, r.get_json()
    march = r.get_json()
    assert march["ai_tasks"] == 5 and march["time_saved_hours"] == pytest.approx(5.0)
    assert march["value_eur"] == pytest.approx(210.0)
    groups = _groups(march)
    assert set(groups) == {"Ops", "Sales"}
    assert (groups["Ops"]["exposed_users"], groups["Ops"]["ai_tasks"]) == (6, 4)
    assert groups["Ops"]["value_eur"] == pytest.approx(150.0)
    assert (groups["Sales"]["exposed_users"], groups["Sales"]["ai_tasks"]) == (5, 1)
    assert groups["Sales"]["value_eur"] == pytest.approx(60.0)

    february = _groups(kpis.feature_kpis("drafts", date(2026, 2, 1), date(2026, 2, 28), "department"))
    assert (february["Sales"]["exposed_users"], february["Sales"]["ai_tasks"]) == (6, 1)
    assert february["Sales"]["value_eur"] == pytest.approx(60.0)
    assert (february["Ops"]["exposed_users"], february["Ops"]["ai_tasks"]) == (5, 0)


def test_the_monthly_roi_values_the_events_alike(moved, admin_headers):
    for month, value in (("2026-02", 60.0), ("2026-03", 210.0)):
        r = moved.get(f"/api/v1/roi/monthly?month={month}", headers=admin_headers)
        (drafts,) = r.get_json()["features"]
        assert drafts["value_eur"] == pytest.approx(value)


def test_the_dashboard_adoption_by_department_uses_the_department_of_then(moved):
    groups = kpi_data.adoption("drafts", "2026-03", "department")["groups"].set_index("group")
    assert groups.loc["Ops", "exposed_users"] == 6 and groups.loc["Sales", "exposed_users"] == 5
    heatmap = kpi_data.adoption_weeks("drafts", "2026-03", "department")["heatmap"]
    exposed = {(row.week, row.group): row.exposed_users for row in heatmap.itertuples()}
    # The week of Mar 4-10 is before the move; the week of Mar 11-17 ends after it.
    assert exposed[(date(2026, 3, 4), "Sales")] == 6 and exposed[(date(2026, 3, 4), "Ops")] == 5
    assert exposed[(date(2026, 3, 11), "Sales")] == 5 and exposed[(date(2026, 3, 11), "Ops")] == 6


def test_a_person_counts_where_they_were_at_the_end_of_their_exposure(app, client, admin_headers,
                                                                       monkeypatch):
    """pilot: {a, p1..p5} from Jan 1, {p1..p5, c} from Feb 1; a moves from Sales to Ops on Feb 15,
    after leaving the pilot (and the feature) on Feb 1."""
    gen_department("Sales")
    gen_department("Ops")
    pilots = [f"p{i}" for i in range(1, 6)]
    people_service.upsert_people([{"person_id": "a", "department": "Sales"}]
                                 + [{"person_id": p, "department": "Ops"} for p in [*pilots, "c"]])
    for at, members in (("2026-01-01T00:00:00Z", ["a", *pilots]),
                        ("2026-02-01T00:00:00Z", [*pilots, "c"])):
        r = client.put("/api/v1/cohorts/pilot", headers=admin_headers,
                       json={"members": members, "effective_at": at})
        assert r.status_code == 200
    rollout.create_feature({"key": "notes", "name": "Notes",
                            "stages": [{"name": "pilot", "cohorts": ["pilot"]}]}, "ana")
    rollout.advance("notes", "ana", effective_at=utc(2026, 1, 15))
    with monkeypatch.context() as clock:
        clock.setattr(people_service, "utcnow", lambda: utc(2026, 2, 15))
        people_service.upsert_people([{"person_id": "a", "department": "Ops"}])
    db.session.commit()
    refresh()

    def cohort(start, end) -> dict:
        return _groups(kpis.feature_kpis("notes", start, end, "cohort"))["pilot"]

    assert cohort(date(2026, 1, 1), date(2026, 2, 28))["exposed_users"] == 7  # a counted: member then
    assert cohort(date(2026, 1, 1), date(2026, 1, 31))["exposed_users"] == 6  # not c yet
    assert cohort(date(2026, 2, 1), date(2026, 2, 28))["exposed_users"] == 6  # not a any more

    inputs, people = kpis.kpi_inputs("notes", date(2026, 1, 1), date(2026, 2, 28))
    ids = dict(db.session.execute(select(Person.person_id, Person.id)).all())

    def departments(start, end) -> dict[str, set[str]]:
        groups = kpis.window_groups("department", people, inputs.spells, start, end)
        names = {v: k for k, v in ids.items()}
        return {name: {names[i] for i in members} for name, members in groups.items()}

    # a's last exposure in the window ended on Feb 1, while in Sales.
    assert departments(date(2026, 1, 1), date(2026, 2, 28)) == {"Sales": {"a"}, "Ops": {*pilots, "c"}}
    # In March a was not exposed: the department at the window's end counts.
    assert departments(date(2026, 3, 1), date(2026, 3, 31)) == {"Ops": {"a", *pilots, "c"}}
