"""Variant KPIs at scale on PostgreSQL: the kpi_scale company (10,000 people x 20 features x one
year, ~10 M events by default), each feature split into three variants (50/30/20, re-weighted
to 20/30/50 mid-year), one event in ten naming its variant.

Prints, for one feature and one month, the p50 and p95 of
  the variant comparison (GET /variants/comparison's service: events labelled by variant, figures,
  Newcombe and Welch intervals, power, SRM) and of the KPIs with group_by=variant,
each cold (computed, every memo bypassed) and warm (as a repeat read finds it), beside the goal
(p95 <= 100 ms warm).

Usage: .venv/bin/python benchmarks/variants/run.py [--events 10000000] [--requests 30]
       [--server postgresql+psycopg://postgres@127.0.0.1:5432/] [--keep]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.kpi_scale.run import copy_events, generate_events, seed_company  # noqa: E402
from benchmarks.support import create_database, drop_database  # noqa: E402

SPLIT = [("large-model", 50), ("small-model", 30), ("prompt-v2", 20)]
REWEIGHT = [("large-model", 20), ("small-model", 30), ("prompt-v2", 50)]
REWEIGHT_AT = datetime(2025, 7, 1, tzinfo=UTC)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--requests", type=int, default=30, help="samples per measurement")
    parser.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432/")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    return parser.parse_args()


def add_variants(app) -> None:
    """Three variants per feature, created with the features and re-weighted mid-year (history)."""
    from app.db import db
    from app.models import Feature, FeatureVariant, VariantWeightChange

    with app.app_context():
        for feature in db.session.scalars(db.select(Feature)):
            db.session.add_all(
                [
                    FeatureVariant(
                        feature_id=feature.id,
                        position=i + 1,
                        name=name,
                        weight=w,
                        payload=json.dumps({"model": name}),
                        cost_per_task_eur=0.01 * (i + 1),
                    )
                    for i, (name, w) in enumerate(REWEIGHT)
                ]
            )
            for action, split, at in (
                ("create", SPLIT, feature.created_at),
                ("reweight", REWEIGHT, REWEIGHT_AT),
            ):
                db.session.add(
                    VariantWeightChange(
                        feature_id=feature.id,
                        action=action,
                        weights=json.dumps(dict(split)),
                        effective_at=at,
                        actor="bench",
                    )
                )
        db.session.commit()


def name_some_variants(url: str) -> None:
    """One AI event in ten names its variant (as an SDK-aware client would send it)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE events SET variant = 'small-model' WHERE ai_assisted AND id % 10 = 0"))
    engine.dispose()


def timed(call, n: int) -> np.ndarray:
    samples = []
    for _ in range(n):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    return np.array(samples)


def report(name: str, samples: np.ndarray, goal: str | None) -> None:
    p50, p95 = np.percentile(samples, 50), np.percentile(samples, 95)
    verdict = "" if goal is None else ("  OK" if p95 <= 100 else "  OVER GOAL")
    print(
        f"{name:<48} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   goal {goal or '(reference)'}{verdict}",
        flush=True,
    )


def main() -> None:
    args = parse_args()
    name = f"liftoff_bench_variants_{args.events}"
    url = create_database(args.server, name)
    try:
        from app import create_app
        from app.cli.admin import upgrade_database

        upgrade_database(url)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SKIP_DASH": True, "SECRET_KEY": "bench"})
        rng = np.random.default_rng(18)
        began = time.perf_counter()
        spells, person_ids = seed_company(app, rng, args.people, args.features)
        add_variants(app)
        events = generate_events(rng, args.events, spells, person_ids, (0, 365), "v")
        copy_events(url, events)
        name_some_variants(url)
        with app.app_context():
            from app.services.rollups import materialise

            materialise.refresh(full=True)
            from app.db import db

            db.session.commit()
        print(
            f"loaded {args.events:,} events and rebuilt the rollups in {time.perf_counter() - began:,.0f} s",
            flush=True,
        )
        measure(app, args)
    finally:
        if not args.keep:
            drop_database(args.server, name)


def measure(app, args) -> None:
    from app.services.kpi_reads import cache as kpi_cache
    from app.services.kpi_reads import figures, variant_figures

    start, end = date(2025, 10, 1), date(2025, 10, 31)
    with app.app_context():
        key = "f-00"
        comparison = variant_figures.comparison(key, start, end)
        tasks = sum(v["ai_tasks"] or 0 for v in comparison["variants"])
        print(
            f"{key}, October: {tasks:,} AI tasks over {len(comparison['variants'])} variants, "
            f"SRM p = {comparison['sample_ratio']['p_value']}",
            flush=True,
        )
        real_version = kpi_cache.version
        kpi_cache.version = lambda: None  # nothing remembered: every call computes (cold)
        try:
            report(
                "variant comparison, cold",
                timed(lambda: variant_figures.comparison(key, start, end), args.requests),
                None,
            )
            report(
                "KPIs group_by=variant, cold",
                timed(lambda: figures.feature_kpis(key, start, end, "variant"), args.requests),
                None,
            )
        finally:
            kpi_cache.version = real_version
        variant_figures.comparison(key, start, end)  # the first read after the cold ones remembers
        figures.feature_kpis(key, start, end, "variant")
        report(
            "variant comparison, warm",
            timed(lambda: variant_figures.comparison(key, start, end), args.requests),
            "p95 <= 100 ms",
        )
        report(
            "KPIs group_by=variant, warm",
            timed(lambda: figures.feature_kpis(key, start, end, "variant"), args.requests),
            "p95 <= 100 ms",
        )


if __name__ == "__main__":
    main()
