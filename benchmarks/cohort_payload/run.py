"""Flag payloads of a 100,000-person company with large cohorts (issue #20), both forms.

Seeds (SQLite in a temporary directory: the payload does not depend on the database) ``--people``
people and ``--features`` features whose stages use cohorts of 100 to 20,000 people, serves the app
with waitress on loopback, and for the default payload (every member's ``userId``), the compact one
(``Liftoff-Cohorts: context``) and a payload with no cohorts at all prints: its size, the time the
official Python SDK's engine needs to load it (``take_state``, what the SDK does on every changed
poll) and to answer ``is_enabled`` through a real ``UnleashClient`` (median over many people,
members and not).

Usage: .venv/bin/python benchmarks/cohort_payload/run.py [--people 100000] [--features 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.support import free_port, wait_http  # noqa: E402

COHORT_SIZES = [100, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 20_000]  # used by the stages


def seed(app, people: int, features: int, with_cohorts: bool) -> dict[int, list[str]]:
    """People, cohorts and live features; returns each person's cohort keys by index."""
    from sqlalchemy import text

    from app.db import db
    from app.models import Cohort, CohortMember, Person
    from app.services.rollout import transitions as rollout

    rng = np.random.default_rng(20)
    with app.app_context():
        db.session.execute(Person.__table__.insert(), [
            {"person_id": f"p{i:06d}", "name": f"P {i}"} for i in range(people)])
        ids = db.session.scalars(text("SELECT id FROM people ORDER BY id")).all()
        keys: dict[int, list[str]] = {}
        cohort_keys = []
        if with_cohorts:
            for n, size in enumerate(COHORT_SIZES):
                key = f"cohort-{n}-{size}"
                cohort = Cohort(key=key, name=key)
                db.session.add(cohort)
                db.session.flush()
                members = rng.choice(people, min(size, people), replace=False)
                db.session.execute(CohortMember.__table__.insert(), [
                    {"cohort_id": cohort.id, "person_id": int(ids[m])} for m in members])
                for m in members:
                    keys.setdefault(int(m), []).append(key)
                cohort_keys.append(key)
        for f in range(features):
            pilots = cohort_keys[f % len(cohort_keys):][:2] if cohort_keys else []
            stages = [{"name": "pilots", "cohorts": pilots}, {"name": "ramp", "percentage": 10 * (1 + f % 5)}]
            rollout.create_feature({"key": f"f-{f:02d}", "name": f"F {f}", "stages": stages}, "bench")
        db.session.execute(text("UPDATE features SET current_stage = 2"))
        from app.flags.payload_cache import mark_changed

        mark_changed()
        db.session.commit()
    return keys


def serve(app, port: int) -> threading.Thread:
    from waitress import serve as waitress_serve

    thread = threading.Thread(target=waitress_serve, args=(app,),
                              kwargs={"host": "127.0.0.1", "port": port, "threads": 4, "_quiet": True},
                              daemon=True)
    thread.start()
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
    return thread


def measure(label: str, base: str, token: str, headers: dict, contexts: list[dict], tmp: Path) -> None:
    from UnleashClient import UnleashClient
    from UnleashClient.utils import InstanceAllowType
    from yggdrasil_engine.engine import UnleashEngine

    body = requests.get(f"{base}/api/client/features", headers={"Authorization": token, **headers},
                        timeout=60).text
    loads = []
    for _ in range(5):
        engine = UnleashEngine()
        began = time.perf_counter()
        engine.take_state(body)
        loads.append((time.perf_counter() - began) * 1000)
    name = f"bench-{uuid.uuid4().hex[:6]}"
    client = UnleashClient(url=f"{base}/api", app_name=name, instance_id=name, refresh_interval=3600,
                           disable_metrics=True, disable_registration=True,
                           custom_headers={"Authorization": token, **headers},
                           cache_directory=str(tmp / name),
                           multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW)
    began = time.perf_counter()
    client.initialize_client()
    init_ms = (time.perf_counter() - began) * 1000
    timings, enabled = [], 0
    for context in contexts:
        began = time.perf_counter()
        enabled += client.is_enabled("f-06", context)
        timings.append((time.perf_counter() - began) * 1e6)
    client.destroy()
    print(f"{label:<34} {len(body) / 1024:>10,.1f} KiB   load {statistics.median(loads):>8.1f} ms   "
          f"initialize_client {init_ms:>8.1f} ms   is_enabled p50 {statistics.median(timings):>6.1f} us, "
          f"p95 {np.percentile(timings, 95):>6.1f} us   ({enabled} of {len(contexts)} enabled)", flush=True)


def load_average() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def cohort_field(keys: dict[int, list[str]], index) -> str:
    """The person's cohort keys as the application sends them: ",a,b," (empty: in none)."""
    mine = keys.get(int(index))
    return f",{','.join(mine)}," if mine else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--checks", type=int, default=5_000, help="is_enabled calls timed")
    args = parser.parse_args()
    print(load_average(), flush=True)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for with_cohorts in (True, False):
            os.environ["LIFTOFF_INSTANCE_DIR"] = str(tmp / f"instance-{with_cohorts}")
            from app import create_app
            from app.db import db
            from app.services.accounts.access import create_token

            url = f"sqlite:///{tmp}/bench-{with_cohorts}.db"
            app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SKIP_DASH": True, "SECRET_KEY": "bench"})
            with app.app_context():
                db.create_all()
                _, token = create_token("client", environment="production", name="bench")
                db.session.commit()
            keys = seed(app, args.people, args.features, with_cohorts)
            port = free_port()
            serve(app, port)
            base = f"http://127.0.0.1:{port}"
            picks = np.random.default_rng(1).choice(args.people, args.checks, replace=False)
            plain = [{"userId": f"p{i:06d}"} for i in picks]
            if with_cohorts:
                measure("cohorts, default (userId lists)", base, token, {}, plain, tmp)
                with_field = [{"userId": f"p{i:06d}", "properties": {"liftoffCohorts": cohort_field(keys, i)}}
                              for i in picks]
                measure("cohorts, compact (context field)", base, token,
                        {"Liftoff-Cohorts": "context"}, with_field, tmp)
            else:
                measure("no cohorts", base, token, {}, plain, tmp)
    print(load_average(), flush=True)


if __name__ == "__main__":
    main()
