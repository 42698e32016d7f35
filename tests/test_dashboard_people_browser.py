"""A change manager's whole enablement job in headless Chromium, with no token and no command line:
build a cohort with the people picker (search, a whole department, an uploaded list), attach a
playbook, schedule a training at a date and time, record attendance, record feedback for a person
picked by name, read the pulse results. An executive sees none of the controls and a replayed
request is refused. Server, browser and company are the fixtures of tests/test_dashboard_browser.py
(own instances for this module); screenshots at 1440 and 390 px go to test-artifacts/."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.db import db
from app.models import (
    Attendance,
    Cohort,
    CohortMember,
    Department,
    Feature,
    Feedback,
    Person,
    TrainingSession,
)
from tests.people_picker_support import add_group, choose, pick_person, replay
from tests.test_dashboard_browser import browser, company, open_as, rows_of, server, shot  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDE, NARROW = {"width": 1440, "height": 900}, {"width": 390, "height": 844}


def _choice_id(prefix: str) -> str:
    return json.dumps({"picker": prefix, "type": "pp-choice"}, sort_keys=True, separators=(",", ":"))


@pytest.fixture(scope="module")
def staff(company):  # noqa: F811
    """Names to search by, and a Finance department of three, in the dashboard company."""
    with company["app"].app_context():
        people = {p.person_id: p for p in db.session.scalars(select(Person))}
        people["emp005"].name = "Zoë Quartermaine"
        people["emp010"].email = "ines@liftoff.test"
        finance = Department(name="Finance", hourly_rate_eur=70.0)
        db.session.add(finance)
        db.session.flush()
        for pid in ("emp020", "emp021", "emp022"):
            people[pid].department_id = finance.id
        db.session.commit()
    return company


def _members(company, key: str) -> set[str]:  # noqa: F811
    with company["app"].app_context():
        return set(db.session.scalars(
            select(Person.person_id).join(CohortMember, CohortMember.person_id == Person.id)
            .join(Cohort, Cohort.id == CohortMember.cohort_id).where(Cohort.key == key)))


def _both_widths(page, name: str) -> None:
    page.set_viewport_size(WIDE)
    shot(page, f"{name}-1440")
    page.set_viewport_size(NARROW)
    page.wait_for_timeout(400)  # plotly redraws a chart for the new width on the window's resize
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= NARROW["width"], f"{name}: the page is {width} px wide at 390"
    shot(page, f"{name}-390")
    page.set_viewport_size(WIDE)


def test_a_change_manager_builds_a_cohort_with_the_people_picker(open_as, staff):  # noqa: F811
    page = open_as("change_manager", "/dashboard/people")
    page.set_viewport_size(WIDE)
    page.wait_for_selector("#cohort-form")
    page.fill("#cohort-key", "finance pilot")  # a blank is not allowed in a key
    page.fill("#cohort-name", "Finance pilot")

    # 27 people in Sales: the search shows 20, "Next matches" the other 7.
    page.click("#cohort-picker-search button.dash-dropdown")
    page.locator(".dash-dropdown-content input.dash-dropdown-search").fill("sales")
    page.wait_for_selector("#cohort-picker .lo-picker-message:has-text('Matches 1–20 of 27')")
    page.keyboard.press("Escape")
    page.locator("#cohort-picker button", has_text="Next matches").click()
    page.wait_for_selector("#cohort-picker .lo-picker-message:has-text('Matches 21–27 of 27')")
    assert not page.locator("#cohort-picker button", has_text="Next matches").is_visible()
    page.click("#cohort-picker-search button.dash-dropdown")
    assert page.locator(".dash-dropdown-content [role=option]").count() == 7
    page.keyboard.press("Escape")

    pick_person(page, "cohort", "quarter", "Zoë Quartermaine · Sales (emp005)")
    pick_person(page, "cohort", "ines@liftoff", "(emp010)")  # found by e-mail, shown by name
    add_group(page, "cohort", "Department Finance (3 people)")
    page.wait_for_selector("#cohort-picker .lo-picker-message:has-text(\"Added 3 of the group's 3 people.\")")
    upload = b"email\nines@liftoff.test\nnobody@liftoff.test\nemp012\n"
    page.set_input_files("#cohort-picker input[type=file]",
                         files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": upload}])
    page.wait_for_selector("#cohort-picker-problems")
    problems = page.inner_text("#cohort-picker-problems")
    assert "line 3: no person with the e-mail address 'nobody@liftoff.test'" in problems
    assert "1 row named nobody" in problems
    assert "The file names 2 people; 1 of them added" in page.inner_text("#cohort-picker .lo-picker-message")
    page.wait_for_selector("#cohort-picker .lo-picker-summary:has-text('6 chosen')")  # the next callback
    summary = page.inner_text("#cohort-picker .lo-picker-summary")
    assert summary.startswith("6 chosen: ") and "Zoë Quartermaine" in summary
    _both_widths(page, "people-cohort-form")

    page.click("#cohort-save")
    page.wait_for_selector("#cohort-error")
    assert "key: may hold only letters" in page.inner_text("#cohort-error")
    assert _members(staff, "finance pilot") == set()

    page.fill("#cohort-key", "finance-pilot")
    page.click("#cohort-save")
    page.wait_for_selector("#cohort-done")
    assert "saved with 6 members" in page.inner_text("#cohort-done")
    assert _members(staff, "finance-pilot") == {"emp005", "emp010", "emp012", "emp020", "emp021", "emp022"}
    listed = {row.split("\t")[1]: row for row in rows_of(page, "cohorts-table")}
    assert "\t6\t" in listed["finance-pilot"]

    # Editing: the saved cohort's members come back by name; one removed, saved again.
    page.wait_for_selector("#cohort-key[disabled]")
    page.click("#cohort-picker-search button.dash-dropdown")
    page.locator(".dash-dropdown-content [role=option]", has_text="(emp012)").click()
    page.keyboard.press("Escape")
    page.click("#cohort-save")
    page.wait_for_selector("#cohort-done:has-text('saved with 5 members')")
    assert _members(staff, "finance-pilot") == {"emp005", "emp010", "emp020", "emp021", "emp022"}
    _both_widths(page, "people-cohorts")


def test_a_change_manager_runs_the_enablement_loop(open_as, staff):  # noqa: F811
    page = open_as("change_manager", "/dashboard/enablement?feature=quote-assistant")
    page.set_viewport_size(WIDE)
    page.wait_for_selector("#playbook-empty")
    assert "POST /api" not in page.inner_text("body") and "PUT /api" not in page.inner_text("body")

    choose(page, "playbook-choice", "Pilot feedback loop")
    page.click("#playbook-attach")
    page.wait_for_selector("#playbook-done")
    with staff["app"].app_context():
        assert db.session.scalar(select(Feature.playbook_key).where(Feature.key == "quote-assistant")) \
            == "pilot-feedback-loop"
    page.wait_for_selector("#playbook-gate")
    card = page.inner_text("#playbook-card")
    assert "Checklist" in card and "Communications" in card and "Gate to leave this stage" in card

    # A training at a date and time for the current stage (Pilot), one attendee so far.
    page.click("#training-save")  # nothing filled in: every missing field is named
    page.wait_for_selector("#training-error")
    said = page.inner_text("#training-error")
    assert "held_on: pick the date of the training" in said
    page.fill("#training-title", "Pilot kick-off")
    page.fill("#training-trainer", "Ana")
    page.fill("#training-day", "2026-12-10")
    page.keyboard.press("Enter")
    page.fill("#training-time", "14:30")
    page.fill("#training-duration", "45")
    pick_person(page, "training", "emp003", "(emp003)")
    page.click("#training-save")
    page.wait_for_selector("#training-done")
    assert "scheduled for 2026-12-10 14:30 UTC (stage 2, 1 attendees)" in page.inner_text("#training-done")
    with staff["app"].app_context():
        session = db.session.scalar(select(TrainingSession).where(TrainingSession.title == "Pilot kick-off"))
        assert session.stage_position == 2 and session.trainer == "Ana" and session.duration_minutes == 45
        assert session.starts_at == datetime(2026, 12, 10, 14, 30, tzinfo=UTC)
        session_id = session.id

    # Attendance: the whole pilot cohort; someone outside the stage's audience is refused by name.
    choose(page, "attendance-session", "Pilot kick-off")
    add_group(page, "attendance", "Cohort Pilot group [pilot] (5 people)")
    page.wait_for_selector("#attendance-picker .lo-picker-message:has-text('Added 5')")
    page.click("#attendance-save")
    page.wait_for_selector("#attendance-done")

    def attended() -> set[str]:
        with staff["app"].app_context():
            return set(db.session.scalars(
                select(Person.person_id).join(Attendance, Attendance.person_id == Person.id)
                .where(Attendance.session_id == session_id)))

    assert attended() == {"emp003", "emp004", "emp005", "emp006", "emp007"}
    pick_person(page, "attendance", "emp021", "(emp021)")
    page.click("#attendance-save")
    page.wait_for_selector("#attendance-error")
    assert "'emp021' is not in the audience of stage 2" in page.inner_text("#attendance-error")
    assert "emp021" not in attended()
    page.wait_for_selector("#trainings-table")
    assert "Pilot kick-off" in rows_of(page, "trainings-table")[0]

    # Feedback for a person picked by name; the pulse results show it per stage and week.
    pick_person(page, "feedback", "quarter", "Zoë Quartermaine")
    page.get_by_label("4", exact=True).check()
    choose(page, "feedback-category", "usability")
    page.fill("#feedback-comment", "The draft button is hard to find")
    page.click("#feedback-submit")
    page.wait_for_selector("#feedback-done")
    with staff["app"].app_context():
        item = db.session.scalar(select(Feedback))
        assert (item.rating, item.category) == (4, "usability")
        assert db.session.get(Person, item.person_id).person_id == "emp005"
    page.wait_for_selector("#pulse-table")
    row = rows_of(page, "pulse-table")[0]
    assert "Pilot" in row and row.split("\t")[-2:] == ["1", "4.0"]
    assert "The draft button is hard to find" in page.inner_text("#pulse-categories")
    assert "Zoë Quartermaine · Sales (emp005)" in rows_of(page, "feedback-table")[0]
    page.wait_for_selector("#pulse-chart .main-svg")
    _both_widths(page, "enablement-change-manager")


def test_an_executive_sees_no_controls_and_a_replayed_request_is_refused(open_as, server, staff):  # noqa: F811
    product = open_as("product", "/dashboard/people")  # product teams shape cohorts too (cohorts:write)
    product.wait_for_selector("#cohort-form")
    assert product.locator("#people-read-only").count() == 0

    page = open_as("executive", "/dashboard/people")
    page.wait_for_selector("#cohorts-table")
    assert page.locator("#people-read-only").is_visible() and page.locator("#cohort-form").count() == 0
    status, said = replay(page, server, "cohort-save", {
        "cohort-key": "forged", "cohort-name": "Forged", _choice_id("cohort"): ["emp001"]})
    assert status == 200
    assert "your role may not change cohorts (change manager, product or admin only)" in said
    assert _members(staff, "forged") == set()
    page.set_viewport_size(NARROW)
    shot(page, "people-executive-390")

    page.goto(server.url + "/dashboard/enablement?feature=quote-assistant")
    page.wait_for_selector("#playbook-card")
    for control in ("#playbook-form", "#training-forms-card", "#feedback-form", "#attendance-form"):
        assert page.locator(control).count() == 0
    status, said = replay(page, server, "training-save", {
        "enablement-feature": "quote-assistant", "training-title": "Forged", "training-trainer": "x",
        "training-stage": 1, "training-day": "2026-12-01", "enablement-version": 0})
    assert status == 200 and "your role may not schedule trainings" in said
    status, said = replay(page, server, "playbook-attach", {
        "enablement-feature": "quote-assistant", "playbook-choice": "company-wide-rollout",
        "enablement-version": 0})
    assert status == 200 and "your role may not attach playbooks" in said
    with staff["app"].app_context():
        assert db.session.scalar(select(TrainingSession).where(TrainingSession.title == "Forged")) is None
        assert db.session.scalar(select(Feature.playbook_key).where(Feature.key == "quote-assistant")) \
            != "company-wide-rollout"
    shot(page, "enablement-executive-390")
