"""Users and API tokens. Passwords use a slow KDF; tokens are stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from datetime import datetime, timedelta

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.db import db, utcnow
from app.errors import Collector, Conflict, NotFound
from app.models import ENVIRONMENTS, ROLES, TOKEN_KINDS, ApiToken, User
from app.models.access import ENVIRONMENT_KINDS

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
# Per client address, across accounts: stops one host from walking through many e-mails.
MAX_FAILED_LOGINS_PER_IP = 20
IP_WINDOW_SECONDS = 15 * 60


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_user(email: str, role: str, password: str) -> User:
    """Create a dashboard user.

    :param email: the login name.
    :param role: one of ``admin``, ``product``, ``change_manager``, ``executive``.
    :param password: at least 8 characters; stored as a scrypt hash.
    """
    problems = Collector()
    email = (email or "").strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        problems.add("email", f"not an e-mail address: {email!r}")
    if role not in ROLES:
        problems.add("role", f"must be one of {', '.join(ROLES)}")
    if len(password or "") < 8:
        problems.add("password", "must have at least 8 characters")
    problems.raise_if_any("invalid user")
    if db.session.scalar(select(User).where(User.email == email)):
        raise Conflict(f"a user with e-mail {email} exists already")
    user = User(email=email, role=role, password_hash=generate_password_hash(password))
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str, now: datetime | None = None) -> User | None:
    """The user if the password matches; repeated failures lock the account for a while."""
    now = now or utcnow()
    user = db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None or not user.active:
        # Spend the same time as a real check so timing does not reveal which e-mails exist.
        check_password_hash(generate_password_hash("x"), password or "")
        return None
    if user.locked_until and user.locked_until > now:
        return None
    if check_password_hash(user.password_hash, password or ""):
        user.failed_logins = 0
        user.locked_until = None
        return user
    user.failed_logins += 1
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.locked_until = now + LOCKOUT
        user.failed_logins = 0
    return None


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


def token_for_secret(secret: str, now: datetime | None = None) -> ApiToken | None:
    """The live token with this secret, or None when unknown, revoked or expired."""
    if not secret:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(secret)))
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= (now or utcnow()):
        return None
    return token


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


class LoginThrottle:
    """Failed logins per client address in a sliding window, kept in this process's memory.

    Each gunicorn worker counts on its own, so the real ceiling is the limit times the number of
    workers; the per-account lockout in the database is the shared, exact limit (docs/security.md).
    """

    def __init__(self, limit: int = MAX_FAILED_LOGINS_PER_IP, window_s: float = IP_WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window_s = window_s
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        while failures and now - failures[0] >= self.window_s:
            failures.popleft()
        return failures

    def blocked(self, address: str, now: float | None = None) -> bool:
        """True while this address has used up its failures for the window."""
        with self._lock:
            return len(self._recent(address, now or time.monotonic())) >= self.limit

    def failed(self, address: str, now: float | None = None) -> None:
        """Count one failed login from this address."""
        now = now or time.monotonic()
        with self._lock:
            if len(self._failures) > 100_000:  # bounded memory under a spray of addresses
                self._failures.clear()
            self._recent(address, now).append(now)
