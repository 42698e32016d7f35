"""seed_data/generate.py: deterministic, and the demo company it writes has the promised shape."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import json
import sys
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pytest

SEED_DIR = Path(__file__).resolve().parents[1] / "seed_data"
FILES = ("departments.csv", "people.csv", "cohorts.csv", "features.json", "events.csv.gz",
         "costs.csv", "baselines.csv")


def _load_generator():
    spec = importlib.util.spec_from_file_location("seed_generate", SEED_DIR / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("seed")
    _load_generator().generate(out)
    return out


def _csv(path: Path) -> list[dict]:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))


def test_generator_is_deterministic_and_matches_the_committed_files(generated, tmp_path):
    _load_generator().generate(tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (generated / name).read_bytes(), name
        assert (SEED_DIR / name).read_bytes() == (generated / name).read_bytes(), (
            f"seed_data/{name} is stale: run seed_data/generate.py")


def test_company_size_departments_and_rates(generated):
    departments = _csv(generated / "departments.csv")
    people = _csv(generated / "people.csv")
    assert 6 <= len(departments) <= 8
    rates = [float(d["hourly_rate_eur"]) for d in departments]
    assert len(set(rates)) == len(rates) and all(25 <= r <= 120 for r in rates)
    assert 200 <= len(people) <= 240
    assert len({p["person_id"] for p in people}) == len(people)
    assert len({p["email"] for p in people}) == len(people)
    assert {p["department"] for p in people} == {d["name"] for d in departments}


def test_champions_are_one_to_three_percent_and_cohorts_name_real_people(generated):
    people = {p["person_id"]: p for p in _csv(generated / "people.csv")}
    members = defaultdict(set)
    for row in _csv(generated / "cohorts.csv"):
        assert row["person_id"] in people
        members[row["cohort_key"]].add(row["person_id"])
    assert 0.01 <= len(members["champions"]) / len(people) <= 0.03
    for prefix in ("sales", "support", "hr"):
        assert members[f"{prefix}-champions"] <= members["champions"]
        assert not members[f"{prefix}-champions"] & members[f"{prefix}-pilot"]
    assert all(people[p]["department"] == "Sales" for p in members["sales"])


def test_features_are_valid_plans_with_a_past_history(generated):
    plans = json.loads((generated / "features.json").read_text())
    cohorts = {row["cohort_key"] for row in _csv(generated / "cohorts.csv")}
    assert [p["spec"]["key"] for p in plans] == [
        "quote-assistant", "knowledge-assistant", "cv-screening-assistant"]
    for plan in plans:
        spec = plan["spec"]
        assert set(spec) <= {"key", "name", "description", "baseline_days", "estimated_minutes_saved",
                             "per_event_cost_eur", "stages"}
        assert spec["stages"][0]["name"] == "Champions"
        for stage in spec["stages"]:
            assert set(stage["cohorts"]) <= cohorts and 0 <= stage["percentage"] <= 100
        moments = [datetime.fromisoformat(m["effective_at"]) for m in plan["history"]]
        assert moments == sorted(moments)
        assert all(m.utcoffset() is not None and m.year == 2026 and m.month <= 10 for m in moments)
        advances = [m for m in plan["history"] if m["action"] == "advance"]
        assert len(advances) == len(spec["stages"])  # every plan ends at its last stage
    actions = Counter(m["action"] for p in plans for m in p["history"])
    assert actions["kill"] == actions["resume"] == 1


def test_events_volume_ids_and_fields(generated):
    events = _csv(generated / "events.csv.gz")
    people = {p["person_id"] for p in _csv(generated / "people.csv")}
    assert 10_000 <= len(events) <= 80_000
    assert len({e["event_id"] for e in events}) == len(events)
    assert {e["person_id"] for e in events} <= people
    assert {e["outcome"] for e in events} == {"success", "error", "corrected", "abandoned"}
    assert {e["ai_assisted"] for e in events} == {"true", "false"}
    assert all(datetime.fromisoformat(e["occurred_at"]).utcoffset() is not None for e in events[:500])
    missing = sum(1 for e in events if e["duration_seconds"] == "")
    assert 0.03 < missing / len(events) < 0.3
    first = min(e["occurred_at"] for e in events)
    last = max(e["occurred_at"] for e in events)
    assert first.startswith("2026-05") and last.startswith("2026-10")


def _ai_share_by_month(events, feature):
    total, ai = Counter(), Counter()
    for e in events:
        if e["feature"] == feature and e["task"] != "internal-question":
            total[e["occurred_at"][:7]] += 1
            ai[e["occurred_at"][:7]] += e["ai_assisted"] == "true"
    return [ai[m] / total[m] for m in sorted(total)]


def test_history_starts_manual_then_adoption_rises(generated):
    events = _csv(generated / "events.csv.gz")
    plans = {p["spec"]["key"]: p for p in json.loads((generated / "features.json").read_text())}
    for key, plan in plans.items():
        first_exposure = plan["history"][0]["effective_at"]
        before = [e for e in events if e["feature"] == key and e["occurred_at"] < first_exposure]
        assert before and not any(e["ai_assisted"] == "true" for e in before)
    quote = _ai_share_by_month(events, "quote-assistant")
    assert quote[0] == 0 and quote[-1] > 0.4
    assert all(b >= a for a, b in zip(quote, quote[1:], strict=False))


def test_quote_assistant_cuts_about_forty_percent(generated):
    events = [e for e in _csv(generated / "events.csv.gz") if e["feature"] == "quote-assistant"]

    def mean_minutes(ai: str) -> float:
        values = [float(e["duration_seconds"]) / 60 for e in events
                  if e["ai_assisted"] == ai and e["duration_seconds"] and e["outcome"] != "abandoned"]
        return sum(values) / len(values)

    manual, assisted = mean_minutes("false"), mean_minutes("true")
    assert 40 <= manual <= 50
    assert 0.3 <= 1 - assisted / manual <= 0.5
    abandoned = [e for e in events if e["outcome"] == "abandoned"]
    assert abandoned and all(e["ai_assisted"] == "true" for e in abandoned)


def test_no_ai_use_while_killed_or_before_exposure(generated):
    events = _csv(generated / "events.csv.gz")
    plans = {p["spec"]["key"]: p for p in json.loads((generated / "features.json").read_text())}
    cv = plans["cv-screening-assistant"]["history"]
    killed = next(m["effective_at"] for m in cv if m["action"] == "kill")
    resumed = next(m["effective_at"] for m in cv if m["action"] == "resume")
    during = [e for e in events if e["feature"] == "cv-screening-assistant"
              and killed <= e["occurred_at"] < resumed]
    assert during and not any(e["ai_assisted"] == "true" for e in during)
    champions = {r["person_id"] for r in _csv(generated / "cohorts.csv")
                 if r["cohort_key"] == "sales-champions"}
    pilot_start = plans["quote-assistant"]["history"][1]["effective_at"]
    early = {e["person_id"] for e in events if e["feature"] == "quote-assistant"
             and e["ai_assisted"] == "true" and e["occurred_at"] < pilot_start}
    assert early and early <= champions


def test_costs_and_baselines(generated):
    costs = _csv(generated / "costs.csv")
    categories = Counter(c["category"] for c in costs)
    assert categories["implementation"] == 3
    assert {"licences", "tokens", "compute"} <= set(categories)
    assert all(c["month"] >= "2026-05" and c["month"] <= "2026-10" and float(c["amount_eur"]) > 0
               for c in costs)
    assert len({(c["feature"], c["month"], c["category"], c["note"]) for c in costs}) == len(costs)
    baselines = _csv(generated / "baselines.csv")
    quote = next(b for b in baselines if b["feature"] == "quote-assistant")
    assert float(quote["minutes_per_task"]) == 45.0


def test_champions_and_pilots_make_fewer_errors_than_the_later_waves(generated):
    events = _csv(generated / "events.csv.gz")
    members = defaultdict(set)
    for row in _csv(generated / "cohorts.csv"):
        members[row["cohort_key"]].add(row["person_id"])
    for feature, prefix in (("quote-assistant", "sales"), ("knowledge-assistant", "support")):
        early = members[f"{prefix}-champions"] | members[f"{prefix}-pilot"]
        rates = {}
        for wave, in_wave in (("early", True), ("later", False)):
            judged = [e for e in events if e["feature"] == feature and e["ai_assisted"] == "true"
                      and e["task"] != "internal-question" and e["outcome"] != "abandoned"
                      and (e["person_id"] in early) == in_wave]
            rates[wave] = sum(e["outcome"] in ("error", "corrected") for e in judged) / len(judged)
        assert rates["early"] < rates["later"], (feature, rates)
