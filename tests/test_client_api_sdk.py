"""The real UnleashClient SDK against the live app: what an AI feature in production would see."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from app.db import db
from app.models import FlagMetric, RejectedFetch, SdkInstance
from app.services.rollout import transitions as rollout
from tests.helpers import gen_cohort, gen_person
from tests.sdk_support import StatusLog, sdk, wait_for

FEATURE = "meeting-notes"


@pytest.fixture
def company(app):
    people = [gen_person(f"emp{i:05d}") for i in range(300)]
    gen_cohort("champions", people[:5])
    gen_cohort("pilots-sales", people[5:15])
    gen_cohort("pilots-legal", people[15:20])
    rollout.create_feature({"key": FEATURE, "name": "Meeting notes", "stages": [
        {"name": "champions", "cohorts": ["champions"]},
        {"name": "pilots", "cohorts": ["pilots-sales", "pilots-legal"]},
        {"name": "ramp", "percentage": 30},
    ]}, "ana")
    rollout.advance(FEATURE, "ana")
    db.session.commit()
    return people


def _enabled(client, ids) -> set[str]:
    return {i for i in ids if client.is_enabled(FEATURE, {"userId": i})}


def _change(action, *args):
    action(FEATURE, "ana", *args)
    db.session.commit()


@pytest.mark.slow
def test_stages_kill_and_resume_reach_the_sdk(app, live_server, company, client_token, tmp_path):
    ids = [p.person_id for p in company]
    champions, pilots = set(ids[:5]), set(ids[5:20])
    log = StatusLog(app.wsgi_app)
    app.wsgi_app = log
    with sdk(live_server, client_token, tmp_path) as client:
        assert wait_for(lambda: _enabled(client, ids) == champions)
        assert not client.is_enabled(FEATURE, {"userId": "not-a-person"})

        _change(rollout.advance)
        assert wait_for(lambda: _enabled(client, ids) == champions | pilots)

        _change(rollout.advance)
        ramp_ids = [f"user-{i}" for i in range(10_000)]
        assert wait_for(lambda: len(_enabled(client, ids)) > 40)  # the 30 % ramp is live
        first = _enabled(client, ramp_ids)
        assert 2_850 <= len(first) <= 3_150  # 30 +- 1.5 % of 10,000 ids
        assert _enabled(client, ramp_ids) == first  # sticky: the same ids every evaluation
        # The exposure spells hold exactly the people the SDK enables.
        assert len(_enabled(client, ids)) == rollout.feature_state(FEATURE)["exposed_now"]

        _change(rollout.kill, "incident")
        assert wait_for(lambda: _enabled(client, ids) == set())
        _change(rollout.resume, "fixed")
        assert wait_for(lambda: _enabled(client, ramp_ids) == first)

        polls_before = len(log.seen)
        assert wait_for(lambda: len([s for p, s in log.seen[polls_before:] if p.endswith("/features")]) >= 2)
    statuses = [s for p, s in log.seen if p.endswith("/features")]
    assert statuses[0] == 200 and statuses.count(304) >= 2
    assert set(statuses) == {200, 304}


@pytest.mark.slow
def test_metrics_and_registration_arrive(app, live_server, company, client_token, tmp_path):
    with sdk(live_server, client_token, tmp_path) as client:
        assert wait_for(lambda: client.is_enabled(FEATURE, {"userId": "emp00000"}))
        for i in range(20):
            client.is_enabled(FEATURE, {"userId": f"emp{i:05d}"})

        def stored() -> tuple[int, int]:
            db.session.rollback()  # see what the server's transactions committed
            rows = list(db.session.scalars(select(FlagMetric).where(FlagMetric.feature_key == FEATURE)))
            return sum(r.yes for r in rows), sum(r.no for r in rows)

        # At least 6 yes (the first true answer, then the 5 champions) and 15 no (the others).
        assert wait_for(lambda: stored()[0] >= 6 and stored()[1] >= 15)
        instance = db.session.scalar(select(SdkInstance))
        assert instance.app_name == client.unleash_app_name
        assert instance.sdk_version.startswith("unleash-python-sdk:")
        assert instance.environment == "production"


@pytest.mark.slow
def test_a_wrong_token_gets_nothing_and_is_recorded(app, live_server, company, tmp_path):
    with sdk(live_server, "lo_client_production.not-a-real-token", tmp_path) as client:
        time.sleep(1.5)
        assert not client.is_enabled(FEATURE, {"userId": "emp00000"})

    def rejected() -> int:
        db.session.rollback()
        return sum(r.count for r in db.session.scalars(
            select(RejectedFetch).where(RejectedFetch.reason == "unknown")))

    assert wait_for(lambda: rejected() >= 2)
    # Counted, but without the app name an unauthenticated caller chose (no row per invented name).
    names = {r.app_name for r in db.session.scalars(select(RejectedFetch))}
    assert client.unleash_app_name not in names
