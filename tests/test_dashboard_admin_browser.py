"""Administration, navigation per role and the monthly close's confirmation, in headless Chromium
against `liftoff serve` in a subprocess (the company, server and browser of
tests/test_dashboard_browser.py, own instances for this module). Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.db import db
from app.models import ApiToken, AuditEntry, User
from app.models.kpi import MonthlyClose
from app.services.accounts.access import authenticate, token_for_secret
from app.token_secrets import hash_secret
from tests.dashboard_support import ARTIFACTS, email_for
from tests.test_dashboard_browser import (  # noqa: F401
    _callback_request,
    browser,
    company,
    open_as,
    server,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _user(company, email: str) -> User | None:  # noqa: F811
    with company["app"].app_context():
        db.session.expire_all()
        user = db.session.scalar(select(User).where(User.email == email))
        if user is not None:
            db.session.expunge(user)
        return user


def _pick(page, dropdown: str, option: str) -> None:
    """Choose ``option`` (its label) in a dcc.Dropdown, as a user does: open it, click the option."""
    page.click(f"#{dropdown}")
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def _both_widths(page, name: str) -> None:
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(200)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}-{width}.png"), full_page=True)
        wide = page.evaluate("() => document.scrollingElement.scrollWidth > window.innerWidth")
        assert not wide, f"{name} scrolls sideways at {width} px"
    page.set_viewport_size({"width": 1366, "height": 768})


def test_an_admin_manages_users_and_tokens(open_as, company):  # noqa: F811
    page = open_as("admin", "/dashboard/admin")
    page.wait_for_selector("#admin-users")
    assert page.locator(".lo-nav-link", has_text="Administration").count() == 1
    assert email_for("executive") in page.inner_text("#admin-users")

    # A new user with a generated password, shown once.
    page.fill("#admin-new-email", "Newbie@Liftoff.test")
    _pick(page, "admin-new-role", "Product")
    page.click("#admin-create-user")
    page.wait_for_selector("#admin-generated-password")
    assert "Created Product user newbie@liftoff.test" in page.inner_text("#admin-user-done")
    generated = page.inner_text("#admin-generated-password").strip()
    page.wait_for_selector("#admin-users:has-text('newbie@liftoff.test')")
    assert page.input_value("#admin-new-email") == "" and page.input_value("#admin-new-password") == ""
    with company["app"].app_context():
        assert authenticate("newbie@liftoff.test", generated) is not None
    _both_widths(page, "admin-user-created")

    # A reset with a typed password; a weak one is refused, naming the field.
    _pick(page, "admin-user", "newbie@liftoff.test (Product, active)")
    page.fill("#admin-user-password", "password1234")
    page.click("#admin-reset-password")
    page.wait_for_selector("#admin-error")
    assert "password: too common or too easy to guess" in page.inner_text("#admin-error")
    page.fill("#admin-user-password", "violet tractor under eleven moons")
    page.click("#admin-reset-password")
    page.wait_for_selector("#admin-user-done:has-text('New password set for newbie@liftoff.test.')")
    assert page.locator("#admin-generated-password").count() == 0
    with company["app"].app_context():
        assert authenticate("newbie@liftoff.test", "violet tractor under eleven moons") is not None
        assert authenticate("newbie@liftoff.test", generated) is None

    # Another role, then deactivated and back.
    _pick(page, "admin-user-role", "Executive")
    page.click("#admin-change-role")
    page.wait_for_selector("#admin-user-done:has-text('newbie@liftoff.test is now Executive')")
    assert _user(company, "newbie@liftoff.test").role == "executive"
    page.click("#admin-deactivate")  # asks first, naming the user; Cancel changes nothing
    page.wait_for_selector("#admin-deactivate-text:has-text('newbie@liftoff.test is logged out at once')")
    page.click("#admin-deactivate-cancel")
    page.wait_for_selector("#admin-deactivate-dialog", state="hidden")
    assert _user(company, "newbie@liftoff.test").active is True
    page.click("#admin-deactivate")
    page.click("#admin-deactivate-confirm")
    page.wait_for_selector("#admin-user-done:has-text('newbie@liftoff.test deactivated')")
    assert _user(company, "newbie@liftoff.test").active is False
    page.wait_for_selector("#admin-users tr:has-text('newbie@liftoff.test'):has-text('deactivated')")
    page.click("#admin-reactivate")
    page.wait_for_selector("#admin-user-done:has-text('newbie@liftoff.test reactivated')")
    assert _user(company, "newbie@liftoff.test").active is True

    # The only admin cannot deactivate themselves.
    _pick(page, "admin-user", f"{email_for('admin')} (Admin, active)")
    page.click("#admin-deactivate")
    page.click("#admin-deactivate-confirm")
    page.wait_for_selector("#admin-error")
    assert f"{email_for('admin')} is the last active admin" in page.inner_text("#admin-error")
    assert _user(company, email_for("admin")).active is True

    # A token: its secret once, then only its prefix; revoked from the same page.
    page.fill("#admin-token-name", "crm <feed>")
    _pick(page, "admin-token-kind", "ingest — posts events and feedback only")
    page.click("#admin-create-token")
    page.wait_for_selector("#admin-token-secret")
    secret = page.inner_text("#admin-token-secret").strip()
    assert secret.startswith("lo_ingest_ingest.")
    with company["app"].app_context():
        # Read by its hash, not through token_for_secret: that would be a use, and "last used" must
        # still say "not yet" below.
        token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(secret)))
        assert token is not None and token.name == "crm <feed>" and token.kind == "ingest"
        token_id = token.id
    page.wait_for_selector("#admin-tokens:has-text('crm <feed>')")
    _both_widths(page, "admin-token-created")
    page.reload()
    page.wait_for_selector("#admin-tokens")
    assert secret not in page.content()
    assert secret.split(".")[1] not in page.content()
    assert "not yet" in page.locator("#admin-tokens tr", has_text="crm <feed>").inner_text()

    _pick(page, "admin-token-pick", f"#{token_id} crm <feed> (ingest, {secret[:secret.index('.') + 5]}…)")
    page.click("#admin-revoke-token")
    page.wait_for_selector(f"#admin-revoke-text:has-text('Token #{token_id} crm <feed>')")
    page.click("#admin-revoke-confirm")
    page.wait_for_selector("#admin-token-revoked")
    page.wait_for_selector("#admin-tokens tr:has-text('crm <feed>'):has-text('revoked')")
    with company["app"].app_context():
        assert token_for_secret(secret) is None
        actions = set(db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.actor == email_for("admin"))))
    assert {"user.create", "user.password", "user.role", "user.deactivate", "user.activate",
            "token.create", "token.revoke"} <= actions


def test_an_invited_user_chooses_their_own_password_from_the_link(open_as, company):  # noqa: F811
    page = open_as("admin", "/dashboard/admin")
    page.wait_for_selector("#admin-users")
    page.fill("#admin-new-email", "invitee@liftoff.test")
    _pick(page, "admin-new-role", "Executive")
    page.click("#admin-invite-user")
    page.wait_for_selector("#admin-invite-link")
    assert "Invited Executive user invitee@liftoff.test" in page.inner_text("#admin-user-done")
    link = page.inner_text("#admin-invite-link").strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/invite/[A-Za-z0-9_-]{43}", link), link
    page.wait_for_selector("#admin-users tr:has-text('invitee@liftoff.test'):has-text('link sent')")

    invitee = open_as(None, link[link.index("/invite/"):])  # a browser of their own, not signed in
    invitee.wait_for_selector("text=You were invited as")
    _both_widths(invitee, "invite-page")
    invitee.fill("#password", "amber kettle beyond seven hills")
    invitee.fill("#confirmation", "amber kettle beyond seven hills")
    invitee.click("button[type=submit]")
    invitee.wait_for_selector(".lo-nav-link:has-text('Executive')")
    with company["app"].app_context():
        assert authenticate("invitee@liftoff.test", "amber kettle beyond seven hills") is not None
    # The link is used up: opened again, it says so and offers the sign-in page.
    invitee.goto(link)
    invitee.wait_for_selector("text=This invitation link is not valid any more")


@pytest.mark.parametrize("role", ["product", "change_manager", "executive"])
def test_other_roles_have_no_administration_and_a_replay_is_refused(open_as, server, company, role):  # noqa: F811
    page = open_as(role)
    page.wait_for_selector("#portfolio-table")
    nav = page.inner_text(".lo-nav")
    assert "Administration" not in nav
    assert ("Operations" in nav) is (role == "product")  # admins and product teams only

    page.goto(server.url + "/dashboard/admin")
    page.wait_for_selector("#page-not-available")
    said = page.inner_text("#page-not-available")
    assert "The Administration page is not available to your role" in said and "It is for admins." in said
    assert page.locator("#admin-users").count() == 0 and page.locator("#admin-create-token").count() == 0
    shot(page, f"admin-refused-{role}")
    if role != "product":
        page.goto(server.url + "/dashboard/operations")
        page.wait_for_selector("#page-not-available")
        assert "It is for admins and product teams." in page.inner_text("#page-not-available")

    with company["app"].app_context():
        tokens_before = db.session.query(ApiToken).count()
    body = _callback_request(page, server, "admin-create-token")
    # The callback listens to both token buttons: send both, the create button clicked.
    spec = next(d for d in page.request.get(server.url + "/dashboard/_dash-dependencies").json()
                if any(i["id"] == "admin-create-token" for i in d["inputs"]))
    body["inputs"] = [{"id": i["id"], "property": i["property"],
                       "value": int(i["id"] == "admin-create-token")} for i in spec["inputs"]]
    values = {"admin-token-name": "forged", "admin-token-kind": "admin", "admin-token-env": None,
              "admin-token-pick": None, "admin-version": 0}
    body["state"] = [{**s, "value": values[s["id"]]} for s in body["state"]]
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "liftoff_csrf")
    forged = page.request.post(server.url + "/dashboard/_dash-update-component", data=json.dumps(body),
                               headers={"Content-Type": "application/json", "X-CSRFToken": csrf})
    assert forged.status == 200
    assert "your role may not manage users and tokens (admins only)" in forged.text()
    assert "lo_admin_admin." not in forged.text()
    with company["app"].app_context():
        assert db.session.query(ApiToken).count() == tokens_before


def test_the_close_asks_naming_the_month_and_refuses_an_empty_one(open_as, company):  # noqa: F811
    last_complete = (date.today().replace(day=1) - timedelta(days=1)).strftime("%B %Y")
    page = open_as("admin", "/dashboard/operations")
    page.wait_for_selector("#ops-jobs")
    page.locator("#ops-jobs tbody tr", has_text="monthly-close").get_by_role("button", name="Run now").click()
    page.wait_for_selector("#ops-close-dialog.lo-dialog-open")
    assert page.inner_text("#ops-close-text").startswith(f"Close {last_complete}?")
    assert page.inner_text("#ops-close-confirm") == f"Close {last_complete}"
    _both_widths(page, "operations-close-dialog")
    page.click("#ops-close-cancel")
    page.wait_for_selector("#ops-close-dialog", state="hidden")  # the callback closes it

    page.locator("#ops-jobs tbody tr", has_text="monthly-close").get_by_role("button", name="Run now").click()
    page.click("#ops-close-confirm")
    page.wait_for_selector("#ops-done")
    done = page.inner_text("#ops-done")
    assert re.search(r"monthly-close: warning \(run #\d+", done)
    assert f"{last_complete} has no events yet: nothing to close" in done  # the company has no events
    with company["app"].app_context():
        assert db.session.query(MonthlyClose).count() == 0
    shot(page, "operations-close-refused")
