"""Flag delivery benchmark: Liftoff (gunicorn + PostgreSQL) against unleash-server@8.2.0.

Both serve the same payload (10 features, 3 segments) from the same PostgreSQL server with token
auth; ``wrk`` measures ``GET /api/client/features`` answered ``200`` and ``304`` for 20 s each on
loopback. Then the exposure recompute for 100,000 people after one stage change is timed.

Run from the repository root:  .venv/bin/python benchmarks/flag_delivery/run.py
Needs: wrk (``apt-get install -y wrk``), node + npm, PostgreSQL on 127.0.0.1:5432 (user postgres).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.support import admin_sql, drop_database, free_port, wait_http  # noqa: E402

UNLEASH_DIR = ROOT / ".cache" / "unleash-server"
UNLEASH_VERSION = "8.2.0"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"
# Fresh secrets each run, handed to unleash-server through its INIT_*_API_TOKENS settings.
UNLEASH_CLIENT_TOKEN = f"default:production.{secrets.token_hex(16)}"
UNLEASH_ADMIN_TOKEN = f"*:*.{secrets.token_hex(16)}"


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # the group we started: gunicorn master + workers, or node
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


# --- Liftoff -------------------------------------------------------------------------------------


def seed_liftoff(database_url: str) -> str:
    """Migrate, create 3 cohorts and 10 features at various stages, return a client token."""
    from app import create_app
    from app.cli.admin import upgrade_database
    from app.db import db
    from app.models import Cohort, CohortMember, Person
    from app.services import rollout
    from app.services.access import create_token

    upgrade_database(database_url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SKIP_DASH": True})
    with app.app_context():
        people = [Person(person_id=f"emp{i:05d}") for i in range(300)]
        db.session.add_all(people)
        for key, members in (("champions", people[:20]), ("pilots-sales", people[20:70]),
                             ("pilots-legal", people[70:120])):
            db.session.add(Cohort(key=key, name=key, members=[CohortMember(person=p) for p in members]))
        db.session.flush()
        for i in range(10):
            key = f"ai-feature-{i:02d}"
            rollout.create_feature({"key": key, "name": f"AI feature {i}", "stages": [
                {"name": "champions", "cohorts": ["champions"]},
                {"name": "pilots", "cohorts": ["pilots-sales", "pilots-legal"], "percentage": 10},
                {"name": "ramp", "percentage": 10 * (i + 1)},
            ]}, "benchmark")
            for _ in range(i % 4):
                rollout.advance(key, "benchmark")
        _, secret = create_token("client", "production", name="benchmark")
        db.session.commit()
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    return secret


def start_liftoff(database_url: str, port: int, workers: int, threads: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "LIFTOFF_SECRET_KEY": "benchmark",
           "LIFTOFF_INSTANCE_DIR": str(ROOT / "instance")}
    command = [str(ROOT / ".venv" / "bin" / "gunicorn"), "--workers", str(workers),
               "--worker-class", "gthread", "--threads", str(threads), "--bind", f"127.0.0.1:{port}",
               "--log-level", "warning", "app:create_app()"]
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


# --- unleash-server ------------------------------------------------------------------------------


def ensure_unleash() -> Path:
    main = UNLEASH_DIR / "node_modules" / "unleash-server" / "package.json"
    if not main.exists() or json.loads(main.read_text())["version"] != UNLEASH_VERSION:
        UNLEASH_DIR.mkdir(parents=True, exist_ok=True)
        if not (UNLEASH_DIR / "package.json").exists():
            (UNLEASH_DIR / "package.json").write_text('{"name": "bench-unleash", "private": true}\n')
        print(f"installing unleash-server@{UNLEASH_VERSION} into {UNLEASH_DIR} ...", flush=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", f"unleash-server@{UNLEASH_VERSION}"],
                       cwd=UNLEASH_DIR, check=True)
    return UNLEASH_DIR


def start_unleash(database: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
           "DATABASE_SSL": "false", "HTTP_PORT": str(port), "SEND_TELEMETRY": "false",
           "CHECK_VERSION": "false", "LOG_LEVEL": "warn",
           "INIT_CLIENT_API_TOKENS": UNLEASH_CLIENT_TOKEN, "INIT_ADMIN_API_TOKENS": UNLEASH_ADMIN_TOKEN,
           # By default unleash-server answers 429 after 20,000 SDK requests a minute from one
           # address; wrk sends more, and Liftoff has no such limit, so lift it for a fair race.
           "SDK_API_RATE_LIMIT_PER_MINUTE": "100000000",
           "TOKEN_AUTHENTICATION_RATE_LIMIT_PER_MINUTE": "100000000"}
    script = "require('unleash-server').start().catch((e) => { console.error(e); process.exit(1); });"
    return subprocess.Popen(["node", "-e", script], cwd=UNLEASH_DIR, env=env, start_new_session=True)


def load_unleash(base: str, payload: dict) -> None:
    """Create Liftoff's production payload in unleash-server through its admin API."""
    s = requests.Session()
    s.headers["Authorization"] = UNLEASH_ADMIN_TOKEN
    ids = {}
    for segment in payload["segments"]:
        r = s.post(f"{base}/api/admin/segments", json={"name": segment["name"],
                                                          "constraints": segment["constraints"]})
        r.raise_for_status()
        ids[segment["id"]] = r.json()["id"]
    project = f"{base}/api/admin/projects/default/features"
    for feature in payload["features"]:
        s.post(project, json={"name": feature["name"], "type": "release"}).raise_for_status()
        env = f"{project}/{feature['name']}/environments/production"
        for strategy in feature["strategies"]:
            body = {**strategy, "segments": [ids[i] for i in strategy["segments"]]}
            s.post(f"{env}/strategies", json=body).raise_for_status()
        if feature["enabled"]:
            s.post(f"{env}/on").raise_for_status()


