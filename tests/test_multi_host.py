"""Two app hosts behind a load balancer behave as one (issue #20).

Two gunicorn instances (separate processes on separate ports, one PostgreSQL database) behind
Debian's haproxy, started as children on 127.0.0.1 with their own config: a session logged in
through one host works through the other, a CSRF token from one is valid on the other, the login
throttle is shared, a flag change reaches SDK polls on both (their payload caches), KPI caches are
invalidated on both after a refresh (the KPI revision), and of two schedulers, one per host, only
the leader runs a job: each tick is recorded once.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
import requests.adapters
from sqlalchemy import create_engine, text

from benchmarks.support import free_port, wait_http
from tests.conftest import USING_POSTGRES, create_pg_database, drop_pg_database
from tests.kpi_scenarios import event

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(not USING_POSTGRES, reason="needs LIFTOFF_TEST_DATABASE=postgresql+psycopg://..."),
    pytest.mark.skipif(not Path("/usr/sbin/haproxy").exists(), reason="needs Debian's haproxy"),
]
ROOT = Path(__file__).resolve().parents[1]
# The interpreter itself, not the venv's console scripts (a reinstall briefly removes them).
LIFTOFF = [sys.executable, "-c", "from app.cli import main; main()"]
GUNICORN = [sys.executable, "-m", "gunicorn"]
PASSWORD = "correct horse battery staple 7"
HAPROXY_CONFIG = """
global
    maxconn 256
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option forwardfor
frontend front
    bind 127.0.0.1:{front}
    default_backend app
backend app
    balance roundrobin
    server one 127.0.0.1:{one}
    server two 127.0.0.1:{two}
