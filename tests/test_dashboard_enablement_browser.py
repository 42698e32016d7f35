"""The enablement and operations pages in headless Chromium, against `liftoff serve` in a subprocess.
The server, browser and company fixtures are those of tests/test_dashboard_browser.py (own instances
for this module). Screenshots go to test-artifacts/."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.db import db
from app.models import Feature, Feedback, GateEvaluation, JobRun
from tests.people_picker_support import pick_person
from tests.test_dashboard_browser import browser, company, open_as, rows_of, server, shot  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def pilot(company):  # noqa: F811
    """The company's feature at its pilot stage, on the pilot-feedback-loop playbook."""
    with company["app"].app_context():
        feature = db.session.scalar(select(Feature).where(Feature.key == "quote-assistant"))
        feature.playbook_key = "pilot-feedback-loop"
        db.session.commit()
    return "quote-assistant"


def _count(company, model, *where) -> int:  # noqa: F811
    with company["app"].app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_change_manager_records_feedback_and_triages_it(open_as, company, pilot):  # noqa: F811
    page = open_as("change_manager", f"/dashboard/enablement?feature={pilot}")
    page.wait_for_selector("#playbook-card")
    assert "Pilot feedback loop" in page.inner_text("#playbook-card")
    pick_person(page, "feedback", "emp005", "(emp005)")
    page.fill("#feedback-comment", "Quoted 10 % VAT, it is 19 %")
    page.click("#feedback-submit")  # no rating chosen yet
    page.wait_for_selector("#feedback-error")
    assert "rating: must be an integer from 1 to 5" in page.inner_text("#feedback-error")
    assert _count(company, Feedback) == 0

    page.get_by_label("2", exact=True).check()
    page.click("#feedback-category")
    page.get_by_text("correction", exact=True).click()
    page.click("#feedback-submit")
    page.wait_for_selector("#feedback-done")
    page.wait_for_selector("#feedback-table")
    listed = rows_of(page, "feedback-table")
    assert len(listed) == 1 and "Quoted 10 % VAT" in listed[0] and "correction" in listed[0]
    assert "emp005" in listed[0] and "open" in listed[0]
    assert _count(company, Feedback, Feedback.category == "correction") == 1
    shot(page, "enablement-feedback")

    page.locator("#feedback-table input").fill("qa@liftoff.test")
    page.locator("#feedback-table").get_by_role("button", name="Triage").click()
    page.wait_for_selector("#enablement-done")
    assert "is now triaged" in page.inner_text("#enablement-done")
    page.wait_for_selector("#feedback-table button:has-text('Mark fixed')")
    with company["app"].app_context():
        assert db.session.scalar(select(Feedback.status)) == "triaged"


def test_a_product_user_evaluates_the_gate_and_an_executive_only_reads(open_as, company, pilot):  # noqa: F811
    page = open_as("product", f"/dashboard/enablement?feature={pilot}")
    page.wait_for_selector("#gate-empty")
    assert page.locator("#feedback-form").count() == 0  # product does not record enablement
    page.click("#gate-evaluate")
    page.wait_for_selector("#gate-table")
    criteria = rows_of(page, "gate-table")
    assert [row.split("\t")[0] for row in criteria] == [
        "days_in_stage", "exposed_users", "adoption_rate", "error_rate", "time_saved_hours",
        "training_completion", "feedback_mean", "open_critical_feedback"]
    assert "0 of 8 trained" in criteria[5]  # the pilot stage reaches 8 people, none trained
    assert "failed" in page.inner_text("#gate-summary")
    assert _count(company, GateEvaluation) >= 1
    shot(page, "enablement-gate")

    reader = open_as("executive", f"/dashboard/enablement?feature={pilot}")
    reader.wait_for_selector("#gate-table")
    assert reader.locator("#enablement-read-only").is_visible()
    for control in ("#feedback-form", "#action-form", "#gate-evaluate", "#gate-promote"):
        assert reader.locator(control).count() == 0
    base = reader.url.split("/dashboard/")[0]
    reader.goto(f"{base}/dashboard/rollout?feature={pilot}")  # the rollout page shows the gate status
    reader.wait_for_selector("#rollout-gate")
    assert "gate failed" in reader.inner_text("#rollout-gate")
    assert "training_completion" in reader.inner_text("#rollout-gate")
    reader.click("#rollout-gate-link")
    reader.wait_for_url(re.compile(rf"/dashboard/enablement\?feature={pilot}$"))
    reader.goto(f"{base}/dashboard/operations")
    reader.wait_for_selector("#page-not-available")  # not in its navigation either (shell/frame.py)


def test_an_admin_runs_a_job_from_the_operations_page(open_as, company):  # noqa: F811
    page = open_as("admin", "/dashboard/operations")
    page.wait_for_selector("#ops-jobs")
    before = _count(company, JobRun, JobRun.job == "refresh-kpis")
    row = page.locator("#ops-jobs tbody tr", has_text="refresh-kpis")
    row.get_by_role("button", name="Run now").click()
    page.wait_for_selector("#ops-done")
    assert re.search(r"refresh-kpis: success \(run #\d+", page.inner_text("#ops-done"))
    page.wait_for_selector("#ops-runs")
    assert "refresh-kpis" in rows_of(page, "ops-runs")[0] and "manual" in rows_of(page, "ops-runs")[0]
    assert "success" in page.locator("#ops-jobs tbody tr", has_text="refresh-kpis").inner_text()
    assert _count(company, JobRun, JobRun.job == "refresh-kpis", JobRun.status == "success") == before + 1
    shot(page, "operations")
