"""The weekly trends (app/kpi/trend.py) give, for every week and group, exactly the figures of
kpi_record over that week: checked on a random company with staged spells, a rollback, several
tasks, timed and untimed events, abandoned and failed ones."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from app import kpi
from app.db import db
from app.models import Baseline
from app.services.kpi_reads import figures as kpis
from dashboards.kpi import data as kpi_data
from tests.helpers import gen_department, gen_feature, gen_person, utc
from tests.kpi_scenarios import event, post_events, refresh, spell

WEEKS = kpi_data.weeks_ending(date(2026, 10, 31))
SAME = ["exposed_users", "active_users", "adoption_rate", "adoption_rate_ci_low", "adoption_rate_ci_high"]
QUALITY = ["ai_tasks", "error_rate", "error_rate_ci_low", "error_rate_ci_high", "time_saved_per_task",
           "time_saved_per_task_ci_low", "time_saved_per_task_ci_high"]


@pytest.fixture
def company(app, ingest_headers):
    rng = random.Random(11)
    feature = gen_feature("assist", estimated_minutes_saved=3.0)
    departments = [gen_department(name, 50.0) for name in ("Sales", "Ops", "Legal")]
    people = [gen_person(f"p{i:02d}", departments[i % 3] if i < 40 else departments[2]) for i in range(42)]
    for i, person in enumerate(people[:34]):
        start = utc(2026, 8, 20) + timedelta(days=rng.randrange(0, 60), hours=rng.randrange(24))
        end = start + timedelta(days=12) if i % 9 == 0 else None  # a few are rolled back
        spell(feature, person, start, end)
    db.session.add(Baseline(feature_id=feature.id, task="summary", minutes_per_task=9.0,
                            source="stopwatch study", measured_at=utc(2026, 8, 1)))
    db.session.commit()
    rows = []
    for _ in range(900):
        day = date(2026, 7, 20) + timedelta(days=rng.randrange(0, 104))
        rows.append(event(
            "assist", f"p{rng.randrange(42):02d}", f"{day}T{rng.randrange(24):02d}:30:00Z",
            ai=rng.random() < 0.7, outcome=rng.choice(["success"] * 6 + ["error", "corrected", "abandoned"]),
            duration=rng.choice([None, rng.uniform(30, 900)]), task=rng.choice(["summary", "reply", None])))
    client = app.test_client()
    for i in range(0, len(rows), 300):
        post_events(client, ingest_headers, rows[i:i + 300])
    refresh()
    return people


def test_adoption_per_week_and_group_is_kpi_record_of_that_week(company):
    inputs, people = kpis.trend_inputs("assist", WEEKS)
    groups = kpis.groups_of("department", people)
    trend = kpi.adoption_trend(inputs, groups, kpi.MIN_GROUP_EXPOSED)
    assert len(trend) == len(WEEKS) * (1 + len(groups))
    checked_active = 0
    for start, end in WEEKS:
        record = kpis.feature_kpis("assist", start, end, group_by="department")
        expected = {"All": {**record, "suppressed": False}, **{g["group"]: g for g in record["groups"]}}
        for name, figures in expected.items():
            row = trend[(trend["week"] == start) & (trend["group"] == name)].iloc[0]
            assert bool(row["suppressed"]) == figures["suppressed"], (start, name)
            for field in SAME:
                assert row[field] == pytest.approx(figures[field]) if figures[field] is not None \
                    else row[field] is None or row[field] != row[field], (start, name, field)
            checked_active += figures["active_users"] or 0
    assert checked_active > 50  # the random company really used it in these weeks


def test_quality_per_week_is_kpi_record_of_that_week(company):
    trend = kpi.quality_trend(kpis.trend_inputs("assist", WEEKS)[0])
    assert list(trend["week"]) == [start for start, _ in WEEKS]
    for (start, end), (_, row) in zip(WEEKS, trend.iterrows(), strict=True):
        record = kpis.feature_kpis("assist", start, end)
        for field in QUALITY:
            if record[field] is None:
                assert row[field] is None or row[field] != row[field], (start, field)
            else:
                assert row[field] == pytest.approx(record[field], rel=1e-9, abs=1e-9), (start, field)
    assert trend["ai_tasks"].sum() > 100
    assert kpis.trend_inputs("assist", WEEKS)[0].baseline_error_rate == record["baseline_error_rate"] > 0


def test_a_week_with_no_events_has_no_rates(company):
    empty = [(date(2030, 1, 1), date(2030, 1, 7))]
    quality = kpi.quality_trend(kpis.trend_inputs("assist", empty)[0]).iloc[0]
    assert quality["ai_tasks"] == 0 and quality["error_rate"] is None
    adoption = kpi.adoption_trend(kpis.trend_inputs("assist", empty)[0], {}, kpi.MIN_GROUP_EXPOSED).iloc[0]
    # Everyone not rolled back is still exposed in 2030, but nobody used it that week.
    assert adoption["exposed_users"] > 20 and adoption["active_users"] == 0 and adoption["adoption_rate"] == 0


def test_adoption_groups_are_group_records_on_the_adoption_figures(company):
    start, end = date(2026, 9, 1), date(2026, 9, 30)
    inputs, people = kpis.kpi_inputs("assist", start, end)
    groups = {**kpis.groups_of("department", people), "tiny": {people["person_id"].iloc[0]}}
    full = {r["group"]: r for r in kpi.group_records(inputs, groups)}
    lean = {r["group"]: r for r in kpi.adoption_groups(inputs, groups)}
    assert set(lean) == set(full) and lean["tiny"]["suppressed"] and not lean["Sales"]["suppressed"]
    for name, record in lean.items():
        assert set(record) <= set(full[name])
        for field in [*SAME, "time_to_first_use_hours", "never_used_share", "suppressed", "group"]:
            assert record[field] == full[name][field], (name, field)


def test_a_groups_sums_are_those_of_its_rows_filtered(company):
    """kpi_record picks a group's rows by binary search and sums arrays: the same figures, bit for
    bit, as filtering the frames by person and summing the Series (added in the same order)."""
    from app.kpi.time_saved import saved_minutes

    start, end = date(2026, 9, 1), date(2026, 10, 31)
    inputs, people = kpis.kpi_inputs("assist", start, end)
    for name, group in kpis.groups_of("department", people).items():
        record = kpi.kpi_record(inputs, group)
        mine = inputs.activity[inputs.activity["person_id"].isin(group)]
        saved = saved_minutes(mine, inputs.baselines, inputs.estimated_minutes_saved)
        rates = mine["rate"].astype("float64").fillna(0.0)
        assert record["ai_tasks"] == int(mine["ai_tasks"].sum()), name
        assert record["time_saved_hours"] == float(saved["saved_min"].sum()) / 60, name
        assert record["value_eur"] == float((saved["saved_min"] / 60 * rates).sum()), name
        assert record["error_rate"] == (mine["ai_errors"].sum() / mine["ai_ok"].sum()
                                        if mine["ai_ok"].sum() else None), name
        assert record["time_saved_estimated"] == bool(saved["estimated_n"].sum() > 0), name
