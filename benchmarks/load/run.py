"""Load test: 1,000 simulated SDK instances and 50 ingestion clients against gunicorn + PostgreSQL.

- Each SDK instance polls ``GET /api/client/features`` every 15 s (first poll spread over the
  interval) with the ETag of its last answer, as the Unleash SDKs do: mostly ``304``; a stage
  change mid-run makes every instance fetch the new payload once (``200``).
- Each ingestion client posts batches of events to ``POST /api/v1/events`` with a short think time;
  a share of batches is deliberately sent twice (a client that lost the answer). Every answer is
  checked: a resend must be all duplicates.
- At the end the events table is counted: stored == distinct events sent, nothing lost, nothing
  twice. Any non-2xx/304 answer or transport error is an error; the run fails on any.

Loopback only, bounded in time (``--duration``, 120 s by default). Run from the repository root:

    .venv/bin/python benchmarks/load/run.py          # or: make bench-load

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth); creates and drops its own database.
Prints p50/p95/p99 latencies per endpoint and answer, and throughput.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.support import admin_sql, drop_database, free_port, wait_http  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"
FEATURES = 10
PEOPLE = 2_000


def seed(database_url: str) -> dict:
    """Migrate, add people, cohorts and features at various stages; return the three tokens."""
    from app import create_app
    from app.cli.admin import upgrade_database
    from app.db import db
    from app.models import Cohort, CohortMember, Person
    from app.services.accounts.access import create_token
    from app.services.rollout import transitions as rollout

    upgrade_database(database_url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SKIP_DASH": True})
    with app.app_context():
        people = [Person(person_id=f"emp{i:05d}") for i in range(PEOPLE)]
        db.session.add_all(people)
        for key, members in (("champions", people[:40]), ("pilots", people[40:300])):
            db.session.add(Cohort(key=key, name=key, members=[CohortMember(person=p) for p in members]))
        db.session.flush()
        for i in range(FEATURES):
            key = f"ai-feature-{i:02d}"
            rollout.create_feature({"key": key, "name": f"AI feature {i}", "stages": [
                {"name": "champions", "cohorts": ["champions"]},
                {"name": "pilots", "cohorts": ["pilots"]},
                {"name": "ramp", "percentage": 10 * (i + 1)},
            ]}, "load-test")
            for _ in range(i % 3):
                rollout.advance(key, "load-test")
        tokens = {kind: create_token(kind, env, name=f"load {kind}")[1]
                  for kind, env in (("client", "production"), ("ingest", None), ("admin", None))}
        db.session.commit()
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    return tokens


def start_gunicorn(database_url: str, port: int, workers: int, threads: int, metrics_dir: str):
    env = {**os.environ, "DATABASE_URL": database_url, "LIFTOFF_SECRET_KEY": "load-test",
           "LIFTOFF_INSTANCE_DIR": str(Path(metrics_dir) / "instance"),
           "PROMETHEUS_MULTIPROC_DIR": str(Path(metrics_dir) / "metrics"),
           "LIFTOFF_LOG_FORMAT": "json", "LIFTOFF_THREADS": str(threads)}
    command = [str(ROOT / ".venv" / "bin" / "gunicorn"), "-w", str(workers), "--bind", f"127.0.0.1:{port}",
               "--log-level", "warning", "--config", str(ROOT / "scripts" / "gunicorn.conf.py"),
               "app.asgi:app"]
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


class Stats:
    """Latencies per (endpoint, answer), errors and event counts; shared by every thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.events_sent: set[str] = set()
        self.events_posted = 0  # including resends
        self.accepted = 0
        self.duplicates = 0
        self.resends = 0

    def note(self, key: str, seconds: float) -> None:
        with self.lock:
            self.latency[key].append(seconds)

    def error(self, message: str) -> None:
        with self.lock:
            if len(self.errors) < 10_000:
                self.errors.append(message)


_local = threading.local()


def http() -> requests.Session:
    # One keep-alive session per worker thread (a real SDK instance keeps its connection too).
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


