"""The dashboard in headless Chromium, against `liftoff serve` running in a subprocess (Dash allows
one app per process). Screenshots of every page go to test-artifacts/."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from app.db import db, utcnow
from app.models import AuditEntry, Cohort, Feature, RolloutTransition
from app.services.accounts.access import create_token
from app.services.rollout import transitions as rollout
from tests.dashboard_support import (
    ARTIFACTS,
    PASSWORD,
    ROLES,
    DashboardServer,
    add_stages,
    chromium,
    email_for,
    module_database,
    record,
    seed_company,
)
from tests.helpers import gen_feature

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    """A migrated database with the dashboard company in it, and an app (without Dash) to look."""
    workdir = tmp_path_factory.mktemp("dashboard")
    with module_database(workdir, "dash") as (url, app):
        with app.app_context():
            seeded = seed_company()
            _, client_secret = create_token("client", "production", name="browser test sdk")
            db.session.commit()
        yield {"url": url, "app": app, "workdir": workdir, "client_token": client_secret, **seeded}


@pytest.fixture(scope="module")
def server(company):
    served = DashboardServer(company["url"], company["workdir"])
    yield served
    served.close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def open_as(browser, server):
    """Log in as a role in a fresh browser context (1366x768) and return the page."""
    contexts = []

    def login(role: str | None, path: str = "/dashboard/"):
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.goto(server.url + path)
        if role is not None:
            page.fill("#email", email_for(role))
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
        return page

    yield login
    for context in contexts:
        context.close()


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"dashboard-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000
    return path


def rows_of(page, table: str) -> list[str]:
    return [row.inner_text() for row in page.locator(f"#{table} tbody tr").all()]


def feature_state(company, key: str) -> tuple[int, bool, int]:
    with company["app"].app_context():
        db.session.expire_all()
        feature = db.session.scalar(select(Feature).where(Feature.key == key))
        count = db.session.scalar(select(func.count()).select_from(RolloutTransition)
                                  .where(RolloutTransition.feature_id == feature.id))
        return feature.current_stage, feature.killed, count


@pytest.mark.parametrize("role", ROLES)
def test_every_role_logs_in_and_sees_the_portfolio(open_as, server, role):
    page = open_as(role)
    page.wait_for_url(re.compile(r"/dashboard/$"))
    page.wait_for_selector("#portfolio-table")
    rows = {row.split("\n")[0]: row for row in rows_of(page, "portfolio-table")}
    assert {"CV screening", "Knowledge assistant", "Quote assistant"} <= set(rows)
    assert "Pilot (2 of 3)" in rows["Quote assistant"] and "\t8\t" in rows["Quote assistant"]
    assert "Killed" in rows["CV screening"] and "\t0\t" in rows["CV screening"]
    assert "Off" in rows["Knowledge assistant"]
    assert page.inner_text("#nav-user-email") == email_for(role)
    assert page.locator("#nav-logout").is_visible()
    shot(page, f"portfolio-{role}")


def test_a_deep_link_survives_the_login(open_as, server):
    page = open_as(None, "/dashboard/rollout?feature=quote-assistant")
    page.wait_for_url(re.compile(r"/login\?next="))
    shot(page, "login")
    page.fill("#email", email_for("change_manager"))
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/dashboard/rollout\?feature=quote-assistant$"))
    page.wait_for_selector("#rollout-timeline")
    assert "Quote assistant" in page.inner_text("#rollout-body")


def test_drill_from_the_portfolio_into_a_feature(open_as, server):
    page = open_as("product")
    page.click("#open-rollout-quote-assistant")
    page.wait_for_url(re.compile(r"/dashboard/rollout\?feature=quote-assistant$"))
    page.wait_for_selector("#rollout-timeline")
    stages = page.locator("#rollout-timeline li").all_inner_texts()
    assert len(stages) == 3
    assert "current" in stages[1] and "Pilot" in stages[1]
    # Cumulative audiences: 3 champions, then 3 + 5 pilots, then all 30 people.
    assert [re.search(r"(\d+) people", s).group(1) for s in stages] == ["3", "8", "30"]
    assert page.inner_text("#tile-exposed").split("\n")[1] == "8"
    history = rows_of(page, "history-table")
    assert len(history) == 2 and "champions happy" in history[0]
    assert "crm-web" in page.inner_text("#sdks-table")
    assert "old-app" in page.inner_text("#rejected-table")
    for action in ("advance", "rollback", "kill"):
        assert page.locator(f"#rollout-{action}").is_enabled()
    assert page.locator("#rollout-resume").is_disabled()
    shot(page, "rollout")


def test_the_feature_picker_puts_the_feature_in_the_url(open_as, server):
    page = open_as("admin", "/dashboard/rollout?feature=quote-assistant")
    page.wait_for_selector("#rollout-timeline")
    page.click("#rollout-feature-picker")
    page.get_by_text("Knowledge assistant (kb-assistant)").click()
    page.wait_for_url(re.compile(r"\?feature=kb-assistant$"))
    page.wait_for_selector("#history-empty")
    assert "Advance the feature" in page.inner_text("#history-empty")
    page.goto(server.url + "/dashboard/rollout?feature=no-such-thing")
    page.wait_for_selector("#rollout-empty")
    assert "no-such-thing" in page.inner_text("#rollout-empty")


def _callback_request(page, server, input_id: str) -> dict:
    """The body Dash's renderer would POST for the callback triggered by ``input_id``."""
    deps = page.request.get(server.url + "/dashboard/_dash-dependencies").json()
    spec = next(d for d in deps if any(i["id"] == input_id for i in d["inputs"]))
    outputs = []
    for part in spec["output"].strip(".").split("..."):
        component, prop = part.rsplit(".", 1)
        outputs.append({"id": component, "property": prop.split("@")[0]})
    return {"output": spec["output"], "outputs": outputs, "changedPropIds": [f"{input_id}.n_clicks"],
            "inputs": [{"id": input_id, "property": "n_clicks", "value": 1}], "state": spec["state"]}