"""


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@pytest.fixture
def fleet(tmp_path):
    """Two hosts (gunicorn as in production: the ASGI front, 2 workers each, their own instance
    directory) and haproxy in front; yields the hosts' and the balancer's base URLs, the
    environment and the database URL."""
    name = f"lo_multi_{uuid.uuid4().hex[:8]}"
    url = create_pg_database(name)
    processes: list[subprocess.Popen] = []
    base_env = {**os.environ, "DATABASE_URL": url, "LIFTOFF_SECRET_KEY": "one secret for every host",
                "PYTHONPATH": str(ROOT), "LIFTOFF_CONNECTORS_DIR": str(tmp_path / "connectors")}
    base_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    try:
        subprocess.run([*LIFTOFF, "db", "upgrade"], env=base_env, cwd=ROOT, check=True,
                       capture_output=True, timeout=180)
        ports = [free_port(), free_port()]
        hosts, envs = [], []
        for i, port in enumerate(ports):
            instance = tmp_path / f"host{i}"
            instance.mkdir()
            env = {**base_env, "LIFTOFF_INSTANCE_DIR": str(instance), "LIFTOFF_PROXY_HOPS": "1"}
            envs.append(env)
            processes.append(subprocess.Popen(
                [*GUNICORN, "-c", str(ROOT / "scripts" / "gunicorn.conf.py"), "-w", "2",
                 "-b", f"127.0.0.1:{port}", "--log-level", "warning", "app.asgi:app"],
                cwd=ROOT, env={**env, "LIFTOFF_THREADS": "4"}, start_new_session=True))
            hosts.append(f"http://127.0.0.1:{port}")
        front = free_port()
        config = tmp_path / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(front=front, one=ports[0], two=ports[1]))
        processes.append(subprocess.Popen(["/usr/sbin/haproxy", "-db", "-f", str(config)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))
        for base in hosts:
            wait_http(f"{base}/healthz", timeout=90)
        balancer = f"http://127.0.0.1:{front}"
        wait_http(f"{balancer}/healthz", timeout=30)
        yield {"hosts": hosts, "balancer": balancer, "envs": envs, "url": url}
    finally:
        for process in reversed(processes):
            _stop(process)
        drop_pg_database(name)


def _cli(env: dict, *args: str) -> str:
    done = subprocess.run([*LIFTOFF, *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _token(env: dict, kind: str, *extra: str) -> str:
    out = _cli(env, "tokens", "create", "--kind", kind, "--name", f"multi {kind}", *extra)
    return out.strip().splitlines()[-1].strip()  # the secret, alone on the last line


def _csrf(session: requests.Session, base: str) -> str:
    page = session.get(f"{base}/login", timeout=10).text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _login(session: requests.Session, base: str, email: str, password: str, csrf: str | None = None):
    form = {"email": email, "password": password, "csrf_token": csrf or _csrf(session, base)}
    return session.post(f"{base}/login", data=form, allow_redirects=False, timeout=30)


def test_two_hosts_behind_haproxy_behave_as_one(fleet, tmp_path):
    one, two = fleet["hosts"]
    env = fleet["envs"][0]
    _cli(env, "users", "create", "--email", "admin@multi.test", "--role", "admin", "--password", PASSWORD)
    _cli(env, "users", "create", "--email", "victim@multi.test", "--role", "executive", "--password",
         PASSWORD)
    admin = {"Authorization": f"Bearer {_token(env, 'admin')}"}
    ingest = {"Authorization": f"Bearer {_token(env, 'ingest')}"}
    client = {"Authorization": f"Bearer {_token(env, 'client', '--environment', 'production')}"}

    # Sessions and CSRF: log in through host one with a token host two issued; host two then knows
    # the session, and accepts a write carrying host one's CSRF token.
    browser = requests.Session()
    csrf_from_two = _csrf(browser, two)
    assert _login(browser, one, "admin@multi.test", PASSWORD, csrf_from_two).status_code == 302
    assert browser.get(f"{two}/api/v1/features", timeout=10).status_code == 200
    anonymous = requests.get(f"{two}/api/v1/features", timeout=10)
    assert anonymous.status_code == 401
    people = [{"person_id": f"m{i}", "name": f"M {i}", "email": f"m{i}@multi.test", "department": "Ops"}
              for i in range(8)]
    write = browser.post(f"{two}/api/v1/people", json=people, timeout=30,
                         headers={"X-CSRFToken": _csrf(browser, one)})
    assert write.status_code == 200, write.text
    assert write.json() == {"created": 8, "updated": 0}
    refused = browser.post(f"{one}/api/v1/people", json=people, timeout=30)  # no CSRF token
    assert refused.status_code in (400, 403), refused.status_code

    # The login throttle is shared: five failures spread over both hosts lock the account on both.
    for i in range(5):
        attacker = requests.Session()
        assert _login(attacker, (one, two)[i % 2], "victim@multi.test", "wrong password").status_code != 302
    for base in (one, two):
        assert _login(requests.Session(), base, "victim@multi.test", PASSWORD).status_code != 302

    # Flag payload caches: a stage change made through host one reaches SDK polls on both hosts.
    cohort = {"name": "Pilots", "members": ["m0", "m1"]}
    assert requests.put(f"{one}/api/v1/cohorts/pilots", json=cohort, headers=admin, timeout=30).ok
    feature = {"key": "notes", "name": "Notes", "stages": [{"name": "pilots", "cohorts": ["pilots"],
                                                            "percentage": 0},
                                                           {"name": "all", "cohorts": [], "percentage": 100}]}
    assert requests.post(f"{two}/api/v1/features", json=feature, headers=admin, timeout=30).status_code == 201
    polls = {base: requests.get(f"{base}/api/client/features", headers=client, timeout=10)
             for base in (one, two)}
    etags = {base: answer.headers["ETag"] for base, answer in polls.items()}
    assert len(set(etags.values())) == 1
    assert [f["enabled"] for f in polls[one].json()["features"] if f["name"] == "notes"] == [False]
    advance = requests.post(f"{one}/api/v1/features/notes/advance", headers=admin, timeout=30,
                            json={"override": True, "reason": "multi-host test"})
    assert advance.status_code == 200, advance.text
    seen = {}
    deadline = time.monotonic() + 10
    while len(seen) < 2 and time.monotonic() < deadline:
        for base in (one, two):
            answer = requests.get(f"{base}/api/client/features", timeout=10,
                                  headers={**client, "If-None-Match": etags[base]})
            if answer.status_code == 200:
                seen[base] = answer.json()
        time.sleep(0.2)
    assert set(seen) == {one, two}, "a host kept serving the old payload"
    assert seen[one] == seen[two]
    assert [f["enabled"] for f in seen[two]["features"] if f["name"] == "notes"] == [True]

    # KPI caches: both hosts remember the answer; after a refresh run through host one, host two
    # answers the new figures at once.
    kpis = "/api/v1/features/notes/kpis?start=2026-10-01&end=2026-10-31"
    before = [requests.get(base + kpis, headers=admin, timeout=30).json() for base in (one, two, one, two)]
    assert {b["ai_tasks"] for b in before} == {0}
    rows = [event("notes", "m0", "2026-10-05T10:00:00+00:00", outcome="success", duration=300),
            event("notes", "m1", "2026-10-06T10:00:00+00:00", outcome="error", duration=600),
            event("notes", "m2", "2026-10-07T10:00:00+00:00", ai=False, duration=900)]
    posted = requests.post(f"{two}/api/v1/events", json=rows, headers=ingest, timeout=30)
    assert posted.json() == {"accepted": 3, "duplicates": 0}
    # Events reach the KPIs through the refresh only: both hosts still answer the old figures.
    stale = {requests.get(base + kpis, headers=admin, timeout=30).json()["ai_tasks"] for base in (one, two)}
    assert stale == {0}

    # A job run through the balancer is recorded once, whichever host ran it.
    run = requests.post(f"{fleet['balancer']}/api/v1/jobs/refresh-kpis/run", headers=admin, timeout=120)
    assert run.status_code == 200, run.text
    after = [requests.get(base + kpis, headers=admin, timeout=30).json() for base in (two, one)]
    assert [a["ai_tasks"] for a in after] == [2, 2]
    assert after[0] == after[1]
    assert after[0]["error_rate"] == 0.5
    engine = create_engine(fleet["url"])
    try:
        with engine.connect() as conn:
            manual = conn.execute(text("SELECT count(*) FROM job_runs WHERE job = 'refresh-kpis'")).scalar()
        assert manual == 1
    finally:
        engine.dispose()

    # Through the balancer, requests alternate between the hosts and the session holds on both.
    for _ in range(4):
        assert browser.get(f"{fleet['balancer']}/api/v1/features", timeout=10).status_code == 200


class _FromAddress(requests.adapters.HTTPAdapter):
    """Connect from another loopback address (127.0.0.0/8 is all local), as another client."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def _client_at(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", _FromAddress(address))
    return session


