"""KPI_DEFINITIONS.md's adoption, quality-interval and privacy rules on hand-made data, over the API.

Scenario T (feature ``tt``), window W = 2026-10-01..2026-10-31 (the 30 habit days: 10-02..10-31):

| person | exposed                       | AI events                                   |
| ------ | ----------------------------- | ------------------------------------------- |
| p1     | from 09-20 00:00              | 09-25 12:00 (first: 132 h), 10-10, 10-11, 10-12 |
| p2     | from 10-05 00:00              | 10-06 06:00 (first: 30 h) and each day to 10-25 (20 days) |
| p3     | from 10-10 00:00              | 11-02 (after W: no use by its end)          |
| p4     | from 10-03 00:00              | 10-01 08:00 (before exposure: 0 h), 10-20   |
| p5     | 08-01 .. 08-31 (not in W)     | 08-02                                       |
| p6     | from 11-05 (not in W)         | 10-15                                       |

Exposed in W: p1..p4. Used by W's end: p1, p2, p4 -> median(132, 30, 0) = 30 h; never used 1/4.
Habit (days in 10-02..10-31): p1 3 weekly, p2 20 daily, p3 0 never, p4 1 monthly.
Baseline window (first exposure 08-01): 07-04..07-31; non-AI outcomes there: 3 errors, 5 successes,
1 abandoned -> baseline error rate 3/8, its interval Wilson(3, 8).
"""

from __future__ import annotations

import pytest
from scipy.stats import binomtest, norm

from app.db import db
from app.kpi import hidden_groups
from app.models import Baseline
from tests.helpers import gen_cohort, gen_department, gen_feature, gen_person, utc
from tests.kpi_scenarios import event, post_events, refresh, spell

WINDOW = {"start": "2026-10-01", "end": "2026-10-31"}


def _kpis(client, headers, key="tt", **query):
    response = client.get(f"/api/v1/features/{key}/kpis", query_string={**WINDOW, **query},
                          headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _wilson_by_scipy(successes: int, n: int) -> tuple[float, float]:
    """An independent Wilson interval at z = 1.96 (scipy's, at the matching confidence level)."""
    ci = binomtest(successes, n).proportion_ci(confidence_level=1 - 2 * norm.sf(1.96), method="wilson")
    return ci.low, ci.high


@pytest.fixture
def scenario_t(app, client, ingest_headers):
    feature = gen_feature("tt")
    people = {name: gen_person(name) for name in ("p1", "p2", "p3", "p4", "p5", "p6")}
    spell(feature, people["p1"], utc(2026, 9, 20))
    spell(feature, people["p2"], utc(2026, 10, 5))
    spell(feature, people["p3"], utc(2026, 10, 10))
    spell(feature, people["p4"], utc(2026, 10, 3))
    spell(feature, people["p5"], utc(2026, 8, 1), utc(2026, 8, 31))
    spell(feature, people["p6"], utc(2026, 11, 5))
    db.session.commit()
    rows = [event("tt", "p1", "2026-09-25T12:00:00Z")]
    rows += [event("tt", "p1", f"2026-10-{day}T09:00:00Z") for day in (10, 11, 12)]
    rows += [event("tt", "p2", "2026-10-06T06:00:00Z")]
    rows += [event("tt", "p2", f"2026-10-{day:02d}T09:00:00Z") for day in range(7, 26)]
    rows += [event("tt", "p3", "2026-11-02T09:00:00Z"),
             event("tt", "p4", "2026-10-01T08:00:00Z"), event("tt", "p4", "2026-10-20T08:00:00Z"),
             event("tt", "p5", "2026-08-02T09:00:00Z"), event("tt", "p6", "2026-10-15T09:00:00Z")]
    outcomes = ["error"] * 3 + ["success"] * 5 + ["abandoned"]
    rows += [event("tt", "p5", f"2026-07-{10 + i}T09:00:00Z", ai=False, outcome=outcome)
             for i, outcome in enumerate(outcomes)]
    post_events(client, ingest_headers, rows)
    refresh()
    return feature


def test_time_to_first_use_and_never_used_share_count_the_window_only(scenario_t, client, admin_headers):
    k = _kpis(client, admin_headers)
    assert k["exposed_users"] == 4
    assert k["time_to_first_use_hours"] == pytest.approx(30.0)
    assert k["never_used_share"] == pytest.approx(1 / 4)
    # A window ending 10-05: exposed p1 and p4 (p2 from 10-05 00:00 too), used by then p1 and p4.
    early = _kpis(client, admin_headers, start="2026-10-01", end="2026-10-05")
    assert early["exposed_users"] == 3
    assert early["time_to_first_use_hours"] == pytest.approx(66.0)  # median(132, 0)
    assert early["never_used_share"] == pytest.approx(1 / 3)


def test_habit_counts_the_people_exposed_in_the_window(scenario_t, client, admin_headers):
    assert _kpis(client, admin_headers)["habit"] == {"daily": 1, "weekly": 1, "monthly": 1, "never": 1}


def test_nobody_exposed_or_nobody_using_gives_nulls(scenario_t, client, admin_headers):
    july = _kpis(client, admin_headers, start="2026-07-01", end="2026-07-31")
    assert july["exposed_users"] == 0
    assert july["time_to_first_use_hours"] is None and july["never_used_share"] is None
    assert july["habit"] == {"daily": 0, "weekly": 0, "monthly": 0, "never": 0}
    # A feature nobody used: the median has no value, everyone exposed never used it.
    lone = gen_feature("lone")
    spell(lone, gen_person("q1"), utc(2026, 10, 2))
    db.session.commit()
    answer = _kpis(client, admin_headers, key="lone")
    assert answer["exposed_users"] == 1
    assert answer["time_to_first_use_hours"] is None
    assert answer["never_used_share"] == 1.0


def test_baseline_error_rate_from_events_carries_its_wilson_interval(scenario_t, client, admin_headers):
    k = _kpis(client, admin_headers)
    assert k["baseline_error_rate"] == pytest.approx(3 / 8)
    low, high = _wilson_by_scipy(3, 8)
    assert k["baseline_error_rate_ci_low"] == pytest.approx(low, rel=1e-9)
    assert k["baseline_error_rate_ci_high"] == pytest.approx(high, rel=1e-9)
    assert (round(low, 4), round(high, 4)) == (0.1368, 0.6943)  # Wilson's 95 % for 3 of 8


def test_a_recorded_baseline_error_rate_has_no_interval(scenario_t, client, admin_headers):
    db.session.add(Baseline(feature_id=scenario_t.id, task="default", error_rate=0.2, source="audit",
                            measured_at=utc(2026, 9, 1)))
    db.session.commit()
    k = _kpis(client, admin_headers)
    assert k["baseline_error_rate"] == 0.2
    assert k["baseline_error_rate_ci_low"] is None and k["baseline_error_rate_ci_high"] is None


def test_the_every_rate_interval_is_wilsons():
    from app.kpi import wilson

    for successes, n in ((0, 10), (3, 8), (10, 10), (5, 1000), (1, 1)):
        assert wilson(successes, n) == pytest.approx(_wilson_by_scipy(successes, n), rel=1e-9, abs=1e-12)


# --- privacy ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("exposed", "splits", "hidden"), [
    ({"A": 6, "B": 7, "C": 3}, True, {"C", "A"}),  # C alone (3) would be total - A - B
    ({"Alpha": 6, "Beta": 6, "Gamma": 2}, True, {"Gamma", "Alpha"}),  # tie of 6: by name
    ({"A": 6, "B": 3, "C": 4}, True, {"B", "C"}),  # hidden together 7: not derivable one by one
    ({"A": 6, "B": 0}, True, {"B"}),  # nobody hidden to give away
    ({"A": 6, "B": 7, "C": 3}, False, {"C"}),  # cohorts overlap: only the small one
    ({"A": 4}, True, {"A"}),
    ({"A": 5, "B": 5}, True, set()),
])
def test_hidden_groups(exposed, splits, hidden):
    assert hidden_groups(exposed, splits) == hidden


