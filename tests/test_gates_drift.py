"""Drift watch: the last week's durations and error rates against the feature's first month."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from scipy import stats

from app.db import utcnow
from app.jobs.gates import drift_watch
from app.models import DriftCheck
from app.services.rollout.drift import check_drift, two_proportion_p
from tests.enablement_builders import add_events, live_feature

# Durations in seconds: the same spread, shifted.
STEADY = [100 + (i * 7) % 40 for i in range(60)]


def history(live_durations: list[float], live_errors: int, live_total: int = 60, days: int = 60):
    feature, members, _ = live_feature("pilot-feedback-loop", people=6, days_in_stage=days)
    first_month = utcnow() - timedelta(days=days - 5)
    for d in STEADY:
        add_events(feature, members, 1, first_month, duration=d)
    add_events(feature, members, 3, first_month, "error", duration=None)  # 3 of 63 errors
    last_week = utcnow() - timedelta(days=2)
    for d in live_durations:
        add_events(feature, members, 1, last_week, duration=d)
    add_events(feature, members, live_errors, last_week, "corrected", duration=None)
    add_events(feature, members, max(0, live_total - len(live_durations) - live_errors), last_week,
               duration=None)
    return feature


def test_two_proportion_p_matches_the_z_test():
    p = two_proportion_p(3, 63, 20, 80)
    pooled = 23 / 143
    z = (3 / 63 - 20 / 80) / (pooled * (1 - pooled) * (1 / 63 + 1 / 80)) ** 0.5
    assert p == pytest.approx(2 * stats.norm.sf(abs(z)))
    assert two_proportion_p(0, 0, 1, 5) is None


def test_slower_answers_and_more_errors_are_drift_and_announced(session, caplog):
    feature = history([d + 60 for d in STEADY[:40]], live_errors=20, live_total=80)
    with caplog.at_level(logging.WARNING, logger="liftoff.announce"):
        checks = {c.metric: c for c in check_drift(feature)}
    duration, errors = checks["duration_seconds"], checks["error_rate"]
    assert duration.diverged and duration.p_value < 0.01 and duration.test == "mann-whitney"
    assert (duration.reference_n, duration.live_n) == (60, 40)
    assert duration.live_value - duration.reference_value == pytest.approx(60, abs=8)
    assert errors.diverged and errors.reference_value == pytest.approx(3 / 63)
    assert errors.live_value == pytest.approx(20 / 80)
    messages = [r.getMessage() for r in caplog.records if r.name == "liftoff.announce"]
    assert len(messages) == 1 and "drift detected" in messages[0] and "error_rate" in messages[0]


def test_the_same_behaviour_is_no_drift(session, caplog):
    feature = history(STEADY[:40], live_errors=2, live_total=60)
    with caplog.at_level(logging.WARNING, logger="liftoff.announce"):
        checks = check_drift(feature)
    assert [c.diverged for c in checks] == [False, False]
    assert all(c.p_value is not None and c.p_value > 0.01 for c in checks)
    assert not [r for r in caplog.records if r.name == "liftoff.announce"]


def test_too_few_samples_are_stored_but_not_judged(session):
    feature = history([d + 60 for d in STEADY[:10]], live_errors=1, live_total=12)
    checks = {c.metric: c for c in check_drift(feature)}
    assert checks["duration_seconds"].p_value is None and not checks["duration_seconds"].diverged
    assert checks["error_rate"].live_n == 12 and checks["error_rate"].p_value is None


def test_no_check_before_the_first_month_is_over(session):
    feature = history(STEADY[:40], live_errors=2, days=20)
    assert check_drift(feature) == []


def test_weekly_job_and_api_show_the_latest_checks(client, admin_headers, session):
    feature = history([d + 60 for d in STEADY[:40]], live_errors=2)
    stats_ = drift_watch()
    session.commit()
    assert stats_.rows_written == 2 and session.query(DriftCheck).count() == 2
    shown = client.get(f"/api/v1/features/{feature.key}/drift", headers=admin_headers).get_json()
    assert [(c["metric"], c["diverged"]) for c in shown] == [
        ("duration_seconds", True), ("error_rate", False)]
    assert shown[0]["reference_n"] == 60 and shown[0]["live_n"] == 40
