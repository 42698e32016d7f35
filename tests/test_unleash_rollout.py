"""End to end: a full rollout driven through Liftoff, mirrored to a real unleash-server.

After each step the real UnleashClient pointed at Unleash answers for 2,000 people exactly as the
same SDK pointed at Liftoff's embedded client API does.
"""

from __future__ import annotations

import time

import pytest
import requests
from sqlalchemy import select

from app.db import db
from app.flags.compile import compile_payload
from app.flags.unleash_apply import desired_state
from app.models import CohortMember, FlagSync, Person
from app.services.accounts.access import create_token
from app.services.rollout import transitions as rollout
from tests.helpers import gen_cohort
from tests.unleash_server import configure_unleash, sdk_answers, unleash_server  # noqa: F401

pytestmark = [pytest.mark.unleash_server, pytest.mark.slow]

PEOPLE = 2000
KEY = "ai-summaries"


def _people() -> list[Person]:
    people = [Person(person_id=f"emp{i:05d}", name=f"Employee {i}") for i in range(PEOPLE)]
    db.session.add_all(people)
    db.session.flush()
    return people


def _cohort(key: str, members: list[Person]) -> None:
    cohort = gen_cohort(key=key)
    db.session.add_all(CohortMember(cohort_id=cohort.id, person_id=p.id) for p in members)
    db.session.flush()


def _wait_until_unleash_serves(server, key: str, timeout: float = 20.0) -> None:
    """Unleash refreshes its client-API view about once a second: wait until it shows Liftoff's state."""
    want = desired_state(key, {"production": compile_payload("production")})
    # Declaring a client spec with segment support makes Unleash send segments instead of inlining them.
    headers = {"Authorization": server.backend_tokens["production"], "Unleash-Client-Spec": "5.1.0"}
    deadline = time.monotonic() + timeout
    while True:
        body = requests.get(f"{server.url}/api/client/features", headers=headers, timeout=5).json()
        have = desired_state(key, {"production": body})
        if have.envs == want.envs and have.segments == want.segments:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"Unleash still serves {have.envs} instead of {want.envs}")
        time.sleep(0.25)


def test_full_rollout_matches_between_unleash_and_the_embedded_api(app, session, live_server, client_token,
                                                                   unleash_server, tmp_path):  # noqa: F811
    configure_unleash(app, unleash_server)
    people = _people()
    _cohort("champions", people[:20])
    _cohort("pilots", people[20:220])
    session.commit()
    rollout.create_feature({"key": KEY, "name": "AI summaries", "stages": [
        {"name": "Champions", "cohorts": ["champions"], "percentage": 0},
        {"name": "Pilot", "cohorts": ["pilots"], "percentage": 0},
        {"name": "Ramp", "cohorts": [], "percentage": 30},
        {"name": "Everyone", "cohorts": [], "percentage": 100},
    ]}, actor="lead@example.com")
    session.commit()

    _, dev_token = create_token("client", "development", name="dev sdk")
    session.commit()
    ids = [p.person_id for p in people]
    steps = [
        ("created", None, None),
        ("champions", rollout.advance, None),
        ("pilot", rollout.advance, None),
        ("30 %", rollout.advance, None),
        ("everyone", rollout.advance, None),
        ("kill", rollout.kill, "error rate"),
        ("resume", rollout.resume, "fixed"),
    ]
    expected_on = {"created": 0, "champions": 20, "pilot": 220, "everyone": PEOPLE, "kill": 0,
                   "resume": PEOPLE}
    for n, (label, action, reason) in enumerate(steps):
        if action is not None:
            action(KEY, "lead@example.com", reason) if reason else action(KEY, "lead@example.com")
            session.commit()
        syncs = session.scalars(select(FlagSync).order_by(FlagSync.id)).all()
        assert [s.status for s in syncs] == ["applied"] * (n + 1), f"{label}: {[s.last_error for s in syncs]}"
        _wait_until_unleash_serves(unleash_server, KEY)

        via_unleash = sdk_answers(f"{unleash_server.url}/api", unleash_server.backend_tokens["production"],
                                  KEY, ids, tmp_path / f"unleash-{n}")
        via_liftoff = sdk_answers(f"{live_server.url}/api", client_token, KEY, ids, tmp_path / f"liftoff-{n}")
        differing = [pid for pid in ids if via_unleash[pid] != via_liftoff[pid]]
        assert differing == [], f"{label}: {len(differing)} people differ, e.g. {differing[:5]}"
        # development serves everyone unless killed, through both paths alike.
        dev_unleash = sdk_answers(f"{unleash_server.url}/api", unleash_server.backend_tokens["development"],
                                  KEY, ids[:300], tmp_path / f"unleash-dev-{n}")
        dev_liftoff = sdk_answers(f"{live_server.url}/api", dev_token, KEY, ids[:300], tmp_path / f"dev-{n}")
        assert dev_unleash == dev_liftoff and set(dev_unleash.values()) == {label != "kill"}, label
        on = sum(via_unleash.values())
        if label in expected_on:
            assert on == expected_on[label], label
        else:  # 30 %: the 220 cohort members plus about 30 % of the other 1,780
            assert 220 + 0.25 * 1780 < on < 220 + 0.35 * 1780, on