# --- measuring -----------------------------------------------------------------------------------


def wrk(url: str, headers: dict, seconds: int, connections: int) -> tuple[float, float, int]:
    """(successful responses per second, p99 latency in ms, error responses) of one wrk run."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for name, value in headers.items():
        command[1:1] = ["-H", f"{name}: {value}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    total, elapsed, unit = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out).groups()
    elapsed_s = float(elapsed) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()
    p99_ms = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    found = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = int(found.group(1)) if found else 0
    # Only answers an SDK could use count: errors are left out of the rate (and reported).
    return (int(total) - errors) / elapsed_s, p99_ms, errors


def comparable(payload: dict) -> list:
    """The payload with server-specific ids and defaults left out: what an SDK would evaluate."""
    names = {s["id"]: s["name"] for s in payload.get("segments", [])}
    segments = sorted((s["name"], json.dumps(s["constraints"][0]["values"])) for s in payload["segments"])
    features = sorted(
        (f["name"], f["enabled"], json.dumps([
            (s["name"], s["parameters"], [names[i] for i in s.get("segments", [])])
            for s in f["strategies"]
        ], sort_keys=True))
        for f in payload["features"]
    )
    return [segments, features]


def measure(name: str, url: str, token: str, seconds: int, connections: int) -> dict:
    # SDKs announce their spec version; from 4.2 on, segments come separately, not inlined.
    headers = {"Authorization": token, "Unleash-Client-Spec": "5.1.9"}
    first = requests.get(url, headers=headers, timeout=10)
    first.raise_for_status()
    etag = first.headers.get("ETag")
    check = requests.get(url, headers={**headers, "If-None-Match": etag or ""}, timeout=10)
    if check.status_code != 304:
        raise RuntimeError(f"{name} does not answer 304 to If-None-Match: {check.status_code}")
    wrk(url, headers, 2, connections)  # warm up (JIT, caches, connections)
    ok = wrk(url, headers, seconds, connections)
    unchanged = wrk(url, {**headers, "If-None-Match": etag}, seconds, connections)
    body = first.json()
    return {"name": name, "bytes": len(first.content), "features": len(body["features"]),
            "segments": len(body.get("segments", [])), "200": ok, "304": unchanged,
            "comparable": comparable(body)}


def time_exposure(database_url: str, people: int) -> dict:
    """Seconds to apply one stage change (30 % ramp) and one no-op recompute for ``people`` people."""
    from sqlalchemy import insert

    from app import create_app
    from app.db import db, utcnow
    from app.models import Person
    from app.services import exposure, rollout

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SKIP_DASH": True})
    with app.app_context():
        batch = [{"person_id": f"bench-{i:07d}", "name": None, "created_at": utcnow()} for i in range(people)]
        for i in range(0, people, 10_000):
            db.session.execute(insert(Person), batch[i:i + 10_000])
        rollout.create_feature({"key": "exposure-bench", "name": "Exposure bench", "stages": [
            {"name": "champions", "cohorts": ["champions"]},
            {"name": "ramp 30 %", "percentage": 30},
            {"name": "ramp 60 %", "percentage": 60},
        ]}, "benchmark")
        rollout.advance("exposure-bench", "benchmark")
        db.session.commit()
        timings = {}
        for label in ("stage change to 30 %", "stage change to 60 %"):
            started = time.perf_counter()
            rollout.advance("exposure-bench", "benchmark")
            db.session.commit()
            timings[label] = time.perf_counter() - started
        started = time.perf_counter()
        # What the people service triggers: the new people reach the other features' ramps.
        exposure.audiences_changed(utcnow())
        db.session.commit()
        timings["all 11 features after the people import"] = time.perf_counter() - started
        timings["open spells"] = exposure.exposed_now(rollout._load("exposure-bench").id)
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=20, help="wrk duration per measurement")
    parser.add_argument("--connections", type=int, default=10, help="wrk connections (one thread)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers for Liftoff")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--people", type=int, default=100_000, help="people for the exposure timing")
    parser.add_argument("--skip-unleash", action="store_true", help="measure Liftoff only")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")

    suffix = uuid.uuid4().hex[:8]
    liftoff_db, unleash_db = f"bench_liftoff_{suffix}", f"bench_unleash_{suffix}"
    liftoff_url = PG + liftoff_db
    processes: list[subprocess.Popen] = []
    results = []
    try:
        admin_sql(PG, f'CREATE DATABASE "{liftoff_db}"')
        print("seeding Liftoff ...", flush=True)
        token = seed_liftoff(liftoff_url)
        port = free_port()
        processes.append(start_liftoff(liftoff_url, port, args.workers, args.threads))
        wait_http(f"http://127.0.0.1:{port}/healthz")
        liftoff_url_features = f"http://127.0.0.1:{port}/api/client/features"
        payload = requests.get(liftoff_url_features, headers={"Authorization": token}, timeout=10).json()
        print(f"measuring Liftoff (gunicorn {args.workers} workers x {args.threads} threads) ...", flush=True)
        results.append(measure("liftoff", liftoff_url_features, token, args.seconds, args.connections))
        stop(processes.pop())

        if not args.skip_unleash:
            ensure_unleash()
            admin_sql(PG, f'CREATE DATABASE "{unleash_db}"')
            uport = free_port()
            print(f"starting unleash-server@{UNLEASH_VERSION} ...", flush=True)
            processes.append(start_unleash(unleash_db, uport))
            wait_http(f"http://127.0.0.1:{uport}/health", timeout=180)
            load_unleash(f"http://127.0.0.1:{uport}", payload)
            time.sleep(2)  # unleash-server refreshes its client-features cache in the background
            print("measuring unleash-server ...", flush=True)
            results.append(measure("unleash-server", f"http://127.0.0.1:{uport}/api/client/features",
                                   UNLEASH_CLIENT_TOKEN, args.seconds, args.connections))
            stop(processes.pop())

        print(f"timing the exposure recompute for {args.people:,} people ...", flush=True)
        exposure_timings = time_exposure(liftoff_url, args.people)
    finally:
        for process in processes:
            stop(process)
        for database in (liftoff_db, unleash_db):
            drop_database(PG, database)

    print()
    print(f"GET /api/client/features, wrk -t1 -c{args.connections} -d{args.seconds}s, loopback")
    print(f"{'server':<16}{'payload':>18}{'200 req/s':>12}{'200 p99':>10}{'304 req/s':>12}{'304 p99':>10}"
          f"{'errors':>9}")
    for r in results:
        shape = f"{r['features']}f/{r['segments']}s/{r['bytes']}B"
        print(f"{r['name']:<16}{shape:>18}{r['200'][0]:>12,.0f}{r['200'][1]:>8.2f}ms"
              f"{r['304'][0]:>12,.0f}{r['304'][1]:>8.2f}ms{r['200'][2] + r['304'][2]:>9,}")
    print("(req/s count successful answers only; errors = non-2xx/3xx answers in both runs)")
    if len(results) == 2:
        ours, theirs = results
        same = ours["comparable"] == theirs["comparable"]
        print(f"same flags, strategies and segments in both payloads: {'yes' if same else 'NO'}")
        ratios = [ours[k][0] / theirs[k][0] if theirs[k][0] else float("inf") for k in ("200", "304")]
        print(f"ratio Liftoff / unleash-server: 200 {ratios[0]:.2f}x, 304 {ratios[1]:.2f}x (goal >= 2x)")
    print()
    print(f"exposure recompute, {args.people:,} people, PostgreSQL (goal <= 5 s):")
    for label, value in exposure_timings.items():
        print(f"  {label:<42} {value:.2f} s" if isinstance(value, float) else f"  {label:<42} {value:,}")


if __name__ == "__main__":
    main()
