"""Administration of users and tokens: the last admin is kept, every change is audited, the CLI
has the same verbs as the dashboard."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import db
from app.errors import Conflict
from app.models import AuditEntry, User
from app.services.accounts import access
from app.services.accounts.passwords import password_problem

PASSWORD = "correct horse battery staple"


def _actions() -> list[tuple[str, str, str]]:
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))
    return [(a.actor, a.action, a.entity_key) for a in entries]


def test_the_last_active_admin_can_be_neither_demoted_nor_deactivated(app):
    access.create_user("root@liftoff.test", "admin", PASSWORD, actor="t")
    access.create_user("pat@liftoff.test", "product", PASSWORD, actor="t")
    with pytest.raises(Conflict, match="root@liftoff.test is the last active admin"):
        access.set_role("root@liftoff.test", "executive", actor="t")
    with pytest.raises(Conflict, match="last active admin: deactivating them"):
        access.set_active("root@liftoff.test", False, actor="t")
    # An inactive admin does not count: promoting a second active one frees the first.
    access.set_role("pat@liftoff.test", "admin", actor="t")
    access.set_active("root@liftoff.test", False, actor="t")
    with pytest.raises(Conflict):
        access.set_role("pat@liftoff.test", "product", actor="t")
    assert db.session.get(User, access.get_user("pat@liftoff.test").id).role == "admin"
    # Keeping the role is no demotion.
    access.set_role("pat@liftoff.test", "admin", actor="t")


def test_user_and_token_changes_are_audited_without_secrets(app):
    access.create_user("ann@liftoff.test", "change_manager", PASSWORD, actor="boss")
    access.set_password("ann@liftoff.test", "another long unusual phrase", actor="boss")
    token, secret = access.create_token("ingest", name="crm feed", actor="boss")
    access.revoke_token(token.id, actor="boss")
    access.revoke_token(token.id, actor="boss")  # again: nothing new to record
    assert _actions() == [
        ("boss", "user.create", "ann@liftoff.test"), ("boss", "user.password", "ann@liftoff.test"),
        ("boss", "token.create", str(token.id)), ("boss", "token.revoke", str(token.id)),
    ]
    logged = " ".join(f"{a.before} {a.after}" for a in db.session.scalars(select(AuditEntry)))
    assert secret not in logged and secret.split(".")[1][:8] not in logged
    assert PASSWORD not in logged


def test_generated_passwords_pass_the_policy_and_differ():
    made = {access.generate_password() for _ in range(5)}
    assert len(made) == 5
    assert all(password_problem(p, "someone@liftoff.test") is None for p in made)


def test_cli_lists_users_and_refuses_the_last_admin(runner):
    created = runner.invoke(args=["liftoff", "users", "create", "--email", "boss@liftoff.test",
                                  "--role", "admin", "--generate-password"])
    assert created.exit_code == 0, created.output
    password = created.stdout.strip().splitlines()[-1]
    assert access.authenticate("boss@liftoff.test", password) is not None
    listed = runner.invoke(args=["liftoff", "users", "list"])
    assert "boss@liftoff.test" in listed.stdout and "admin" in listed.stdout and "1 user(s)" in listed.stdout
    refused = runner.invoke(args=["liftoff", "users", "deactivate", "boss@liftoff.test"])
    assert refused.exit_code != 0
    assert "last active admin" in refused.output + refused.stderr
    assert access.get_user("boss@liftoff.test").active
    tokens = runner.invoke(args=["liftoff", "tokens", "list"])
    assert "last used" in tokens.stdout


def test_a_token_s_use_is_noted_even_by_a_request_that_only_reads(app, client):
    token, secret = access.create_token("admin", name="script", actor="t")
    db.session.commit()
    assert access.token_last_used([token.id]) == {}
    response = client.get("/api/v1/features", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    db.session.expire_all()
    first = access.token_last_used([token.id])[token.id]
    # Within the minute: not written again.
    client.get("/api/v1/features", headers={"Authorization": f"Bearer {secret}"})
    db.session.expire_all()
    assert access.token_last_used([token.id])[token.id] == first
