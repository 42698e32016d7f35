"""queue_sync: pending rows, apply after commit, faults recorded and retried with backoff.

The compiled payloads come from tests.unleash_server.StandInCompiler (hand-written in the agreed
format) so the sync machinery is tested on its own; tests/test_unleash_rollout.py uses the real one.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import db, utcnow
from app.flags import sync
from app.flags.unleash_admin import UnleashAdmin, UnleashError
from app.jobs.flags import reconcile_flags
from app.models import AuditEntry, FlagSync
from tests.helpers import gen_feature
from tests.unleash_server import (  # noqa: F401
    FailingProxy,
    FaultServer,
    StandInCompiler,
    configure_unleash,
    unleash_server,
)


@pytest.fixture
def compiler(monkeypatch):
    stand_in = StandInCompiler()
    monkeypatch.setattr(sync, "compile_payloads", stand_in)
    return stand_in


def _feature(compiler, enabled=True, percentage=30):
    tag = uuid.uuid4().hex[:8]
    feature = gen_feature(key=f"sync-{tag}")
    compiler.set(feature.key, enabled, {f"pilots-{tag}": (3, ["a1", "a2"])}, percentage)
    return feature


def _rows(feature_id):
    db.session.expire_all()
    return db.session.scalars(select(FlagSync).where(FlagSync.feature_id == feature_id)
                              .order_by(FlagSync.id)).all()


def test_embedded_mode_queues_nothing(app, session, compiler):
    feature = _feature(compiler)
    sync.queue_sync([feature.id])
    session.commit()
    assert _rows(feature.id) == []
    assert sync.pending_syncs() == []


@pytest.mark.unleash_server
def test_a_change_is_applied_right_after_commit(app, session, compiler, unleash_server):  # noqa: F811
    configure_unleash(app, unleash_server)
    feature = _feature(compiler)
    sync.queue_sync([feature.id])
    assert [r.status for r in _rows(feature.id)] == ["pending"]  # recorded in the caller's transaction
    session.commit()

    (row,) = _rows(feature.id)
    assert row.status == "applied" and row.attempts == 1 and row.last_error is None
    admin = UnleashAdmin(unleash_server.url, unleash_server.admin_token)
    prod = next(e for e in admin.feature(feature.key)["environments"] if e["name"] == "production")
    assert prod["enabled"] and len(prod["strategies"]) == 2
    audit = session.scalars(select(AuditEntry).where(AuditEntry.entity_key == feature.key)).all()
    assert [a.action for a in audit] == ["unleash.applied"]


@pytest.mark.unleash_server
def test_a_rolled_back_transaction_applies_nothing(app, session, compiler, unleash_server):  # noqa: F811
    configure_unleash(app, unleash_server)
    feature = _feature(compiler)
    session.commit()
    sync.queue_sync([feature.id])
    session.rollback()
    session.commit()
    assert _rows(feature.id) == []
    assert UnleashAdmin(unleash_server.url, unleash_server.admin_token).feature(feature.key) is None


@pytest.mark.unleash_server
def test_wrong_admin_token_stays_pending_with_a_clear_error_then_recovers(app, session, compiler,
                                                                          unleash_server):  # noqa: F811
    configure_unleash(app, unleash_server, UNLEASH_ADMIN_TOKEN="*:*.not-the-token")
    feature = _feature(compiler)
    sync.queue_sync([feature.id])
    session.commit()

    (row,) = _rows(feature.id)
    assert row.status == "pending" and row.attempts == 1
    assert "admin token" in row.last_error and "401" in row.last_error
    assert "checking project 'default'" in row.last_error
    assert timedelta(seconds=15) < row.next_attempt_at - utcnow() <= timedelta(seconds=30)  # 30 s backoff
    (listed,) = sync.pending_syncs()
    assert listed["feature"] == feature.key and "401" in listed["last_error"]

    # Not due yet: the reconcile job leaves it alone.
    reconcile_flags()
    assert _rows(feature.id)[0].attempts == 1

    app.config["UNLEASH_ADMIN_TOKEN"] = unleash_server.admin_token
    row.next_attempt_at = utcnow() - timedelta(seconds=1)
    session.commit()
    stats = reconcile_flags()
    session.commit()
    (row,) = _rows(feature.id)
    assert row.status == "applied" and row.attempts == 2
    assert stats.rows_written >= 1 and sync.pending_syncs() == []


@pytest.mark.unleash_server
def test_missing_project_is_named(app, session, compiler, unleash_server):  # noqa: F811
    configure_unleash(app, unleash_server, UNLEASH_PROJECT="no-such-project")
    feature = _feature(compiler)
    sync.queue_sync([feature.id])
    session.commit()
    (row,) = _rows(feature.id)
    assert row.status == "pending"
    assert "project 'no-such-project' does not exist" in row.last_error


@pytest.mark.unleash_server
def test_missing_environment_is_named(app, session, compiler, unleash_server):  # noqa: F811
    configure_unleash(app, unleash_server,
                      UNLEASH_ENVIRONMENTS="production=staging-eu,development=development")
    feature = _feature(compiler)
    sync.queue_sync([feature.id])
    session.commit()
    (row,) = _rows(feature.id)
    assert "environment 'staging-eu' does not exist" in row.last_error


def test_server_errors_are_retried_with_growing_backoff(app, session, compiler):
    fault = FaultServer(status=503)
    try:
        configure_unleash(app, None, UNLEASH_URL=fault.url)
        feature = _feature(compiler)
        sync.queue_sync([feature.id])
        session.commit()
        (row,) = _rows(feature.id)
        assert row.status == "pending" and "failed (503)" in row.last_error
        assert "upstream database unavailable" in row.last_error
        first_delay = row.next_attempt_at - utcnow()

        row.next_attempt_at = utcnow() - timedelta(seconds=1)
        session.commit()
        stats = reconcile_flags()
        session.commit()
        (row,) = _rows(feature.id)
        assert row.attempts == 2 and row.status == "pending"
        assert row.next_attempt_at - utcnow() > first_delay + timedelta(seconds=20)  # 60 s after 30 s
        assert any("503" in e for e in stats.errors)
        # A second rollout change while pending reuses the one pending row: nothing piles up.
        sync.queue_sync([feature.id])
        session.commit()
        assert len(_rows(feature.id)) == 1
    finally:
        fault.close()


def test_timeouts_are_reported_and_retried(app, session, compiler):
    fault = FaultServer(status=200, delay=2.0)
    try:
        configure_unleash(app, None, UNLEASH_URL=fault.url, UNLEASH_TIMEOUT_S=0.3)
        feature = _feature(compiler)
        sync.queue_sync([feature.id])
        session.commit()
        (row,) = _rows(feature.id)
        assert row.status == "pending"
        assert "did not answer within 0.3s" in row.last_error
    finally:
        fault.close()


def test_unreachable_unleash_keeps_the_change_pending(app, session, compiler):
    configure_unleash(app, None)  # port 9: nothing listens
    feature = _feature(compiler)
    sync.queue_sync([feature.id])
    session.commit()
    (row,) = _rows(feature.id)
    assert row.status == "pending" and "unreachable" in row.last_error


def test_missing_settings_are_named(app, session, compiler):
    configure_unleash(app, None, UNLEASH_URL="")
    feature = _feature(compiler)
    sync.queue_sync([feature.id])
    session.commit()
    assert "LIFTOFF_UNLEASH_URL is not set" in _rows(feature.id)[0].last_error
    with pytest.raises(UnleashError, match="not liftoff=unleash"):
        sync.parse_environments("production")


@pytest.mark.unleash_server
def test_a_half_applied_change_names_the_failed_step_and_completes_on_retry(app, session, compiler,
                                                                             unleash_server):  # noqa: F811
    def switching_production_on(method, path):
        return method == "POST" and path.endswith("/environments/production/on")

    proxy = FailingProxy(unleash_server.url, switching_production_on)
    try:
        configure_unleash(app, unleash_server, UNLEASH_URL=proxy.url)
        feature = _feature(compiler)
        sync.queue_sync([feature.id])
        session.commit()
    finally:
        proxy.close()
    (row,) = _rows(feature.id)
    assert row.status == "pending"
    assert f"failed while switching '{feature.key}' on in 'production'" in row.last_error
    assert f"already applied before this step: created segment pilots-{feature.key[5:]}" in row.last_error
    assert "production: added flexibleRollout 30%" in row.last_error

    app.config["UNLEASH_URL"] = unleash_server.url
    row.next_attempt_at = utcnow() - timedelta(seconds=1)
    session.commit()
    reconcile_flags()
    session.commit()
    assert _rows(feature.id)[0].status == "applied"
    admin = UnleashAdmin(unleash_server.url, unleash_server.admin_token)
    prod = next(e for e in admin.feature(feature.key)["environments"] if e["name"] == "production")
    assert prod["enabled"] and len(prod["strategies"]) == 2  # completed, nothing duplicated
