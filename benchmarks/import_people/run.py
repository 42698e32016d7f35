"""How long `liftoff import people`, `import cohorts` and `seed` take; prints each figure beside its
goal.

    .venv/bin/python benchmarks/import_people/run.py [--people 50000]

Runs the real commands in subprocesses against a fresh SQLite database in a temporary directory
(or DATABASE_URL's server when it is set to a PostgreSQL URL of a database you created for this).
Goals: a 100,000-person HR file imports in under a minute (>= 2,000 rows/s, first import and
re-import), cohort members at the same pace, and the demo seed in under 60 s (`make demo` has two
minutes for install, migrate, seed and serve).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIFTOFF = str(Path(sys.executable).with_name("liftoff"))
GOAL_ROWS_PER_S = 2_000
GOAL_SEED_S = 60.0


def run(args: list[str], env: dict) -> float:
    started = time.perf_counter()
    done = subprocess.run([LIFTOFF, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"liftoff {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=50_000, help="rows of the people file (default 50,000)")
    n = parser.parse_args().people
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "LIFTOFF_INSTANCE_DIR": tmp}
        env.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.db")
        people = Path(tmp, "people.csv")
        with people.open("w") as out:
            out.write("person_id,name,email,department\n")
            for i in range(n):
                out.write(f"b{i:07d},Person {i},person{i}@bench.example,Dept {i % 12}\n")
        cohorts = Path(tmp, "cohorts.csv")
        with cohorts.open("w") as out:
            out.write("cohort_key,person_id\n")
            for i in range(0, n, 3):
                out.write(f"cohort-{i % 20},b{i:07d}\n")
        run(["db", "upgrade"], env)
        first = run(["import", "people", "--create-departments", str(people)], env)
        again = run(["import", "people", str(people)], env)
        members = run(["import", "cohorts", str(cohorts)], env)
        # The seed gets a database of its own (SQLite only; it needs the rollout and KPI services).
        seed_env = {**env, "DATABASE_URL": f"sqlite:///{tmp}/seed.db"}
        run(["db", "upgrade"], seed_env)
        seed, seed_again = run(["seed"], seed_env), run(["seed"], seed_env)
    n_members = len(range(0, n, 3))
    print(f"machine load (1 min) at the start: {load:.2f}, at the end: {os.getloadavg()[0]:.2f}")
    rows = [(f"import people, {n:,} new rows", first, n / first),
            ("import people, same file again", again, n / again),
            (f"import cohorts, {n_members:,} members in 20", members, n_members / members)]
    for name, seconds, rate in rows:
        met = "met" if rate >= GOAL_ROWS_PER_S else "MISSED"
        print(f"{name:<42} {seconds:7.2f} s  {rate:>10,.0f} rows/s"
              f"   goal >= {GOAL_ROWS_PER_S:,} rows/s  {met}")
    seeds = (("liftoff seed (demo company)", seed), ("liftoff seed again (no changes)", seed_again))
    for name, seconds in seeds:
        met = "met" if seconds <= GOAL_SEED_S else "MISSED"
        print(f"{name:<42} {seconds:7.2f} s  {'':>17}   goal <= {GOAL_SEED_S:.0f} s  {met}")


if __name__ == "__main__":
    main()
