"""The compiled flag payload of each environment, cached in the process with its ETag.

SDKs poll every few seconds, so a poll must not touch the database. Each process keeps the
serialised body and its ETag per environment. A change made by this process empties the cache as
its transaction commits; a change made by another process (gunicorn runs several) moves the
``flag_revisions`` counter, which each process reads at most once a second.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import cast

from flask import current_app, has_app_context
from sqlalchemy import CursorResult, event, insert, select, update
from sqlalchemy.orm import Session

from app.db import db, utcnow
from app.models import FlagRevision

REVISION_CHECK_SECONDS = 1.0
# An SDK that sends this header with the value ``context`` gets the compact payload: cohort
# segments test the liftoffCohorts context field instead of listing every member (docs/rollouts.md).
COHORTS_HEADER = "Liftoff-Cohorts"
COHORTS_BY_CONTEXT = "context"
_COMPACT = "+cohorts-by-context"  # suffix of a cache key: the compact form of an environment
_CHANGED = "liftoff_flags_changed"


@dataclass(frozen=True)
class Payload:
    body: bytes
    etag: str  # strong: the quoted SHA-256 of the body, so it changes exactly when the body does
    revision: int


class PayloadCache:
    """Per-app cache (tests run many apps, each on its own database, in one process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._payloads: dict[str, Payload] = {}
        self._checked_at: dict[str, float] = {}

    def invalidate(self) -> None:
        with self._lock:
            self._checked_at.clear()

    def fresh(self, environment: str, now: float) -> Payload | None:
        """The payload if it was checked against the revision less than a second ago, else None."""
        cached = self._payloads.get(environment)
        if cached is not None and now - self._checked_at.get(environment, -1e9) < REVISION_CHECK_SECONDS:
            return cached
        return None

    def get(self, environment: str) -> Payload:
        now = time.monotonic()
        cached = self._payloads.get(environment)
        if cached is not None and now - self._checked_at.get(environment, -1e9) < REVISION_CHECK_SECONDS:
            return cached
        with self._lock:
            revision = current_revision()
            cached = self._payloads.get(environment)
            if cached is None or cached.revision != revision:
                cached = build(environment, revision)
                self._payloads[environment] = cached
            self._checked_at[environment] = time.monotonic()
            return cached


def form(environment: str, cohorts_by_context: bool = False) -> str:
    """The cache key of an environment's payload in the default or the compact form."""
    return environment + _COMPACT if cohorts_by_context else environment


def build(key: str, revision: int) -> Payload:
    """The payload of a cache key (``form()``)."""
    from app.flags.compile import compile_payload

    environment, compact = key.removesuffix(_COMPACT), key.endswith(_COMPACT)
    compiled = compile_payload(environment, cohorts_by_context=compact)
    body = json.dumps(compiled, separators=(",", ":")).encode()
    return Payload(body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:40]}"', revision=revision)


def cache_for_app() -> PayloadCache:
    return current_app.extensions.setdefault("liftoff_payload_cache", PayloadCache())


def payload(environment: str, cohorts_by_context: bool = False) -> Payload:
    """The cached payload of ``environment`` (compiled on first use and after any change).

    :param cohorts_by_context: the compact form (cohorts by the ``liftoffCohorts`` context field).
    """
    return cache_for_app().get(form(environment, cohorts_by_context))


def current_revision() -> int:
    return db.session.scalar(select(FlagRevision.revision).where(FlagRevision.id == 1)) or 0


def mark_changed() -> None:
    """Record in the caller's transaction that flag payloads may differ; the caches follow on commit."""
    result = cast(CursorResult, db.session.execute(
        update(FlagRevision)
        .where(FlagRevision.id == 1)
        .values(revision=FlagRevision.revision + 1, changed_at=utcnow())
    ))
    if result.rowcount == 0:
        db.session.execute(insert(FlagRevision).values(id=1, revision=1, changed_at=utcnow()))
    db.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False) and has_app_context():
        cache_for_app().invalidate()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)
