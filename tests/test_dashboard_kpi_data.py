"""The executive, adoption and quality pages' data (dashboards.kpi.data) and the export routes,
called directly on scenario A of tests/kpi_scenarios.py (hand computation in tests/test_roi_monthly.py):
every figure must be the KPI module's."""

from __future__ import annotations

import csv
import io
from datetime import date

import pandas as pd
import pytest
from openpyxl import load_workbook

from app.db import db
from app.errors import NotFound, ValidationFailed
from app.jobs.kpi import monthly_close
from app.models import Feature, RolloutStage
from app.services.accounts.access import create_user
from app.services.kpi_reads import figures as kpis
from dashboards.kpi import data as kpi_data
from dashboards.kpi.exports import register_exports
from tests.helpers import gen_cohort, utc
from tests.kpi_scenarios import draft_company, event, october_licence, post_events, refresh, spell

OCT_VALUE = 13 + 2 + 14 / 60 * 40
OCT_COST = 100 + 0.1 * 6
OCT_HOURS = (13 + 2 + 14) / 60


@pytest.fixture
def client(app):
    register_exports(app)
    return app.test_client()


@pytest.fixture
def scenario(app, client, ingest_headers, admin_headers):
    feature, rows = draft_company()
    people = {p.person_id: p for p in db.session.scalars(db.select(kpis.Person))}
    champions = gen_cohort("champions", [people["a"]], name="Champions")
    pilot = gen_cohort("pilot", [people["b"], people["c"]], name="Pilot")
    db.session.add_all([RolloutStage(feature=feature, position=1, name="Champions", cohorts=[champions]),
                        RolloutStage(feature=feature, position=2, name="Pilot", cohorts=[pilot])])
    db.session.commit()
    post_events(client, ingest_headers, rows)
    october_licence(client, admin_headers)
    refresh()
    kpi_data.clear_cache()
    return feature


def test_executive_is_the_monthly_roi_answer_with_its_history(scenario):
    view = kpi_data.executive("2026-10")
    assert view["roi"] == kpis.monthly_roi("2026-10")
    total = view["roi"]["total"]
    assert total["net_eur"] == pytest.approx(OCT_VALUE - OCT_COST)
    (row,) = view["features"].to_dict("records")
    assert row["feature"] == "draft" and row["cost_per_task_eur"] == pytest.approx(OCT_COST / 6)
    history = view["history"].set_index("month")
    assert list(history.index) == ["2026-08", "2026-09", "2026-10"]  # a manual event in August
    assert history.loc["2026-09", "net_eur"] == 0 and pd.isna(history.loc["2026-09", "cost_per_task_eur"])
    assert history.loc["2026-10", "cumulative_net_eur"] == pytest.approx(total["cumulative_net_eur"])
    assert history.loc["2026-10", "hours_saved"] == pytest.approx(OCT_HOURS)
    assert history.loc["2026-10", "cost_per_task_eur"] == pytest.approx(OCT_COST / 6)
    assert not history["closed"].any()
    # A later month carries the cumulative net on, with no new value.
    later = kpi_data.executive("2026-12")["history"].set_index("month")
    assert list(later.index)[-3:] == ["2026-10", "2026-11", "2026-12"]
    assert later.loc["2026-12", "cumulative_net_eur"] == pytest.approx(OCT_VALUE - OCT_COST)
    assert {"2026-09", "2026-10"} <= set(kpi_data.month_options())
    assert kpi_data.default_month() == "2026-10"


def test_a_restated_month_shows_the_closed_figures_beside_the_live_ones(scenario, client, ingest_headers):
    monthly_close("2026-10")
    db.session.commit()
    closed = kpi_data.executive("2026-10")
    assert closed["roi"]["closed"] and not closed["roi"]["restated"]
    assert closed["history"].set_index("month").loc["2026-10", "closed"]
    post_events(client, ingest_headers, [event("draft", "a", "2026-10-20T10:00:00Z", duration=300)])
    refresh()
    view = kpi_data.executive("2026-10")
    assert view["roi"]["restated"] is True
    (row,) = view["features"].to_dict("records")
    assert row["closed_net_eur"] == pytest.approx(OCT_VALUE - OCT_COST)
    assert row["net_eur"] != pytest.approx(row["closed_net_eur"])
    assert view["history"].set_index("month").loc["2026-10", "restated"]


def test_export_rows_hold_each_feature_and_the_total(scenario):
    header, rows = kpi_data.export_rows("2026-10")
    records = [dict(zip(header, r, strict=True)) for r in rows]
    assert [r["feature"] for r in records] == ["draft", "TOTAL"]
    assert records[1]["net_eur"] == pytest.approx(OCT_VALUE - OCT_COST)
    assert records[0]["ai_tasks"] == 6 and records[0]["closed"] is False
    assert records[0]["closed_net_eur"] is None


def test_adoption_funnel_groups_and_weeks(scenario):
    view = kpi_data.adoption("draft", "2026-10", "stage")
    funnel = dict(zip(view["funnel"]["stage"], view["funnel"]["people"], strict=True))
    # a, b and c were exposed and used it in October; nobody was active on 3+ of the last 30 days.
    assert funnel == {"Exposed": 3, "Tried": 3, "Active": 3, "Habitual": 0}
    groups = view["groups"].set_index("group")
    assert list(groups.index) == ["1. Champions", "2. Pilot", "Everyone else"]
    assert groups["suppressed"].all() and groups["adoption_rate"].isna().all()  # fewer than 5 each
    weeks = kpi_data.adoption_weeks("draft", "2026-10", "stage")
    trend = weeks["trend"]
    assert len(trend[trend["group"] == "All"]) == kpi_data.TREND_WEEKS
    last = trend[trend["group"] == "All"].iloc[-1]
    assert last["week"] == date(2026, 10, 25)  # the last week ends on the month's last day
    week = trend[(trend["group"] == "All") & (trend["week"] == date(2026, 9, 27))].iloc[0]
    same = kpis.feature_kpis("draft", date(2026, 9, 27), date(2026, 10, 3))
    assert week["adoption_rate"] == pytest.approx(same["adoption_rate"]) and week["exposed_users"] == 2
    assert set(weeks["heatmap"]["group"]) == {"Sales", "Ops"} and weeks["heatmap"]["suppressed"].all()


