"""GET /api/v1/roi/monthly and the monthly close, hand-computed on scenario A.

September 2026: only non-AI events (value 0, no cost). October: value 13 + 2 + 14/60*40 EUR
(see tests/test_kpi_reads.py), a 100 EUR licence plus 0.10 EUR x 6 AI tasks.
"""

from __future__ import annotations

import pytest

from app.db import db
from app.jobs.kpi import monthly_close
from tests.kpi_scenarios import draft_company_with_costs, event, post_events, refresh

OCT_VALUE = 13 + 2 + 14 / 60 * 40
OCT_COST = 100 + 0.1 * 6


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def scenario(app, client, ingest_headers, admin_headers):
    return draft_company_with_costs(client, ingest_headers, admin_headers)


def _roi(client, headers, month):
    response = client.get("/api/v1/roi/monthly", query_string={"month": month}, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_month_by_hand(scenario, client, admin_headers):
    answer = _roi(client, admin_headers, "2026-10")
    assert answer["month"] == "2026-10"
    (draft,) = answer["features"]
    net = OCT_VALUE - OCT_COST
    assert draft["feature"] == "draft"
    assert draft["value_eur"] == pytest.approx(OCT_VALUE)
    assert draft["cost_eur"] == pytest.approx(OCT_COST)
    assert draft["cost_per_task_eur"] == pytest.approx(OCT_COST / 6)
    assert draft["net_eur"] == pytest.approx(net)
    assert draft["roi_pct"] == pytest.approx(net / OCT_COST * 100)
    assert draft["cumulative_net_eur"] == pytest.approx(net)
    assert draft["payback_month"] is None
    total = answer["total"]
    for name in ("value_eur", "cost_eur", "net_eur", "roi_pct", "cumulative_net_eur"):
        assert total[name] == pytest.approx(draft[name])
    assert answer["closed"] is False


def test_a_month_without_cost_has_no_roi_and_cumulative_and_payback_run_on(scenario, client,
                                                                           ingest_headers,
                                                                           admin_headers):
    september = _roi(client, admin_headers, "2026-09")["features"][0]
    assert september["cost_eur"] == 0 and september["roi_pct"] is None
    assert september["cost_per_task_eur"] is None and september["cumulative_net_eur"] == 0
    # November: 20 AI tasks of a (Sales, 60 EUR/h), 5 minutes each against a 15-minute baseline.
    rows = [event("draft", "a", f"2026-11-{day:02d}T10:00:00Z", duration=300) for day in range(1, 21)]
    post_events(client, ingest_headers, rows)
    refresh()
    november = _roi(client, admin_headers, "2026-11")["features"][0]
    nov_value = 20 * 10 / 60 * 60
    nov_cost = 0.1 * 20
    assert november["value_eur"] == pytest.approx(nov_value)
    assert november["cost_eur"] == pytest.approx(nov_cost)
    cumulative = OCT_VALUE - OCT_COST + nov_value - nov_cost
    assert november["cumulative_net_eur"] == pytest.approx(cumulative)
    assert cumulative >= 0 and november["payback_month"] == "2026-11"
    # As of October the payback had not happened yet.
    assert _roi(client, admin_headers, "2026-10")["features"][0]["payback_month"] is None


def test_bad_month_is_422(app, client, admin_headers):
    for month in ("2026-13", "0001-01", "2026-10%0A", "26-10"):  # %0A: a trailing newline
        r = client.get(f"/api/v1/roi/monthly?month={month}", headers=admin_headers)
        assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "month", month


def test_monthly_close_freezes_and_a_late_event_marks_a_restatement(scenario, client,
                                                                    ingest_headers, admin_headers):
    stats = monthly_close("2026-10")
    db.session.commit()
    assert stats.rows_written == 1
    closed = _roi(client, admin_headers, "2026-10")
    assert closed["closed"] is True and closed["restated"] is False
    assert closed["closed_figures"]["features"][0]["net_eur"] == pytest.approx(OCT_VALUE - OCT_COST)
    # Closing again changes nothing; a refresh with nothing new restates nothing.
    monthly_close("2026-10")
    refresh()
    assert _roi(client, admin_headers, "2026-10") == closed

    post_events(client, ingest_headers, [event("draft", "a", "2026-10-09T10:00:00Z", duration=300)])
    refresh()
    restated = _roi(client, admin_headers, "2026-10")
    assert restated["restated"] is True and restated["restated_at"] is not None
    late_value = OCT_VALUE + 10  # 10 minutes saved at 60 EUR/h
    assert restated["features"][0]["value_eur"] == pytest.approx(late_value)
    assert restated["closed_figures"]["features"][0]["value_eur"] == pytest.approx(OCT_VALUE)
    # A cost recorded for a later month is no restatement of October.
    r = client.post("/api/v1/features/draft/costs", headers=admin_headers,
                    json={"month": "2026-12", "amount_eur": 5, "category": "compute"})
    assert r.status_code == 201
    assert _roi(client, admin_headers, "2026-09")["closed"] is False


def test_per_event_cost_counts_as_a_cost_month(app, client, ingest_headers, admin_headers):
    from tests.helpers import gen_feature, gen_person

    gen_feature("draft", per_event_cost_eur=1.0, estimated_minutes_saved=3.0)
    gen_person("a")
    db.session.commit()
    post_events(client, ingest_headers, [event("draft", "a", "2026-10-02T10:00:00Z")])
    refresh()
    draft = _roi(client, admin_headers, "2026-10")["features"][0]
    # 3 minutes at the default 40 EUR/h = 2 EUR value; 1 EUR cost; net 1 -> payback this month.
    assert draft["value_eur"] == pytest.approx(2.0) and draft["cost_eur"] == 1.0
    assert draft["roi_pct"] == pytest.approx(100.0) and draft["payback_month"] == "2026-10"


def test_an_empty_portfolio_answers_zeros(app, client, admin_headers):
    answer = _roi(client, admin_headers, "2026-10")
    assert answer["features"] == []
    assert answer["total"]["value_eur"] == 0 and answer["total"]["roi_pct"] is None
    assert answer["total"]["payback_month"] is None
    r = client.get("/api/v1/roi/monthly", headers=admin_headers)  # default: the current month
    assert r.status_code == 200 and len(r.get_json()["month"]) == 7