@pytest.fixture
def departments(app, client, ingest_headers):
    """Alpha 6, Beta 6, Gamma 2 exposed people; cohort ``small`` of 3 of Alpha, ``big`` of Beta."""
    feature = gen_feature("grp")
    people = {}
    for name, count in (("Alpha", 6), ("Beta", 6), ("Gamma", 2)):
        department = gen_department(name, 50.0)
        people[name] = [gen_person(f"{name.lower()}{i}", department) for i in range(count)]
        for person in people[name]:
            spell(feature, person, utc(2026, 10, 1))
    gen_cohort("small", people["Alpha"][:3])
    gen_cohort("big", people["Beta"])
    db.session.commit()
    post_events(client, ingest_headers, [event("grp", p.person_id, "2026-10-02T09:00:00Z")
                                         for group in people.values() for p in group])
    refresh()
    return people


def test_a_department_breakdown_hides_the_group_that_would_give_a_small_one_away(departments, client,
                                                                               admin_headers):
    k = _kpis(client, admin_headers, key="grp", group_by="department")
    groups = {g["group"]: g for g in k["groups"]}
    assert {name for name, g in groups.items() if g["suppressed"]} == {"Alpha", "Gamma"}
    for name in ("Alpha", "Gamma"):
        assert groups[name]["exposed_users"] is None and groups[name]["ai_tasks"] is None
        assert groups[name]["habit"] is None and groups[name]["value_eur"] is None
    assert groups["Beta"]["exposed_users"] == 6 and groups["Beta"]["ai_tasks"] == 6
    assert k["exposed_users"] == 14  # the total is shown


def test_a_cohort_breakdown_hides_only_the_small_cohort(departments, client, admin_headers):
    k = _kpis(client, admin_headers, key="grp", group_by="cohort")
    groups = {g["group"]: g for g in k["groups"]}
    assert groups["small"]["suppressed"] is True and groups["small"]["exposed_users"] is None
    assert groups["big"]["suppressed"] is False and groups["big"]["exposed_users"] == 6


def test_the_dashboard_hides_the_same_departments(departments):
    from dashboards.kpi import data as kpi_data

    kpi_data.clear_cache()
    view = kpi_data.adoption("grp", "2026-10", "department")
    shown = view["groups"].set_index("group")
    assert shown.loc["Alpha", "suppressed"] and shown.loc["Gamma", "suppressed"]
    assert not shown.loc["Beta", "suppressed"] and shown.loc["Beta", "exposed_users"] == 6
    weeks = kpi_data.adoption_weeks("grp", "2026-10", "department")["trend"]
    shown_weeks = weeks.loc[(weeks["group"] == "Beta") & ~weeks["suppressed"], "week"]
    assert len(shown_weeks) == 5  # the weeks from 09-27 on hold the exposure from 10-01
    for start in shown_weeks:
        week = weeks[(weeks["week"] == start) & (weeks["group"] != "All")]
        assert set(week.loc[week["suppressed"], "group"]) == {"Alpha", "Gamma"}
