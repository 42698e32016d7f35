"""The database goes away under a live app (its own PostgreSQL database, made unreachable by
terminating its backends and refusing new connections; the shared server keeps running):

- the API answers 503 with Retry-After in the contract's error shape, /healthz too;
- the real UnleashClient keeps answering with its last flags while its polls fail;
- after recovery, ingestion retried by the client stores each event exactly once, and flag changes
  reach the SDK again.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from UnleashClient import UnleashClient
from UnleashClient.utils import InstanceAllowType

from app.db import db
from app.services.rollout import transitions as rollout
from tests.conftest import USING_POSTGRES, pg_admin_engine
from tests.helpers import gen_cohort, gen_person
from tests.kpi_scenarios import event
from tests.sdk_support import StatusLog
from tests.sdk_support import wait_for as sdk_wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(not USING_POSTGRES, reason="needs LIFTOFF_TEST_DATABASE=postgresql+psycopg://..."),
]
FEATURE = "meeting-notes"


def set_reachable(database: str, reachable: bool) -> None:
    """Refuse (or allow again) new connections to ``database`` and cut the existing ones."""
    engine = pg_admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(reachable).lower()}'))
        if not reachable:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": database})
    engine.dispose()


wait_for = functools.partial(sdk_wait_for, timeout=15.0)  # an outage gives the SDK longer


def post_with_retries(url: str, headers: dict, rows: list, answers: list, give_up_after: float = 60) -> None:
    """What a well-behaved ingestion client does: resend the same batch on 503, after Retry-After
    (capped at 0.5 s here to keep the test short)."""
    deadline = time.monotonic() + give_up_after
    while time.monotonic() < deadline:
        response = requests.post(url, json=rows, headers=headers, timeout=10)
        answers.append((response.status_code, response.headers.get("Retry-After"), response.json()))
        if response.status_code != 503:
            return
        time.sleep(min(float(response.headers["Retry-After"]), 0.5))


@pytest.fixture
def company(app):
    people = [gen_person(f"emp{i:03d}") for i in range(40)]
    gen_cohort("champions", people[:5])
    gen_cohort("pilots", people[5:15])
    rollout.create_feature({"key": FEATURE, "name": "Meeting notes", "stages": [
        {"name": "champions", "cohorts": ["champions"]},
        {"name": "pilots", "cohorts": ["pilots"]},
    ]}, "ana")
    rollout.advance(FEATURE, "ana")
    db.session.commit()
    return [p.person_id for p in people]


def test_database_down_503_sdk_keeps_flags_and_nothing_is_lost(
        app, database_url, company, client_token, ingest_headers, live_server, tmp_path):
    database = make_url(database_url).database
    log = StatusLog(app.wsgi_app)
    app.wsgi_app = log
    champions, pilots = set(company[:5]), set(company[5:15])
    events_url = f"{live_server.url}/api/v1/events"
    before = [event(FEATURE, pid, "2026-10-01T10:00:00Z") for pid in company[:5]]
    during = [event(FEATURE, pid, "2026-10-02T10:00:00Z") for pid in company[:10]]
    sdk = UnleashClient(
        url=f"{live_server.url}/api", app_name="faults", instance_id=f"faults-{uuid.uuid4().hex[:6]}",
        refresh_interval=1, metrics_interval=1, custom_headers={"Authorization": client_token},
        cache_directory=str(tmp_path / "sdk-cache"), multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
    )

    def enabled() -> set[str]:
        return {pid for pid in company if sdk.is_enabled(FEATURE, {"userId": pid})}

    sdk.initialize_client()
    try:
        assert wait_for(lambda: enabled() == champions)
        first = requests.post(events_url, json=before, headers=ingest_headers, timeout=10)
        assert first.json() == {"accepted": 5, "duplicates": 0}

        set_reachable(database, False)
        try:
            down = requests.post(events_url, json=during, headers=ingest_headers, timeout=10)
            assert down.status_code == 503
            assert down.headers["Retry-After"] == "5"
            assert down.json() == {"error": "the database is unavailable; retry later", "details": []}
            assert down.headers["X-Request-ID"]
            health = requests.get(f"{live_server.url}/healthz", timeout=10)
            assert health.status_code == 503 and health.headers["Retry-After"]

            # A client keeps retrying the same batch while the database is down.
            answers: list = []
            retrier = threading.Thread(target=post_with_retries,
                                       args=(events_url, ingest_headers, during, answers))
            retrier.start()

            # The SDK's polls now fail (the flag caches expire within seconds) ...
            polls_at_outage = len(log.seen)
            assert wait_for(lambda: log.polls(polls_at_outage).count(503) >= 3)
            assert set(log.polls(polls_at_outage)) <= {503, 304, 200}
            # ... and it keeps answering with the flags it had, every evaluation.
            for _ in range(5):
                assert enabled() == champions
                time.sleep(0.3)
            assert wait_for(lambda: len(answers) >= 2)
            assert {a[0] for a in answers} == {503}
        finally:
            set_reachable(database, True)

        retrier.join(timeout=30)
        assert answers[-1][0] == 200
        assert answers[-1][2] == {"accepted": 10, "duplicates": 0}

        # A client that never saw its answers resends both batches: nothing is stored twice.
        again = requests.post(events_url, json=before + during, headers=ingest_headers, timeout=10)
        assert again.json() == {"accepted": 0, "duplicates": 15}
        engine = create_engine(database_url)
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT event_id FROM events")).scalars().all()
        engine.dispose()
        assert sorted(stored) == sorted(e["event_id"] for e in before + during)

        # Flag delivery is back: polls succeed and a change reaches the SDK.
        polls_at_recovery = len(log.seen)
        assert wait_for(lambda: {200, 304} & set(log.polls(polls_at_recovery)))
        db.session.remove()  # the test's own connection was cut during the outage
        rollout.advance(FEATURE, "ana")
        db.session.commit()
        assert wait_for(lambda: enabled() == champions | pilots)
    finally:
        sdk.destroy()
