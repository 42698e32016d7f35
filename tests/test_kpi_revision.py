"""The one KPI revision (app/services/kpi_reads/revision.py): every commit writing a KPI input bumps it
once, other commits and rollbacks leave it alone, and every KPI cache (the memo of reads, the
dashboard's memo) keys on it. Figures from scenario A (tests/kpi_scenarios.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import create_engine, event, select, text

from app.db import db
from app.models import Department, Feedback, Person
from app.models.kpi import KpiRevision
from app.services.kpi_reads import cache as kpi_cache
from app.services.rollout import transitions as rollout
from dashboards.kpi import data as kpi_data
from tests.helpers import gen_person, utc
from tests.kpi_scenarios import event as an_event
from tests.kpi_scenarios import october_licence, post_events, refresh, refreshed_draft_company, spell


@pytest.fixture
def scenario(app, client, ingest_headers, admin_headers):
    return refreshed_draft_company(client, ingest_headers)


def revision() -> int:
    db.session.commit()  # read what is committed, as another process would
    return db.session.scalar(select(KpiRevision.revision).where(KpiRevision.id == 1))


def _ok(response, code: int = 200):
    assert response.status_code == code, response.get_json()


def _person(person_id: str) -> Person:
    return db.session.scalar(select(Person).where(Person.person_id == person_id))


def _department(name: str) -> Department:
    return db.session.scalar(select(Department).where(Department.name == name))


def _move_b_to_ops():
    from app.services.people.directory import upsert_people

    upsert_people([{"person_id": "b", "department": "Ops"}])  # a move holds from now on
    db.session.commit()


def _rename_sales():
    _department("Sales").name = "Field sales"
    db.session.commit()


def _staged_feature():
    rollout.create_feature({"key": "staged", "name": "Staged", "stages": [
        {"name": "Pilot", "cohorts": [], "percentage": 50}]}, "test")
    db.session.commit()


def _advance(client, admin_headers):
    rollout.advance("staged", "test", effective_at=utc(2026, 10, 20))
    db.session.commit()


def _void_first_event(client, admin_headers):
    from app.models import Event

    source, first = db.session.execute(select(Event.source, Event.event_id).order_by(Event.id).limit(1)).one()
    _ok(client.post("/api/v1/events/void", json={"event_ids": [first], "source": source,
                                                  "reason": "sent twice"}, headers=admin_headers))


def _void_the_cost(client, admin_headers):
    (entry,) = client.get("/api/v1/features/draft/costs", headers=admin_headers).get_json()
    _ok(client.post(f"/api/v1/features/draft/costs/{entry['id']}/void", json={"reason": "entered twice"},
                    headers=admin_headers))


KPI_WRITES = {
    "a new event, then the refresh": lambda c, h, i: (
        post_events(c, i, [an_event("draft", "c", "2026-10-08T10:00:00Z")]), refresh()),
    "stage transition": lambda c, h, i: _advance(c, h),
    "cohort membership": lambda c, h, i: _ok(c.put("/api/v1/cohorts/team", json={"members": ["a", "c"]},
                                                   headers=h)),
    "department move": lambda c, h, i: _move_b_to_ops(),
    "department rename": lambda c, h, i: _rename_sales(),
    "department rate": lambda c, h, i: _ok(c.put("/api/v1/departments/Ops", json={"hourly_rate_eur": 70},
                                                 headers=h)),
    "cost entry": lambda c, h, i: october_licence(c, h),
    "cost void": lambda c, h, i: _void_the_cost(c, h),
    "event void, then the refresh": lambda c, h, i: (_void_first_event(c, h), refresh()),
    "baseline": lambda c, h, i: _ok(c.post("/api/v1/baselines", headers=h, json={
        "feature": "draft", "task": "default", "minutes_per_task": 12.0, "source": "time study",
        "measured_at": "2026-09-01T00:00:00Z"}), 201),
    "person upsert": lambda c, h, i: _ok(c.post("/api/v1/people", json=[{"person_id": "e", "name": "E"}],
                                                headers=h)),
}


@pytest.mark.parametrize("write", sorted(KPI_WRITES))
def test_every_kpi_changing_write_bumps_the_revision_once(scenario, client, admin_headers, ingest_headers,
                                                          write):
    if write == "stage transition":
        _staged_feature()  # a feature with a stage to advance to (itself a KPI write)
    if write == "cost void":
        october_licence(client, admin_headers)  # an entry to void (itself a KPI write)
    before = revision()
    KPI_WRITES[write](client, admin_headers, ingest_headers)
    assert revision() == before + 1


def test_events_bump_it_with_the_refresh_that_brings_them_to_the_kpis(scenario, client, ingest_headers,
                                                                     admin_headers):
    before = revision()
    post_events(client, ingest_headers, [an_event("draft", "c", "2026-10-08T10:00:00Z")])
    assert revision() == before  # reads still show the last refresh, so every memo stays valid
    _void_first_event(client, admin_headers)
    assert revision() == before  # a void too reaches the KPIs with the refresh
    refresh()
    assert revision() == before + 1


def test_a_refresh_that_finds_nothing_new_leaves_it_alone(scenario):
    # The scheduler refreshes every 5 minutes: an idle one must not drop every memo and answer.
    before = revision()
    refresh()
    refresh()
    assert revision() == before


def test_other_writes_and_rollbacks_leave_it_alone(scenario, client, admin_headers):
    before = revision()
    db.session.add(Feedback(feature_id=scenario.id, person_id=_person("a").id, rating=4,
                            occurred_at=utc(2026, 10, 3)))
    db.session.commit()
    _person("a").department = _department("Ops")
    db.session.flush()
    db.session.rollback()
    assert revision() == before


def test_reading_the_revision_is_one_statement(scenario):
    db.session.commit()
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert kpi_cache.version() is not None
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert len(statements) == 1 and "kpi_revision" in statements[0]


def test_nothing_is_remembered_from_uncommitted_kpi_writes(scenario):
    _person("d").department = _department("Sales")
    db.session.flush()
    assert kpi_cache.version() is None
    kpi_cache.clear()
    kpi_data.adoption("draft", "2026-10", "department")
    assert kpi_cache.size() == 0
    db.session.rollback()


def test_a_bump_by_another_process_invalidates_this_ones_memo(scenario, client, admin_headers):
    first = kpi_data.quality("draft", "2026-10")
    assert kpi_data.quality("draft", "2026-10") is first
    other = create_engine(db.engine.url)  # another host's connection to the same database
    try:
        with other.begin() as connection:
            connection.execute(text("UPDATE kpi_revision SET revision = revision + 1 WHERE id = 1"))
    finally:
        other.dispose()
    db.session.commit()
    assert kpi_data.quality("draft", "2026-10") is not first


def test_the_dashboard_memo_sees_a_department_move_and_a_rename_at_once(scenario):
    for name in ("Sales", "Ops"):  # six more exposed people each: Sales 8, Ops 7 exposed
        for i in range(6):
            spell(scenario, gen_person(f"{name}{i}", _department(name)), utc(2026, 10, 2))
    db.session.commit()
    groups = kpi_data.adoption("draft", "2026-10", "department")["groups"]
    assert kpi_data.adoption("draft", "2026-10", "department")["groups"] is groups  # remembered
    assert groups.set_index("group")["exposed_users"].to_dict() == {"Sales": 8, "Ops": 7}
    _move_b_to_ops()
    moved = kpi_data.adoption("draft", "2026-10", "department")["groups"]
    assert moved is not groups  # the move was seen at once; October keeps the membership it had
    assert moved.set_index("group")["exposed_users"].to_dict() == {"Sales": 8, "Ops": 7}
    _rename_sales()
    renamed = kpi_data.adoption("draft", "2026-10", "department")["groups"]
    assert renamed.set_index("group")["exposed_users"].to_dict() == {"Field sales": 8, "Ops": 7}
    weeks = kpi_data.adoption_weeks("draft", "2026-10", "department")["heatmap"]
    assert set(weeks["group"]) == {"Field sales", "Ops"}


def live_revision() -> int:
    db.session.commit()
    return db.session.scalar(select(KpiRevision.revision).where(KpiRevision.id == 2)) or 0


def test_a_refresh_moves_the_revision_and_not_the_live_one(scenario, client, ingest_headers):
    before, live_before = revision(), live_revision()
    post_events(client, ingest_headers, [an_event("draft", "c", "2026-10-08T10:00:00Z")])
    refresh()
    assert (revision(), live_revision()) == (before + 1, live_before)


def test_a_live_input_moves_both(scenario):
    before, live_before = revision(), live_revision()
    _move_b_to_ops()
    assert (revision(), live_revision()) == (before + 1, live_before + 1)


def _kpis_by_department(client, headers) -> dict:
    response = client.get("/api/v1/features/draft/kpis", headers=headers, query_string={
        "start": "2026-10-01", "end": "2026-10-10", "group_by": "department"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_after_a_refresh_the_spells_are_remembered_and_the_figures_new(scenario, client, admin_headers,
                                                                     ingest_headers):
    first = _kpis_by_department(client, admin_headers)
    post_events(client, ingest_headers, [an_event("draft", "c", "2026-10-08T10:00:00Z")])
    refresh()
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        after = _kpis_by_department(client, admin_headers)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert statements and not [s for s in statements if "exposure_spells" in s]
    assert after["ai_tasks"] == first["ai_tasks"] + 1  # the refreshed rollups were read
    kpi_cache.clear()
    assert _kpis_by_department(client, admin_headers) == after  # as computed from nothing remembered


def test_a_windows_sums_outlive_a_refresh_of_other_days_only(scenario, client, admin_headers, ingest_headers,
                                                             monkeypatch):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the days' stamp (the rows' xmin) is PostgreSQL's")
    from app.services.kpi_reads import figures

    reads: list[tuple] = []
    real = figures._sums_by_person

    def counted(feature_id, lo, hi):
        reads.append((lo.isoformat(), hi.isoformat()))
        return real(feature_id, lo, hi)

    monkeypatch.setattr(figures, "_sums_by_person", counted)
    first = _kpis_by_department(client, admin_headers)
    # the window 2026-10-01..10 and the baseline window 2026-09-03..30, Monday to Sunday weeks
    # clipped to each (2026-10-01 and 2026-09-03 are Thursdays), the window's last week by day
    baseline = [("2026-09-03", "2026-09-06"), ("2026-09-07", "2026-09-13"), ("2026-09-14", "2026-09-20"),
                ("2026-09-21", "2026-09-27"), ("2026-09-28", "2026-09-30")]
    days = [(f"2026-10-{d:02d}", f"2026-10-{d:02d}") for d in range(5, 11)]
    assert sorted(reads) == sorted([*baseline, ("2026-10-01", "2026-10-04"), *days])
    reads.clear()
    post_events(client, ingest_headers, [an_event("draft", "c", "2026-11-05T10:00:00Z")])
    refresh()  # November only: both windows' sums are still those of their days
    assert _kpis_by_department(client, admin_headers) == first and reads == []
    post_events(client, ingest_headers, [an_event("draft", "c", "2026-10-08T10:00:00Z")])
    refresh()  # a day of the window's last week: that day's sums are read anew, nothing else
    after = _kpis_by_department(client, admin_headers)
    assert reads == [("2026-10-08", "2026-10-08")] and after["ai_tasks"] == first["ai_tasks"] + 1
    reads.clear()
    _void_first_event(client, admin_headers)  # a's manual task of 2026-09-10, in the baseline window
    refresh()
    voided = _kpis_by_department(client, admin_headers)
    assert reads == baseline  # the baseline window is remembered whole: read again whole
    kpi_cache.clear()
    assert _kpis_by_department(client, admin_headers) == voided  # as computed from nothing remembered
    assert voided["baseline_minutes"] != after["baseline_minutes"]


def _first_use_reads(statements: list[str]) -> list[str]:
    """The KPI reads' statements that take the first uses (column by column: array_agg)."""
    return [s for s in statements if "array_agg" in s and "kpi_first_use.first_ai_at" in s]


