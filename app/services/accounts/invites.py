"""Invitation links: an admin invites a user (or sends a locked-out one a new link) and the user
chooses their own password on the link's page, once. The admin never sees a password; only the
SHA-256 of the link's 256-bit secret is stored (as for API tokens), it expires after a week, the
newest link of a user withdraws the older ones, and choosing the password ends every session.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.db import db, utcnow
from app.errors import Collector, Conflict, NotFound
from app.models import User, UserInvite
from app.services.accounts import access
from app.services.accounts.passwords import hash_password, password_problem
from app.services.audit import audit
from app.token_secrets import hash_secret

VALID_FOR = timedelta(days=7)
PATH = "/invite/"


def link(base_url: str, secret: str) -> str:
    """The address the invited user opens: this Liftoff's address, then ``/invite/<secret>``."""
    return f"{base_url.rstrip('/')}{PATH}{secret}"


def _issue(user: User, actor: str, now: datetime) -> str:
    db.session.execute(update(UserInvite).where(
        UserInvite.user_id == user.id, UserInvite.used_at.is_(None), UserInvite.withdrawn_at.is_(None))
        .values(withdrawn_at=now))
    secret = secrets.token_urlsafe(32)
    db.session.add(UserInvite(user_id=user.id, secret_hash=hash_secret(secret), created_by=actor,
                              created_at=now, expires_at=now + VALID_FOR))
    db.session.flush()
    audit(actor, "user.invite", "user", user.email, None, {"expires_at": (now + VALID_FOR).isoformat()})
    return secret


def invite_user(email: str, role: str, actor: str) -> tuple[User, str]:
    """Create a user who has no password yet and an invitation for them; returns the user and the
    link's secret (shown once, kept nowhere). Same checks as ``access.create_user``."""
    # A password nobody knows (never shown, never stored but hashed): until the invite is used,
    # no login can succeed.
    user = access.create_user(email, role, access.generate_password(), actor)
    return user, _issue(user, actor, utcnow())


def reinvite(email: str, actor: str) -> tuple[User, str]:
    """A new link for an existing, active user (never used theirs, or forgot their password);
    their older links stop working. Their current password keeps working until they choose one."""
    user = access.get_user(email)
    if not user.active:
        raise Conflict(f"{user.email} is deactivated: reactivate them before sending a link")
    return user, _issue(user, actor, utcnow())


def pending(secret: str | None, now: datetime | None = None) -> tuple[UserInvite, User] | None:
    """The invitation ``secret`` opens, and its user, when it can still be used: not used, not
    withdrawn, not expired, and the user active. None otherwise (which of these is not said)."""
    if not isinstance(secret, str) or not 20 <= len(secret) <= 100:
        return None
    now = now or utcnow()
    found = db.session.execute(
        select(UserInvite, User).join(User, User.id == UserInvite.user_id)
        .where(UserInvite.secret_hash == hash_secret(secret))).first()
    if found is None:
        return None
    invite, user = found
    if invite.used_at or invite.withdrawn_at or invite.expires_at <= now or not user.active:
        return None
    return invite, user


def users_with_open_links(now: datetime | None = None) -> set[int]:
    """Ids of the users who hold a link they can still use (the Administration page says so)."""
    now = now or utcnow()
    return set(db.session.scalars(select(UserInvite.user_id).where(
        UserInvite.used_at.is_(None), UserInvite.withdrawn_at.is_(None), UserInvite.expires_at > now)))


def accept(secret: str | None, password: str, confirmation: str) -> User:
    """Set the invited user's password from the link (the policy of ``passwords``), use the link
    up, clear any lockout and end the user's other sessions.

    :raises NotFound: the link is unknown, used, withdrawn or expired.
    :raises ValidationFailed: the password breaks the policy or the two differ (field ``password``).
    """
    found = pending(secret)
    if found is None:
        raise NotFound("this invitation link is not valid any more: ask an admin for a new one")
    invite, user = found
    problems = Collector()
    if password != confirmation:
        problems.add("password", "the two passwords differ")
    elif reason := password_problem(password, user.email):
        problems.add("password", reason)
    problems.raise_if_any("invalid password")
    now = utcnow()
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    access.end_sessions(user)
    invite.used_at = now
    audit(user.email, "user.invite.accept", "user", user.email)
    return user
