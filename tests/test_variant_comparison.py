"""Variant KPIs against an independent computation from the definitions, and the comparison's
intervals against statsmodels and scipy on hand-made data; group_by=variant with suppression."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep

from app.db import db
from app.kpi import variants as variant_kpis
from app.models import Baseline
from app.services.ingest.events import ingest_events
from app.services.rollout import gates
from app.services.rollout import transitions as rollout
from app.services.rollout import variants as variant_split
from app.services.rollups import materialise as rollups
from tests import variant_support
from tests.helpers import gen_person

KEY = "replies"
START, END = date(2026, 10, 1), date(2026, 10, 31)


def unleash_variant(user: str, weights: list[tuple[str, int]]) -> str:
    return variant_support.unleash_variant(KEY, user, weights)


def _events(people: list[str]) -> list[dict]:
    """Deterministic events: variant `fast` people take 4 minutes with more errors, `careful` 6."""
    rng = np.random.default_rng(7)
    rows = []
    split = [("careful", 50), ("fast", 50)]
    for n, user in enumerate(people):
        variant = unleash_variant(user, split)
        if n % 7 == 0:  # some people never use it
            continue
        for k in range(int(rng.integers(1, 6))):
            fast = variant == "fast"
            outcome = rng.choice(["success", "error", "corrected", "abandoned"],
                                 p=[0.6, 0.25, 0.1, 0.05] if fast else [0.8, 0.1, 0.05, 0.05])
            row = {"event_id": f"{user}-{k}", "feature": KEY, "person_id": user,
                   "occurred_at": f"2026-10-{1 + (n + k) % 28:02d}T10:{k:02d}:00Z", "ai_assisted": True,
                   "outcome": str(outcome), "duration_seconds": float(rng.normal(240 if fast else 360, 40))}
            if k == 2:
                row["cost_eur"] = 0.5
            if k == 3:
                row["variant"] = variant  # named explicitly: the same, as an SDK would report it
            rows.append(row)
    return rows


@pytest.fixture
def world(app):
    people = [gen_person(f"u{i:03d}").person_id for i in range(80)]
    rollout.create_feature({"key": KEY, "name": "Replies", "per_event_cost_eur": 0.02,
                            "stages": [{"name": "all", "percentage": 100}],
                            "variants": [{"name": "careful", "weight": 50, "cost_per_task_eur": 0.10},
                                         {"name": "fast", "weight": 50}]}, "ana")
    gates.advance_stage(KEY, "ana", "pilot", True, datetime(2026, 9, 1, tzinfo=UTC))
    feature_id = variant_split.feature_or_404(KEY).id
    db.session.add(Baseline(feature_id=feature_id, task="default", minutes_per_task=8.0, source="study",
                            measured_at=datetime(2026, 8, 1, tzinfo=UTC)))
    events = _events(people)
    ingest_events(events)
    db.session.commit()  # as the API would: the job's full rebuild reads on its own connections too
    rollups.refresh()  # as the refresh-kpis job would: KPI reads reflect its last run
    db.session.commit()
    return people, events


def _expected(people: list[str], events: list[dict]) -> dict:
    frame = pd.DataFrame(events)
    frame["variant"] = frame["person_id"].map(lambda u: unleash_variant(u, [("careful", 50), ("fast", 50)]))
    minutes = frame["duration_seconds"] / 60
    frame["saved"] = np.where(frame["outcome"] == "abandoned", -minutes, 8.0 - minutes)
    frame["cost"] = frame.get("cost_eur").fillna(frame["variant"].map({"careful": 0.10, "fast": 0.02}))
    frame["net"] = frame["saved"] / 60 * 40.0 - frame["cost"]  # everyone at the default 40 EUR/h
    out = {}
    for name in ("careful", "fast"):
        exposed = [u for u in people if unleash_variant(u, [("careful", 50), ("fast", 50)]) == name]
        mine = frame[frame["variant"] == name]
        rated = mine[mine["outcome"] != "abandoned"]
        net = mine.groupby("person_id")["net"].sum().reindex(exposed, fill_value=0.0)
        out[name] = {"exposed": len(exposed), "active": mine["person_id"].nunique(),
                     "errors": int(rated["outcome"].isin(["error", "corrected"]).sum()),
                     "rated": len(rated),
                     "saved": mine["saved"].to_numpy(), "cost": mine["cost"].to_numpy(),
                     "net": net.to_numpy()}
    return out


def test_variant_figures_and_intervals_match_an_independent_computation(world, client, admin_headers):
    people, events = world
    want = _expected(people, events)
    response = client.get(f"/api/v1/features/{KEY}/variants/comparison?start={START}&end={END}"
                          "&control=careful&adoption_difference=0.1&net_eur_difference=2",
                          headers=admin_headers)
    assert response.status_code == 200, response.get_json()
    got = response.get_json()
    figures = {v["variant"]: v for v in got["variants"]}
    for name, w in want.items():
        f = figures[name]
        assert (f["exposed_users"], f["active_users"], f["ai_tasks"]) == (
            w["exposed"], w["active"], len(w["saved"]))
        assert f["adoption_rate"] == pytest.approx(w["active"] / w["exposed"])
        assert f["error_rate"] == pytest.approx(w["errors"] / w["rated"])
        assert f["time_saved_per_task_minutes"] == pytest.approx(w["saved"].mean())
        assert f["cost_per_task_eur"] == pytest.approx(w["cost"].mean())
        assert f["net_eur_per_exposed_person"] == pytest.approx(w["net"].mean())

    diff = got["differences"]["fast"]
    f, c = want["fast"], want["careful"]
    counts = {"adoption_rate": (f["active"], f["exposed"], c["active"], c["exposed"]),
              "error_rate": (f["errors"], f["rated"], c["errors"], c["rated"])}
    for metric, (x1, n1, x2, n2) in counts.items():
        low, high = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff")
        assert diff[metric]["ci_low"] == pytest.approx(low)
        assert diff[metric]["ci_high"] == pytest.approx(high)
        assert diff[metric]["difference"] == pytest.approx(x1 / n1 - x2 / n2)
    assert diff["error_rate"]["excludes_zero"] is True  # fast errs more, clearly
    for metric, key in (("time_saved_per_task_minutes", "saved"), ("cost_per_task_eur", "cost"),
                        ("net_eur_per_exposed_person", "net")):
        ci = stats.ttest_ind(f[key], c[key], equal_var=False).confidence_interval(0.95)
        assert diff[metric]["ci_low"] == pytest.approx(ci.low)
        assert diff[metric]["ci_high"] == pytest.approx(ci.high)
        assert diff[metric]["excludes_zero"] == bool(ci.low > 0 or ci.high < 0)
    assert diff["time_saved_per_task_minutes"]["excludes_zero"] is True

    # Power: Cohen's h for +0.1 on the control's adoption, n = 2 (z_a + z_b)^2 / h^2 per group.
    p = c["active"] / c["exposed"]
    h = abs(2 * math.asin(math.sqrt(min(1.0, p + 0.1))) - 2 * math.asin(math.sqrt(p)))
    n = 2 * (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) ** 2 / h ** 2
    assert got["people_needed_per_variant"]["adoption"] == math.ceil(n)
    assert got["people_needed_per_variant"]["net_eur_per_exposed_person"] > 0

    # SRM: everyone exposed now, chi-square against 50/50.
    srm = got["sample_ratio"]
    assert srm["observed"] == {"careful": c["exposed"], "fast": f["exposed"]}
    chi, pval = stats.chisquare([c["exposed"], f["exposed"]])
    assert srm["p_value"] == pytest.approx(pval)
    assert srm["mismatch"] == bool(pval < 0.001)


def test_group_by_variant_gives_each_variants_kpis(world, client, admin_headers):
    people, events = world
    want = _expected(people, events)
    response = client.get(f"/api/v1/features/{KEY}/kpis?start={START}&end={END}&group_by=variant",
                          headers=admin_headers)
    assert response.status_code == 200
    groups = {g["group"]: g for g in response.get_json()["groups"]}
    assert set(groups) == {"careful", "fast"}
    for name, w in want.items():
        assert groups[name]["exposed_users"] == w["exposed"]
        assert groups[name]["active_users"] == w["active"]
        assert groups[name]["ai_tasks"] == len(w["saved"])
        assert groups[name]["error_rate"] == pytest.approx(w["errors"] / w["rated"])
        assert groups[name]["time_saved_hours"] == pytest.approx(w["saved"].sum() / 60)


def test_a_small_variant_is_suppressed_with_the_next_smallest():
    events = pd.DataFrame(columns=["person_id", "variant", "task", "outcome", "duration_seconds", "cost_eur",
                                   "rate"])
    inputs = variant_kpis.VariantInputs(
        events=events, exposed={"a": set(range(3)), "b": set(range(3, 20)), "c": set(range(20, 60))},
        weights={"a": 5, "b": 30, "c": 65}, variant_costs={}, per_event_cost_eur=0.0, baselines={},
        estimated_minutes_saved=0.0)
    got = variant_kpis.compare(inputs, "c")
    shown = {v["variant"]: v["suppressed"] for v in got["variants"]}
    assert shown == {"a": True, "b": True, "c": False}
    assert got["variants"][0]["adoption_rate"] is None
    assert set(got["differences"]) == set()


def test_the_decision_rule_picks_the_variant_that_meets_it():
    differences = {
        "cheap": {"error_rate": {"ci_high": 0.015},
                  "cost_per_task_eur": {"difference": -0.05, "ci_low": -0.07, "ci_high": -0.03}},
        "cheaper_but_worse": {"error_rate": {"ci_high": 0.08},
                              "cost_per_task_eur": {"difference": -0.09, "ci_low": -0.1, "ci_high": -0.08}},
        "unclear": {"error_rate": {"ci_high": 0.0},
                    "cost_per_task_eur": {"difference": -0.01, "ci_low": -0.03, "ci_high": 0.01}},
    }
    rule = {"control": "base", "max_error_rate_increase": 0.02, "objective": "cost_per_task"}
    assert variant_kpis.decide(rule, differences) == {"rule": rule, "meets": ["cheap"], "winner": "cheap"}


def test_a_comparison_needs_variants_and_a_known_control(world, client, admin_headers):
    bad = client.get(f"/api/v1/features/{KEY}/variants/comparison?control=nope", headers=admin_headers)
    assert bad.status_code == 422 and bad.get_json()["details"][0]["field"] == "control"
    rollout.create_feature({"key": "plain", "name": "Plain", "stages": [{"name": "all", "percentage": 5}]},
                           "ana")
    db.session.commit()
    none = client.get("/api/v1/features/plain/variants/comparison", headers=admin_headers)
    assert none.status_code == 422 and none.get_json()["details"][0]["field"] == "feature"


def test_monthly_roi_prices_tasks_at_their_variants_cost(world, client, admin_headers):
    """task_cost(e) = its cost_eur, else its variant's cost_per_task_eur, else the feature's
    per_event_cost_eur: worked out from the events themselves."""
    people, events = world
    split = [("careful", 50), ("fast", 50)]
    fast = [u for u in people if unleash_variant(u, split) == "fast"]
    extra = [
        # A `fast` person's event naming `careful`: the variant it names counts (0.10).
        {"event_id": "named-other", "feature": KEY, "person_id": fast[0], "variant": "careful",
         "occurred_at": "2026-10-30T09:00:00Z", "ai_assisted": True, "outcome": "success"},
        # Its own cost wins over its variant's.
        {"event_id": "priced", "feature": KEY, "person_id": fast[1], "variant": "careful", "cost_eur": 0.7,
         "occurred_at": "2026-11-04T09:00:00Z", "ai_assisted": True, "outcome": "success"},
        # A non-AI event costs nothing.
        {"event_id": "by-hand", "feature": KEY, "person_id": fast[1],
         "occurred_at": "2026-11-05T09:00:00Z", "ai_assisted": False, "outcome": "success"},
    ]
    ingest_events(extra)
    db.session.commit()
    rollups.refresh()
    db.session.commit()

    def task_cost(row: dict) -> float:
        if row.get("cost_eur") is not None:
            return row["cost_eur"]
        variant = row.get("variant") or unleash_variant(row["person_id"], split)
        return {"careful": 0.10, "fast": 0.02}[variant]

    october = sum(task_cost(e) for e in events) + 0.10
    assert october != pytest.approx(sum(e.get("cost_eur") or 0.02 for e in events) + 0.02)  # it matters
    for month, want in (("2026-10", october), ("2026-11", 0.7)):
        answer = client.get(f"/api/v1/roi/monthly?month={month}", headers=admin_headers).get_json()
        (feature,) = answer["features"]
        assert feature["cost_eur"] == pytest.approx(want)
        assert answer["total"]["cost_eur"] == pytest.approx(want)