def test_quality_is_the_kpi_record_of_the_month(scenario):
    view = kpi_data.quality("draft", "2026-10")
    same = kpis.feature_kpis("draft", date(2026, 10, 1), date(2026, 10, 31))
    for name in ("error_rate", "error_rate_ci_low", "baseline_error_rate", "time_saved_per_task",
                 "did_time_saved_per_task", "time_saved_evidence"):
        assert view["record"][name] == same[name]
    assert view["record"]["time_saved_evidence"] == "mixed"
    assert len(kpi_data.quality_weeks("draft", "2026-10")["trend"]) == kpi_data.TREND_WEEKS
    assert kpi_data.outside_interval(0.5, 0.1, 0.4) is True
    assert kpi_data.outside_interval(0.2, 0.1, 0.4) is False


def test_answers_are_reused_until_the_data_changes(scenario):
    first = kpi_data.adoption("draft", "2026-10", "department")
    assert kpi_data.adoption("draft", "2026-10", "department") is first
    people = {p.person_id: p for p in db.session.scalars(db.select(kpis.Person))}
    spell(scenario, people["d"], utc(2026, 10, 20))  # a rollout change: d is exposed now
    db.session.commit()
    again = kpi_data.adoption("draft", "2026-10", "department")
    assert again is not first and again["record"]["exposed_users"] == first["record"]["exposed_users"] + 1


def test_bad_month_feature_or_grouping_are_refused(scenario):
    with pytest.raises(ValidationFailed) as error:
        kpi_data.executive("2026-13")
    assert error.value.details[0].field == "month"
    with pytest.raises(NotFound):
        kpi_data.adoption("nope", "2026-10")
    with pytest.raises(ValidationFailed):
        kpi_data.adoption("draft", "2026-10", "astrology")


def _log_in(client, role: str) -> None:
    user = create_user(f"{role}@kpi.test", role, "long enough password")
    db.session.commit()
    with client.session_transaction() as session:
        session["user_id"] = user.id


def test_exports_need_a_login_and_match_the_api(scenario, client, admin_headers):
    assert client.get("/dashboard/export/roi.csv?month=2026-10").status_code == 401
    assert client.get("/dashboard/report?month=2026-10").status_code == 302
    feature = db.session.scalar(db.select(Feature).where(Feature.key == "draft"))
    feature.name = "=HYPERLINK(\"x\") <script>alert(1)</script>"
    db.session.commit()
    _log_in(client, "executive")
    response = client.get("/dashboard/export/roi.csv?month=2026-10")
    assert response.status_code == 200
    assert "liftoff-roi-2026-10.csv" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    api = client.get("/api/v1/roi/monthly?month=2026-10", headers=admin_headers).get_json()
    assert float(rows[0]["net_eur"]) == pytest.approx(api["features"][0]["net_eur"])
    assert float(rows[1]["value_eur"]) == pytest.approx(api["total"]["value_eur"])
    assert rows[0]["name"].startswith("'=")  # no formula for a spreadsheet to run
    book = load_workbook(io.BytesIO(client.get("/dashboard/export/roi.xlsx?month=2026-10").data))
    sheet = book["ROI 2026-10"]
    assert sheet["B2"].value == "draft" and sheet["B3"].value == "TOTAL"
    assert [c.value for c in book["History"]["A"]][1:] == ["2026-08", "2026-09", "2026-10"]
    report = client.get("/dashboard/report?month=2026-10").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report and "<script>alert" not in report
    assert "@media print" in report and "2026-10" in report
    bad = client.get("/dashboard/export/roi.csv?month=2026-13")
    assert bad.status_code == 422 and bad.get_json()["details"][0]["field"] == "month"


def test_warming_reads_every_rollup_the_latest_months_pages_need(scenario, client):
    """dashboards/kpi/warm.py: after a refresh, the pages of the latest month, and the executive view of
    the month before, read no rollup table."""
    from sqlalchemy import event

    from app.services.kpi_reads import cache as kpi_cache
    from dashboards.kpi import warm

    kpi_cache.clear()
    assert warm.warm_once() == 1 and kpi_data.default_month() == "2026-10"
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        kpi_data.adoption("draft", "2026-10", "stage")
        kpi_data.adoption_weeks("draft", "2026-10", "department")
        kpi_data.quality("draft", "2026-10")
        kpi_data.quality_weeks("draft", "2026-10")
        kpi_data.executive("2026-10")
        kpi_data.executive("2026-09")
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    rollup_reads = [s for s in statements if "kpi_activity_days" in s or "kpi_feature_" in s
                    or "kpi_first_use" in s]
    assert len(statements) > 5 and rollup_reads == []
    # A new refresh makes the warmed reads stale: the same page reads the rollups again.
    refresh(full=True)
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        kpi_data.clear_cache()
        kpi_data.quality("draft", "2026-10")
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert any("kpi_activity_days" in s for s in statements)
