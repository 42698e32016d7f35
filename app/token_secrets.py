"""API token secrets: how one is read from an ``Authorization`` header, how it is stored (a SHA-256
hash, never the secret) and which live token it opens. The one bearer parser: the REST API's
identity (app/security.py), the Unleash APIs' token cache (app/flags/clients.py) and the poll
shortcut (app/flags/fast_path.py) all read the header here. It sits below the services and the flags
so both may use it without importing each other."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select

from app.db import db, utcnow
from app.models import ApiToken

_BEARER = "bearer "


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_from_authorization(header: str | None, *, bare: bool) -> str | None:
    """The secret an ``Authorization`` header carries: ``Bearer <secret>`` (the scheme in any case).

    :param bare: also take a header that is the secret alone, as Unleash SDKs send it (the client and
        frontend APIs); the REST API takes only ``Bearer`` and reads the session otherwise.
    :returns: the secret (empty when the header names the scheme but no secret), or None when the
        header carries none.
    """
    value = (header or "").strip()
    if value[:7].lower() == _BEARER:
        return value[7:].strip()
    return value if bare else None


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
