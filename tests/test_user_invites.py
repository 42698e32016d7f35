"""Invitation links: an admin invites a user, who chooses their own password on a one-time page;
links expire, a newer one withdraws the older, a deactivated user's link is dead, and nobody but
the user ever sees a password (docs/security.md, "Users")."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from flask import g
from sqlalchemy import select

from app.db import db, utcnow
from app.models import AuditEntry, UserInvite
from app.services.accounts import access, invites
from app.services.accounts.login import authenticate

PASSWORD = "violet tractor under eleven moons"


def _page(client, secret: str):
    g.pop("csrf_token", None)  # a fresh browser has no token of its own (see test_security_login)
    return client.get(f"/invite/{secret}")


def _choose(client, secret: str, password: str = PASSWORD, confirmation: str | None = None):
    page = _page(client, secret).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    again = password if confirmation is None else confirmation
    return client.post(f"/invite/{secret}",
                       data={"password": password, "confirmation": again, "csrf_token": token})


@pytest.fixture
def invited(app):
    user, secret = invites.invite_user("New.Hire@Liftoff.test", "change_manager", actor="admin@liftoff.test")
    db.session.commit()
    return user, secret


def test_the_invited_user_chooses_a_password_once_and_is_signed_in(app, client, invited, caplog):
    user, secret = invited
    assert user.email == "new.hire@liftoff.test" and user.role == "change_manager"
    assert authenticate(user.email, PASSWORD) is None  # no password of theirs yet
    page = _page(client, secret)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    assert "new.hire@liftoff.test" in page.get_data(as_text=True)

    differ = _choose(client, secret, confirmation=PASSWORD + "!")
    assert differ.status_code == 422 and "the two passwords differ" in differ.get_data(as_text=True)
    weak = _choose(client, secret, password="password1234")
    assert weak.status_code == 422 and "too common or too easy to guess" in weak.get_data(as_text=True)
    assert authenticate(user.email, PASSWORD) is None  # nothing was set by the refusals

    with caplog.at_level(logging.INFO):
        done = _choose(client, secret)
    assert done.status_code == 302 and done.headers["Location"] == "/dashboard/"
    assert client.get("/api/v1/features").status_code == 200  # signed in by that answer
    assert authenticate(user.email, PASSWORD) is not None
    assert _page(client, secret).status_code == 404  # used up
    assert _choose_on_dead_link(client, secret) == 404
    actions = list(db.session.scalars(select(AuditEntry.action).where(AuditEntry.entity_key == user.email)
                                      .order_by(AuditEntry.id)))
    assert actions == ["user.create", "user.invite", "user.invite.accept"]
    # Only the hash is kept; neither the secret nor the password reaches the audit log or a log line.
    stored = db.session.scalar(select(UserInvite.secret_hash))
    assert stored != secret and len(stored) == 64
    logged = " ".join(f"{a.before} {a.after}" for a in db.session.scalars(select(AuditEntry))) + caplog.text
    assert secret not in logged and PASSWORD not in logged


def _choose_on_dead_link(client, secret: str) -> int:
    g.pop("csrf_token", None)
    client.get("/login")  # any page hands out a CSRF token; the dead link's page has no form
    token = g.get("csrf_token")
    return client.post(f"/invite/{secret}", data={"password": PASSWORD, "confirmation": PASSWORD,
                                                   "csrf_token": token}).status_code


def test_a_new_link_withdraws_the_older_and_links_expire(app, client, invited):
    user, first = invited
    _, second = invites.reinvite(user.email, actor="admin@liftoff.test")
    db.session.commit()
    assert _page(client, first).status_code == 404
    assert _page(client, second).status_code == 200
    db.session.execute(UserInvite.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert _page(client, second).status_code == 404
    assert invites.pending(second) is None
    # Seven days from its making, not more.
    _, third = invites.reinvite(user.email, actor="admin@liftoff.test")
    invite, _ = invites.pending(third)
    assert invite.expires_at - invite.created_at == timedelta(days=7)


def test_a_deactivated_user_s_link_is_dead_and_gets_no_new_one(app, client, invited):
    user, secret = invited
    access.set_active(user.email, False, actor="admin@liftoff.test")
    db.session.commit()
    assert _page(client, secret).status_code == 404
    with pytest.raises(Exception, match="deactivated"):
        invites.reinvite(user.email, actor="admin@liftoff.test")


def test_bad_invitations_are_refused_naming_the_field(app):
    with pytest.raises(Exception) as refused:
        invites.invite_user("not-an-address", "chief", actor="admin@liftoff.test")
    fields = {d.field for d in refused.value.details}
    assert fields == {"email", "role"}
    assert db.session.scalar(select(UserInvite)) is None
    for junk in (None, "", "x" * 500, "short"):
        assert invites.pending(junk) is None


def test_the_cli_prints_a_link_that_works(app, client, runner):
    made = runner.invoke(args=["liftoff", "users", "invite", "--email", "cli@liftoff.test",
                               "--role", "executive", "--base-url", "https://liftoff.example.com/"])
    assert made.exit_code == 0, made.output
    link = made.stdout.strip().splitlines()[-1]
    assert link.startswith("https://liftoff.example.com/invite/")
    secret = link.rsplit("/", 1)[1]
    assert _choose(client, secret).status_code == 302
    again = runner.invoke(args=["liftoff", "users", "new-link", "cli@liftoff.test", "--base-url", "http://h:1"])
    assert again.exit_code == 0, again.output
    assert again.stdout.strip().splitlines()[-1].startswith("http://h:1/invite/")
