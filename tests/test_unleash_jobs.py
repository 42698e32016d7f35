"""The reconcile job (drift re-applied or adopted) and the metrics pull, against a real unleash-server."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from app.db import db
from app.flags import sync
from app.flags.unleash_admin import UnleashAdmin
from app.flags.unleash_apply import differences, read_state
from app.jobs.flags import pull_unleash_metrics, reconcile_flags
from app.models import AuditEntry, FlagMetric, FlagSync
from app.services.rollout import transitions as rollout
from tests.helpers import gen_cohort, gen_person
from tests.unleash_server import configure_unleash, unleash_server  # noqa: F401

pytestmark = [pytest.mark.unleash_server]
ENVS = ["production", "development"]


@pytest.fixture
def admin(unleash_server):  # noqa: F811
    client = UnleashAdmin(unleash_server.url, unleash_server.admin_token)
    yield client
    client.close()


@pytest.fixture
def feature_key(app, session, unleash_server):  # noqa: F811
    """A feature at its first stage (a cohort plus 30 %), applied to Unleash."""
    configure_unleash(app, unleash_server)
    tag = uuid.uuid4().hex[:8]
    gen_cohort(key=f"champs-{tag}", members=[gen_person(), gen_person()])
    key = f"drift-{tag}"
    rollout.create_feature({"key": key, "name": "Drift", "stages": [
        {"name": "Champions", "cohorts": [f"champs-{tag}"], "percentage": 30},
        {"name": "Everyone", "cohorts": [], "percentage": 100}]}, actor="lead@example.com")
    rollout.advance(key, "lead@example.com")
    session.commit()
    assert sync.pending_syncs() == []
    return key


def _tamper(admin: UnleashAdmin, key: str) -> None:
    """What someone does in Unleash's own UI: switch production off and widen the ramp."""
    admin.set_enabled(key, "production", False)
    wider = {"rollout": "80", "stickiness": "userId", "groupId": key}
    admin.add_strategy(key, "production", {"name": "flexibleRollout", "constraints": [], "segments": [],
                                           "parameters": wider})


def _desired(key):
    return sync.desired(key, sync.settings())


def test_drift_is_reported_and_reapplied(app, session, admin, feature_key):
    _tamper(admin, feature_key)
    assert differences(_desired(feature_key), read_state(admin, feature_key, ENVS).state) != []

    stats = reconcile_flags()
    session.commit()

    assert len(stats.drifted) == 1 and feature_key in stats.drifted[0] and "re-applied" in stats.drifted[0]
    assert "production: enabled is False on the server" in stats.drifted[0]
    assert differences(_desired(feature_key), read_state(admin, feature_key, ENVS).state) == []
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "unleash.drift_reapplied")).all()
    assert [a.entity_key for a in audit] == [feature_key]
    assert "production: switched on" in audit[0].after
    assert reconcile_flags().drifted == []


def test_drift_is_adopted_once_and_liftoff_changes_still_apply(app, session, admin, feature_key):
    from app.models import Feature

    session.scalar(select(Feature).where(Feature.key == feature_key)).drift_policy = "adopt"
    session.commit()
    _tamper(admin, feature_key)

    stats = reconcile_flags()
    session.commit()
    assert len(stats.drifted) == 1 and "adopted" in stats.drifted[0]
    prod = read_state(admin, feature_key, ENVS).state.envs["production"]
    assert prod["enabled"] is False and len(prod["strategies"]) == 3  # Unleash's state was kept
    assert reconcile_flags().drifted == []  # the same state is not reported twice
    adopted = session.scalars(select(AuditEntry).where(AuditEntry.action == "unleash.drift_adopted")).all()
    assert len(adopted) == 1

    rollout.advance(feature_key, "lead@example.com")  # a Liftoff change wins again
    session.commit()
    assert differences(_desired(feature_key), read_state(admin, feature_key, ENVS).state) == []
    assert reconcile_flags().drifted == []


def test_features_never_applied_are_applied_by_the_job(app, session, admin, unleash_server):  # noqa: F811
    tag = uuid.uuid4().hex[:8]
    gen_cohort(key=f"late-{tag}", members=[gen_person()])
    rollout.create_feature({"key": f"late-{tag}", "name": "Late", "stages": [
        {"name": "One", "cohorts": [f"late-{tag}"], "percentage": 0}]}, actor="lead@example.com")
    session.commit()  # still embedded mode: nothing sent
    assert admin.feature(f"late-{tag}") is None and session.scalars(select(FlagSync)).all() == []
    configure_unleash(app, unleash_server)
    stats = reconcile_flags()
    session.commit()
    assert stats.drifted == [] and admin.feature(f"late-{tag}") is not None
    assert differences(_desired(f"late-{tag}"), read_state(admin, f"late-{tag}", ENVS).state) == []


def _send_metrics(server, key: str, yes: int, no: int) -> None:
    now = datetime.now(UTC)
    body = {"appName": "hr-portal", "instanceId": "test-1", "environment": "production",
            "bucket": {"start": (now - timedelta(minutes=1)).isoformat(), "stop": now.isoformat(),
                       "toggles": {key: {"yes": yes, "no": no, "variants": {}}}}}
    resp = requests.post(f"{server.url}/api/client/metrics", json=body, timeout=5,
                         headers={"Authorization": server.backend_tokens["production"]})
    assert resp.status_code in (200, 202), resp.text


def test_metrics_are_pulled_into_flag_metrics_without_double_counting(app, session, admin, feature_key,
                                                                       unleash_server):  # noqa: F811
    _send_metrics(unleash_server, feature_key, 7, 3)
    deadline = time.monotonic() + 30
    while not any(r["yes"] for r in admin.feature_metrics(feature_key)) and time.monotonic() < deadline:
        time.sleep(0.5)  # Unleash writes buffered metrics every 5 seconds

    stats = pull_unleash_metrics()
    session.commit()
    rows = db.session.scalars(select(FlagMetric).where(FlagMetric.feature_key == feature_key)).all()
    assert [(r.app_name, r.environment, r.yes, r.no) for r in rows] == [("hr-portal", "production", 7, 3)]
    assert rows[0].hour.minute == 0 and stats.rows_written == 1

    again = pull_unleash_metrics()
    session.commit()
    assert again.rows_written == 0
    rows = db.session.scalars(select(FlagMetric).where(FlagMetric.feature_key == feature_key)).all()
    assert [(r.yes, r.no) for r in rows] == [(7, 3)]


@pytest.mark.parametrize("policy", ["reapply", "adopt"])
def test_a_liftoff_side_change_is_applied_not_reported_as_drift(app, session, admin, feature_key, policy):
    from app.models import CohortMember, Feature

    feature = session.scalar(select(Feature).where(Feature.key == feature_key))
    feature.drift_policy = policy
    cohort = feature.stages[0].cohorts[0]
    newcomer = gen_person()
    session.add(CohortMember(cohort_id=cohort.id, person_id=newcomer.id))  # no queue_sync for this
    session.commit()
    assert differences(_desired(feature_key), read_state(admin, feature_key, ENVS).state) == [
        f"segment {cohort.key}: constraints differ"]

    stats = reconcile_flags()
    session.commit()
    assert stats.drifted == [] and stats.rows_written == 1
    assert newcomer.person_id in admin.segments()[cohort.key]["constraints"][0]["values"]
    assert reconcile_flags().rows_written == 0
