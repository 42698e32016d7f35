"""Issue #14, sessions: logout and deactivation end every session at once, a safe ``next``, one
login throttle for every worker, the same work whatever the account's state, a password policy,
and login log lines nobody can forge."""

from __future__ import annotations

import logging
import re
import statistics
import time
from datetime import timedelta

import pytest
from flask import g
from hypothesis import given
from hypothesis import strategies as st

from app import create_app
from app.db import db, utcnow
from app.models import AuditEntry, User
from app.services.accounts import passwords
from app.services.accounts.access import create_user
from app.services.accounts.login import LoginThrottle
from app.web import DEFAULT_LANDING, safe_next

PASSWORD = "long enough password"


def _csrf(client) -> str:
    # The test's app context spans requests, and Flask-WTF caches a token in flask.g: a browser
    # that has none in its own session must get a new one, as it would from a real server.
    g.pop("csrf_token", None)
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, email: str, password: str = PASSWORD, query: str = "", address: str = "10.0.0.1"):
    form = {"email": email, "password": password, "csrf_token": _csrf(client)}
    return client.post(f"/login{query}", data=form, environ_base={"REMOTE_ADDR": address})


def copy_of(app, client):
    """Another browser holding a copy of ``client``'s session cookie, as a thief would."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


@pytest.fixture
def user(app) -> User:
    created = create_user("pm@example.com", "product", PASSWORD)
    db.session.commit()
    return created


def signed_in(client) -> bool:
    return client.get("/api/v1/features").status_code == 200


# -- sessions that end --------------------------------------------------------------------------------


def test_logout_ends_every_session_of_the_user_and_copied_cookies(app, client, user):
    assert login(client, user.email).status_code == 302
    copied = copy_of(app, client)
    laptop = app.test_client()
    assert login(laptop, user.email).status_code == 302
    assert signed_in(client) and signed_in(copied) and signed_in(laptop)
    client.post("/logout", data={"csrf_token": _csrf(client)})
    assert not signed_in(copied) and not signed_in(laptop) and not signed_in(client)
    assert login(app.test_client(), user.email).status_code == 302  # a new login works


@pytest.mark.parametrize("command", [
    ["deactivate", "pm@example.com"],
    ["set-role", "pm@example.com", "--role", "executive"],
    ["set-password", "pm@example.com", "--password", "another long passphrase"],
    ["end-sessions", "pm@example.com"],
])
def test_user_changes_end_every_session_at_once(app, client, runner, user, command):
    assert login(client, user.email).status_code == 302
    copied = copy_of(app, client)
    result = runner.invoke(args=["liftoff", "users", *command])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert not signed_in(client) and not signed_in(copied)
    # One entry for the change (creating the user is audited too, as user.create).
    assert db.session.query(AuditEntry).filter_by(entity_key="pm@example.com").filter(
        AuditEntry.action != "user.create").count() == 1


def test_re_enabling_a_user_does_not_revive_old_sessions(app, client, runner, user):
    assert login(client, user.email).status_code == 302
    copied = copy_of(app, client)
    assert runner.invoke(args=["liftoff", "users", "deactivate", user.email]).exit_code == 0
    assert runner.invoke(args=["liftoff", "users", "activate", user.email]).exit_code == 0
    db.session.expire_all()
    assert not signed_in(copied)
    assert login(app.test_client(), user.email).status_code == 302


def test_a_password_change_takes_effect_for_login(app, runner, user):
    new = "another long passphrase"
    result = runner.invoke(args=["liftoff", "users", "set-password", user.email, "--password", new])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert login(app.test_client(), user.email).status_code == 401
    assert login(app.test_client(), user.email, new).status_code == 302


def test_a_stale_cookie_cannot_log_the_user_out_elsewhere(app, client, user):
    assert login(client, user.email).status_code == 302
    stale = copy_of(app, client)
    client.post("/logout", data={"csrf_token": _csrf(client)})
    fresh = app.test_client()
    assert login(fresh, user.email).status_code == 302
    stale.post("/logout", data={"csrf_token": _csrf(stale)})
    assert signed_in(fresh)


# -- where a login leads --------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [
    "/%09/evil.example/phish", "//evil.example/phish", "/%5Cevil.example", "/%5C%5Cevil.example",
    "/%0a/evil.example", "/%0d%0aSet-Cookie:%20x=1", "https://evil.example/", "javascript:alert(1)",
    "/%20/evil.example", "/%00", "dashboard/", "%2F%2Fevil.example", "/%E2%80%A8/evil.example",
])
def test_an_unsafe_next_falls_back_to_the_dashboard(app, client, user, target):
    response = login(client, user.email, query=f"?next={target}")
    assert response.status_code == 302
    assert response.headers["Location"] == DEFAULT_LANDING


def test_a_same_site_next_is_kept(app, client, user):
    response = login(client, user.email, query="?next=/dashboard/executive%3Fmonth%3D2026-11")
    assert response.headers["Location"] == "/dashboard/executive?month=2026-11"


@given(st.text(max_size=60))
def test_safe_next_never_raises_and_only_answers_plain_paths(target):
    chosen = safe_next(target)
    assert chosen == DEFAULT_LANDING or (chosen == target and chosen.startswith("/")
                                         and not chosen.startswith("//") and chosen.isprintable()
                                         and "\\" not in chosen and not any(c.isspace() for c in chosen))


# -- one throttle for every worker ------------------------------------------------------------------------


def test_two_app_instances_share_the_address_throttle(app, database_url, user):
    other = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True, "SKIP_DASH": True,
                        "SECRET_KEY": "test-secret"})
    limits = LoginThrottle(per_address=3, per_account=100)
    app.extensions["liftoff_login_throttle"] = other.extensions["liftoff_login_throttle"] = limits
    first, second = app.test_client(), other.test_client()
    assert [login(first, f"guess{n}@example.com", "wrong").status_code for n in range(2)] == [401, 401]
    assert login(second, "guess2@example.com", "wrong").status_code == 401
    assert login(second, user.email, "wrong").status_code == 429  # the 3 failures seen by both
    assert login(first, "guess4@example.com", "wrong").status_code == 429
    assert login(second, user.email).status_code == 302  # never blocks the right password
    assert login(second, "guess5@example.com", "wrong", address="10.0.0.9").status_code == 401


def test_two_app_instances_share_the_account_lock(app, database_url, user):
    other = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True, "SKIP_DASH": True,
                        "SECRET_KEY": "test-secret"})
    first, second = app.test_client(), other.test_client()
    for n in range(5):  # five failures, from five addresses, through two instances
        browser = first if n % 2 else second
        assert login(browser, user.email, "wrong", address=f"10.0.1.{n}").status_code == 401
    db.session.expire_all()
    assert login(first, user.email, address="10.0.2.1").status_code == 401  # locked: even the right one
    locked_until = db.session.get(User, user.id).locked_until
    assert timedelta(minutes=14) < locked_until - utcnow() <= timedelta(minutes=15)


def test_an_unknown_e_mail_is_counted_like_a_known_one(app):
    throttle = LoginThrottle()
    for _ in range(3):
        throttle.record_failure("nobody@example.com", "10.0.0.1")
    assert throttle.account_failures("nobody@example.com") == 3
    assert throttle.address_failures("10.0.0.1") == 3


# -- the same work whatever the account's state ----------------------------------------------------------


@pytest.fixture
def accounts(app):
    """One account per state; the throttle high enough that the measurements never change them."""
    app.extensions["liftoff_login_throttle"] = LoginThrottle(per_account=10_000, per_address=10_000)
    create_user("known@example.com", "product", PASSWORD)
    locked = create_user("locked@example.com", "product", PASSWORD)
    locked.locked_until = utcnow() + timedelta(days=1)
    gone = create_user("gone@example.com", "product", PASSWORD)
    gone.active = False
    db.session.commit()
    return {"unknown": "nobody@example.com", "wrong password": "known@example.com",
            "locked": "locked@example.com", "deactivated": "gone@example.com"}


def test_every_account_state_costs_exactly_one_hash_check(app, client, accounts, monkeypatch):
    calls = []
    real = passwords.check_password_hash
    monkeypatch.setattr(passwords, "check_password_hash", lambda *a: calls.append(a) or real(*a))
    token = _csrf(client)
    for state, email in accounts.items():
        calls.clear()
        password = "wrong password!" if state == "wrong password" else PASSWORD
        answer = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
        assert answer.status_code == 401, state
        assert len(calls) == 1, state


@pytest.mark.slow
def test_login_timing_does_not_tell_account_states_apart(app, client, accounts):
    token = _csrf(client)
    timings: dict[str, list[float]] = {state: [] for state in accounts}
    for _ in range(30):  # interleaved, so a burst of load on the machine hits every state alike
        for state, email in accounts.items():
            password = "wrong password!" if state == "wrong password" else PASSWORD
            started = time.perf_counter()
            answer = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
            timings[state].append(time.perf_counter() - started)
            assert answer.status_code == 401
    medians = {state: statistics.median(values) for state, values in timings.items()}
    assert max(medians.values()) / min(medians.values()) < 1.25, medians


# -- password policy ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("password", "message"), [
    ("12345678", "must have at least 12 characters"),
    ("password", "must have at least 12 characters"),
    (" " * 8, "must have at least 12 characters"),
    (" " * 12, "must not be only spaces"),
    ("passwordpassword", "too common or too easy to guess"),
    ("123456789012", "too common or too easy to guess"),
    ("qwertyuiopasdf", "too common or too easy to guess"),
])
def test_weak_passwords_are_refused_by_users_create(runner, password, message):
    result = runner.invoke(args=["liftoff", "users", "create", "--email", "a@example.com", "--role", "admin",
                                 "--password", password])
    assert result.exit_code == 1
    assert f"password: {message}" in result.output
    assert db.session.query(User).count() == 0


def test_a_password_made_of_the_e_mail_is_refused():
    assert passwords.password_problem("quentin.blakemore") is None  # a fine password for someone else
    assert passwords.password_problem("quentin.blakemore", "quentin.blakemore@example.com").startswith(
        "too common or too easy to guess")


def test_set_password_applies_the_policy(runner, user):
    result = runner.invoke(args=["liftoff", "users", "set-password", user.email, "--password", "12345678"])
    assert result.exit_code == 1 and "password: must have at least 12 characters" in result.output


def test_a_good_passphrase_is_accepted(runner):
    result = runner.invoke(args=["liftoff", "users", "create", "--email", "a@example.com", "--role", "admin",
                                 "--password", "tangerine submarine orchestra"])
    assert result.exit_code == 0, result.output


# -- log lines ---------------------------------------------------------------------------------------------


def test_a_newline_in_the_login_e_mail_cannot_forge_a_log_line(app, client, caplog):
    forged = "x@example.com\n2026-11-01 10:00:00,000 INFO app.web login ok for admin@example.com"
    with caplog.at_level(logging.INFO, logger="app.web"):
        assert login(client, forged, "wrong", address="10.0.0.1\r\nforged").status_code == 401
    lines = [r.getMessage() for r in caplog.records if r.name == "app.web"]
    assert lines and all("\n" not in line and "\r" not in line for line in lines)
    assert any("x@example.com\\n2026-11-01" in line for line in lines)
