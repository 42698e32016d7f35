"""The Administration page's writes, each re-checking on the server that the caller is an admin.

They go through app/services/accounts/access.py (password policy, the last-admin rule, sessions
ended on a change, audit entries with the admin as actor) and never commit: the callback does.
"""

from __future__ import annotations

from flask import current_app, request

from app.errors import Collector, Detail, ValidationFailed
from app.models import ApiToken, User
from app.security import Identity, dashboard_action, user_may
from app.services.accounts import access, invites
from dashboards.admin.data import needs_environment

REFUSAL = "manage users and tokens (admins only)"


def may_administer(identity: Identity | None) -> bool:
    return user_may(identity, "accounts:admin")


def _password_or_generated(password: str | None) -> tuple[str, str | None]:
    """The typed password, or a generated one (returned second, to be shown once)."""
    if password:
        return password, None
    made = access.generate_password()
    return made, made


@dashboard_action("accounts:admin", REFUSAL)
def create_user(identity: Identity, email: str | None, role: str | None,
                password: str | None) -> tuple[User, str | None]:
    """Create a user with the typed password or, with none typed, a generated one.

    :returns: the user and the generated password (None when one was typed).
    """
    problems = Collector()
    if not role:
        problems.add("role", "choose a role")
    problems.raise_if_any("invalid user; nobody was created")
    assert role  # an empty role was reported above
    password, generated = _password_or_generated(password)
    return access.create_user(email or "", role, password, actor=identity.name), generated


def _link(secret: str) -> str:
    # The configured public address when there is one (behind a proxy the request's host may be an
    # internal one), else the address this admin reached the dashboard at.
    return invites.link(current_app.config.get("PUBLIC_URL") or request.host_url, secret)


@dashboard_action("accounts:admin", REFUSAL)
def invite_user(identity: Identity, email: str | None, role: str | None) -> tuple[User, str]:
    """Create a user without a password and a one-time link where they choose theirs.

    :returns: the user and the link (shown once; only its hash is kept).
    """
    problems = Collector()
    if not role:
        problems.add("role", "choose a role")
    problems.raise_if_any("invalid user; nobody was invited")
    assert role  # an empty role was reported above
    user, secret = invites.invite_user(email or "", role, actor=identity.name)
    return user, _link(secret)


@dashboard_action("accounts:admin", REFUSAL)
def new_link(identity: Identity, email: str | None) -> tuple[User, str]:
    """A new one-time link for a user to choose a password; their older links stop working."""
    user, secret = invites.reinvite(_chosen(email), actor=identity.name)
    return user, _link(secret)


@dashboard_action("accounts:admin", REFUSAL)
def reset_password(identity: Identity, email: str | None,
                   password: str | None) -> tuple[User, str | None]:
    """A new password (typed or generated); every session of the user ends."""
    password, generated = _password_or_generated(password)
    return access.set_password(_chosen(email), password, actor=identity.name), generated


@dashboard_action("accounts:admin", REFUSAL)
def change_role(identity: Identity, email: str | None, role: str | None) -> User:
    """Another role (not away from the last active admin); every session of the user ends."""
    return access.set_role(_chosen(email), role or "", actor=identity.name)


@dashboard_action("accounts:admin", REFUSAL)
def set_active(identity: Identity, email: str | None, active: bool) -> User:
    """Deactivate (not the last active admin) or reactivate; every session of the user ends."""
    return access.set_active(_chosen(email), active, actor=identity.name)


@dashboard_action("accounts:admin", REFUSAL)
def create_token(identity: Identity, kind: str | None, environment: str | None,
                 name: str | None) -> tuple[ApiToken, str]:
    """A new token and its secret, which the page shows once and nothing keeps."""
    problems = Collector()
    if not kind:
        problems.add("kind", "choose a kind")
    if not (name or "").strip():
        problems.add("name", "give the token a name to recognise it by")
    problems.raise_if_any("invalid token; none was created")
    assert kind and name  # both were checked above
    environment = (environment or "production") if needs_environment(kind) else None
    return access.create_token(kind, environment, name.strip(), actor=identity.name)


@dashboard_action("accounts:admin", REFUSAL)
def revoke_token(identity: Identity, token_id: int | None) -> ApiToken:
    if token_id is None:
        raise ValidationFailed("no token was revoked", [Detail("token", "choose a token to revoke")])
    return access.revoke_token(token_id, actor=identity.name)


def _chosen(email: str | None) -> str:
    if not email:
        raise ValidationFailed("nothing was changed", [Detail("user", "choose a user first")])
    return email
