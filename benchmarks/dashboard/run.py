"""Dashboard callbacks at scale on PostgreSQL: the p95 latency of every data callback of every page
(portfolio, executive, adoption, quality, rollout, enablement, operations; goal <= 300 ms warm,
<= 1 s cold), printed.

The dataset is the KPI benchmark's (benchmarks/kpi_scale/run.py: people, features with staged
exposure spells, a year of events COPYed in, then a full refresh-kpis), at the scale given by
--events, or a database that benchmark kept (--database liftoff_bench_NNNN, e.g. after
`benchmarks/kpi_scale/run.py --load-only`: migrated to this branch's head, rolled up if it was not).
Each callback is POSTed to /dashboard/_dash-update-component through the Flask test client of an app
with its Dash dashboard, logged in as an admin (who sees every page), with the CSRF header the
browser sends: the server-side time of a callback, without the network.

Before the callbacks, the precompute-kpis job (the scheduler's) fills the store of month answers
(app/services/kpi_reads/precompute.py) as it would after a refresh; its time is printed.

Three figures per callback: *cold* (both memos cleared: the per-process rollup reads of
app/services/kpi_reads/cache.py and the page answers of dashboards/kpi/data.py; the first view after a
refresh-kpis run without the warm-up, in a new worker or on another host; the answer store as the
job left it), *warmed* (the page answers cleared, the rollup reads in
memory: what dashboards/kpi/warm.py gives the latest month after each refresh, and any month once one
view read it) and *warm* (the same request again: every later viewer until the data changes).

Usage: .venv/bin/python benchmarks/dashboard/run.py [--events 10000000] [--people 10000]
       [--features 20] [--samples 20] [--server postgresql+psycopg://postgres@127.0.0.1:5432/] [--keep]
       [--database liftoff_bench_NNNN]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.months import month_before  # noqa: E402
from benchmarks.kpi_scale.run import (  # noqa: E402  (the KPI benchmark's generator)
    DAYS,
    REFRESH_CODE,
    copy_events,
    generate_events,
    run_child,
    seed_company,
)
from benchmarks.support import create_database, database_url, drop_database  # noqa: E402

GOAL_MS = 300.0  # warm, and warmed (issue #20)
GOAL_COLD_MS = 1000.0  # cold: nothing remembered (issue #20)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--samples", type=int, default=20, help="requests per callback and mode")
    parser.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432/")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--only", default="", help="measure only callbacks whose label contains this")
    parser.add_argument("--database", default=None,
                        help="measure a database benchmarks/kpi_scale kept instead of generating one")
    return parser.parse_args()


def callbacks(features: list[str], months: list[str]) -> list[tuple[str, str, list[dict]]]:
    """(label, output, input values by component id): every data callback of every page."""
    queries = [(f, m) for m in months for f in features]
    return [
        ("portfolio  render_portfolio", "portfolio-body.children", [{"portfolio-refresh": None}]),
        ("executive  render_executive", "exec-body.children", [{"exec-month": m} for m in months]),
        ("adoption   render_adoption", "adoption-body.children",
         [{"adoption-query": {"feature": f, "month": m, "group": "department"}} for f, m in queries]),
        ("adoption   render_adoption_weeks", "adoption-weeks.children",
         [{"adoption-query": {"feature": f, "month": m, "group": "department"}} for f, m in queries]),
        ("quality    render_quality", "quality-body.children",
         [{"quality-query": {"feature": f, "month": m}} for f, m in queries]),
        ("quality    render_quality_weeks", "quality-weeks.children",
         [{"quality-query": {"feature": f, "month": m}} for f, m in queries]),
        ("rollout    render_rollout", "rollout-body.children",
         [{"rollout-feature": f, "rollout-version": 0} for f in features]),
        ("rollout    render_sdks", "rollout-sdks.children", [{"rollout-version": 0}]),
        ("enablement render_enablement", "..enablement-playbook.children...enablement-gate.children..."
         "enablement-trainings.children...enablement-actions.children...enablement-pulse.children..",
         [{"enablement-feature": f, "enablement-version": 0} for f in features]),
        ("enablement render_feedback", "..enablement-feedback.children...feedback-more.hidden..",
         [{"enablement-feature": f, "enablement-version": 0, "feedback-scope": "open"} for f in features]),
        ("operations render_operations", "ops-body.children", [{"ops-version": 0, "ops-refresh": None}]),
    ]


def body(spec: dict, values: dict) -> dict:
    """The request the renderer sends for the callback ``spec`` (of /_dash-dependencies), its
    inputs set from ``values`` by component id."""
    def dependency(item: dict) -> dict:
        return {"id": item["id"], "property": item["property"], "value": values.get(item["id"])}

    output = spec["output"]
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    outputs = [{"id": ident, "property": prop} for ident, _, prop in (p.rpartition(".") for p in parts)]
    return {"output": output, "outputs": outputs if output.startswith("..") else outputs[0],
            "inputs": [dependency(i) for i in spec["inputs"]],
            "state": [dependency(i) for i in spec["state"]],
            "changedPropIds": [f"{i['id']}.{i['property']}" for i in spec["inputs"]]}


def line(name: str, samples: np.ndarray, goal_ms: float = GOAL_MS) -> None:
    p95 = float(np.percentile(samples, 95))
    verdict = "OK" if p95 <= goal_ms else "MISSED"
    print(f"{name:<46} p95 {p95:>8.0f} ms   p50 {np.percentile(samples, 50):>7.0f} ms   "
          f"goal <= {goal_ms:.0f} ms  {verdict}", flush=True)


def dataset(args, rng) -> tuple[str, str]:
    """The benchmark database (name, url): a kept one, migrated and rolled up, or a new one."""
    from app import create_app
    from app.cli.admin import upgrade_database
    from app.db import db
    from app.models.kpi import RefreshState

    if args.database:
        name = args.database
        url = database_url(args.server, name)
        upgrade_database(url)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SKIP_DASH": True, "SECRET_KEY": "bench"})
        with app.app_context():
            rolled_up = db.session.get(RefreshState, 1) is not None
        if not rolled_up:
            full = run_child(url, REFRESH_CODE.format(full=True))
            print(f"rolled up in {full['seconds']:.1f} s", flush=True)
        print(f"database {name} (existing)", flush=True)
        return name, url
    name = f"liftoff_bench_{os.getpid()}"
    url = create_database(args.server, name)
    print(f"database {name}: {args.events:,} events, {args.people:,} people, {args.features} features",
          flush=True)
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
    return name, url


def precomputed(app) -> None:
    """Run the precompute-kpis job until the store holds every month answer it keeps."""
    from app.db import db
    from app.services.kpi_reads import precompute

    began, computed = time.perf_counter(), 0
    while True:
        result = precompute.precompute(budget_seconds=120)
        db.session.commit()
        computed += result.computed
        print(f"  precompute-kpis: {computed} answers computed, {result.missing} left "
              f"({time.perf_counter() - began:.0f} s)", flush=True)
        if result.missing == 0 or result.computed == 0:  # done, or answers it cannot store
            return


def main() -> None:
    args = parse_args()
    rng = np.random.default_rng(7)
    name, url = dataset(args, rng)
    try:
        from app import create_app
        from app.db import db
        from app.services.accounts.access import create_user

        # With Dash; without the background warm-up, whose work would land in the timings (the
        # "warmed" figure stands for it).
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "KPI_WARM_SECONDS": 0})
        with app.app_context():
            email = f"bench-exec-{int(time.time())}@liftoff.test"
            user_id = create_user(email, "admin", "benchmark password").id
            db.session.commit()
        from app.services.kpi_reads import cache as kpi_cache
        from dashboards.kpi import data as kpi_data

        with app.app_context():
            precomputed(app)
        client = app.test_client()
        with client.session_transaction() as session:
            session["user_id"] = user_id
        assert client.get("/dashboard/executive").status_code == 200
        token = client.get_cookie("liftoff_csrf", path="/dashboard/").value
        headers = {"X-CSRFToken": token}
        specs = {spec["output"]: spec for spec in client.get("/dashboard/_dash-dependencies").get_json()}
        features = sorted({f"f-{k:02d}" for k in (1, args.features // 2)})
        with app.app_context():  # the months a user opens: the latest with events, the one before
            latest = kpi_data.default_month()
        months = [month_before(latest), latest]

        def post(output: str, values: dict) -> float:
            began = time.perf_counter()
            response = client.post("/dashboard/_dash-update-component", json=body(specs[output], values),
                                   headers=headers)
            took = (time.perf_counter() - began) * 1000
            assert response.status_code == 200, response.get_data(as_text=True)[:500]
            return took

        print(f"\ncallbacks ({args.samples} requests each; features {features}, months {months})")
        for label, output, values in callbacks(features, months):
            if args.only not in label:
                continue
            cold, warmed, warm = [], [], []
            for i in range(args.samples):
                value = values[i % len(values)]
                kpi_cache.clear()
                kpi_data.clear_cache()
                cold.append(post(output, value))
                kpi_data.clear_cache()
                warmed.append(post(output, value))
                warm.append(post(output, value))
            line(f"{label} (cold)", np.array(cold), GOAL_COLD_MS)
            line(f"{label} (warmed)", np.array(warmed))
            line(f"{label} (warm)", np.array(warm))
    finally:
        if not args.keep and not args.database:
            drop_database(args.server, name)


if __name__ == "__main__":
    main()