class SdkFleet:
    """``instances`` SDKs, each polling every ``interval`` s, run by a bounded thread pool."""

    def __init__(self, base: str, token: str, instances: int, interval: float, pool: int,
                 stats: Stats) -> None:
        self.url = f"{base}/api/client/features"
        self.token, self.interval, self.stats = token, interval, stats
        self.etags: list[str | None] = [None] * instances
        self.pool = ThreadPoolExecutor(max_workers=pool, thread_name_prefix="sdk")
        start = time.monotonic()
        self.due = [(start + interval * i / instances, i) for i in range(instances)]
        heapq.heapify(self.due)
        self.lag: list[float] = []  # how long after its due time each poll started (client backlog)

    def poll(self, instance: int, due: float) -> None:
        lag = time.monotonic() - due
        with self.stats.lock:
            self.lag.append(lag)
        headers = {"Authorization": self.token, "UNLEASH-APPNAME": "load-test",
                   "UNLEASH-INSTANCEID": f"sdk-{instance}"}
        if self.etags[instance]:
            headers["If-None-Match"] = self.etags[instance]
        started = time.perf_counter()
        try:
            response = http().get(self.url, headers=headers, timeout=30)
        except requests.RequestException as error:
            self.stats.error(f"features: {type(error).__name__}: {str(error)[:160]}")
            return
        elapsed = time.perf_counter() - started
        if response.status_code in (200, 304):
            self.stats.note(f"GET /api/client/features {response.status_code}", elapsed)
            self.etags[instance] = response.headers.get("ETag", self.etags[instance])
        else:
            self.stats.error(f"features: {response.status_code}")

    def run(self, until: float) -> None:
        while True:
            due, instance = self.due[0]
            if due >= until:
                break
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(min(delay, 0.05))
                continue
            heapq.heapreplace(self.due, (due + self.interval, instance))
            self.pool.submit(self.poll, instance, due)
        self.pool.shutdown(wait=True)


def make_batch(client: int, counter: itertools.count, size: int, rng: random.Random) -> list[dict]:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    return [{
        "event_id": f"load-{client}-{next(counter)}",
        "feature": f"ai-feature-{rng.randrange(FEATURES):02d}",
        "person_id": f"emp{rng.randrange(PEOPLE):05d}",
        "occurred_at": (base + timedelta(seconds=rng.randrange(20 * 86_400))).isoformat(),
        "ai_assisted": rng.random() < 0.7,
        "outcome": rng.choice(["success", "success", "success", "error", "corrected"]),
        "duration_seconds": round(rng.uniform(20, 900), 1),
    } for _ in range(size)]