def test_an_executive_reads_only_and_a_forged_action_is_refused(open_as, server, company):
    page = open_as("executive", "/dashboard/rollout?feature=quote-assistant")
    page.wait_for_selector("#rollout-timeline")
    assert page.locator("#rollout-read-only").is_visible()
    for action in ("advance", "rollback", "kill", "resume"):
        assert page.locator(f"#rollout-{action}").count() == 0
    assert page.locator(".lo-nav-active").inner_text() == "Rollout"
    shot(page, "rollout-executive")
    before = feature_state(company, "quote-assistant")

    body = _callback_request(page, server, "rollout-confirm")
    values = {"rollout-pending": "advance", "rollout-reason": "forged",
              "rollout-feature": "quote-assistant", "rollout-version": 0,
              "rollout-override": ["override"]}  # an override is no way round the role either
    body["state"] = [{**s, "value": values[s["id"]]} for s in body["state"]]
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "liftoff_csrf")
    url = server.url + "/dashboard/_dash-update-component"

    without_token = page.request.post(url, data=json.dumps(body),
                                      headers={"Content-Type": "application/json"})
    assert without_token.status == 400  # CSRFProtect: no token, no callback

    forged = page.request.post(url, data=json.dumps(body),
                               headers={"Content-Type": "application/json", "X-CSRFToken": csrf})
    assert forged.status == 200
    assert "may not change rollouts" in forged.text()
    assert feature_state(company, "quote-assistant") == before


def _client_features(server, token: str) -> dict:
    response = requests.get(server.url + "/api/client/features", timeout=10,
                            headers={"Authorization": token, "Accept": "application/json"})
    assert response.status_code == 200
    return response.json()


def _toggle(payload: dict, key: str) -> dict:
    return next((f for f in payload.get("features", []) if f["name"] == key), {})


def test_a_product_user_advances_a_feature_and_sdks_see_it(open_as, server, company):
    with company["app"].app_context():  # its own feature: the other tests share the company
        notes = gen_feature("meeting-notes", name="Meeting notes")
        champions = db.session.scalar(select(Cohort).where(Cohort.key == "champions"))
        add_stages(notes, [("Champions", [champions], 0), ("Everyone", [], 100)])
        db.session.commit()
    before_payload = _client_features(server, company["client_token"])
    page = open_as("product", "/dashboard/rollout?feature=meeting-notes")
    page.wait_for_selector("#history-empty")
    assert page.locator("#rollout-rollback").is_disabled()

    page.click("#rollout-advance")
    page.wait_for_selector("#rollout-dialog.lo-dialog-open")
    page.click("#rollout-confirm")  # no reason yet
    page.wait_for_selector("#rollout-dialog-error:has-text('Give a reason')")
    assert feature_state(company, "meeting-notes")[0] == 0
    page.fill("#rollout-reason", "champions trained")
    shot(page, "rollout-confirm-dialog")
    page.click("#rollout-confirm")
    page.wait_for_selector("#rollout-done")
    assert "at Champions (1 of 2)" in page.inner_text("#rollout-done")
    page.wait_for_selector("#history-table")
    assert "champions trained" in rows_of(page, "history-table")[0]
    assert feature_state(company, "meeting-notes")[:2] == (1, False)

    after_payload = _client_features(server, company["client_token"])
    assert _toggle(after_payload, "meeting-notes") != _toggle(before_payload, "meeting-notes")
    toggle = _toggle(after_payload, "meeting-notes")
    assert toggle["enabled"] is True
    # Stage 1 is the champions: their cohort's segment now switches the feature on.
    champions_segment = next(s for s in after_payload["segments"] if s["name"] == "champions")
    assert [s["segments"] for s in toggle["strategies"]] == [[champions_segment["id"]]]


