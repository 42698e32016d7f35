"""Dashboard callbacks at scale on PostgreSQL: the p95 latency of every callback of the executive,
adoption and quality pages (goal <= 300 ms), printed.

The dataset is the KPI benchmark's (benchmarks/kpi_scale/run.py: people, features with staged
exposure spells, a year of events COPYed in, then a full refresh-kpis), at the scale given by
--events. Each callback is POSTed to /dashboard/_dash-update-component through the Flask test client
of an app with its Dash dashboard, logged in as an executive, with the CSRF header the browser sends:
the server-side time of a callback, without the network.

Two figures per callback: *cold* (kpi_data's memo cleared before every request, so the KPI module
runs in full) and *warm* (the same request again: what every later viewer of that month gets until
the data changes).

Usage: .venv/bin/python benchmarks/dashboard/run.py [--events 10000000] [--people 10000]
       [--features 20] [--samples 20] [--server postgresql+psycopg://postgres@127.0.0.1:5432/] [--keep]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.kpi_scale.run import (  # noqa: E402  (the KPI benchmark's generator)
    DAYS,
    REFRESH_CODE,
    copy_events,
    create_database,
    drop_database,
    generate_events,
    run_child,
    seed_company,
)

GOAL_MS = 300.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--samples", type=int, default=20, help="requests per callback and mode")
    parser.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432/")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    return parser.parse_args()


def callbacks(features: list[str], months: list[str]) -> list[tuple[str, str, str, list]]:
    """(label, output, store id, store values): every data callback of the three pages."""
    queries = [(f, m) for m in months for f in features]
    return [
        ("executive  render_executive", "exec-body.children", "exec-month", months),
        ("adoption   render_adoption", "adoption-body.children", "adoption-query",
         [{"feature": f, "month": m, "group": "department"} for f, m in queries]),
        ("adoption   render_adoption_weeks", "adoption-weeks.children", "adoption-query",
         [{"feature": f, "month": m, "group": "department"} for f, m in queries]),
        ("quality    render_quality", "quality-body.children", "quality-query",
         [{"feature": f, "month": m} for f, m in queries]),
        ("quality    render_quality_weeks", "quality-weeks.children", "quality-query",
         [{"feature": f, "month": m} for f, m in queries]),
    ]


def body(output: str, store: str, value) -> dict:
    component, prop = output.split(".")
    return {"output": output, "outputs": {"id": component, "property": prop},
            "inputs": [{"id": store, "property": "data", "value": value}],
            "changedPropIds": [f"{store}.data"], "state": []}


def line(name: str, samples: np.ndarray) -> None:
    p95 = float(np.percentile(samples, 95))
    verdict = "OK" if p95 <= GOAL_MS else "MISSED"
    print(f"{name:<46} p95 {p95:>8.0f} ms   p50 {np.percentile(samples, 50):>7.0f} ms   "
          f"goal <= {GOAL_MS:.0f} ms  {verdict}", flush=True)


def main() -> None:
    args = parse_args()
    rng = np.random.default_rng(7)
    name, url = create_database(args.server)
    print(f"database {name}: {args.events:,} events, {args.people:,} people, {args.features} features",
          flush=True)
    try:
        from app import create_app
        from app.cli.admin import upgrade_database
        from app.db import db
        from app.services.access import create_user

        upgrade_database(url)
        plain = create_app({"SQLALCHEMY_DATABASE_URI": url, "SKIP_DASH": True, "SECRET_KEY": "bench"})
        spells, person_ids = seed_company(plain, rng, args.people, args.features)
        began = time.perf_counter()
        events = generate_events(rng, args.events, spells, person_ids, (0, DAYS - 1), "e")
        copy_events(url, events)
        del events
        full = run_child(url, REFRESH_CODE.format(full=True))
        print(f"generated, copied and rolled up in {time.perf_counter() - began:.0f} s "
              f"(refresh {full['seconds']:.1f} s)", flush=True)
        with plain.app_context():
            user = create_user("bench-exec@liftoff.test", "executive", "benchmark password")
            db.session.commit()
            user_id = user.id

        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})  # with Dash
        from dashboards import kpi_data

        client = app.test_client()
        with client.session_transaction() as session:
            session["user_id"] = user_id
        assert client.get("/dashboard/executive").status_code == 200
        token = client.get_cookie("liftoff_csrf", path="/dashboard/").value
        headers = {"X-CSRFToken": token}
        features = sorted({f"f-{k:02d}" for k in (1, args.features // 2)})
        months = ["2025-11", "2025-12"]

        def post(output, store, value) -> float:
            began = time.perf_counter()
            response = client.post("/dashboard/_dash-update-component", json=body(output, store, value),
                                   headers=headers)
            took = (time.perf_counter() - began) * 1000
            assert response.status_code == 200, response.get_data(as_text=True)[:500]
            return took

        print(f"\ncallbacks ({args.samples} requests each; features {features}, months {months})")
        for label, output, store, values in callbacks(features, months):
            cold, warm = [], []
            for i in range(args.samples):
                value = values[i % len(values)]
                kpi_data.clear_cache()
                cold.append(post(output, store, value))
                warm.append(post(output, store, value))
            line(f"{label} (cold)", np.array(cold))
            line(f"{label} (warm)", np.array(warm))
    finally:
        if not args.keep:
            drop_database(args.server, name)


if __name__ == "__main__":
    main()