def ingestion_client(client: int, base: str, token: str, until: float, batch: int, think: float,
                     resend_share: float, stats: Stats) -> None:
    rng = random.Random(client)
    counter = itertools.count()
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{base}/api/v1/events"
    while time.monotonic() < until:
        rows = make_batch(client, counter, batch, rng)
        sends = 2 if rng.random() < resend_share else 1
        for attempt in range(sends):
            started = time.perf_counter()
            try:
                response = session.post(url, json=rows, headers=headers, timeout=60)
            except requests.RequestException as error:
                stats.error(f"events: {type(error).__name__}: {str(error)[:160]}")
                break
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                stats.error(f"events: {response.status_code} {response.text[:200]}")
                break
            answer = response.json()
            stats.note("POST /api/v1/events 200", elapsed)
            with stats.lock:
                stats.events_posted += len(rows)
                stats.accepted += answer["accepted"]
                stats.duplicates += answer["duplicates"]
                if attempt == 0:
                    stats.events_sent.update(r["event_id"] for r in rows)
                else:
                    stats.resends += 1
            expected = {"accepted": len(rows), "duplicates": 0} if attempt == 0 else {
                "accepted": 0, "duplicates": len(rows)}
            if answer != expected:
                stats.error(f"events: answer {answer}, expected {expected}")
        time.sleep(think * rng.uniform(0.5, 1.5))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(stats: Stats, elapsed: float) -> None:
    print(f"\n{'endpoint / answer':34} {'count':>8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    total = 0
    for key in sorted(stats.latency):
        values = stats.latency[key]
        total += len(values)
        print(f"{key:34} {len(values):8d} {len(values) / elapsed:8.1f} "
              f"{percentile(values, 0.50) * 1000:8.1f} {percentile(values, 0.95) * 1000:8.1f} "
              f"{percentile(values, 0.99) * 1000:8.1f}")
    print(f"{'all':34} {total:8d} {total / elapsed:8.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    parser.add_argument("--sdks", type=int, default=1_000, help="simulated SDK instances")
    parser.add_argument("--interval", type=float, default=15.0, help="SDK poll interval, s")
    parser.add_argument("--ingesters", type=int, default=50, help="concurrent ingestion clients")
    parser.add_argument("--batch", type=int, default=50, help="events per batch")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between batches, s")
    parser.add_argument("--resend-share", type=float, default=0.05, help="share of batches sent twice")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument("--pool", type=int, default=64, help="client threads for the SDK polls")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    database = f"liftoff_load_{uuid.uuid4().hex[:8]}"
    admin_sql(PG, f'CREATE DATABASE "{database}"')
    database_url = PG + database
    server = None
    metrics_dir = tempfile.mkdtemp(prefix="liftoff-load-")
    (Path(metrics_dir) / "metrics").mkdir()
    try:
        print(f"seeding {database}: {PEOPLE} people, {FEATURES} features ...", flush=True)
        tokens = seed(database_url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_gunicorn(database_url, port, args.workers, args.threads, metrics_dir)
        wait_http(f"{base}/healthz")
        print(f"gunicorn app.asgi:app, {args.workers} asyncio workers x {args.threads} threads on {base}; "
              f"{args.sdks} SDKs every {args.interval:g} s + {args.ingesters} ingestion clients "
              f"(batches of {args.batch}, ~{args.think:g} s apart, {args.resend_share:.0%} resent) "
              f"for {args.duration:g} s", flush=True)

        stats = Stats()
        started = time.monotonic()
        until = started + args.duration
        fleet = SdkFleet(base, tokens["client"], args.sdks, args.interval, args.pool, stats)
        threads = [threading.Thread(target=fleet.run, args=(until,), name="fleet")]
        threads += [threading.Thread(target=ingestion_client, name=f"ingest-{i}", args=(
            i, base, tokens["ingest"], until, args.batch, args.think, args.resend_share, stats))
            for i in range(args.ingesters)]
        for thread in threads:
            thread.start()
        # Half-way, a stage changes: every SDK must fetch the new payload once (a burst of 200s).
        time.sleep(args.duration / 2)
        changed = requests.post(f"{base}/api/v1/features/ai-feature-00/advance",
                                json={"reason": "load test"},
                                headers={"Authorization": f"Bearer {tokens['admin']}"}, timeout=30)
        if changed.status_code != 200:
            stats.error(f"advance: {changed.status_code} {changed.text[:200]}")
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started

        report(stats, elapsed)
        engine = create_engine(database_url)
        with engine.connect() as conn:
            stored, distinct = conn.execute(text(
                "SELECT count(*), count(DISTINCT (source, event_id)) FROM events")).one()
        engine.dispose()
        sent = len(stats.events_sent)
        print(f"\nevents: {sent} distinct sent ({stats.events_posted} posted incl. {stats.resends} "
              f"resent batches), {stats.accepted} accepted, {stats.duplicates} duplicates; "
              f"stored {stored} ({distinct} distinct) -> {sent / elapsed:.0f} events/s")
        print(f"SDK poll start lag behind schedule (client-side backlog): p50 "
              f"{percentile(fleet.lag, 0.5):.2f} s, p99 {percentile(fleet.lag, 0.99):.2f} s; "
              f"{len(fleet.lag) / elapsed:.1f} polls/s offered (target {args.sdks / args.interval:.1f})")
        scrape = requests.get(f"{base}/metrics", timeout=30,
                              headers={"Authorization": f"Bearer {tokens['admin']}"})
        fetches = [line for line in scrape.text.splitlines()
                   if line.startswith(("liftoff_flag_fetches_total", "liftoff_events_ingested_total"))]
        print("/metrics (all workers):", "; ".join(fetches))

        lost_or_doubled = stored != sent or distinct != stored or stats.accepted != sent
        print(f"errors: {len(stats.errors)}" + (f" (first: {stats.errors[:5]})" if stats.errors else ""))
        print("RESULT:", "FAIL" if stats.errors or lost_or_doubled else "PASS (zero errors, zero lost, "
              "zero duplicated)")
        return 1 if stats.errors or lost_or_doubled else 0
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        if not args.keep:
            drop_database(PG, database)


if __name__ == "__main__":
    sys.exit(main())
