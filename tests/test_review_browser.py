"""The review page in headless Chromium, against `liftoff serve` in a subprocess: a reviewer draws
a sample, labels it, and the dataset export holds exactly the reviewed errors and the self-reported
correction; an executive reads the figures only. Screenshots at 1440 and 390 px go to test-artifacts/."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import db, utcnow
from app.models import DatasetVersion, Event, Feature, Person, ReviewItem, ReviewLabel
from tests.dashboard_support import ARTIFACTS
from tests.test_dashboard_browser import browser, company, open_as, server  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def outputs(company):  # noqa: F811
    """Six AI outputs of quote-assistant (at stage 2 since 10 days) and a seventh the user corrected."""
    with company["app"].app_context():
        feature = db.session.scalar(select(Feature.id).where(Feature.key == "quote-assistant"))
        people = db.session.scalars(select(Person.id).where(Person.person_id.in_(
            [f"emp{i:03d}" for i in range(3, 9)]))).all()
        at = utcnow() - timedelta(days=2)
        for n, person in enumerate(people):
            db.session.add(Event(source="api", event_id=f"out-{n}", feature_id=feature, person_id=person,
                                 occurred_at=at + timedelta(minutes=n), task="quote", ai_assisted=True,
                                 outcome="success", output=f"Quote {n}: 100 EUR net,\nVAT 10 %",
                                 model_version="m-2026-11"))
        db.session.add(Event(source="api", event_id="self-0", feature_id=feature, person_id=people[0],
                             occurred_at=at, task="quote", ai_assisted=True, outcome="corrected",
                             output="Quote: 90 EUR", correction="Quote: 95 EUR", model_version="m-2026-11"))
        db.session.commit()
    return feature


def _look(page, name: str) -> None:
    """Screenshots at desktop and phone width (checked by eye; kept in test-artifacts/)."""
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"review-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})


def test_a_reviewer_labels_a_sample_and_exports_it(open_as, company, outputs, tmp_path):  # noqa: F811
    page = open_as("reviewer", "/dashboard/review?feature=quote-assistant")
    page.wait_for_selector("#review-figures-card")
    page.fill("#review-size", "3")
    page.click("#review-draw")
    page.wait_for_selector("#review-drawn")
    assert "3 output(s) to review" in page.inner_text("#review-drawn")
    page.wait_for_selector("#review-item-output")
    assert page.inner_text("#review-item-output").startswith("Quote")
    _look(page, "labelling")

    # A corrected label without its fix is refused, naming the field; nothing is saved.
    page.get_by_label("Corrected (write the fix)").check()
    page.fill("#review-category", "facts")
    page.click("#review-save")
    page.wait_for_selector("#review-save-error")
    assert "fix: a corrected label needs the fixed version" in page.inner_text("#review-save-error")

    verdicts = [("Corrected (write the fix)", "facts", "Quote: 100 EUR net, VAT 21 %"), ("Wrong", "tone", ""),
                ("Correct", "", "")]
    for n, (label, category, fix) in enumerate(verdicts, start=1):
        page.wait_for_selector(f"#review-waiting:has-text('{4 - n} item(s) waiting')")
        page.get_by_label(label, exact=True).check()
        page.fill("#review-category", category)
        page.fill("#review-fix", fix)
        page.click("#review-save")
        page.wait_for_selector(f"#review-saved:has-text('Saved: {label.split(' (')[0].lower()}')")
    page.wait_for_selector("#review-done")
    page.wait_for_selector("#review-error-rate:has-text('66.7 %')")  # 2 errors of 3 assessed
    _look(page, "labelled")

    page.fill("#review-dataset", "quotes-corrections")
    with page.expect_download() as download:
        page.click("#review-export")
    saved = tmp_path / "export.jsonl"
    download.value.save_as(saved)
    page.wait_for_selector("#review-exported")
    rows = [json.loads(line) for line in saved.read_text().splitlines()]

    with company["app"].app_context():
        self_reported = set(db.session.scalars(select(Event.event_id).where(
            Event.outcome == "corrected", Event.correction.is_not(None))))
        errors = set(db.session.scalars(
            select(Event.event_id).join(ReviewItem, ReviewItem.event_id == Event.id)
            .join(ReviewLabel, ReviewLabel.item_id == ReviewItem.id)
            .where(ReviewLabel.label.in_(("corrected", "wrong")))))
        recorded = db.session.scalars(select(DatasetVersion)).all()
    assert len(errors) == 2
    assert self_reported == {"self-0"}
    assert {r["event_id"] for r in rows} == errors | self_reported
    fixed = next(r for r in rows if r["label"] == "corrected")
    assert (fixed["correction"], fixed["category"], fixed["stage"]) == (
        "Quote: 100 EUR net, VAT 21 %", "facts", 2)
    assert [(v.version, v.item_count, v.created_by) for v in recorded] == [
        (1, len(errors | self_reported), "reviewer@liftoff.test")]


def test_an_executive_sees_the_figures_and_no_labelling(open_as, outputs):  # noqa: F811
    page = open_as("executive", "/dashboard/review?feature=quote-assistant")
    page.wait_for_selector("#review-read-only")
    page.wait_for_selector("#review-figures-card")
    assert page.locator("#review-label-card").count() == 0
    assert page.locator("#review-export-card").count() == 0
    _look(page, "executive")
