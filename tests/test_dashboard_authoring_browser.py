"""Rollout authoring in headless Chromium, as the product team does it (issue #16, item 2): create a
feature and its stage plan, edit the stages not reached, ask "who gets it?", read the effect of an
action in people before confirming it, come back to the last feature, search and sort the
portfolio. Executives and change managers see none of the writing controls, and a replayed request
is refused. Screenshots at 1440 and 390 px wide go to test-artifacts/."""

from __future__ import annotations

import json
import re
from datetime import UTC, timedelta

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import select

from app.db import db, utcnow
from app.models import Cohort, Feature
from app.services.accounts.access import create_token
from tests.dashboard_support import (
    ARTIFACTS,
    PASSWORD,
    add_stages,
    email_for,
    module_database,
    record,
    seed_company,
)
from tests.helpers import gen_feature
from tests.test_dashboard_browser import browser, server  # noqa: F401  (the shared Chromium and app)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 20_000
WIDE, PHONE = 1440, 390


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("authoring")
    with module_database(workdir, "author") as (url, app):
        with app.app_context():
            seeded = seed_company()
            create_token("client", "production", name="authoring sdk")
            db.session.commit()
        yield {"url": url, "app": app, "workdir": workdir, **seeded}


@pytest.fixture
def open_as(browser, server):  # noqa: F811
    """Log in as a role in a fresh browser context (its own local storage) of the given width."""
    contexts = []

    def login(role: str, path: str = "/dashboard/", width: int = WIDE):
        context = browser.new_context(viewport={"width": width, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.goto(server.url + path)
        page.fill("#email", email_for(role))
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        return page

    yield login
    for context in contexts:
        context.close()


def shot(page, name: str, width: int | None = None) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    if width:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / f"authoring-{name}.png"), full_page=True)


def plan_of(company, key: str) -> list[tuple[str, list[str], int]] | None:
    with company["app"].app_context():
        db.session.expire_all()
        feature = db.session.scalar(select(Feature).where(Feature.key == key))
        if feature is None:
            return None
        return [(s.name, [c.key for c in s.cohorts], s.percentage) for s in feature.stages]