def test_first_uses_are_read_again_only_when_a_refresh_moved_one(scenario, client, admin_headers,
                                                                 ingest_headers):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the first uses' stamp (the rows' xmin) is PostgreSQL's")
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    # Exposed in the window: a at 10-01 09:00 (first AI use 10:00: 1 h), b at 10-01 00:00 (10-03
    # 10:00: 58 h), c at 10-05 12:00 (10-06 10:00: 22 h); the median is 22 h.
    assert _kpis_by_department(client, admin_headers)["time_to_first_use_hours"] == 22.0
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        post_events(client, ingest_headers, [an_event("draft", "a", "2026-10-04T10:00:00Z", ai=False)])
        refresh()  # a manual task: no first use moves, so they are not read again
        assert _kpis_by_department(client, admin_headers)["time_to_first_use_hours"] == 22.0
        assert statements and not _first_use_reads(statements)
        post_events(client, ingest_headers, [an_event("draft", "c", "2026-10-05T15:00:00Z")])
        refresh()  # c's first use moves to 15:00, 3 h after exposure: the median of 1, 3, 58 h
        after = _kpis_by_department(client, admin_headers)
        # Only the rows that refresh wrote are read (a newer xmin), put in place of the old ones.
        (moved,) = _first_use_reads(statements)
        assert "xmin" in moved
        statements.clear()
        _void_only_ai_event_of_b(client, admin_headers)
        refresh()  # b's only AI use is voided: b's first use row goes, so all of them are read again
        voided = _kpis_by_department(client, admin_headers)
        (again,) = _first_use_reads(statements)
        assert "xmin" not in again
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert after["time_to_first_use_hours"] == 3.0
    # a (1 h) and c (3 h) used it, b never did now: the median of 1 and 3 h, a third never used it.
    assert voided["time_to_first_use_hours"] == 2.0 and voided["never_used_share"] == pytest.approx(1 / 3)
    kpi_cache.clear()
    assert _kpis_by_department(client, admin_headers) == voided  # as computed from nothing remembered


