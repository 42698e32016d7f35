"""Hand rollout changes to an external Unleash server (``LIFTOFF_FLAG_BACKEND=unleash``).

Every rollout change records a pending ``FlagSync`` row in the caller's transaction, so nothing is
lost when Unleash is down. Right after that transaction commits the change is applied; when Unleash
cannot be reached or refuses, the row stays pending with the error and the step that failed, and
the reconcile job retries it with exponential backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.db import db, utcnow
from app.flags import unleash_baseline as baseline
from app.flags.unleash_admin import UnleashAdmin, UnleashError
from app.flags.unleash_apply import FeatureState, apply_state, desired_state
from app.models import Feature, FlagSync

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 30
BACKOFF_MAX_S = 3600
_AFTER_COMMIT_KEY = "liftoff_unleash_sync_ids"


@dataclass
class UnleashSettings:
    url: str
    token: str
    project: str
    environments: dict[str, str]  # Liftoff environment -> Unleash environment
    timeout: float


def backend(config=None) -> str:
    """``embedded`` or ``unleash``."""
    cfg = config if config is not None else current_app.config
    value = (cfg.get("FLAG_BACKEND") or "embedded").strip().lower()
    if value not in ("embedded", "unleash"):
        log.error("LIFTOFF_FLAG_BACKEND=%r is neither 'embedded' nor 'unleash': flags stay embedded", value)
        return "embedded"
    return value


def parse_environments(text: str) -> dict[str, str]:
    """``"production=production,development=dev"`` -> {"production": "production", "development": "dev"}."""
    mapping = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        liftoff, sep, unleash = part.partition("=")
        if not sep or not liftoff.strip() or not unleash.strip():
            raise UnleashError(f"LIFTOFF_UNLEASH_ENVIRONMENTS entry {part.strip()!r} is not liftoff=unleash",
                               "reading settings", retryable=False)
        mapping[liftoff.strip()] = unleash.strip()
    if not mapping:
        raise UnleashError("LIFTOFF_UNLEASH_ENVIRONMENTS maps no environment", "reading settings",
                           retryable=False)
    return mapping


def settings(config=None) -> UnleashSettings:
    """The Unleash settings, or an UnleashError naming the missing one."""
    cfg = config if config is not None else current_app.config
    url, token = cfg.get("UNLEASH_URL") or "", cfg.get("UNLEASH_ADMIN_TOKEN") or ""
    if not url:
        raise UnleashError("LIFTOFF_UNLEASH_URL is not set", "reading settings", retryable=False)
    if not token:
        raise UnleashError("LIFTOFF_UNLEASH_ADMIN_TOKEN is not set", "reading settings", retryable=False)
    return UnleashSettings(url, token, cfg.get("UNLEASH_PROJECT") or "default",
                           parse_environments(cfg.get("UNLEASH_ENVIRONMENTS") or ""),
                           float(cfg.get("UNLEASH_TIMEOUT_S") or 10))


def admin_client(s: UnleashSettings) -> UnleashAdmin:
    return UnleashAdmin(s.url, s.token, s.project, s.timeout)


def compile_payloads(s: UnleashSettings) -> dict[str, dict]:
    """Liftoff's compiled client-API body per *Unleash* environment."""
    from app.flags.compile import compile_payload  # the compiler of the rollout work

    return {unleash_env: compile_payload(liftoff_env) for liftoff_env, unleash_env in s.environments.items()}


def desired(feature_key: str, s: UnleashSettings, payloads: dict[str, dict] | None = None) -> FeatureState:
    return desired_state(feature_key, payloads if payloads is not None else compile_payloads(s))


def queue_sync(feature_ids: Iterable[int]) -> None:
    """Record that these features' rollout changed; in ``unleash`` mode a sync is queued.

    Called inside the caller's transaction (never commits). The pending rows are applied right after
    that transaction commits; failures stay pending for the reconcile job.
    """
    if not has_app_context() or backend() != "unleash":
        return
    ids = sorted(set(feature_ids))
    if not ids:
        return
    now = utcnow()
    for feature_id in ids:
        row = db.session.scalars(
            select(FlagSync).where(FlagSync.feature_id == feature_id, FlagSync.status == "pending")
        ).first()
        if row is None:
            db.session.add(FlagSync(feature_id=feature_id, status="pending", attempts=0, next_attempt_at=now))
        else:
            # One pending row per feature: it always carries Liftoff's latest state, so try it now.
            row.next_attempt_at = now
    db.session.flush()
    _apply_after_commit(ids)