def pick(page, dropdown: str, text: str) -> None:
    """Choose an option of a dcc.Dropdown by typing part of its label. Right after a reload the
    first click can land before Dash has wired the dropdown, and a callback still in flight can
    draw the dropdown again and close its menu between the option showing and the click (both
    seen on a loaded machine): open it again until an option is clicked."""
    option = page.get_by_role("option").filter(has_text=text).first
    for _attempt in range(5):
        page.click(f"#{dropdown}")
        page.keyboard.type(text)
        try:
            option.wait_for(state="visible", timeout=5_000)
            option.click(timeout=5_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    else:
        raise AssertionError(f"no option {text!r} could be chosen in #{dropdown}")
    page.keyboard.press("Escape")


def test_a_product_user_creates_a_feature_with_its_stage_plan(open_as, company):
    page = open_as("product")
    page.wait_for_selector("#portfolio-table")
    page.click("#new-open")
    page.fill("#new-key", "bad key!")
    page.fill("#new-name", "Contract review")
    page.fill("#new-description", "Flags risky clauses in supplier contracts.")
    page.fill("#new-baseline_days", "14")
    page.fill("#new-estimated_minutes_saved", "12.5")
    page.fill("#new-per_event_cost_eur", "0.04")
    page.fill("#new-stage-name-0", "Legal champions")
    pick(page, "new-stage-cohorts-0", "Champions")
    page.fill("#new-stage-name-1", "Pilot")
    pick(page, "new-stage-cohorts-1", "Pilot group")
    page.fill("#new-stage-name-2", "Everyone")
    page.fill("#new-stage-percentage-2", "150")
    # Three rows to start with; "Add a stage" shows the next (left empty: no stage).
    assert not page.is_visible("#new-stage-name-3")
    page.click("#new-stage-add")
    page.wait_for_selector("#new-stage-name-3", state="visible")
    assert not page.is_visible("#new-stage-name-4")
    page.click("#new-create")
    # The API's validation, each message under the field it names; nothing created.
    page.wait_for_selector("#new-error")
    assert "letters, digits" in page.inner_text("#new-key-error")
    assert "0 to 100" in page.inner_text("#new-stage-error-2")
    assert page.inner_text("#new-stage-error-0") == ""
    assert "key" in page.inner_text("#new-error") and "stages[2].percentage" in page.inner_text("#new-error")
    assert plan_of(company, "bad key!") is None
    shot(page, "create-refused")

    page.fill("#new-key", "contract-review")
    page.fill("#new-stage-percentage-2", "100")
    page.click("#new-create")
    page.wait_for_url(re.compile(r"/dashboard/rollout\?feature=contract-review$"))
    page.wait_for_selector("#rollout-timeline")
    assert plan_of(company, "contract-review") == [
        ("Legal champions", ["champions"], 0), ("Pilot", ["pilot"], 0), ("Everyone", [], 100)]
    with company["app"].app_context():
        feature = db.session.scalar(select(Feature).where(Feature.key == "contract-review"))
        money = (feature.baseline_days, feature.estimated_minutes_saved, feature.per_event_cost_eur)
        assert money == (14, 12.5, 0.04)
        assert feature.owner == email_for("product") and feature.current_stage == 0
    assert "Flags risky clauses" in page.inner_text("#rollout-body")
    shot(page, "created", WIDE)
    shot(page, "created-phone", PHONE)


def test_the_stages_not_reached_are_edited_as_a_form(open_as, company):
    with company["app"].app_context():
        champions = db.session.scalar(select(Cohort).where(Cohort.key == "champions"))
        feature = gen_feature("inbox-triage", name="Inbox triage")
        add_stages(feature, [("Champions", [champions], 0), ("Ramp", [], 30)])
        record(feature, "advance", 1, utcnow() - timedelta(days=3))
        db.session.commit()
    page = open_as("product", "/dashboard/rollout?feature=inbox-triage")
    page.wait_for_selector("#correct-stage-name-0")
    assert "Champions" in page.inner_text("#correct-reached")  # reached: shown, not editable
    assert page.input_value("#correct-stage-name-0") == "Ramp"
    assert page.input_value("#correct-stage-percentage-0") == "30"
    page.fill("#correct-stage-percentage-0", "120")
    page.fill("#correct-stage-name-1", "Everyone")
    page.fill("#correct-stage-percentage-1", "100")
    page.click("#correct-save-stages")
    page.fill("#correct-reason", "ramp faster")
    page.click("#correct-confirm")
    page.wait_for_selector("#correct-error")
    assert "0 to 100" in page.inner_text("#correct-stage-error-0")  # stages[1]: the form's first row
    assert plan_of(company, "inbox-triage") == [("Champions", ["champions"], 0), ("Ramp", [], 30)]

    page.fill("#correct-stage-name-0", "Half")
    page.fill("#correct-stage-percentage-0", "50")
    pick(page, "correct-stage-cohorts-0", "Pilot group")
    page.click("#correct-save-stages")
    page.fill("#correct-reason", "ramp faster")
    page.click("#correct-confirm")
    page.wait_for_selector("#correct-done")
    assert plan_of(company, "inbox-triage") == [
        ("Champions", ["champions"], 0), ("Half", ["pilot"], 50), ("Everyone", [], 100)]
    page.wait_for_function("document.querySelector('#correct-stage-name-1').value === 'Everyone'")
    shot(page, "stages-edited", WIDE)
    shot(page, "stages-edited-phone", PHONE)


def test_confirm_dialogs_state_the_effect_in_people(open_as, company):
    page = open_as("product", "/dashboard/rollout?feature=quote-assistant")
    page.wait_for_selector("#rollout-timeline")
    # At Pilot: 3 champions + 5 pilots. Back to Champions: the 5 lose it, the 3 keep it.
    page.click("#rollout-rollback")
    page.wait_for_selector("#rollout-dialog.lo-dialog-open")
    assert page.inner_text("#rollout-dialog-effect") == (
        "Roll back to Champions: 5 people lose it, 3 people keep it; 3 people have it after (+0, -5).")
    shot(page, "confirm-rollback")
    page.click("#rollout-cancel")
    page.click("#rollout-advance")
    page.wait_for_selector("#rollout-dialog.lo-dialog-open")
    assert page.inner_text("#rollout-dialog-effect") == (
        "Advance to Everyone: 22 people gain it, 8 people keep it; 30 people have it after (+22, -0).")
    page.click("#rollout-cancel")
    page.click("#rollout-kill")
    page.wait_for_selector("#rollout-dialog.lo-dialog-open")
    assert page.inner_text("#rollout-dialog-effect").startswith("Kill at Pilot: 8 people lose it;")
    page.fill("#rollout-reason", "incident")
    page.click("#rollout-confirm")
    page.wait_for_selector("#rollout-done")
    page.click("#rollout-resume")
    page.wait_for_selector("#rollout-dialog.lo-dialog-open")
    assert page.inner_text("#rollout-dialog-effect").startswith("Resume at Pilot: 8 people gain it;")
    page.fill("#rollout-reason", "fixed")
    page.click("#rollout-confirm")
    page.wait_for_selector("#rollout-done:has-text('Resume')")
    page.wait_for_selector("#history-table tbody tr:first-child:has-text('fixed')")
    # History by stage names, never bare numbers.
    history = page.locator("#history-table tbody tr").all_inner_texts()
    assert "at Pilot" in history[0] and "Champions → Pilot" in history[2]
    shot(page, "history-names-phone", PHONE)


def test_who_gets_it_now_and_at_a_past_instant(open_as, company):
    page = open_as("change_manager", "/dashboard/rollout?feature=kb-assistant")
    page.wait_for_selector("#who-panel")
    page.goto(page.url.replace("kb-assistant", "quote-assistant"))
    page.wait_for_selector("#rollout-timeline")
    pick(page, "who-person", "emp004")  # a pilot: in since stage 2 (ten days ago)
    page.wait_for_selector("#who-result")
    assert page.get_attribute("#who-result", "data-on") == "true"
    assert "cohort 'pilot'" in page.inner_text("#who-why")
    past = (utcnow() - timedelta(days=20)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    page.fill("#who-at", past)
    page.press("#who-at", "Enter")
    page.wait_for_selector("#who-result[data-on=false]")
    assert "in no cohort" in page.inner_text("#who-why") and "'Champions'" in page.inner_text("#who-why")
    shot(page, "who-gets-it", WIDE)
    shot(page, "who-gets-it-phone", PHONE)


def test_the_rollout_page_opens_on_the_last_feature_viewed(open_as, server):  # noqa: F811
    page = open_as("executive", "/dashboard/rollout")
    page.wait_for_selector("#rollout-timeline")  # a first visit: the first feature, never "none chosen"
    assert page.locator("#rollout-empty").count() == 0
    page.goto(server.url + "/dashboard/rollout?feature=kb-assistant")
    page.wait_for_selector("#history-empty")
    page.goto(server.url + "/dashboard/rollout")
    page.wait_for_url(re.compile(r"\?feature=kb-assistant$"))
    page.wait_for_selector("#history-empty")
    assert "Knowledge assistant" in page.inner_text("#rollout-body")


def test_the_portfolio_is_searched_filtered_and_sorted(open_as, company):
    page = open_as("executive", width=PHONE)
    page.wait_for_selector("#portfolio-table")
    page.fill("#portfolio-search", "QUOTE")
    page.wait_for_function("document.querySelectorAll('#portfolio-table tbody tr').length === 1")
    assert "Quote assistant" in page.inner_text("#portfolio-table")
    page.fill("#portfolio-search", "")
    page.wait_for_function("document.querySelectorAll('#portfolio-table tbody tr').length > 1")
    pick(page, "portfolio-status", "Killed")
    page.wait_for_function("document.querySelectorAll('#portfolio-table tbody tr').length === 1")
    assert "CV screening" in page.inner_text("#portfolio-table")
    page.reload()
    page.wait_for_selector("#portfolio-table")
    pick(page, "portfolio-sort", "Exposed now")
    page.check("#portfolio-order input[value=desc]")
    page.wait_for_function(
        "document.querySelector('#portfolio-table tbody tr td').innerText.includes('Quote assistant')")
    heads = [h.lower() for h in page.locator("#portfolio-table thead th").all_inner_texts()]
    assert any(h.startswith("roi") for h in heads) and any(h.startswith("adoption") for h in heads)
    assert "nan" not in page.inner_text("#portfolio-table").lower()
    # 390 px: nothing wider than the screen but the table, which scrolls inside its card.
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= PHONE + 1
    shot(page, "portfolio-phone")
    shot(page, "portfolio", WIDE)


@pytest.mark.parametrize("role", ["executive", "change_manager"])
def test_other_roles_see_no_authoring_and_a_replay_is_refused(open_as, server, company, role):  # noqa: F811
    page = open_as(role)
    page.wait_for_selector("#portfolio-table")
    assert page.locator("#new-feature").count() == 0
    page.goto(server.url + "/dashboard/rollout?feature=quote-assistant")
    page.wait_for_selector("#who-panel")
    assert page.locator("#correct-save-stages").count() == 0 and page.locator("#rollout-advance").count() == 0
    shot(page, f"rollout-{role}")

    deps = page.request.get(server.url + "/dashboard/_dash-dependencies").json()
    spec = next(d for d in deps if any(i["id"] == "new-create" for i in d["inputs"]))
    values = {"new-key": "forged-feature", "new-name": "Forged", "new-stage-name-0": "All",
              "new-stage-percentage-0": 100}
    outputs = []
    for part in spec["output"].strip(".").split("..."):
        component, prop = part.rsplit(".", 1)
        outputs.append({"id": component, "property": prop.split("@")[0]})
    body = {"output": spec["output"], "outputs": outputs, "changedPropIds": ["new-create.n_clicks"],
            "inputs": [{"id": "new-create", "property": "n_clicks", "value": 1}],
            "state": [{**s, "value": values.get(s["id"], [] if "cohorts" in s["id"] else None)}
                      for s in spec["state"]]}
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "liftoff_csrf")
    answer = page.request.post(server.url + "/dashboard/_dash-update-component", data=json.dumps(body),
                               headers={"Content-Type": "application/json", "X-CSRFToken": csrf})
    assert answer.status == 200 and "may not create features" in answer.text()
    assert plan_of(company, "forged-feature") is None
