"""API token secrets: how one is read from an ``Authorization`` header, how it is stored (a SHA-256
hash, never the secret) and which live token it opens. The one bearer parser: the REST API's
identity (app/security.py), the Unleash APIs' token cache (app/flags/clients.py) and the poll
shortcut (app/flags/fast_path.py) all read the header here. It sits below the services and the flags
so both may use it without importing each other."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.attributes import set_committed_value

from app.db import db, utcnow
from app.models import ApiToken

log = logging.getLogger(__name__)
_BEARER = "bearer "
LAST_USE_EVERY = timedelta(minutes=1)


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
    """The live token with this secret, or None when unknown, revoked or expired. A live token's
    use is noted (``last_used_at``, at most once a minute)."""
    if not secret:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(secret)))
    if token is None or token.revoked_at is not None:
        return None
    now = now or utcnow()
    if token.expires_at is not None and token.expires_at <= now:
        return None
    _note_use(token, now)
    return token


def _note_use(token: ApiToken, now: datetime) -> None:
    """Record that ``token`` was used, in a short transaction of its own: a reading request never
    commits, and a refused one rolls back, but the use happened either way. Best effort: a
    failure here (a busy database) never refuses the request."""
    if token.last_used_at is not None and now - token.last_used_at < LAST_USE_EVERY:
        return
    try:
        with db.engine.begin() as connection:
            # Never make the request wait for a writer holding the row or the database: a quarter
            # of a second, then give up (the next use notes it).
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("SET LOCAL lock_timeout = '250ms'")
            elif connection.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA busy_timeout=250")
            try:
                connection.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
            finally:
                if connection.dialect.name == "sqlite":
                    connection.exec_driver_sql("PRAGMA busy_timeout=10000")  # app/db.py's own
    except SQLAlchemyError as error:
        log.warning("could not note the use of token %s: %s", token.id, error)
        return
    set_committed_value(token, "last_used_at", now)  # what the database holds now, not a change
