"""A month without events is refused by every way of closing it (API, CLI, job), with its name."""

from __future__ import annotations

from datetime import date

import pytest

from app.db import db
from app.jobs.runner import run_job
from app.models.kpi import MonthlyClose
from app.services.reporting import closes
from tests.kpi_scenarios import draft_company_with_costs


@pytest.fixture
def october_only(app, client, ingest_headers, admin_headers):
    """Scenario A: events in September and October 2026."""
    draft_company_with_costs(client, ingest_headers, admin_headers)
    db.session.commit()


def test_month_label_names_the_month():
    assert closes.month_label("2026-11") == "November 2026"
    assert closes.month_label("2027-01") == "January 2027"


def test_previous_month_is_the_last_complete_one():
    assert closes.previous_month(date(2026, 11, 3)) == "2026-10"
    assert closes.previous_month(date(2027, 1, 1)) == "2026-12"


def test_the_api_refuses_an_empty_month_and_closes_one_with_events(october_only, client, admin_headers):
    refused = client.post("/api/v1/closes/2026-11", headers=admin_headers)
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["error"] == "November 2026 has no events yet: nothing to close"
    assert body["details"] == [{"field": "month", "message": "has no events"}]
    assert db.session.get(MonthlyClose, "2026-11") is None
    closed = client.post("/api/v1/closes/2026-10", headers=admin_headers)
    assert closed.status_code == 200 and closed.get_json()["month"] == "2026-10"


def test_the_cli_closes_an_empty_month_as_the_contract_says_but_warns(october_only, runner):
    # API_CONTRACT.md: `liftoff close --month` closes any past month; an operator typing it means it.
    result = runner.invoke(args=["liftoff", "close", "--month", "2025-03"])
    assert result.exit_code == 0, result.stderr
    assert "warning: March 2025 has no events: its figures are all zero" in result.stderr
    assert db.session.get(MonthlyClose, "2025-03") is not None
    again = runner.invoke(args=["liftoff", "close", "--month", "2025-03"])
    assert again.exit_code == 0 and "warning" not in again.stderr  # already closed: nothing new


def test_a_scheduled_close_of_an_empty_month_is_skipped_with_a_warning(october_only, monkeypatch):
    monkeypatch.setattr(closes, "previous_month", lambda today=None: "2026-11")
    run = run_job("monthly-close")
    assert run.status == "warning"
    assert run.error == "skipped: November 2026 has no events yet: nothing to close"
    assert db.session.get(MonthlyClose, "2026-11") is None
    monkeypatch.setattr(closes, "previous_month", lambda today=None: "2026-10")
    assert run_job("monthly-close").status == "success"
    assert db.session.get(MonthlyClose, "2026-10") is not None