def _void_only_ai_event_of_b(client, admin_headers):
    from app.models import Event

    source, only = db.session.execute(select(Event.source, Event.event_id).where(
        Event.ai_assisted.is_(True), Event.occurred_at == datetime(2026, 10, 3, 10, tzinfo=UTC))).one()
    _ok(client.post("/api/v1/events/void", json={"event_ids": [only], "source": source, "reason": "a test"},
                    headers=admin_headers))


def test_a_windows_blocks_are_its_weeks_and_the_last_weeks_days():
    from app.services.kpi_reads.day_blocks import spans_of

    def d(text: str) -> date:
        return date.fromisoformat(text)

    # 2026-10-01 is a Thursday: the first week is clipped, the last (Mon 10-12 to Wed 10-14) by day.
    assert spans_of(d("2026-10-01"), d("2026-10-14")) == [
        (d("2026-10-01"), d("2026-10-04")), (d("2026-10-05"), d("2026-10-11")),
        (d("2026-10-12"), d("2026-10-12")), (d("2026-10-13"), d("2026-10-13")),
        (d("2026-10-14"), d("2026-10-14"))]
    assert spans_of(d("2026-10-14"), d("2026-10-14")) == [(d("2026-10-14"), d("2026-10-14"))]
    assert spans_of(d("2026-10-14"), d("2026-10-13")) == []
