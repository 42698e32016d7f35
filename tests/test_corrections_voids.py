"""Voiding events and cost entries, hand-computed on scenario A (tests/kpi_scenarios.py).

Scenario A's October window 2026-10-01..10 has six AI events (minutes saved against the 15-minute
baseline): a 5 min success (10), a 10 min error (5), a abandoned (-2), b corrected (estimate 2),
c 15 min (0), d 1 min (14). a and b are in Sales (60 EUR/h), c and d in Ops (default 40 EUR/h).
Voiding a's error event ("a-error") takes out exactly its contribution:
  ai_tasks 6 -> 5, errors among the non-abandoned 2/5 -> 1/4, minutes saved 29 -> 24,
  value 13 + 2 + 14/60*40 -> 8 + 2 + 14/60*40 EUR, per-event cost 0.1 x 6 -> 0.1 x 5.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.db import db
from app.jobs.kpi import monthly_close
from app.models import AuditEntry, CostEntry, Event
from app.models.kpi import ActivityDay, FeatureDay, FeatureMonth, FirstUse
from app.services.ingest import voids
from tests.helpers import utc
from tests.kpi_scenarios import draft_company, event, october_licence, post_events, refresh

OCT_VALUE = 13 + 2 + 14 / 60 * 40
VALUE_AFTER = 8 + 2 + 14 / 60 * 40


@pytest.fixture
def scenario(app, client, admin_headers):
    feature, rows = draft_company()
    ids = {("a", "2026-10-01T10:00:00Z"): "a-first", ("a", "2026-10-02T10:00:00Z"): "a-error"}
    for row in rows:
        row["event_id"] = ids.get((row["person_id"], row["occurred_at"]), row["event_id"])
    # Posted with the admin token, so under the source "api" that a void defaults to (an ingest
    # token posts under its own source, "ingest:<name>").
    post_events(client, admin_headers, rows)
    october_licence(client, admin_headers)
    refresh()
    return feature


def _void(client, headers, ids, expect=200, **extra):
    r = client.post("/api/v1/events/void", json={"event_ids": ids, "reason": "test data", **extra},
                    headers=headers)
    assert r.status_code == expect, r.get_json()
    return r.get_json()


def _kpis(client, headers):
    r = client.get("/api/v1/features/draft/kpis", query_string={"start": "2026-10-01", "end": "2026-10-10"},
                   headers=headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _roi(client, headers, month="2026-10"):
    r = client.get("/api/v1/roi/monthly", query_string={"month": month}, headers=headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_a_voided_event_leaves_the_kpis_by_exactly_its_contribution(scenario, client, admin_headers):
    before = _kpis(client, admin_headers)
    assert (before["ai_tasks"], before["error_rate"]) == (6, pytest.approx(2 / 5))
    assert _void(client, admin_headers, ["a-error"]) == {"voided": 1, "already_voided": 0}
    # KPI reads reflect the last refresh (the contract): nothing moves until it runs.
    assert _kpis(client, admin_headers)["ai_tasks"] == 6
    refresh()
    after = _kpis(client, admin_headers)
    assert after["ai_tasks"] == 5
    assert after["active_users"] == 4  # a still has other events
    assert after["depth"] == pytest.approx(5 / 4)
    assert after["error_rate"] == pytest.approx(1 / 4)
    assert after["time_saved_hours"] == pytest.approx(24 / 60)
    assert after["value_eur"] == pytest.approx(VALUE_AFTER)
    assert after["stickiness"] == pytest.approx(before["stickiness"])  # a was active on the 2nd still
    october = _roi(client, admin_headers)["features"][0]
    assert october["value_eur"] == pytest.approx(VALUE_AFTER)
    assert october["cost_eur"] == pytest.approx(100 + 0.1 * 5)
    # The event is kept, marked.
    voided = db.session.scalar(select(Event).where(Event.event_id == "a-error"))
    assert voided is not None and voided.voided_at is not None


def test_voiding_twice_counts_once_and_audits_once(scenario, client, admin_headers):
    assert _void(client, admin_headers, ["a-error", "a-error"]) == {"voided": 1, "already_voided": 0}
    refresh()
    once = _kpis(client, admin_headers)
    assert _void(client, admin_headers, ["a-error"]) == {"voided": 0, "already_voided": 1}
    refresh()
    assert _kpis(client, admin_headers) == once
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "events.void")).all()
    assert len(entries) == 1
    assert entries[0].reason == "test data" and entries[0].entity_key == "api"
    assert json.loads(entries[0].after)["event_ids"] == ["a-error"]
    assert entries[0].actor.startswith("token:")


def test_a_voided_event_sent_again_stays_void(scenario, client, admin_headers):
    _void(client, admin_headers, ["a-error"])
    again = event("draft", "a", "2026-10-02T10:00:00Z", outcome="error", duration=600, event_id="a-error")
    assert post_events(client, admin_headers, [again]) == {"accepted": 0, "duplicates": 1}
    refresh()
    assert _kpis(client, admin_headers)["ai_tasks"] == 5


def test_unknown_ids_are_named_by_index_and_nothing_is_voided(scenario, client, admin_headers):
    body = _void(client, admin_headers, ["a-error", "nope", "a-first", "nada"], expect=422)
    assert [(d["index"], d["field"]) for d in body["details"]] == [(1, "event_ids"), (3, "event_ids")]
    # Another source does not know a-error either.
    body = _void(client, admin_headers, ["a-error"], expect=422, source="crm")
    assert body["details"][0]["index"] == 0
    assert db.session.scalar(select(func.count()).select_from(Event).where(Event.voided_at.is_not(None))) == 0


@pytest.mark.parametrize(("body", "field"), [
    ({"event_ids": ["a-error"]}, "reason"),
    ({"event_ids": ["a-error"], "reason": "  "}, "reason"),
    ({"event_ids": [], "reason": "x"}, "event_ids"),
    ({"event_ids": "a-error", "reason": "x"}, "event_ids"),
    ({"event_ids": ["e"] * 1001, "reason": "x"}, "event_ids"),
    ({"event_ids": ["a-error"], "reason": "x", "why": "y"}, "why"),
    ({"event_ids": ["a-error"], "reason": "x", "source": 5}, "source"),
])
def test_bad_void_requests_are_422_naming_the_field(scenario, client, admin_headers, body, field):
    r = client.post("/api/v1/events/void", json=body, headers=admin_headers)
    assert r.status_code == 422, r.get_json()
    assert field in {d["field"] for d in r.get_json()["details"]}
    assert db.session.scalar(select(func.count()).select_from(Event).where(Event.voided_at.is_not(None))) == 0


def test_only_admins_void_events(scenario, client, ingest_headers):
    r = client.post("/api/v1/events/void", json={"event_ids": ["a-error"], "reason": "x"},
                    headers=ingest_headers)
    assert r.status_code == 403


def test_a_closed_month_is_restated_after_a_void(scenario, client, admin_headers):
    monthly_close("2026-10")
    db.session.commit()
    assert _roi(client, admin_headers)["restated"] is False
    _void(client, admin_headers, ["a-error"])
    refresh()  # the refresh-kpis job: rollups, then the restatement check
    answer = _roi(client, admin_headers)
    assert answer["closed"] is True and answer["restated"] is True and answer["restated_at"]
    assert answer["features"][0]["value_eur"] == pytest.approx(VALUE_AFTER)
    assert answer["closed_figures"]["features"][0]["value_eur"] == pytest.approx(OCT_VALUE)


def test_voiding_a_first_use_moves_it_later_and_the_increment_matches_a_full_rebuild(scenario, client,
                                                                                    admin_headers):
    a_first = select(FirstUse.first_ai_at).join(Event, Event.person_id == FirstUse.person_id).where(
        Event.event_id == "a-first")
    assert db.session.scalar(a_first) == utc(2026, 10, 1, 10)
    _void(client, admin_headers, ["a-first"])
    refresh()
    assert db.session.scalar(a_first) == utc(2026, 10, 2, 10)  # a's error event is now the first
    # Voiding every AI event of d removes d's first use altogether.
    d_at = utc(2026, 10, 7, 10)
    d_events = list(db.session.scalars(select(Event.event_id).where(Event.occurred_at == d_at)))
    assert len(d_events) == 1
    _void(client, admin_headers, d_events)
    refresh()
    incremental = _rollups()
    refresh(full=True)
    assert _rollups() == incremental
    assert len(incremental[3]) == 3  # a, b and c; d used it only in the voided event


def _rollups() -> tuple:
    def rows(model):
        columns = list(model.__table__.columns)
        keys = [c for c in columns if c.primary_key]
        return [tuple(round(v, 9) if isinstance(v, float) else v for v in r)
                for r in db.session.execute(select(*columns).order_by(*keys))]

    return tuple(rows(model) for model in (ActivityDay, FeatureDay, FeatureMonth, FirstUse))


# --- cost entries ------------------------------------------------------------------------------------


def test_a_voided_cost_entry_is_listed_as_voided_and_counts_no_more(scenario, client, admin_headers):
    listing = client.get("/api/v1/features/draft/costs", headers=admin_headers).get_json()
    (entry,) = listing
    assert (entry["month"], entry["amount_eur"], entry["voided"]) == ("2026-10", 100, False)
    r = client.post(f"/api/v1/features/draft/costs/{entry['id']}/void", json={"reason": "entered twice"},
                    headers=admin_headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["voided"] is True and r.get_json()["void_reason"] == "entered twice"
    # Costs are read live: the ROI moves at once (0.1 EUR x 6 AI tasks remain).
    october = _roi(client, admin_headers)["features"][0]
    assert october["cost_eur"] == pytest.approx(0.6)
    (listed,) = client.get("/api/v1/features/draft/costs", headers=admin_headers).get_json()
    assert listed["voided"] is True and listed["voided_at"]
    again = client.post(f"/api/v1/features/draft/costs/{entry['id']}/void", json={"reason": "again"},
                        headers=admin_headers)
    assert again.status_code == 200 and again.get_json()["void_reason"] == "entered twice"
    audits = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "cost.void")).all()
    assert [(a.entity_key, a.reason) for a in audits] == [(str(entry["id"]), "entered twice")]
    assert json.loads(audits[0].before)["voided"] is False and json.loads(audits[0].after)["voided"] is True


def test_a_cost_void_restates_a_closed_month(scenario, client, admin_headers):
    monthly_close("2026-10")
    db.session.commit()
    cost_id = db.session.scalar(select(CostEntry.id))
    client.post(f"/api/v1/features/draft/costs/{cost_id}/void", json={"reason": "x"}, headers=admin_headers)
    refresh()
    answer = _roi(client, admin_headers)
    assert answer["restated"] is True
    assert answer["closed_figures"]["features"][0]["cost_eur"] == pytest.approx(100.6)


def test_cost_void_refusals(scenario, client, admin_headers, ingest_headers):
    cost_id = db.session.scalar(select(CostEntry.id))
    url = f"/api/v1/features/draft/costs/{cost_id}/void"
    r = client.post(url, json={}, headers=admin_headers)
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "reason"
    r = client.post(url, json={"reason": "x", "amount": 1}, headers=admin_headers)
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "amount"
    assert client.post(f"/api/v1/features/draft/costs/{cost_id + 1}/void", json={"reason": "x"},
                       headers=admin_headers).status_code == 404
    assert client.post(url, json={"reason": "x"}, headers=ingest_headers).status_code == 403
    assert db.session.scalar(select(CostEntry.voided_at)) is None


def test_the_cli_voids_costs_and_events(scenario, runner, client, admin_headers):
    cost_id = db.session.scalar(select(CostEntry.id))
    result = runner.invoke(args=["liftoff", "costs", "list", "draft"])
    assert result.exit_code == 0 and result.output.startswith(f"{cost_id}\t2026-10\t100.00 EUR")
    result = runner.invoke(args=["liftoff", "costs", "void", "draft", str(cost_id)])
    assert result.exit_code == 2 and "--reason" in result.output
    result = runner.invoke(args=["liftoff", "costs", "void", "draft", str(cost_id), "--reason", "dup"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["liftoff", "events", "void", "a-error", "nope", "--reason", "test"])
    assert result.exit_code == 1 and "row 1: event_ids" in result.output
    result = runner.invoke(args=["liftoff", "events", "void", "a-error", "--reason", "test"])
    assert result.exit_code == 0 and "1 events voided" in result.output
    db.session.expire_all()
    assert db.session.scalar(select(CostEntry.voided_at)) is not None
    assert db.session.scalar(select(Event.voided_at).where(Event.event_id == "a-error")) is not None
    actors = set(db.session.scalars(select(AuditEntry.actor).where(AuditEntry.action.in_(
        ["cost.void", "events.void"]))))
    assert len(actors) == 1 and actors.pop().startswith("cli")
    assert voids.MAX_VOID_BATCH == 1000
