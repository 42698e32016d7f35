"""A script that knows only the two contract files gets every figure exactly, and closes months.

Expected values are worked out by hand from KPI_DEFINITIONS.md in the comments, not from the code.
"""

from __future__ import annotations

import math

import pytest

from tests.helpers import gen_department

# The KPI answer's field names, copied from API_CONTRACT.md.
CONTRACT_KPI_FIELDS = {
    "feature", "start", "end", "exposed_users", "active_users", "adoption_rate", "ai_tasks", "depth",
    "stickiness", "time_saved_hours", "time_saved_estimated", "time_saved_evidence", "value_eur",
    "error_rate", "baseline_error_rate", "adoption_rate_ci_low", "adoption_rate_ci_high",
    "error_rate_ci_low", "error_rate_ci_high", "baseline_error_rate_ci_low",
    "baseline_error_rate_ci_high", "time_to_first_use_hours", "never_used_share", "habit",
}
ROI_FIELDS = {"feature", "value_eur", "cost_eur", "cost_per_task_eur", "net_eur", "roi_pct",
              "cumulative_net_eur", "payback_month"}


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson interval, written out from its textbook formula."""
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return centre - half, centre + half


def event(event_id, person, day, outcome="success", **extra) -> dict:
    return {"event_id": event_id, "feature": "drafts", "person_id": person, "ai_assisted": True,
            "occurred_at": f"2026-10-{day:02d}T09:00:00Z", "outcome": outcome, **extra}


def run_contract_script(client, headers) -> None:
    """Only calls of API_CONTRACT.md, in the order a new user would make them."""
    def ok(response, status=200):
        assert response.status_code == status, response.get_json()
        return response.get_json()

    people = [{"person_id": "a1", "name": "Ann", "email": "ann@example.com", "department": "Claims"},
              {"person_id": "a2", "name": "Bo", "email": "bo@example.com", "department": "Claims"},
              {"person_id": "b1", "name": "Cy", "email": "cy@example.com", "department": "Legal"}]
    # Neither department was ever PUT: both are created without a rate (the default, 40 EUR/h).
    assert ok(client.post("/api/v1/people", json=people, headers=headers)) == {"created": 3, "updated": 0}
    ok(client.put("/api/v1/departments/Legal", json={"hourly_rate_eur": 60.0}, headers=headers))
    ok(client.put("/api/v1/cohorts/pilot", json={"name": "Pilot", "members": ["a1", "a2", "b1"]},
                  headers=headers))
    ok(client.post("/api/v1/features", json={
        "key": "drafts", "name": "Drafts", "estimated_minutes_saved": 6, "per_event_cost_eur": 0.5,
        "stages": [{"name": "pilot", "cohorts": ["pilot"], "percentage": 0}], "variants": [],
    }, headers=headers), 201)
    ok(client.post("/api/v1/features/drafts/advance",
                   json={"effective_at": "2026-10-01T00:00:00Z", "reason": "pilot starts"}, headers=headers))
    licences = {"month": "2026-10", "amount_eur": 100.0, "category": "licences"}
    ok(client.post("/api/v1/features/drafts/costs", json=licences, headers=headers), 201)
    events = [
        event("e1", "a1", 5, cost_eur=0.2, output="Dear client", model_version="m-1"),
        event("e2", "a1", 6), event("e3", "a1", 7),
        event("e4", "a2", 10, "corrected", cost_eur=0, output="VAT 19 %", correction="VAT 21 %"),
        event("e5", "b1", 12), event("e6", "b1", 13, "error"),
    ]
    assert ok(client.post("/api/v1/events", json=events, headers=headers)) == {"accepted": 6, "duplicates": 0}
    assert ok(client.post("/api/v1/jobs/refresh-kpis/run", headers=headers))["status"] == "success"


def test_a_contract_script_gets_every_figure(client, admin_headers):
    run_contract_script(client, admin_headers)
    kpis = client.get("/api/v1/features/drafts/kpis?start=2026-10-01&end=2026-10-31", headers=admin_headers)
    assert kpis.status_code == 200
    k = kpis.get_json()
    assert CONTRACT_KPI_FIELDS <= set(k), CONTRACT_KPI_FIELDS - set(k)
    # Exposed from Oct 1 00:00: a1, a2, b1; all three used it. 6 AI tasks, 2 of them error/corrected.
    assert (k["exposed_users"], k["active_users"], k["ai_tasks"]) == (3, 3, 6)
    assert k["adoption_rate"] == pytest.approx(1.0)
    assert (k["adoption_rate_ci_low"], k["adoption_rate_ci_high"]) == pytest.approx(wilson(3, 3))
    assert k["depth"] == pytest.approx(2.0)
    # Active person-days 3 + 1 + 2 = 6 over 31 days x 3 active people.
    assert k["stickiness"] == pytest.approx(6 / 93)
    # No durations: 6 estimated minutes per task, 36 minutes; value 18 + 6 min at 40, 12 min at 60.
    assert k["time_saved_hours"] == pytest.approx(0.6)
    assert (k["time_saved_estimated"], k["time_saved_evidence"]) == (True, "modeled")
    assert k["value_eur"] == pytest.approx(12.0 + 4.0 + 12.0)
    assert k["error_rate"] == pytest.approx(2 / 6)
    assert (k["error_rate_ci_low"], k["error_rate_ci_high"]) == pytest.approx(wilson(2, 6))
    assert k["baseline_error_rate"] is None  # no baseline recorded, no manual events
    # Days used in the 30 days ending Oct 31: a1 3 (weekly), a2 1 and b1 2 (monthly).
    assert k["habit"] == {"daily": 0, "weekly": 1, "monthly": 2, "never": 0}
    # First use after exposure at Oct 1 00:00: 105 h (Oct 5 09:00), 225 h, 273 h; median 225.
    assert k["time_to_first_use_hours"] == pytest.approx(225.0)
    assert k["never_used_share"] == pytest.approx(0.0)

    roi = client.get("/api/v1/roi/monthly?month=2026-10", headers=admin_headers).get_json()
    (line,) = roi["features"]
    assert ROI_FIELDS <= set(line)
    # task_cost: e1 its own 0.2, e4 its own 0 (given), the four others 0.5 each; plus 100 licences.
    cost = 100.0 + 0.2 + 0.0 + 4 * 0.5
    assert line["cost_eur"] == pytest.approx(cost)
    assert line["value_eur"] == pytest.approx(28.0)
    assert line["net_eur"] == pytest.approx(28.0 - cost)
    assert line["roi_pct"] == pytest.approx((28.0 - cost) / cost * 100)
    assert line["cost_per_task_eur"] == pytest.approx(cost / 6)
    assert line["cumulative_net_eur"] == pytest.approx(28.0 - cost)
    assert line["payback_month"] is None
    assert roi["total"]["cost_eur"] == pytest.approx(cost)


def test_closing_any_past_month_keeps_each_months_own_cumulative_figures(client, admin_headers):
    run_contract_script(client, admin_headers)
    november = [{"event_id": f"n{i}", "feature": "drafts", "person_id": "b1", "ai_assisted": True,
                 "occurred_at": f"2026-11-{i + 2:02d}T09:00:00Z", "outcome": "success"} for i in range(10)]
    assert client.post("/api/v1/events", json=november, headers=admin_headers).status_code == 200
    # November first, then the older October: each keeps its own month's cumulative figures.
    nov = client.post("/api/v1/closes/2026-11", headers=admin_headers)
    assert nov.status_code == 200, nov.get_json()
    oct_ = client.post("/api/v1/closes/2026-10", headers=admin_headers)
    assert oct_.status_code == 200 and oct_.get_json()["closed_now"] is True
    october_net = 28.0 - 102.2
    # November: 10 tasks x 6 min at 60 EUR/h = 60 EUR value, 10 x 0.5 EUR cost, no entries.
    november_net = 60.0 - 5.0
    frozen_oct = oct_.get_json()["figures"]["features"][0]
    frozen_nov = nov.get_json()["figures"]["features"][0]
    assert frozen_oct["cumulative_net_eur"] == pytest.approx(october_net)
    assert frozen_oct["payback_month"] is None
    assert frozen_nov["net_eur"] == pytest.approx(november_net)
    assert frozen_nov["cumulative_net_eur"] == pytest.approx(october_net + november_net)
    assert frozen_nov["payback_month"] is None  # cumulative still below 0
    again = client.post("/api/v1/closes/2026-10", headers=admin_headers).get_json()
    assert again["closed_now"] is False and again["closed_at"] == oct_.get_json()["closed_at"]
    read = client.get("/api/v1/roi/monthly?month=2026-10", headers=admin_headers).get_json()
    assert read["closed"] is True and read["restated"] is False


@pytest.mark.parametrize(("month", "status", "field"), [
    ("2026-13", 422, "month"), ("26-10", 422, "month"), ("2999-01", 422, "month"),
])
def test_the_close_route_refuses_malformed_and_future_months(client, admin_headers, month, status, field):
    response = client.post(f"/api/v1/closes/{month}", headers=admin_headers)
    assert response.status_code == status
    assert response.get_json()["details"][0]["field"] == field


def test_the_close_route_refuses_the_current_month_and_needs_an_admin(client, admin_headers, ingest_headers):
    from app.db import utcnow

    current = utcnow().strftime("%Y-%m")
    response = client.post(f"/api/v1/closes/{current}", headers=admin_headers)
    assert response.status_code == 409 and "has not ended" in response.get_json()["details"][0]["message"]
    assert client.post("/api/v1/closes/2026-01", headers=ingest_headers).status_code == 403
    assert client.post("/api/v1/closes/2026-01").status_code == 401


def test_liftoff_close_closes_any_past_month_and_refuses_the_others(runner, session):
    from sqlalchemy import select

    from app.db import utcnow
    from app.models.kpi import MonthlyClose

    gen_department("Ops")
    session.commit()
    for bad, says in (("2026-1", "must be YYYY-MM"), ("2999-12", "future month"),
                      (utcnow().strftime("%Y-%m"), "current month")):
        result = runner.invoke(args=["liftoff", "close", "--month", bad])
        assert result.exit_code == 1 and says in result.stderr, (bad, result.stderr)
    assert session.scalar(select(MonthlyClose)) is None
    for month in ("2026-03", "2025-11"):  # not only the last month
        result = runner.invoke(args=["liftoff", "close", "--month", month])
        assert result.exit_code == 0, result.stderr
        assert f"{month}: closed" in result.stdout
    again = runner.invoke(args=["liftoff", "close", "--month", "2026-03"])
    assert again.exit_code == 0 and "already closed" in again.stdout
    session.expire_all()
    assert sorted(session.scalars(select(MonthlyClose.month))) == ["2025-11", "2026-03"]


def test_months_closed_before_event_costs_existed_keep_their_fingerprint():
    import pandas as pd

    from app import kpi
    from app.models.kpi import SUM_COLUMNS
    from app.services.reporting.closes import fingerprint

    def inputs(extra: dict, columns) -> kpi.MoneyInputs:
        row = {"feature_id": 1, "month": "2026-10", "department_id": 0, "task": "default",
               **{c: 0.0 for c in columns}, "ai_tasks": 4.0, "ai_ok": 4.0, **extra}
        return kpi.MoneyInputs(
            sums=pd.DataFrame([row]), baselines={1: {}}, rates={}, default_rate=40.0,
            features=pd.DataFrame([{"feature_id": 1, "key": "f", "estimated_minutes_saved": 5.0,
                                    "per_event_cost_eur": 0.5, "baseline_days": 28}]),
            costs=pd.DataFrame(columns=["feature_id", "month", "amount_eur"]))

    before_0010 = [c for c in SUM_COLUMNS if c not in ("ai_cost_n", "ai_cost_eur")]
    old = fingerprint(inputs({}, before_0010))
    assert fingerprint(inputs({}, SUM_COLUMNS)) == old
    assert fingerprint(inputs({"ai_cost_n": 1.0, "ai_cost_eur": 0.2}, SUM_COLUMNS)) != old


def notes_event(event_id, person, when, outcome="success", ai=True) -> dict:
    return {"event_id": event_id, "feature": "notes", "person_id": person, "ai_assisted": ai,
            "occurred_at": f"2026-{when}T09:00:00Z", "outcome": outcome}


def run_breakdown_script(client, headers) -> None:
    """Only calls of API_CONTRACT.md: 14 people in three departments never PUT (Claims c1-c6,
    Sales s1-s5, Legal l1-l3), all in the pilot of "notes" from Oct 1 00:00; four manual events in
    its baseline window (Sep 3-30, 1 error), one AI use before the exposure, 26 AI events in October."""
    def ok(response, status=200):
        assert response.status_code == status, response.get_json()
        return response.get_json()

    staff = [(f"c{i}", "Claims") for i in range(1, 7)] + [(f"s{i}", "Sales") for i in range(1, 6)] + \
        [(f"l{i}", "Legal") for i in range(1, 4)]
    people = [{"person_id": p, "name": p.upper(), "email": f"{p}@example.com", "department": d}
              for p, d in staff]
    assert ok(client.post("/api/v1/people", json=people, headers=headers)) == {"created": 14, "updated": 0}
    ok(client.put("/api/v1/cohorts/pilot", json={"name": "Pilot", "members": [p for p, _ in staff]},
                  headers=headers))
    ok(client.post("/api/v1/features", json={
        "key": "notes", "name": "Notes", "estimated_minutes_saved": 6,
        "stages": [{"name": "pilot", "cohorts": ["pilot"], "percentage": 0}]}, headers=headers), 201)
    ok(client.post("/api/v1/features/notes/advance",
                   json={"effective_at": "2026-10-01T00:00:00Z", "reason": "pilot starts"}, headers=headers))
    events = [notes_event("m1", "c4", "09-10", ai=False), notes_event("m2", "c5", "09-11", ai=False),
              notes_event("m3", "c6", "09-12", ai=False), notes_event("m4", "c4", "09-15", "error", ai=False),
              notes_event("early", "c1", "09-20"),  # before c1's exposure: time to first use 0
              notes_event("c1", "c1", "10-03"), notes_event("c2", "c2", "10-02", "error"),
              notes_event("c3", "c3", "10-04")]
    events += [notes_event(f"s1-{day}", "s1", f"10-{day:02d}") for day in (2, 9, 16)]
    events += [notes_event(f"l1-{day}", "l1", f"10-{day:02d}") for day in range(11, 31)]
    accepted = ok(client.post("/api/v1/events", json=events, headers=headers))
    assert accepted == {"accepted": 4 + 1 + 26, "duplicates": 0}
    assert ok(client.post("/api/v1/jobs/refresh-kpis/run", headers=headers))["status"] == "success"


def test_a_contract_script_gets_the_usage_figures_and_a_department_breakdown(client, admin_headers):
    run_breakdown_script(client, admin_headers)
    r = client.get("/api/v1/features/notes/kpis?start=2026-10-01&end=2026-10-31&group_by=department",
                   headers=admin_headers)
    assert r.status_code == 200, r.get_json()
    k = r.get_json()
    assert CONTRACT_KPI_FIELDS <= set(k), CONTRACT_KPI_FIELDS - set(k)
    # Active in October: c1, c2, c3, s1, l1 of the 14 exposed; 1 + 1 + 1 + 3 + 20 = 26 AI tasks.
    assert (k["exposed_users"], k["active_users"], k["ai_tasks"]) == (14, 5, 26)
    assert k["adoption_rate"] == pytest.approx(5 / 14)
    assert (k["adoption_rate_ci_low"], k["adoption_rate_ci_high"]) == pytest.approx(wilson(5, 14))
    assert k["depth"] == pytest.approx(26 / 5)
    assert k["stickiness"] == pytest.approx(26 / (31 * 5))  # 26 active person-days
    assert k["time_saved_hours"] == pytest.approx(26 * 6 / 60)
    assert k["value_eur"] == pytest.approx(26 * 6 / 60 * 40.0)  # no rate PUT: the default 40 EUR/h
    assert k["error_rate"] == pytest.approx(1 / 26)
    assert (k["error_rate_ci_low"], k["error_rate_ci_high"]) == pytest.approx(wilson(1, 26))
    # The manual events of Sep 3-30: 1 error in 4, with its interval.
    assert k["baseline_error_rate"] == pytest.approx(1 / 4)
    assert (k["baseline_error_rate_ci_low"], k["baseline_error_rate_ci_high"]) == pytest.approx(wilson(1, 4))
    # Days used in the 30 days ending Oct 31 (Oct 2-31): l1 20 (daily), s1 3 (weekly),
    # c1, c2, c3 1 each (monthly; c1's September use is outside), the 9 others none.
    assert k["habit"] == {"daily": 1, "weekly": 1, "monthly": 3, "never": 9}
    # From Oct 1 00:00: c1 0 (used before), c2 and s1 33 h (Oct 2 09:00), c3 81 h, l1 249 h.
    assert k["time_to_first_use_hours"] == pytest.approx(33.0)
    assert k["never_used_share"] == pytest.approx(9 / 14)

    groups = {g["group"]: g for g in k["groups"]}
    assert set(groups) == {"Claims", "Sales", "Legal"}
    claims = groups["Claims"]
    assert (claims["exposed_users"], claims["active_users"], claims["ai_tasks"]) == (6, 3, 3)
    assert claims["adoption_rate"] == pytest.approx(0.5)
    assert (claims["adoption_rate_ci_low"], claims["adoption_rate_ci_high"]) == pytest.approx(wilson(3, 6))
    assert claims["error_rate"] == pytest.approx(1 / 3)
    assert claims["habit"] == {"daily": 0, "weekly": 0, "monthly": 3, "never": 3}
    assert claims["time_to_first_use_hours"] == pytest.approx(33.0)  # median of 0, 33, 81
    assert claims["never_used_share"] == pytest.approx(0.5)
    # Legal (3 exposed) is hidden; 3 is 1 to 4 people, so the smallest shown group, Sales (5),
    # is hidden too: the total minus Claims then gives 8 people of two groups, neither of them.
    for name in ("Sales", "Legal"):
        hidden = groups[name]
        for field in ("exposed_users", "active_users", "adoption_rate", "adoption_rate_ci_low", "ai_tasks",
                      "error_rate", "habit", "time_to_first_use_hours", "never_used_share", "value_eur"):
            assert hidden[field] is None, (name, field)

    # A recorded baseline error rate wins over the manual events and has no count, so no interval.
    baseline = {"feature": "notes", "task": "default", "error_rate": 0.1, "source": "survey",
                "measured_at": "2026-09-30T00:00:00Z"}
    assert client.post("/api/v1/baselines", json=baseline, headers=admin_headers).status_code == 201
    client.post("/api/v1/jobs/refresh-kpis/run", headers=admin_headers)
    k = client.get("/api/v1/features/notes/kpis?start=2026-10-01&end=2026-10-31",
                   headers=admin_headers).get_json()
    assert k["baseline_error_rate"] == pytest.approx(0.1)
    assert (k["baseline_error_rate_ci_low"], k["baseline_error_rate_ci_high"]) == (None, None)