def _apply_after_commit(feature_ids: list[int]) -> None:
    session = db.session()
    pending = session.info.setdefault(_AFTER_COMMIT_KEY, set())
    first = not pending
    pending.update(feature_ids)
    if not first:
        return
    # Flask types current_app as the app; it is a LocalProxy, whose target outlives this request
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run(committed: Session) -> None:
        ids = committed.info.pop(_AFTER_COMMIT_KEY, set())
        if ids:
            with app.app_context():
                _apply_in_own_session(sorted(ids))

    def forget(rolled_back: Session, *_args) -> None:
        rolled_back.info.pop(_AFTER_COMMIT_KEY, None)

    event.listen(session, "after_commit", run, once=True)
    event.listen(session, "after_soft_rollback", forget, once=True)


def _apply_in_own_session(feature_ids: list[int]) -> None:
    # The committed session cannot run SQL inside after_commit: use a separate one.
    with Session(db.engine) as own:
        try:
            rows = own.scalars(
                select(FlagSync).where(FlagSync.feature_id.in_(feature_ids), FlagSync.status == "pending")
            ).all()
            process(own, rows)
            own.commit()
        except Exception:  # the rollout is committed; the reconcile job retries the pending rows
            own.rollback()
            log.exception("applying rollout changes to Unleash failed; left pending for the reconcile job")


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failures: 30 s, 60 s, 120 s ... capped at 1 h."""
    return timedelta(seconds=min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1)))


def process(session: Session, rows: Sequence[FlagSync], now: datetime | None = None) -> tuple[int, list[str]]:
    """Apply pending syncs in ``session`` (not committed); returns (applied count, error messages)."""
    if not rows:
        return 0, []
    now = now or utcnow()
    errors: list[str] = []
    applied = 0
    try:
        s = settings()
        admin = admin_client(s)
    except UnleashError as exc:
        for row in rows:
            _failed(session, row, exc, [], now)
        return 0, [str(exc)]
    try:
        admin.ensure_project(list(s.environments.values()))
        payloads = compile_payloads(s)
    except UnleashError as exc:
        for row in rows:
            _failed(session, row, exc, [], now)
        admin.close()
        return 0, [str(exc)]
    for row in rows:
        feature = session.get(Feature, row.feature_id)
        assert feature is not None, "flag_syncs.feature_id is a foreign key to features"
        done: list[str] = []
        want = desired(feature.key, s, payloads)
        try:
            apply_state(admin, want, done)
        except UnleashError as exc:
            _failed(session, row, exc, done, now)
            errors.append(f"{feature.key}: {exc}")
            continue
        row.attempts += 1
        row.status = "applied"
        row.applied_at = now
        row.last_error = None
        row.next_attempt_at = None
        applied += 1
        baseline.record(session, baseline.APPLIED, feature.key, want, want, done)
        log.info("applied %s to Unleash: %s", feature.key, "; ".join(done) or "already in sync")
    admin.close()
    session.flush()
    return applied, errors


def _failed(session: Session, row: FlagSync, exc: UnleashError, done: list[str], now: datetime) -> None:
    row.attempts += 1
    row.status = "pending"
    row.next_attempt_at = now + backoff(row.attempts)
    partial = f" (already applied before this step: {'; '.join(done)})" if done else ""
    row.last_error = f"failed while {exc.step}: {exc}{partial}"
    feature = session.get(Feature, row.feature_id)
    log.warning("Unleash sync of %s failed (attempt %d, retry at %s): %s",
                feature.key if feature else row.feature_id, row.attempts, row.next_attempt_at, row.last_error)


def pending_syncs() -> list[dict]:
    """Rollout changes not yet applied to Unleash, oldest first (for the dashboard and `jobs list`)."""
    rows = db.session.execute(
        select(FlagSync, Feature.key).join(Feature, Feature.id == FlagSync.feature_id)
        .where(FlagSync.status == "pending").order_by(FlagSync.created_at, FlagSync.id)
    ).all()
    return [
        {"feature": key, "status": row.status, "attempts": row.attempts, "created_at": row.created_at,
         "next_attempt_at": row.next_attempt_at, "last_error": row.last_error}
        for row, key in rows
    ]
