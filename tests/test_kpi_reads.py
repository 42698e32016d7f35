"""The KPI answer over the API, hand-computed on scenario A (tests/kpi_scenarios.py).

Baseline window B = 2026-09-03..2026-09-30 (first exposure 2026-10-01): non-AI durations 10 and 20
minutes -> baseline 15 min/task; non-AI outcomes success, error, success -> baseline error 1/3.
Window W = 2026-10-01..2026-10-10, AI events (saved minutes):
  a 5 min success (10), a 10 min error (5), a abandoned 2 min (-2), b corrected, no duration
  (estimate 2), c 15 min (0), d 1 min (14; d was never exposed).
"""

from __future__ import annotations

import math

import pytest

from app.db import db
from app.kpi import wilson
from app.models import Baseline
from tests.helpers import utc
from tests.kpi_scenarios import draft_company, event, post_events, refresh


@pytest.fixture
def client(app):
    return app.test_client()


def _kpis(client, headers, **query):
    query = {"start": "2026-10-01", "end": "2026-10-10", **query}
    response = client.get("/api/v1/features/draft/kpis", query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def scenario(app, client, ingest_headers):
    feature, rows = draft_company()
    assert post_events(client, ingest_headers, rows) == {"accepted": 10, "duplicates": 0}
    refresh()
    return feature


def test_every_contract_field_matches_the_hand_computation(scenario, client, admin_headers):
    k = _kpis(client, admin_headers)
    assert (k["feature"], k["start"], k["end"]) == ("draft", "2026-10-01", "2026-10-10")
    assert k["exposed_users"] == 3  # a, b, c (d never)
    assert k["active_users"] == 4
    assert k["adoption_rate"] == 1.0  # |{a,b,c,d} & {a,b,c}| / 3
    assert k["ai_tasks"] == 6
    assert k["depth"] == 1.5
    assert k["stickiness"] == pytest.approx(5 / (10 * 4))  # active days a2 b1 c1 d1
    assert k["time_saved_hours"] == pytest.approx(29 / 60)
    assert k["time_saved_estimated"] is True
    assert k["time_saved_evidence"] == "mixed"
    # a, b in Sales at 60 EUR/h: 13 + 2 minutes; c, d in Ops at the default 40: 0 + 14 minutes.
    assert k["value_eur"] == pytest.approx(13 + 2 + 14 / 60 * 40)
    assert k["error_rate"] == pytest.approx(2 / 5)
    assert k["baseline_error_rate"] == pytest.approx(1 / 3)
    low, high = wilson(3, 3)
    assert (k["adoption_rate_ci_low"], k["adoption_rate_ci_high"]) == (pytest.approx(low), 1.0)
    low, high = wilson(2, 5)
    assert (k["error_rate_ci_low"], k["error_rate_ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert k["baseline_minutes"] == {"default": 15.0}
    assert (k["baseline_window_start"], k["baseline_window_end"]) == ("2026-09-03", "2026-09-30")


def test_time_saved_per_task_carries_mean_plus_minus_1_96_standard_errors(scenario, client,
                                                                          admin_headers):
    saved = [10, 5, -2, 2, 0, 14]
    n = len(saved)
    mean = sum(saved) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in saved) / (n - 1))
    k = _kpis(client, admin_headers)
    assert k["time_saved_per_task"] == pytest.approx(mean)
    assert k["time_saved_per_task_ci_low"] == pytest.approx(mean - 1.96 * sd / n**0.5)
    assert k["time_saved_per_task_ci_high"] == pytest.approx(mean + 1.96 * sd / n**0.5)


def test_wilson_interval_by_hand():
    z, n, p = 1.96, 5, 0.4
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert wilson(2, 5) == (pytest.approx(centre - half), pytest.approx(centre + half))
    assert wilson(2, 5)[0] == pytest.approx(0.1176, abs=1e-4)
    assert wilson(0, 0) == (None, None)


def test_habit_cohorts_and_time_to_first_use(scenario, client, admin_headers):
    k = _kpis(client, admin_headers)
    # The 30 days ending 2026-10-10: a active 2 days (monthly), b 1, c 1; all exposed.
    assert k["habit"] == {"daily": 0, "weekly": 0, "monthly": 3, "never": 0}
    # a: 10-01 09:00 -> 10:00 (1 h); b: 10-01 00:00 -> 10-03 10:00 (58 h); c: 10-05 12:00 -> 10-06
    # 10:00 (22 h): median 22 h; everyone exposed used it.
    assert k["time_to_first_use_hours"] == pytest.approx(22.0)
    assert k["never_used_share"] == 0.0


def test_an_explicit_baseline_wins_and_the_latest_measured_at_wins(scenario, client, admin_headers):
    for minutes, when in ((12.0, "2026-09-01T00:00:00Z"), (11.0, "2026-08-01T00:00:00Z")):
        response = client.post("/api/v1/baselines", headers=admin_headers, json={
            "feature": "draft", "task": "default", "minutes_per_task": minutes,
            "error_rate": 0.25, "source": "time study", "measured_at": when})
        assert response.status_code == 201, response.get_json()
    k = _kpis(client, admin_headers)
    assert k["baseline_minutes"] == {"default": 12.0}
    # saved: a 7, 2, -2; b 2 (estimate); c -3; d 11 -> 17 minutes
    assert k["time_saved_hours"] == pytest.approx(17 / 60)
    assert k["baseline_error_rate"] == 0.25
    assert db.session.query(Baseline).count() == 2


def test_without_any_baseline_every_timed_event_uses_the_estimate(app, client, ingest_headers,
                                                                  admin_headers):
    from tests.helpers import gen_feature, gen_person

    gen_feature("draft", estimated_minutes_saved=3.0)
    gen_person("a")
    db.session.commit()
    post_events(client, ingest_headers, [
        event("draft", "a", "2026-10-02T10:00:00Z", duration=60),
        event("draft", "a", "2026-10-03T10:00:00Z"),
        event("draft", "a", "2026-10-04T10:00:00Z", outcome="abandoned", duration=300),
    ])
    refresh()
    k = _kpis(client, admin_headers)
    assert k["exposed_users"] == 0 and k["adoption_rate"] is None  # zero exposure
    assert k["adoption_rate_ci_low"] is None and k["adoption_rate_ci_high"] is None
    assert k["baseline_minutes"] is None and k["baseline_error_rate"] is None
    assert k["time_saved_hours"] == pytest.approx((3 + 3 - 5) / 60)
    assert k["time_saved_estimated"] is True and k["time_saved_evidence"] == "mixed"
    assert k["value_eur"] == pytest.approx(1 / 60 * 40.0)  # the default rate


def test_only_abandoned_uses(app, client, ingest_headers, admin_headers):
    from tests.helpers import gen_feature, gen_person

    feature = gen_feature("draft", estimated_minutes_saved=3.0)
    person = gen_person("a")
    from tests.kpi_scenarios import spell

    spell(feature, person, utc(2026, 9, 1))
    db.session.commit()
    post_events(client, ingest_headers, [
        event("draft", "a", "2026-10-02T10:00:00Z", outcome="abandoned", duration=120),
        event("draft", "a", "2026-10-03T10:00:00Z", outcome="abandoned"),
    ])
    refresh()
    k = _kpis(client, admin_headers)
    assert k["ai_tasks"] == 2 and k["active_users"] == 1 and k["adoption_rate"] == 1.0
    assert k["error_rate"] is None and k["error_rate_ci_low"] is None  # nothing judged
    assert k["time_saved_hours"] == pytest.approx(-2 / 60)
    assert k["time_saved_estimated"] is False and k["time_saved_evidence"] == "measured"


def test_a_kill_inside_the_window_keeps_those_exposed_before_it(app, client, ingest_headers,
                                                                admin_headers):
    from tests.helpers import gen_feature, gen_person
    from tests.kpi_scenarios import spell

    feature = gen_feature("draft")
    people = [gen_person(f"k{i}") for i in range(3)]
    for person in people:  # killed on 10-05 for everyone: the spells close there
        spell(feature, person, utc(2026, 10, 1), utc(2026, 10, 5, 12))
    db.session.commit()
    post_events(client, ingest_headers, [event("draft", "k0", "2026-10-02T10:00:00Z")])
    refresh()
    assert _kpis(client, admin_headers)["exposed_users"] == 3
    after = _kpis(client, admin_headers, start="2026-10-06", end="2026-10-10")
    assert after["exposed_users"] == 0 and after["adoption_rate"] is None
    assert after["stickiness"] is None and after["depth"] is None


def test_kpis_reflect_the_last_refresh_and_late_events_are_picked_up(scenario, client,
                                                                     ingest_headers, admin_headers):
    post_events(client, ingest_headers, [event("draft", "a", "2026-10-08T10:00:00Z", duration=300)])
    assert _kpis(client, admin_headers)["ai_tasks"] == 6  # not refreshed yet
    stats = refresh()
    assert stats.rows_read >= 1
    assert _kpis(client, admin_headers)["ai_tasks"] == 7
    before = _kpis(client, admin_headers)
    refresh()  # a rerun changes nothing
    assert _kpis(client, admin_headers) == before
    refresh(full=True)
    assert _kpis(client, admin_headers) == before


def test_groups_are_suppressed_below_five_exposed_people(scenario, client, admin_headers):
    k = _kpis(client, admin_headers, group_by="department")
    groups = {g["group"]: g for g in k["groups"]}
    assert set(groups) == {"Sales", "Ops"}
    for group in groups.values():
        assert group["suppressed"] is True
        assert group["exposed_users"] is None and group["adoption_rate"] is None
        assert group["value_eur"] is None
    assert k["exposed_users"] == 3  # totals are never suppressed


def test_bad_queries_are_422_and_unknown_features_404(app, client, admin_headers, ingest_headers):
    r = client.get("/api/v1/features/nope/kpis", headers=admin_headers)
    assert r.status_code == 404
    from tests.helpers import gen_feature

    gen_feature("draft")
    db.session.commit()
    r = client.get("/api/v1/features/draft/kpis?start=2026-13-01&end=2026-10-01&group_by=team",
                   headers=admin_headers)
    assert r.status_code == 422
    assert {d["field"] for d in r.get_json()["details"]} == {"start", "group_by"}
    r = client.get("/api/v1/features/draft/kpis?start=2026-10-05&end=2026-10-01", headers=admin_headers)
    assert r.status_code == 422
    assert client.get("/api/v1/features/draft/kpis").status_code == 401
    assert client.get("/api/v1/features/draft/kpis", headers=ingest_headers).status_code == 403
