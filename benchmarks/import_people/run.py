"""How long `liftoff import people`, `import cohorts` and `seed` take; prints the figures.

    .venv/bin/python benchmarks/import_people/run.py [N_PEOPLE]

Runs the real commands in subprocesses against a fresh SQLite database in a temporary directory
(or DATABASE_URL's server when it is set to a PostgreSQL URL of a database you created for this).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIFTOFF = str(Path(sys.executable).with_name("liftoff"))


def run(args: list[str], env: dict) -> float:
    started = time.perf_counter()
    done = subprocess.run([LIFTOFF, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"liftoff {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
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
    print(f"import people, {n} new rows:        {first:6.2f} s  ({n / first:,.0f} rows/s)")
    print(f"import people, same file again:      {again:6.2f} s  ({n / again:,.0f} rows/s)")
    print(f"import cohorts, {len(range(0, n, 3))} members in 20: {members:6.2f} s")
    print(f"liftoff seed (demo company):         {seed:6.2f} s")
    print(f"liftoff seed again (no changes):     {seed_again:6.2f} s")


if __name__ == "__main__":
    main()
