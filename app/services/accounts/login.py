"""Logging in: one password check per attempt whatever the account's state, and one throttle for
every worker, kept in the database (``login_failures``).

- Per account: ``per_account`` failures within ``window`` lock the account for ``lockout``; a
  locked account refuses even the right password. Failures are counted per e-mail as typed, known
  or not, so an unknown e-mail behaves like a known one.
- Per client address: after ``per_address`` failures within ``window`` a wrong password answers
  429 instead of 401. The right password still logs in (the address may be a shared proxy or an
  office; one guesser there must not lock everyone out): the per-account lock bounds guessing.

Nothing here depends on whether the account exists, is locked or deactivated except the verdict:
the same queries, one hash check (a dummy hash for no account), one failure row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from app.db import db, utcnow
from app.models import LoginFailure, User
from app.services.accounts.passwords import verify_password

ACCOUNT_LENGTH = 320  # login_failures.account, users.email
ADDRESS_LENGTH = 100  # login_failures.address


@dataclass(frozen=True)
class LoginThrottle:
    """The limits; the failures themselves live in the database, shared by every process."""

    per_account: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)

    def address_failures(self, address: str, now: datetime | None = None) -> int:
        """Failed logins from ``address`` within the window."""
        since = (now or utcnow()) - self.window
        return db.session.scalar(select(func.count(LoginFailure.id)).where(
            LoginFailure.address == address[:ADDRESS_LENGTH], LoginFailure.failed_at > since)) or 0

    def address_blocked(self, address: str, now: datetime | None = None) -> bool:
        """True while ``address`` has used up its failures for the window."""
        return self.address_failures(address, now) >= self.per_address

    def account_failures(self, account: str, now: datetime | None = None) -> int:
        since = (now or utcnow()) - self.window
        return db.session.scalar(select(func.count(LoginFailure.id)).where(
            LoginFailure.account == account[:ACCOUNT_LENGTH], LoginFailure.failed_at > since)) or 0

    def record_failure(self, account: str, address: str, now: datetime | None = None) -> int:
        """Count one failure; returns the account's failures within the window, this one included."""
        now = now or utcnow()
        self._forget_old(now)
        db.session.add(LoginFailure(account=account[:ACCOUNT_LENGTH], address=address[:ADDRESS_LENGTH],
                                    failed_at=now))
        db.session.flush()
        return self.account_failures(account, now)

    def _forget_old(self, now: datetime) -> None:
        # A few hundred expired rows at a time; on PostgreSQL rows another worker is deleting are
        # skipped rather than waited for, so concurrent failed logins never block each other.
        stale = select(LoginFailure.id).where(LoginFailure.failed_at <= now - self.window).limit(200)
        if db.session.get_bind().dialect.name == "postgresql":
            stale = stale.with_for_update(skip_locked=True)
        db.session.execute(delete(LoginFailure).where(LoginFailure.id.in_(stale.scalar_subquery()))
                           .execution_options(synchronize_session=False))


@dataclass(frozen=True)
class LoginResult:
    user: User | None  # set when the login succeeded
    address_blocked: bool  # the address had used up its failures before this attempt


def account_name(email: str | None) -> str:
    return (email or "").strip().lower()[:ACCOUNT_LENGTH]


def attempt_login(email: str, password: str, address: str, throttle: LoginThrottle | None = None,
                  now: datetime | None = None) -> LoginResult:
    """Check one login attempt; flushes the failure (the caller commits it either way).

    :param address: the client's address (``request.remote_addr``).
    :param throttle: the limits (default :class:`LoginThrottle`).
    """
    throttle = throttle or LoginThrottle()
    now = now or utcnow()
    blocked = throttle.address_blocked(address, now)
    return LoginResult(authenticate(email, password, address, throttle, now), blocked)


def authenticate(email: str, password: str, address: str = "unknown", throttle: LoginThrottle | None = None,
                 now: datetime | None = None) -> User | None:
    """The user if the password matches an active, unlocked account; else None, the failure counted
    and the account locked once it has ``per_account`` failures within the window."""
    throttle = throttle or LoginThrottle()
    now = now or utcnow()
    account = account_name(email)
    user = db.session.scalar(select(User).where(User.email == account))
    matched = verify_password(user.password_hash if user is not None else None, password)
    locked = user is not None and user.locked_until is not None and user.locked_until > now
    if user is not None and user.active and not locked and matched:
        db.session.execute(delete(LoginFailure).where(LoginFailure.account == account)
                           .execution_options(synchronize_session=False))
        user.failed_logins, user.locked_until = 0, None
        return user
    failures = throttle.record_failure(account, address, now)
    if user is not None:
        user.failed_logins = failures
        if failures >= throttle.per_account and not locked:
            user.locked_until = now + throttle.lockout
    return None