def test_the_address_throttle_behind_the_balancer_counts_each_client(fleet):
    """Behind haproxy every request comes from its address; with LIFTOFF_PROXY_HOPS=1 the hosts
    count failures per client (X-Forwarded-For), so one client's guessing throttles only itself."""
    env, balancer = fleet["envs"][0], fleet["balancer"]
    _cli(env, "users", "create", "--email", "someone@multi.test", "--role", "executive", "--password",
         PASSWORD)
    guesser, bystander = _client_at("127.0.0.2"), _client_at("127.0.0.3")
    # 20 failures per address in 15 minutes (LoginThrottle.per_address), each on a new account name
    # so no account lock is involved; a forged X-Forwarded-For is appended to, not believed.
    for i in range(20):
        answer = guesser.post(f"{balancer}/login", allow_redirects=False, timeout=30,
                              headers={"X-Forwarded-For": f"10.9.9.{i}"},
                              data={"email": f"nobody{i}@multi.test", "password": "wrong",
                                    "csrf_token": _csrf(guesser, balancer)})
        assert answer.status_code != 302
    # The 21st wrong password from the guesser answers 429; another client behind the same
    # balancer is not throttled (its wrong password is a plain 401, its right one logs in).
    assert _login(guesser, balancer, "someone@multi.test", "wrong").status_code == 429
    assert _login(bystander, balancer, "other@multi.test", "wrong").status_code == 401
    assert _login(bystander, balancer, "someone@multi.test", PASSWORD).status_code == 302
    engine = create_engine(fleet["url"])
    try:
        with engine.connect() as conn:
            addresses = conn.execute(text("SELECT DISTINCT address FROM login_failures")).scalars().all()
        assert sorted(addresses) == ["127.0.0.2", "127.0.0.3"]
    finally:
        engine.dispose()


def test_one_scheduler_leader_across_hosts(fleet, tmp_path):
    """A scheduler beside each host: only the leader runs jobs, so each tick is one run."""
    connectors = Path(fleet["envs"][0]["LIFTOFF_CONNECTORS_DIR"])
    connectors.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "empty.db"
    create_engine(f"sqlite:///{source}").connect().execute(text("SELECT 1")).close()
    (connectors / "tick.yaml").write_text(f"""
name: tick
kind: sql
schedule: every 1s
target: flag_metrics
source: {{url: "sqlite:///{source}", query: "SELECT 1 AS x WHERE 1 = 0"}}
mapping: {{feature: x, app_name: x, hour: x, "yes": x, "no": x}}
""")
    schedulers = [subprocess.Popen([*LIFTOFF, "scheduler", "--poll", "0.5"], env=env, cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True) for env in fleet["envs"]]
    engine = create_engine(fleet["url"])

    def runs() -> list:
        with engine.connect() as conn:
            return conn.execute(text("SELECT started_at FROM job_runs WHERE job = 'pull:tick' "
                                     "ORDER BY started_at")).all()

    try:
        deadline = time.monotonic() + 30
        while len(runs()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        start = len(runs())
        time.sleep(5)
        window = runs()[start:]
        # Two leaders would record ~10 runs in 5 s; one records ~5, a second or more apart.
        assert 4 <= len(window) <= 6, window
        gaps = [(b[0] - a[0]).total_seconds() for a, b in zip(window, window[1:], strict=False)]
        assert min(gaps) > 0.5, gaps
        with engine.connect() as conn:
            leaders = conn.execute(text("SELECT pid FROM scheduler_leaders")).scalars().all()
        assert len(leaders) == 1 and leaders[0] in {p.pid for p in schedulers}
    finally:
        for process in schedulers:
            _stop(process)
        engine.dispose()
        shutil.rmtree(connectors, ignore_errors=True)
