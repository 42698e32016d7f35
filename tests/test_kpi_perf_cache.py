"""The per-process memo of KPI reads (app/services/kpi_reads/cache.py): keyed by the one KPI revision, so
a refresh-kpis run and every change of a live input (spells, departments, baselines, costs) show at
once, and a caller cannot alter what it remembers. Figures come from scenario A
(tests/kpi_scenarios.py)."""

from __future__ import annotations

import pytest

from app.db import db
from app.models import Department, Person
from app.services.kpi_reads import cache as kpi_cache
from app.services.kpi_reads import figures as kpis
from tests.helpers import gen_person, utc
from tests.kpi_scenarios import draft_company, event, october_licence, post_events, refresh, spell


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def scenario(app, client, ingest_headers):
    kpi_cache.clear()
    feature, rows = draft_company()
    post_events(client, ingest_headers, rows)
    refresh()
    return feature


def _kpis(client, headers, **query):
    query = {"start": "2026-10-01", "end": "2026-10-10", **query}
    response = client.get("/api/v1/features/draft/kpis", query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _roi(client, headers, month="2026-10"):
    response = client.get("/api/v1/roi/monthly", query_string={"month": month}, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_repeat_is_served_from_the_memo_and_a_refresh_invalidates_it(scenario, client, admin_headers,
                                                                      ingest_headers):
    before = kpi_cache.version()
    first = _kpis(client, admin_headers)
    assert first["ai_tasks"] == 6 and kpi_cache.size() > 0
    assert _kpis(client, admin_headers) == first
    post_events(client, ingest_headers, [event("draft", "c", "2026-10-08T10:00:00Z", duration=300)])
    assert _kpis(client, admin_headers)["ai_tasks"] == 6  # the contract: as of the last refresh
    refresh()
    assert kpi_cache.version() != before
    after = _kpis(client, admin_headers)
    assert after["ai_tasks"] == 7
    assert after["active_users"] == first["active_users"]
    # c's new 5-minute task saves 15 - 5 = 10 minutes
    assert after["time_saved_hours"] == pytest.approx(first["time_saved_hours"] + 10 / 60)


def test_an_exposure_change_shows_at_once_without_a_refresh(scenario, client, admin_headers):
    assert _kpis(client, admin_headers)["exposed_users"] == 3
    d = db.session.scalar(db.select(Person).where(Person.person_id == "d"))
    spell(scenario, d, utc(2026, 10, 7, 9))
    db.session.commit()
    k = _kpis(client, admin_headers)
    assert k["exposed_users"] == 4
    assert k["adoption_rate"] == pytest.approx(4 / 4)


def test_a_department_move_and_a_rate_change_show_at_once(scenario, client, admin_headers):
    grouped = _kpis(client, admin_headers, group_by="department")
    assert {g["group"] for g in grouped["groups"]} == {"Sales", "Ops"}
    value = grouped["value_eur"]
    sales = db.session.scalar(db.select(Department).where(Department.name == "Sales"))
    sales.hourly_rate_eur = 120.0  # twice the rate: a and b's saved time is worth twice as much
    db.session.commit()
    k = _kpis(client, admin_headers)
    assert k["value_eur"] > value
    for index in range(6):
        gen_person(f"new{index}", sales)
    db.session.commit()
    regrouped = _kpis(client, admin_headers, group_by="department")
    assert regrouped["value_eur"] == pytest.approx(k["value_eur"])
    assert regrouped != grouped


def test_a_new_baseline_shows_at_once(scenario, client, admin_headers):
    assert _kpis(client, admin_headers)["baseline_minutes"] == {"default": 15.0}
    response = client.post("/api/v1/baselines", headers=admin_headers, json={
        "feature": "draft", "task": "default", "minutes_per_task": 12.0,
        "source": "time study", "measured_at": "2026-09-01T00:00:00Z"})
    assert response.status_code == 201, response.get_json()
    k = _kpis(client, admin_headers)
    assert k["baseline_minutes"] == {"default": 12.0}
    assert k["time_saved_hours"] == pytest.approx(17 / 60)


def test_roi_sees_a_new_cost_at_once_and_new_events_after_the_refresh(scenario, client, admin_headers,
                                                                     ingest_headers):
    first = _roi(client, admin_headers)["features"][0]
    assert _roi(client, admin_headers)["features"][0] == first
    october_licence(client, admin_headers)
    costed = _roi(client, admin_headers)["features"][0]
    assert costed["cost_eur"] == pytest.approx(first["cost_eur"] + 100)
    post_events(client, ingest_headers, [event("draft", "c", "2026-10-08T10:00:00Z", duration=300)])
    assert _roi(client, admin_headers)["features"][0]["ai_tasks"] == costed["ai_tasks"]
    refresh()
    assert _roi(client, admin_headers)["features"][0]["ai_tasks"] == costed["ai_tasks"] + 1


def test_a_caller_cannot_alter_the_memo(scenario):
    answer = kpis.feature_kpis("draft", utc(2026, 10, 1).date(), utc(2026, 10, 10).date())
    answer["ai_tasks"] = -1
    answer["habit"]["daily"] = 99
    again = kpis.feature_kpis("draft", utc(2026, 10, 1).date(), utc(2026, 10, 10).date())
    assert again["ai_tasks"] == 6 and again["habit"]["daily"] != 99


def test_reads_before_the_first_refresh_are_remembered_until_it_runs(app, client, ingest_headers,
                                                                      admin_headers):
    """Before the revision (migration 0011) a memo needed a first refresh to key on; now the
    empty rollups are remembered under the revision, and the first refresh bumps it."""
    kpi_cache.clear()
    _, rows = draft_company()
    post_events(client, ingest_headers, rows)
    before = kpi_cache.version()
    assert before is not None
    assert _kpis(client, admin_headers)["ai_tasks"] == 0
    assert kpi_cache.size() > 0
    refresh()
    assert kpi_cache.version() != before
    assert _kpis(client, admin_headers)["ai_tasks"] == 6


def test_the_memo_keeps_within_its_memory_budget(app):
    """app/services/kpi_reads/cache.py drops the oldest entries once KPI_CACHE_MB is reached."""
    import pandas as pd

    from app.services.kpi_reads import cache as kpi_cache

    kpi_cache.clear()
    frame = pd.DataFrame({"x": range(100_000)}, dtype="float64")  # 0.8 MB
    app.config["KPI_CACHE_MB"] = 2.0
    try:
        for i in range(5):
            kpi_cache.cached("v1", ("frame", i), frame.copy)
        assert kpi_cache.size() == 2 and kpi_cache.memory_bytes() <= 2 * 1024 * 1024
        assert kpi_cache.cached("v1", ("frame", 4), lambda: None) is not None  # the newest stay
        assert kpi_cache.cached("v1", ("frame", 0), lambda: "recomputed") == "recomputed"
    finally:
        app.config["KPI_CACHE_MB"] = kpi_cache.DEFAULT_MB
        kpi_cache.clear()