def test_a_refusal_of_the_rollout_service_is_shown_on_the_page(open_as, server, company):
    with company["app"].app_context():
        single = gen_feature("one-stage", name="One stage")
        add_stages(single, [("Everyone", [], 100)])
        db.session.commit()
    page = open_as("admin", "/dashboard/rollout?feature=one-stage")
    page.wait_for_selector("#history-empty")
    assert page.locator("#rollout-advance").is_enabled()
    with company["app"].app_context():  # someone else advances it meanwhile: this page is stale
        rollout.advance("one-stage", "api@liftoff.test", "from the API")
        db.session.commit()
    page.click("#rollout-advance")
    page.fill("#rollout-reason", "go")
    page.click("#rollout-confirm")
    page.wait_for_selector("#rollout-error")
    assert "cannot advance past the last stage" in page.inner_text("#rollout-error")
    page.wait_for_selector("#history-table")  # the page re-read the state it had missed
    assert "from the API" in rows_of(page, "history-table")[0]
    assert page.locator("#rollout-advance").is_disabled()
    assert feature_state(company, "one-stage") == (1, False, 1)


def test_a_failing_gate_is_shown_and_overridden_with_a_reason(open_as, server, company):
    with company["app"].app_context():  # a pilot one day into stage 1: its 7-day gate fails
        pilot = gen_feature("gated-pilot", name="Gated pilot", playbook_key="pilot-feedback-loop")
        champions = db.session.scalar(select(Cohort).where(Cohort.key == "champions"))
        add_stages(pilot, [("Pilot", [champions], 0), ("Everyone", [], 100)])
        record(pilot, "advance", 1, utcnow() - timedelta(days=1))
        db.session.commit()
    page = open_as("product", "/dashboard/rollout?feature=gated-pilot")
    page.wait_for_selector("#history-table")
    page.click("#rollout-advance")
    page.wait_for_selector("#rollout-dialog.lo-dialog-open")
    assert not page.locator("#rollout-override-box").is_visible()  # offered once a gate refuses
    page.fill("#rollout-reason", "sponsor wants it now")
    page.click("#rollout-confirm")
    page.wait_for_selector("#rollout-gate-failures")
    failures = page.inner_text("#rollout-gate-failures")
    assert "days_in_stage: observed 1, required at least 7 (min)" in failures
    assert page.locator("#rollout-override-box").is_visible()
    shot(page, "rollout-gate-refused")
    assert feature_state(company, "gated-pilot") == (1, False, 1)

    page.check("#rollout-override input[type=checkbox]")
    page.click("#rollout-confirm")
    page.wait_for_selector("#rollout-done")
    assert "at Everyone (2 of 2)" in page.inner_text("#rollout-done")
    page.wait_for_selector("#history-table .lo-override")
    newest = rows_of(page, "history-table")[0]
    assert "override" in newest and "days_in_stage" in newest and "sponsor wants it now" in newest
    assert feature_state(company, "gated-pilot") == (2, False, 2)
    with company["app"].app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "gate.override",
                                                           AuditEntry.entity_key == "gated-pilot"))
        assert (entry.actor, entry.reason) == (email_for("product"), "sponsor wants it now")


def test_logout_ends_the_session(open_as, server):
    page = open_as("admin")
    page.wait_for_selector("#portfolio-table")
    page.click("#nav-logout")
    page.wait_for_url(re.compile(r"/login$"))
    page.goto(server.url + "/dashboard/")
    page.wait_for_url(re.compile(r"/login\?next="))
