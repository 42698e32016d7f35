"""`liftoff seed` and `liftoff demo-users`: the demo company loads through the services, idempotently."""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db import db
from app.models import (
    Baseline,
    Cohort,
    CohortMember,
    CostEntry,
    Department,
    Event,
    Feature,
    Person,
    RolloutTransition,
    User,
)
from app.services.accounts.access import authenticate

SEED_DIR = Path(__file__).resolve().parents[1] / "seed_data"
TABLES = (Department, Person, Cohort, CohortMember, Feature, RolloutTransition, Event, CostEntry, Baseline)


def _counts() -> dict[str, int]:
    db.session.expire_all()
    return {m.__name__: db.session.scalar(select(func.count()).select_from(m)) for m in TABLES}


def _rows(name: str) -> list[dict]:
    raw = (SEED_DIR / name).read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))


@pytest.fixture
def people_only(tmp_path) -> Path:
    """The demo company's people and cohorts, with no features, events, costs or baselines."""
    for name in ("departments.csv", "people.csv", "cohorts.csv"):
        shutil.copy(SEED_DIR / name, tmp_path / name)
    (tmp_path / "features.json").write_text("[]\n")
    (tmp_path / "costs.csv").write_text("feature,month,amount_eur,category,note\n")
    (tmp_path / "baselines.csv").write_text(
        "feature,task,minutes_per_task,error_rate,source,measured_at\n")
    with gzip.open(tmp_path / "events.csv.gz", "wt") as out:
        out.write("event_id,feature,person_id,occurred_at,task,ai_assisted,duration_seconds,outcome\n")
    return tmp_path


def test_seed_loads_departments_people_and_cohorts_idempotently(runner, people_only):
    result = runner.invoke(args=["liftoff", "seed", "--data-dir", str(people_only)])
    assert result.exit_code == 0, result.output + result.stderr
    assert "people: 220 created, 0 updated" in result.stdout
    counts = _counts()
    assert counts["Department"] == len(_rows("departments.csv"))
    assert counts["Person"] == len(_rows("people.csv"))
    assert counts["CohortMember"] == len(_rows("cohorts.csv"))
    sales = db.session.scalar(select(Department).where(Department.name == "Sales"))
    assert sales.hourly_rate_eur == 58.0

    again = runner.invoke(args=["liftoff", "seed", "--data-dir", str(people_only)])
    assert again.exit_code == 0, again.stderr
    assert "nothing changed" in again.stdout
    assert _counts() == counts


def test_seed_refuses_a_broken_data_dir_and_writes_nothing(runner, people_only):
    with (people_only / "cohorts.csv").open("a") as out:
        out.write("sales-pilot,E9999,Sales pilot group\n")
    result = runner.invoke(args=["liftoff", "seed", "--data-dir", str(people_only)])
    assert result.exit_code != 0
    assert "unknown person 'E9999'" in result.stderr
    assert _counts()["Person"] == 0


@pytest.mark.slow
def test_seed_records_the_demo_company_through_the_services_and_twice_changes_nothing(runner):
    # The history as generated: its own calendar, without the story told on top (test_demo_story.py).
    result = runner.invoke(args=["liftoff", "seed", "--fixed-dates", "--without-story"])
    assert result.exit_code == 0, result.output + result.stderr
    plans = json.loads((SEED_DIR / "features.json").read_text())
    counts = _counts()
    assert counts["Person"] == len(_rows("people.csv"))
    assert counts["Feature"] == len(plans)
    assert counts["RolloutTransition"] == sum(len(p["history"]) for p in plans)
    assert counts["Event"] == len(_rows("events.csv.gz"))
    assert counts["CostEntry"] == len(_rows("costs.csv"))
    assert counts["Baseline"] == len(_rows("baselines.csv"))
    for plan in plans:
        feature = db.session.scalar(select(Feature).where(Feature.key == plan["spec"]["key"]))
        assert feature.current_stage == len(plan["spec"]["stages"])
        assert not feature.killed
        recorded = [(t.action, t.effective_at.isoformat()) for t in feature.transitions]
        assert recorded == [(m["action"], m["effective_at"]) for m in plan["history"]]

    again = runner.invoke(args=["liftoff", "seed", "--fixed-dates", "--without-story"])
    assert again.exit_code == 0, again.output + again.stderr
    assert "nothing changed" in again.stdout
    assert _counts() == counts


def test_demo_users_creates_one_login_per_role_idempotently(runner):
    result = runner.invoke(args=["liftoff", "demo-users"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(args=["liftoff", "demo-users"])
    assert again.exit_code == 0
    assert again.stdout == result.stdout
    users = {u.email: u.role for u in db.session.scalars(select(User))}
    assert users == {"admin@demo.liftoff": "admin", "product@demo.liftoff": "product",
                     "change-manager@demo.liftoff": "change_manager",
                     "executive@demo.liftoff": "executive", "reviewer@demo.liftoff": "reviewer"}
    for email in users:
        assert email in result.stdout
        assert authenticate(email, "liftoff-demo") is not None
