"""Who may do what: dashboard users with roles, and API tokens (stored only as hashes)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime, db, utcnow

ROLES = ("admin", "product", "change_manager", "executive", "reviewer")
TOKEN_KINDS = ("admin", "ingest", "client", "frontend")
# Kinds bound to one flag environment: ``client`` (server-side SDKs), ``frontend`` (browser/mobile).
ENVIRONMENT_KINDS = ("client", "frontend")
ENVIRONMENTS = ("development", "production")


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Executives who get the printable monthly ROI report e-mailed at each monthly close.
    monthly_report: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Every session cookie carries the version it was issued under; logout, deactivation and a
    # change of password or role bump it, which ends all of the user's sessions at once.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class UserInvite(db.Model):
    """A link that lets a new (or locked-out) user choose their own password, once: the admin never
    sees or hands over a password. Only the SHA-256 of the link's 256-bit secret is kept."""

    __tablename__ = "user_invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when the password was chosen; a newer invite for the same user withdraws older ones.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    # Client and frontend tokens belong to one environment; other kinds have none.
    environment: Mapped[str | None] = mapped_column(String(40))
    # SHA-256 of the secret: tokens are 256-bit random, so a fast hash cannot be brute-forced.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, shown in listings so a token can be recognised without the secret.
    prefix: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(db.Model):
    """One failed login, kept for the throttle window so that every worker counts the same
    failures (per account e-mail as typed, and per client address)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_account_at", "account", "failed_at"),
        Index("ix_login_failures_address_at", "address", "failed_at"),
        Index("ix_login_failures_failed_at", "failed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(100))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
