"""Plausible input only (issue 13.4): a timestamp more than five minutes ahead is refused by every
entry point naming the row, durations, costs, rates and minutes have upper bounds, and no JSON
answer carries NaN or Infinity. The bounds are the ones docs/api.md lists."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.connectors.mapping import map_records
from app.db import db
from app.errors import ValidationFailed
from app.models import Baseline, CostEntry, Department, Event, Feature, Feedback
from tests.helpers import gen_feature, gen_person


@pytest.fixture
def world(app):
    gen_feature("draft")
    gen_person("a")
    db.session.commit()


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _event(event_id: str, occurred_at: str, **extra) -> dict:
    return {"event_id": event_id, "feature": "draft", "person_id": "a", "occurred_at": occurred_at,
            "ai_assisted": True, "outcome": "success", **extra}


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _details(response) -> list[tuple]:
    return [(d.get("index"), d["field"]) for d in response.get_json()["details"]]


def test_an_event_more_than_five_minutes_ahead_is_refused_naming_the_row(world, client, admin_headers):
    now = datetime.now(UTC)
    rows = [_event("ok", _iso(now - timedelta(days=1))),
            _event("soon", _iso(now + timedelta(minutes=4))),  # a fast clock: accepted
            _event("next-year", _iso(now + timedelta(days=365)))]
    response = client.post("/api/v1/events", json=rows, headers=admin_headers)
    assert response.status_code == 422
    assert _details(response) == [(2, "occurred_at")]
    assert "future" in response.get_json()["details"][0]["message"]
    assert _count(Event) == 0  # nothing of the batch
    assert client.post("/api/v1/events", json=rows[:2], headers=admin_headers).get_json()["accepted"] == 2


def test_future_feedback_and_baselines_are_refused(world, client, admin_headers):
    future = _iso(datetime.now(UTC) + timedelta(hours=1))
    feedback = [{"feature": "draft", "person_id": "a", "rating": 4, "occurred_at": "2026-10-01T10:00:00Z"},
                {"feature": "draft", "person_id": "a", "rating": 4, "occurred_at": future}]
    response = client.post("/api/v1/feedback", json=feedback, headers=admin_headers)
    assert response.status_code == 422 and _details(response) == [(1, "occurred_at")]
    baseline = {"feature": "draft", "minutes_per_task": 5, "source": "study", "measured_at": future}
    response = client.post("/api/v1/baselines", json=baseline, headers=admin_headers)
    assert response.status_code == 422 and _details(response) == [(None, "measured_at")]
    assert _count(Feedback) == 0 and _count(Baseline) == 0


def test_csv_imports_refuse_future_rows_naming_the_line(world, runner, tmp_path):
    future = _iso(datetime.now(UTC) + timedelta(days=30))
    events = tmp_path / "events.csv"
    events.write_text("event_id,feature,person_id,occurred_at,ai_assisted,outcome\n"
                      "e1,draft,a,2026-10-01T10:00:00Z,true,success\n"
                      f"e2,draft,a,{future},true,success\n", encoding="utf-8")
    result = runner.invoke(args=["liftoff", "import", "events", str(events)])
    assert result.exit_code == 1
    assert "row 2: occurred_at: is in the future" in result.output  # the second data row
    feedback = tmp_path / "feedback.csv"
    feedback.write_text("feature,person_id,rating,occurred_at\n"
                        f"draft,a,4,{future}\n", encoding="utf-8")
    result = runner.invoke(args=["liftoff", "import", "feedback", str(feedback)])
    assert result.exit_code == 1 and "row 1: occurred_at: is in the future" in result.output
    assert _count(Event) == 0 and _count(Feedback) == 0


def test_connector_rows_in_the_future_or_out_of_bounds_are_bad_values(app):
    future = _iso(datetime.now(UTC) + timedelta(hours=2))
    mapping = {"event_id": "id", "feature": "f", "person_id": "p", "occurred_at": "at",
               "ai_assisted": "ai", "outcome": "o", "duration_seconds": "d"}
    good = {"id": "1", "f": "draft", "p": "a", "at": "2026-10-01T10:00:00Z", "ai": "true", "o": "success",
            "d": "60"}
    records = [("crm.csv line 2", good),
               ("crm.csv line 3", {**good, "at": future}),
               ("crm.csv line 4", {**good, "at": "0001-01-01T00:00:00+14:00"}),
               ("crm.csv line 5", {**good, "d": str(8 * 24 * 3600)})]
    with pytest.raises(ValidationFailed) as error:
        map_records("events", mapping, records, assume_utc=False)
    found = {(d.index, d.field): d.message for d in error.value.details}
    assert set(found) == {(1, "at"), (2, "at"), (3, "d")}
    assert found[(1, "at")].startswith("crm.csv line 3: occurred_at:") and "future" in found[(1, "at")]
    assert "outside the range" in found[(2, "at")]
    assert "at most 604,800 seconds" in found[(3, "d")]


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/api/v1/events", [_event("d", "2026-10-01T10:00:00Z", duration_seconds=7 * 24 * 3600 + 1)],
         "duration_seconds"),
        ("/api/v1/events", [_event("d", "2026-10-01T10:00:00Z", duration_seconds=1e300)], "duration_seconds"),
        ("/api/v1/features/draft/costs", {"month": "2026-10", "amount_eur": 1e9 + 1, "category": "other"},
         "amount_eur"),
        ("/api/v1/features/draft/costs", {"month": "2026-10", "amount_eur": 1e308, "category": "other"},
         "amount_eur"),
        ("/api/v1/baselines", {"feature": "draft", "minutes_per_task": 7 * 24 * 60 + 1, "source": "s",
                               "measured_at": "2026-10-01T10:00:00Z"}, "minutes_per_task"),
        ("/api/v1/features", {"key": "big", "name": "Big", "estimated_minutes_saved": 10_081,
                              "stages": [{"name": "all", "percentage": 100}]}, "estimated_minutes_saved"),
        ("/api/v1/features", {"key": "big", "name": "Big", "per_event_cost_eur": 2e9,
                              "stages": [{"name": "all", "percentage": 100}]}, "per_event_cost_eur"),
        ("/api/v1/features", {"key": "big", "name": "Big", "baseline_days": 10**12,
                              "stages": [{"name": "all", "percentage": 100}]}, "baseline_days"),
    ],
)
def test_implausible_figures_are_refused_naming_the_field(world, client, admin_headers, path, body, field):
    response = client.post(path, json=body, headers=admin_headers)
    assert response.status_code == 422
    assert field in [d["field"] for d in response.get_json()["details"]]
    assert _count(Event) == 0 and _count(CostEntry) == 0 and _count(Baseline) == 0
    assert _count(Feature) == 1  # only "draft"


def test_the_largest_plausible_figures_are_accepted(world, client, admin_headers):
    week = 7 * 24 * 3600
    rows = [_event("w", "2026-10-01T10:00:00Z", duration_seconds=week)]
    assert client.post("/api/v1/events", json=rows, headers=admin_headers).status_code == 200
    cost = {"month": "2026-10", "amount_eur": 1e9, "category": "other"}
    assert client.post("/api/v1/features/draft/costs", json=cost, headers=admin_headers).status_code == 201
    put = client.put("/api/v1/departments/Law", json={"hourly_rate_eur": 10_000}, headers=admin_headers)
    assert put.status_code == 200


def test_an_hourly_rate_above_ten_thousand_is_refused(world, client, admin_headers):
    response = client.put("/api/v1/departments/Law", json={"hourly_rate_eur": 10_000.01},
                          headers=admin_headers)
    assert response.status_code == 422 and _details(response) == [(None, "hourly_rate_eur")]
    assert "at most 10,000" in response.get_json()["details"][0]["message"]
    assert _count(Department) == 0


def _strict(text: str):
    def refuse(name):
        raise AssertionError(f"{name} in a JSON answer")

    return json.loads(text, parse_constant=refuse)


def test_json_answers_write_non_finite_figures_as_null(app, client, admin_headers, monkeypatch):
    assert app.json.dumps({"a": math.nan, "b": [math.inf, -math.inf, 1.5], "c": (2.0, math.nan)}) == (
        '{"a": null, "b": [null, null, 1.5], "c": [2.0, null]}')
    from app.services.kpi_reads import figures as kpis

    figures = {"feature": "draft", "adoption_rate": math.nan, "value_eur": math.inf, "ai_tasks": 3}
    monkeypatch.setattr(kpis, "feature_kpis", lambda *args, **kwargs: figures)
    response = client.get("/api/v1/features/draft/kpis?start=2026-10-01&end=2026-10-31",
                          headers=admin_headers)
    assert response.status_code == 200
    assert _strict(response.get_data(as_text=True)) == {
        "feature": "draft", "adoption_rate": None, "value_eur": None, "ai_tasks": 3}


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_in_a_body_are_malformed_json(world, client, admin_headers, number):
    body = ('[{"event_id": "n", "feature": "draft", "person_id": "a", "occurred_at": "2026-10-01T10:00:00Z",'
            f' "ai_assisted": true, "outcome": "success", "duration_seconds": {number}}}]')
    response = client.post("/api/v1/events", data=body, content_type="application/json",
                           headers=admin_headers)
    assert response.status_code == 400 and "malformed JSON" in response.get_json()["error"]
    assert _count(Event) == 0
