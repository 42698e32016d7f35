"""Invariants under random event batches (hypothesis): re-sending or splitting a batch changes
nothing; per-department figures add up to the total when no group is suppressed."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.db import db
from app.services.kpi_reads.figures import feature_kpis
from tests.helpers import gen_department, gen_feature, gen_person, utc
from tests.kpi_scenarios import post_events, refresh, spell

PEOPLE = [f"q{i}" for i in range(12)]
_features = itertools.count(1)

event_strategy = st.fixed_dictionaries(
    {
        "person": st.sampled_from(PEOPLE),
        "day": st.integers(1, 10),
        "hour": st.integers(0, 23),
        "ai": st.booleans(),
        "outcome": st.sampled_from(["success", "error", "corrected", "abandoned"]),
        "duration": st.one_of(st.none(), st.integers(0, 3600)),
        "task": st.sampled_from(["default", "summary"]),
    }
)
batches = st.lists(event_strategy, min_size=1, max_size=40)
PROPERTY_SETTINGS = settings(max_examples=8, deadline=None, derandomize=True,
                             suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def company(app):
    """Twelve people in two departments of six, everyone exposed (no group is suppressed)."""
    north, south = gen_department("North", 50.0), gen_department("South", None)
    people = [gen_person(pid, north if i % 2 else south) for i, pid in enumerate(PEOPLE)]
    db.session.commit()
    return people


def _new_feature(people, prefix: str):
    feature = gen_feature(f"{prefix}-{next(_features)}", estimated_minutes_saved=1.5)
    for i, person in enumerate(people):
        spell(feature, person, utc(2026, 9, 25 + i % 3), None if i % 4 else utc(2026, 10, 6))
    db.session.commit()
    return feature


def _rows(feature_key: str, events: list[dict], tag: str) -> list[dict]:
    return [{"event_id": f"{tag}-{i}", "feature": feature_key, "person_id": e["person"],
             "occurred_at": f"2026-10-{e['day']:02d}T{e['hour']:02d}:00:00+00:00",
             "ai_assisted": e["ai"], "outcome": e["outcome"], "task": e["task"],
             **({} if e["duration"] is None else {"duration_seconds": e["duration"]})}
            for i, e in enumerate(events)]


def _figures(key: str) -> dict:
    answer = feature_kpis(key, utc(2026, 10, 1).date(), utc(2026, 10, 10).date())
    answer.pop("feature")
    return answer


def _close(a, b):
    assert a.keys() == b.keys()
    for name in a:
        if isinstance(a[name], float):
            assert b[name] == pytest.approx(a[name], rel=1e-9, abs=1e-9), name
        else:
            assert a[name] == b[name], name


@PROPERTY_SETTINGS
@given(events=batches, cut=st.integers(0, 40))
def test_resending_or_splitting_a_batch_changes_nothing(company, client, ingest_headers, events, cut):
    whole, split = _new_feature(company, "whole"), _new_feature(company, "split")
    tag = f"w{whole.id}"
    post_events(client, ingest_headers, _rows(whole.key, events, tag))
    refresh()
    once = _figures(whole.key)
    again = post_events(client, ingest_headers, _rows(whole.key, events, tag))
    assert again == {"accepted": 0, "duplicates": len(events)}
    refresh()
    assert _figures(whole.key) == once  # re-sent: nothing changed

    rows = _rows(split.key, events, f"s{split.id}")
    cut = min(cut, len(rows))
    post_events(client, ingest_headers, rows[:cut])
    refresh()  # an incremental refresh between the halves
    post_events(client, ingest_headers, rows[max(0, cut - 3):])  # overlapping second half
    refresh()
    _close(once, _figures(split.key))


@PROPERTY_SETTINGS
@given(events=batches)
def test_department_figures_add_up_to_the_total(company, client, ingest_headers, events):
    feature = _new_feature(company, "dept")
    post_events(client, ingest_headers, _rows(feature.key, events, f"d{feature.id}"))
    refresh()
    answer = feature_kpis(feature.key, utc(2026, 10, 1).date(), utc(2026, 10, 10).date(),
                          "department")
    groups = answer["groups"]
    assert [g["group"] for g in groups] == ["North", "South"]
    assert not any(g["suppressed"] for g in groups)
    for name in ("exposed_users", "active_users", "ai_tasks"):
        assert sum(g[name] for g in groups) == answer[name], name
    for name in ("time_saved_hours", "value_eur"):
        assert sum(g[name] for g in groups) == pytest.approx(answer[name], abs=1e-9), name
