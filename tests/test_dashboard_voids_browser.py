"""The Operations page's "Void events" panel in headless Chromium, against `liftoff serve` in a
subprocess: an admin voids events after a confirmation; a product user sees no panel and a replayed
void is refused. The server, browser and company fixtures are those of tests/test_dashboard_browser.py
(own instances for this module). Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import db, utcnow
from app.models import AuditEntry, Event, Feature, Person
from tests.test_dashboard_browser import (  # noqa: F401
    _callback_request,
    browser,
    company,
    open_as,
    server,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def recorded(company):  # noqa: F811
    """Three events of quote-assistant two days ago, from the source "api"."""
    with company["app"].app_context():
        feature = db.session.scalar(select(Feature.id).where(Feature.key == "quote-assistant"))
        person = db.session.scalar(select(Person.id).where(Person.person_id == "emp003"))
        at = utcnow() - timedelta(days=2)
        for event_id in ("dup-1", "dup-2", "keep-1"):
            db.session.add(Event(source="api", event_id=event_id, feature_id=feature, person_id=person,
                                 occurred_at=at, task="quote", ai_assisted=True, duration_seconds=300.0,
                                 outcome="success"))
        db.session.commit()
    return {"day": at.date().isoformat()}


def _voided(company) -> set[str]:  # noqa: F811
    with company["app"].app_context():
        return set(db.session.scalars(select(Event.event_id).where(Event.voided_at.is_not(None))))


def test_an_admin_voids_events_after_a_confirmation(open_as, company, recorded):  # noqa: F811
    page = open_as("admin", "/dashboard/operations")
    page.wait_for_selector("#void-card")
    page.fill("#void-ids", "dup-1\nno-such-event")
    page.fill("#void-reason", "imported twice")
    page.click("#void-review")
    page.wait_for_selector("#void-error")
    assert "id 2: no event 'no-such-event' from source 'api'" in page.inner_text("#void-error")
    assert not page.locator("#void-dialog").is_visible()

    page.fill("#void-ids", "dup-1, dup-2")
    page.click("#void-review")
    page.wait_for_selector("#void-dialog.lo-dialog-open")
    said = page.inner_text("#void-dialog-text")
    assert said.startswith("2 events of source 'api' will be voided.")
    assert f"recomputes every KPI of quote-assistant for {recorded['day']}." in said
    shot(page, "operations-void-dialog")
    assert _voided(company) == set()  # nothing before the confirmation

    page.click("#void-confirm")
    page.wait_for_selector("#void-done")
    assert "Voided: 2; already voided: 0." in page.inner_text("#void-done")
    assert not page.locator("#void-dialog").is_visible()
    assert _voided(company) == {"dup-1", "dup-2"}

    page.click("#void-review")  # the same ids again: nothing more to void
    page.wait_for_selector("#void-dialog.lo-dialog-open")
    assert "0 events of source 'api' will be voided (2 already void" in page.inner_text("#void-dialog-text")
    page.click("#void-confirm")
    page.wait_for_selector("#void-done:has-text('Voided: 0; already voided: 2.')")
    with company["app"].app_context():
        audits = db.session.scalars(select(AuditEntry.reason).where(AuditEntry.action == "events.void")).all()
    assert audits == ["imported twice"]  # the second void changed nothing


def test_a_product_user_has_no_void_panel_and_a_replayed_void_is_refused(open_as, server, company,  # noqa: F811
                                                                         recorded):
    page = open_as("product", "/dashboard/operations")
    page.wait_for_selector("#ops-jobs")
    assert page.locator("#void-card").count() == 0 and page.locator("#void-review").count() == 0
    before = _voided(company)

    body = _callback_request(page, server, "void-confirm")
    values = {"void-ids": "keep-1", "void-source": "", "void-reason": "forged"}
    body["state"] = [{**s, "value": values[s["id"]]} for s in body["state"]]
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "liftoff_csrf")
    forged = page.request.post(server.url + "/dashboard/_dash-update-component", data=json.dumps(body),
                               headers={"Content-Type": "application/json", "X-CSRFToken": csrf})
    assert forged.status == 200
    assert "your role may not void events (admin only)" in forged.text()
    assert _voided(company) == before and "keep-1" not in before
