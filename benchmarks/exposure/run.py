"""Exposure recompute after a stage change at company scale (issue #20), on PostgreSQL.

Seeds a fresh database with ``--people`` people (default 100,000) in 40 departments, a champions
cohort of ``--cohort`` people (default 20,000, through the cohort service, with its history) and one
feature whose plan is champions -> 10 % -> 50 % -> everyone. Then times, through the rollout
service as the API calls it (transition, exposure spells, payload, commit), each stage change:
every advance, a rollback from everyone to 50 % and the advance back. Prints each change's time,
the people it reached and the spells it opened or closed, beside the goal (a change reaching
50,000 people <= 2 s), with the machine's 1-minute load and the process's peak memory.

Usage: .venv/bin/python benchmarks/exposure/run.py [--people 100000] [--cohort 20000]
       [--server postgresql+psycopg://postgres@127.0.0.1:5432/] [--keep]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.support import create_database, drop_database  # noqa: E402

GOAL_S = 2.0
STARTED = datetime(2026, 1, 5, tzinfo=UTC)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--cohort", type=int, default=20_000, help="people in the champions cohort")
    parser.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432/")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args()


def seed(app, people: int, cohort: int) -> None:
    from sqlalchemy import text

    from app.db import db
    from app.models import Department, Person
    from app.services.people import directory
    from app.services.rollout import transitions

    with app.app_context():
        departments = [Department(name=f"Dept {i:02d}", hourly_rate_eur=40.0) for i in range(40)]
        db.session.add_all(departments)
        db.session.flush()
        ids = [d.id for d in departments]
        db.session.execute(Person.__table__.insert(), [
            {"person_id": f"p{i:06d}", "name": f"Person {i}", "department_id": ids[i % 40],
             "created_at": STARTED} for i in range(people)])
        db.session.commit()
        print(f"  {people:,} people", flush=True)
        members = [f"p{i:06d}" for i in range(0, cohort * 5, 5)][:cohort]
        directory.put_cohort("champions", {"name": "Champions", "members": members})
        transitions.create_feature({"key": "assist", "name": "Assist", "stages": [
            {"name": "champions", "cohorts": ["champions"]}, {"name": "ramp", "percentage": 10},
            {"name": "half", "percentage": 50}, {"name": "everyone", "percentage": 100}]}, "bench")
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        print(f"  a cohort of {cohort:,}, one feature with four stages", flush=True)


def timed_changes(app) -> list[tuple[str, float, int, int]]:
    """(change, seconds, people exposed after it, spells opened or closed) for each stage change."""
    from sqlalchemy import func, select

    from app.db import db
    from app.models import ExposureSpell
    from app.services.rollout import exposure, transitions

    def spell_rows() -> int:
        return db.session.scalar(select(func.count()).select_from(ExposureSpell)) or 0

    out = []
    steps = [("advance to champions (cohort)", transitions.advance), ("advance to 10 %", transitions.advance),
             ("advance to 50 %", transitions.advance), ("advance to everyone", transitions.advance),
             ("rollback to 50 %", lambda key, actor: transitions.rollback(key, actor, "benchmark")),
             ("advance to everyone again", transitions.advance)]
    with app.app_context():
        for name, change in steps:
            before = spell_rows()
            closed_before = db.session.scalar(select(func.count()).select_from(ExposureSpell)
                                              .where(ExposureSpell.end_at.is_not(None))) or 0
            started = time.perf_counter()
            feature = change("assist", "bench")
            db.session.commit()
            seconds = time.perf_counter() - started
            closed = (db.session.scalar(select(func.count()).select_from(ExposureSpell)
                                        .where(ExposureSpell.end_at.is_not(None))) or 0) - closed_before
            out.append((name, seconds, exposure.exposed_now(feature.id), spell_rows() - before + closed))
            time.sleep(0.01)  # the next change takes effect strictly later
    return out


def main() -> None:
    args = parse_args()
    name = f"liftoff_bench_exposure_{os.getpid()}"
    url = create_database(args.server, name)
    try:
        from app import create_app
        from app.cli.admin import upgrade_database

        upgrade_database(url)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SKIP_DASH": True, "SECRET_KEY": "bench"})
        print(f"seeding {name} ...", flush=True)
        seed(app, args.people, args.cohort)
        load = os.getloadavg()[0]
        changes = timed_changes(app)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\nStage changes of one feature, {args.people:,} people, PostgreSQL "
              f"(1-minute load {load:.2f} before, {os.getloadavg()[0]:.2f} after; "
              f"peak memory {peak_mb:,.0f} MB)")
        print(f"{'change':<32} {'seconds':>8} {'exposed after':>14} {'spells changed':>15}   goal")
        for change, seconds, exposed, spells in changes:
            reaching = exposed >= args.people // 2
            goal = f"<= {GOAL_S:.0f} s {'met' if seconds <= GOAL_S else 'MISSED'}" if reaching else "-"
            print(f"{change:<32} {seconds:8.2f} {exposed:>14,} {spells:>15,}   {goal}")
    finally:
        if args.keep:
            print(f"kept database {name}")
        else:
            drop_database(args.server, name)


if __name__ == "__main__":
    main()
