"""Users and API tokens. Passwords use a slow KDF; tokens are stored only as hashes."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select

from app.db import db, utcnow
from app.errors import Collector, Conflict, NotFound
from app.models import ENVIRONMENTS, ROLES, TOKEN_KINDS, ApiToken, User
from app.models.access import ENVIRONMENT_KINDS
from app.services.accounts.login import authenticate  # noqa: F401  (where callers have always found it)
from app.services.accounts.passwords import hash_password, password_problem
from app.services.audit import audit
from app.token_secrets import hash_secret, token_for_secret  # noqa: F401  (their home is below the services)


def create_user(email: str, role: str, password: str) -> User:
    """Create a dashboard user.

    :param email: the login name.
    :param role: one of ``ROLES`` (``admin``, ``product``, ``change_manager``, ``executive``, ``reviewer``).
    :param password: at least 12 characters and not guessable (``passwords.password_problem``);
        stored as a scrypt hash.
    """
    problems = Collector()
    email = (email or "").strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        problems.add("email", f"not an e-mail address: {email!r}")
    if role not in ROLES:
        problems.add("role", f"must be one of {', '.join(ROLES)}")
    if reason := password_problem(password, email):
        problems.add("password", reason)
    problems.raise_if_any("invalid user")
    if db.session.scalar(select(User).where(User.email == email)):
        raise Conflict(f"a user with e-mail {email} exists already")
    user = User(email=email, role=role, password_hash=hash_password(password))
    db.session.add(user)
    db.session.flush()
    return user


def get_user(email: str) -> User:
    user = db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None:
        raise NotFound(f"no user with e-mail {email}")
    return user


def end_sessions(user: User) -> None:
    """End every session of ``user`` at once: cookies issued before carry an older version."""
    user.session_version = (user.session_version or 0) + 1


def set_password(email: str, password: str, actor: str) -> User:
    """Give the user a new password (same policy as at creation); ends their sessions.

    :param actor: who did it, for the audit log.
    """
    user = get_user(email)
    if reason := password_problem(password, user.email):
        problems = Collector()
        problems.add("password", reason)
        problems.raise_if_any("invalid password")
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    end_sessions(user)
    audit(actor, "user.password", "user", user.email)
    return user


def set_role(email: str, role: str, actor: str) -> User:
    """Change the user's role; ends their sessions, so no page keeps the old role's view.

    :param actor: who did it, for the audit log.
    """
    user = get_user(email)
    if role not in ROLES:
        problems = Collector()
        problems.add("role", f"must be one of {', '.join(ROLES)}")
        problems.raise_if_any("invalid role")
    before = user.role
    user.role = role
    end_sessions(user)
    audit(actor, "user.role", "user", user.email, {"role": before}, {"role": role})
    return user


def set_active(email: str, active: bool, actor: str) -> User:
    """Deactivate (or re-activate) the user. Either way their sessions end: a session from before
    a deactivation never comes back to life with the account.

    :param actor: who did it, for the audit log.
    """
    user = get_user(email)
    before = user.active
    user.active = active
    end_sessions(user)
    audit(actor, "user.activate" if active else "user.deactivate", "user", user.email,
          {"active": before}, {"active": active})
    return user


def create_token(
    kind: str,
    environment: str | None = None,
    name: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create an API token and return it with its secret (the only time the secret exists).

    :param kind: ``admin`` (REST API), ``ingest`` (events and feedback), ``client`` (server-side
        SDKs: the whole flag payload) or ``frontend`` (browser and mobile apps: the frontend API).
    :param environment: for client and frontend tokens, ``development`` or ``production`` (default).
    """
    problems = Collector()
    if kind not in TOKEN_KINDS:
        problems.add("kind", f"must be one of {', '.join(TOKEN_KINDS)}")
    if kind in ENVIRONMENT_KINDS:
        environment = environment or "production"
        if environment not in ENVIRONMENTS:
            problems.add("environment", f"must be one of {', '.join(ENVIRONMENTS)}")
    elif environment is not None:
        problems.add("environment", "only client and frontend tokens belong to an environment")
    problems.raise_if_any("invalid token")
    # The environment is part of the visible prefix, as Unleash tokens carry theirs.
    scope = environment or kind
    secret = f"lo_{kind}_{scope}.{secrets.token_hex(32)}"
    token = ApiToken(
        name=name or f"{kind} token",
        kind=kind,
        environment=environment,
        token_hash=hash_secret(secret),
        prefix=secret[: secret.index(".") + 5],
        expires_at=expires_at,
    )
    db.session.add(token)
    db.session.flush()
    return token, secret


def revoke_token(token_id: int) -> ApiToken:
    """Revoke a token (idempotent). Running processes cache client-token facts for up to
    10 seconds (app/flags/clients.py), so SDK polls stop within that time."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token with id {token_id}")
    token.revoked_at = token.revoked_at or utcnow()
    return token


def list_tokens() -> list[ApiToken]:
    """Every token, newest first, revoked and expired ones included (never their secrets)."""
    return list(db.session.scalars(select(ApiToken).order_by(ApiToken.id.desc())))


def token_state(token: ApiToken, now: datetime | None = None) -> str:
    """``active``, ``revoked`` or ``expired``."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= (now or utcnow()):
        return "expired"
    return "active"
