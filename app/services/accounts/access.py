"""Users and API tokens. Passwords use a slow KDF; tokens are stored only as hashes."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from sqlalchemy import func, select

from app.db import db, utcnow
from app.errors import Collector, Conflict, Detail, NotFound
from app.models import ENVIRONMENTS, ROLES, TOKEN_KINDS, ApiToken, User
from app.models.access import ENVIRONMENT_KINDS
from app.services.accounts.login import authenticate  # noqa: F401  (where callers have always found it)
from app.services.accounts.passwords import hash_password, password_problem
from app.services.audit import audit
from app.token_secrets import hash_secret, token_for_secret  # noqa: F401  (their home is below the services)

log = logging.getLogger(__name__)


def generate_password() -> str:
    """A password an admin can hand over once: 24 random URL-safe characters (144 bits), which the
    policy always accepts (zxcvbn scores random strings of this length 4)."""
    return secrets.token_urlsafe(18)


def create_user(email: str, role: str, password: str, actor: str = "system") -> User:
    """Create a dashboard user (audited as ``user.create``; the password never is).

    :param email: the login name.
    :param role: one of ``ROLES`` (``admin``, ``product``, ``change_manager``, ``executive``, ``reviewer``).
    :param password: at least 12 characters and not guessable (``passwords.password_problem``);
        stored as a scrypt hash.
    :param actor: who did it, for the audit log.
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
    audit(actor, "user.create", "user", user.email, None, {"role": role, "active": True})
    return user


def list_users() -> list[User]:
    """Every user, by e-mail, inactive ones included."""
    return list(db.session.scalars(select(User).order_by(User.email)))


class LastAdmin(Conflict):
    """The change would leave nobody who can manage users: refused, whoever asks."""

    def __init__(self, email: str, what: str):
        super().__init__(f"{email} is the last active admin: {what} would leave nobody to manage "
                         "users; make another user admin first",
                         [Detail("email", "is the last active admin")])


def _keep_an_admin(user: User, what: str) -> None:
    """Refuse to take the last active admin's admin rights away (demotion or deactivation)."""
    if user.role != "admin" or not user.active:
        return
    others = db.session.scalar(select(func.count()).select_from(User).where(
        User.role == "admin", User.active.is_(True), User.id != user.id))
    if not others:
        raise LastAdmin(user.email, what)


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
    if role != before:
        _keep_an_admin(user, f"making them {role.replace('_', ' ')}")
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
    if not active:
        _keep_an_admin(user, "deactivating them")
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
    actor: str = "system",
) -> tuple[ApiToken, str]:
    """Create an API token and return it with its secret (the only time the secret exists).

    :param kind: ``admin`` (REST API), ``ingest`` (events and feedback), ``client`` (server-side
        SDKs: the whole flag payload) or ``frontend`` (browser and mobile apps: the frontend API).
    :param environment: for client and frontend tokens, ``development`` or ``production`` (default).
    :param actor: who did it, for the audit log (``token.create``; the secret is never logged).
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
    if name is not None and len(name) > 200:
        problems.add("name", "must have at most 200 characters")
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
    audit(actor, "token.create", "token", str(token.id), None,
          {"kind": kind, "environment": environment, "name": token.name, "prefix": token.prefix})
    return token, secret


def revoke_token(token_id: int, actor: str = "system") -> ApiToken:
    """Revoke a token (idempotent: revoking it again records nothing). Running processes cache
    client-token facts for up to 10 seconds (app/flags/clients.py), so SDK polls stop within that time.

    :param actor: who did it, for the audit log (``token.revoke``).
    """
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit(actor, "token.revoke", "token", str(token.id), {"revoked": False},
              {"revoked": True, "name": token.name})
    return token


def token_last_used(token_ids: list[int]) -> dict[int, datetime]:
    """When each token was last seen: its own ``last_used_at`` or, for SDK tokens, the latest
    poll of an SDK instance registered with it, whichever is later."""
    from app.models.operations import SdkInstance

    seen: dict[int, datetime] = {}
    for token in db.session.scalars(select(ApiToken).where(ApiToken.id.in_(token_ids))):
        if token.last_used_at is not None:
            seen[token.id] = token.last_used_at
    polls = db.session.execute(select(SdkInstance.token_id, func.max(SdkInstance.last_seen))
                               .where(SdkInstance.token_id.in_(token_ids))
                               .group_by(SdkInstance.token_id))
    for token_id, last_seen in polls:
        # token_id is never None here (IN excludes NULL); the check narrows the nullable column.
        if token_id is not None and last_seen is not None and (
                token_id not in seen or last_seen > seen[token_id]):
            seen[token_id] = last_seen
    return seen


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
