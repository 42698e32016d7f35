"""The official browser SDK, ``unleash-proxy-client`` from npm, run by Node.js against the live app:
for many users it must see exactly what the server-side Python SDK sees."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db import db
from app.models import FlagMetric, SdkInstance
from app.services.accounts.access import create_token
from app.services.rollout import transitions as rollout
from tests import npm_cache
from tests.helpers import gen_cohort, gen_person
from tests.sdk_support import sdk

pytestmark = pytest.mark.node  # needs Node.js and npm; `make test-fast` leaves it out

VERSION = "3.8.2"
DRIVER = Path(__file__).resolve().parent / "frontend_sdk.cjs"
FEATURES = ["meeting-notes", "summaries", "drafts"]


@pytest.fixture
def company(app):
    """meeting-notes: two cohorts then a 25 % ramp; summaries: one cohort; drafts: killed."""
    people = [gen_person(f"emp{i:04d}") for i in range(60)]
    gen_cohort("champions", people[:5])
    gen_cohort("pilots", people[5:15])
    rollout.create_feature({"key": "meeting-notes", "name": "Meeting notes", "stages": [
        {"name": "champions", "cohorts": ["champions"]}, {"name": "pilots", "cohorts": ["pilots"]},
        {"name": "ramp", "percentage": 25}]}, "ana")
    rollout.create_feature({"key": "summaries", "name": "Summaries", "stages": [
        {"name": "pilots", "cohorts": ["pilots"]}]}, "ana")
    rollout.create_feature({"key": "drafts", "name": "Drafts", "stages": [
        {"name": "all", "percentage": 100}]}, "ana")
    for _ in range(3):
        rollout.advance("meeting-notes", "ana")
    rollout.advance("summaries", "ana")
    rollout.advance("drafts", "ana")
    rollout.kill("drafts", "ana", "incident")
    db.session.commit()
    return [p.person_id for p in people] + [f"visitor-{i}" for i in range(140)]


def _browser_sdk(live_server, token: str, users: list[str], post: bool) -> dict:
    module = npm_cache.install("unleash-proxy-client", VERSION) / "node_modules" / "unleash-proxy-client"
    job = {"module": str(module), "url": f"{live_server.url}/api/frontend", "token": token,
           "features": FEATURES, "users": users, "post": post}
    done = subprocess.run([npm_cache.require("node"), str(DRIVER)], input=json.dumps(job),  # noqa: S603
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_browser_sdk_sees_what_the_python_sdk_sees(app, live_server, company, client_token, tmp_path):
    _, frontend_token = create_token("frontend", "production", name="web app")
    db.session.commit()
    with sdk(live_server, client_token, tmp_path, refresh_interval=3600, disable_metrics=True) as python:
        expected = {u: {f: python.is_enabled(f, {"userId": u}) for f in FEATURES} for u in company}
    # Sanity of the scenario itself: cohorts in, the ramp splits the visitors, the killed one is off.
    assert all(expected[f"emp{i:04d}"]["meeting-notes"] for i in range(15))
    assert 15 < sum(expected[f"visitor-{i}"]["meeting-notes"] for i in range(140)) < 60
    assert sum(a["summaries"] for a in expected.values()) == 10
    assert not any(a["drafts"] for a in expected.values())

    for post in (False, True):  # the SDK's GET with the context in the query, and its POST
        seen = _browser_sdk(live_server, frontend_token, company, post)
        assert seen["errors"] == []
        assert seen["answers"] == expected
        assert {v for per_user in seen["variants"].values() for v in per_user.values()} == {"disabled"}
        assert seen["metricsSent"] == 1

    # Its metrics reached Liftoff: isEnabled and getVariant each count once per user and run.
    for feature in FEATURES:
        yes, no = db.session.execute(select(func.sum(FlagMetric.yes), func.sum(FlagMetric.no))
                                     .where(FlagMetric.feature_key == feature)).one()
        enabled = sum(a[feature] for a in expected.values())
        assert ((yes or 0), (no or 0)) == (4 * enabled, 4 * (len(company) - enabled)), feature
    instance = db.session.scalar(select(SdkInstance).where(SdkInstance.app_name == "liftoff-node-test"))
    assert (instance.instance_id, instance.environment) == ("browser", "production")


def test_the_browser_sdk_with_a_client_token_is_refused(app, live_server, company, client_token):
    seen = _browser_sdk(live_server, client_token, company[:2], post=False)
    assert seen["answers"] == {u: dict.fromkeys(FEATURES, False) for u in company[:2]}
    assert "403" in " ".join(seen["errors"])
