"""Gate criteria on variants and the promotion that binds: a criterion judged on one variant's
people and events, variant_decision on the comparison's decision, unknown variants failing with a
note, and a promotion refused (409, nothing changed) until its criteria pass or it is overridden.
Expected values are worked out here from the events written."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.db import db, utcnow
from app.errors import ValidationFailed
from app.models import AuditEntry, Baseline, Event, FeatureVariant, VariantWeightChange
from app.playbooks.loader import parse_playbook
from app.services.review.datasets import export_version, version_rows
from app.services.review.evaluations import record_run
from app.services.rollout import gates, variants
from app.services.rollout import transitions as rollout
from app.services.rollups import materialise
from tests import variant_support
from tests.enablement_builders import one_stage_playbook
from tests.helpers import gen_cohort, gen_person

KEY = "assist"
Z2 = 1.96 ** 2  # the z of every Wilson interval in KPI_DEFINITIONS.md

GATE = """\
      - {metric: days_in_stage, min: 1}
      - {metric: error_rate, max_increase: 0.05, variant: small}
      - {metric: exposed_users, min: 5, variant: small}
      - {metric: variant_decision}
      - {metric: eval_pass_rate, min: 0.4, dataset: "{feature}-evals"}
"""


def _playbook(gate: str) -> str:
    return one_stage_playbook("variant-gate", "One stage judged on variants.",
                              [line.strip()[2:] for line in gate.splitlines() if line.strip()],
                              "{max_error_rate: 0.9, action: rollback}")


def unleash_variant(user: str, weights: list[tuple[str, int]]) -> str:
    return variant_support.unleash_variant(KEY, user, weights)


def wilson(x: int, n: int) -> tuple[float, float]:
    centre = (x / n + Z2 / (2 * n)) / (1 + Z2 / n)
    half = math.sqrt(Z2) * math.sqrt(x / n * (1 - x / n) / n + Z2 / (4 * n * n)) / (1 + Z2 / n)
    return centre - half, centre + half


def write_playbook(tmp_path, monkeypatch, gate: str = GATE) -> None:
    (tmp_path / "variant-gate.yaml").write_text(_playbook(gate))
    monkeypatch.setenv("LIFTOFF_PLAYBOOK_DIR", str(tmp_path))


def world(small_errors: int = 0) -> dict[str, list]:
    """40 pilots on big (the control, 0.10 EUR a task) and small (0.02 EUR), 50/50, entered 10
    days ago; 8 tasks each 4 days ago, naming their variant; ``small_errors`` of small's are errors."""
    people = [gen_person(f"u{i:02d}") for i in range(40)]
    cohort = gen_cohort(members=people)
    feature = rollout.create_feature(
        {"key": KEY, "name": "Assist",
         "stages": [{"name": "pilot", "cohorts": [cohort.key], "percentage": 0}],
         "variants": [{"name": "big", "weight": 50, "cost_per_task_eur": 0.10},
                      {"name": "small", "weight": 50, "cost_per_task_eur": 0.02,
                       "payload": {"model": "small-1"}}]},
        "ana")
    feature.playbook_key = "variant-gate"
    feature.variant_rule = json.dumps({"control": "big", "max_error_rate_increase": 0.05,
                                       "objective": "cost_per_task"})
    rollout.advance(KEY, "ana", effective_at=utcnow() - timedelta(days=10))
    db.session.add(Baseline(feature_id=feature.id, task="default", error_rate=0.10, source="audit",
                            measured_at=utcnow() - timedelta(days=60)))
    groups: dict[str, list] = {"big": [], "small": []}
    for person in people:
        groups[unleash_variant(person.person_id, [("big", 50), ("small", 50)])].append(person)
    when = utcnow() - timedelta(days=4)
    errors_left = small_errors
    for name, members in groups.items():
        for person in members:
            for k in range(8):
                error = name == "small" and errors_left > 0
                errors_left -= error
                db.session.add(Event(event_id=f"{person.person_id}-{k}", feature_id=feature.id,
                                     person_id=person.id, occurred_at=when, task="default", ai_assisted=True,
                                     duration_seconds=60.0, outcome="error" if error else "success",
                                     variant=name))
    db.session.flush()
    materialise.refresh()  # as the refresh-kpis job would: gates read its last run
    return groups


def by_metric(criteria: list[dict]) -> dict[str, dict]:
    return {c["metric"]: c for c in criteria}


# --- playbook files ------------------------------------------------------------------------------

def problems(gate: str) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        parse_playbook(_playbook(gate), "variant-gate.yaml")
    return {d.field: d.message for d in caught.value.details}


def test_a_playbook_may_name_variants_on_variant_metrics():
    playbook = parse_playbook(_playbook(GATE), "variant-gate.yaml")
    gate = playbook.stage(1).gate
    assert [(c.metric, c.variant, c.threshold) for c in gate] == [
        ("days_in_stage", None, 1), ("error_rate", "small", 0.05), ("exposed_users", "small", 5),
        ("variant_decision", None, None), ("eval_pass_rate", None, 0.4)]
    assert playbook.as_dict()["stages"][0]["gate"][1] == {"metric": "error_rate", "max_increase": 0.05,
                                                        "variant": "small"}
    assert playbook.as_dict()["stages"][0]["gate"][3] == {"metric": "variant_decision"}


@pytest.mark.parametrize(("gate", "field", "says"), [
    ("      - {metric: days_in_stage, min: 1, variant: small}\n", "stages[0].gate[0].variant",
     "unknown field"),
    ("      - {metric: error_rate, max_increase: 0.1, variant: disabled}\n", "stages[0].gate[0].variant",
     "must be a variant name"),
    ("      - {metric: adoption_rate, min: 0.1, variant: -x}\n", "stages[0].gate[0].variant",
     "must be a variant name"),
    ("      - {metric: variant_decision, min: 1}\n", "stages[0].gate[0].min", "unknown field"),
    ("      - {metric: error_rate, max_increase: 0.1, variant: a}\n"
     "      - {metric: error_rate, max_increase: 0.2, variant: a}\n", "stages[0].gate",
     "given twice for variant 'a'"),
])
def test_bad_variant_criteria_name_the_field(gate, field, says):
    found = problems(gate)
    assert field in found and says in found[field], found


def test_the_same_metric_on_the_feature_and_on_a_variant_is_allowed():
    gate = ("      - {metric: error_rate, max_increase: 0.1}\n"
            "      - {metric: error_rate, max_increase: 0.1, variant: a}\n")
    assert len(parse_playbook(_playbook(gate), "variant-gate.yaml").stage(1).gate) == 2


# --- gate criteria -------------------------------------------------------------------------------

def test_variant_criteria_are_judged_on_the_variants_own_figures(tmp_path, monkeypatch, session):
    write_playbook(tmp_path, monkeypatch)
    groups = world(small_errors=1)
    evaluation = gates.evaluate_gate(KEY)
    crit = by_metric(json.loads(evaluation.result)["criteria"])
    small_tasks = 8 * len(groups["small"])
    low, high = wilson(1, small_tasks)
    error = crit["error_rate"]
    assert error["variant"] == "small" and error["value"] == pytest.approx(1 / small_tasks)
    assert (error["ci_low"], error["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert error["limit"] == pytest.approx(0.15) and error["passed"]
    assert error["message"].startswith(f"variant small: observed {1 / small_tasks:.3g}")
    assert crit["exposed_users"]["value"] == len(groups["small"]) and crit["exposed_users"]["passed"]
    # small: 0.02 against big's 0.10 a task, each constant: the difference -0.08 excludes zero.
    # Errors 1/n against big's 0/m: Newcombe's upper end is p1 + sqrt((u1 - p1)^2 + (0 - 0)^2) =
    # small's Wilson upper bound, within the margin 0.05.
    assert high < 0.05
    decision = crit["variant_decision"]
    assert (decision["value"], decision["meets"], decision["passed"]) == ("small", ["small"], True)
    assert decision["message"] == "observed winner small (meeting the rule: small), required the rule to " \
                                  "name a winner"
    assert not crit["eval_pass_rate"]["passed"] and crit["eval_pass_rate"]["variant"] is None
    assert not evaluation.passed


def test_a_variant_the_feature_lacks_fails_with_a_note(tmp_path, monkeypatch, session):
    write_playbook(tmp_path, monkeypatch, "      - {metric: adoption_rate, min: 0.1, variant: medium}\n"
                                          "      - {metric: variant_decision, variant: medium}\n")
    world()
    crit = by_metric(json.loads(gates.evaluate_gate(KEY).result)["criteria"])
    for metric in ("adoption_rate", "variant_decision"):
        assert not crit[metric]["passed"]
        assert crit[metric]["note"] == f"feature {KEY} has no variant 'medium' (it has big, small)"
    assert crit["adoption_rate"]["message"] == (
        f"variant medium: observed feature {KEY} has no variant 'medium' (it has big, small), required "
        "the variant's figures (adoption_rate)")
    # The Enablement page names the variant beside the metric.
    from dashboards.enablement.data import latest_gate

    shown = latest_gate(KEY)
    assert shown is not None
    assert list(shown["criteria_frame"]["metric"]) == ["adoption_rate (variant medium)",
                                                       "variant_decision (variant medium)"]


def test_a_decision_without_a_winner_fails(tmp_path, monkeypatch, session):
    write_playbook(tmp_path, monkeypatch, "      - {metric: variant_decision}\n")
    groups = world(small_errors=40)  # small: 40 errors, far worse than big's none
    crit = by_metric(json.loads(gates.evaluate_gate(KEY).result)["criteria"])["variant_decision"]
    assert 40 / (8 * len(groups["small"])) > 0.05
    assert (crit["passed"], crit["value"], crit["meets"]) == (False, None, [])
    assert crit["message"] == "observed no variant meets the rule yet, required the rule to name a winner"


# --- promotion ---------------------------------------------------------------------------------

def _state() -> tuple:
    weights = tuple(db.session.scalars(select(FeatureVariant.weight).order_by(FeatureVariant.position)))
    return weights, db.session.scalar(select(func.count()).select_from(AuditEntry)), \
        db.session.scalar(select(func.count()).select_from(VariantWeightChange))


def test_promotion_binds_until_its_criteria_pass(tmp_path, monkeypatch, client, admin_headers, session):
    write_playbook(tmp_path, monkeypatch)
    groups = world()
    session.commit()
    before = _state()
    url = f"/api/v1/features/{KEY}/variants/{{}}/promote"
    # small: no evaluation run on assist-evals yet.
    refused = client.post(url.format("small"), json={"reason": "cheaper"}, headers=admin_headers)
    assert refused.status_code == 409
    assert [d["field"] for d in refused.get_json()["details"]] == ["eval_pass_rate"]
    assert _state() == before
    # big: the rule's winner is small, and no run either.
    refused = client.post(url.format("big"), json={"reason": "safer"}, headers=admin_headers)
    details = {d["field"]: d["message"] for d in refused.get_json()["details"]}
    assert refused.status_code == 409 and set(details) == {"variant_decision", "eval_pass_rate"}
    assert details["variant_decision"] == ("observed winner small (meeting the rule: small), required the "
                                           "rule to name big the winner")
    assert _state() == before
    # An unknown variant is bad input, named, before anything is judged.
    unknown = client.post(url.format("medium"), json={"reason": "x"}, headers=admin_headers)
    assert unknown.status_code == 422 and unknown.get_json()["details"][0]["field"] == "variant"
    assert _state() == before
    # A run of small's model on the dataset: 3 of 3 pass, Wilson lower bound 3/(3 + z^2) >= 0.4.
    corrected = groups["big"][:3]
    for n, person in enumerate(corrected):
        db.session.add(Event(event_id=f"fix-{n}", feature_id=rollout_feature_id(), person_id=person.id,
                             occurred_at=utcnow() - timedelta(days=20), task="default", ai_assisted=True,
                             outcome="corrected", output="draft", correction="fixed"))
    db.session.flush()
    version = export_version("assist-evals", "ana", KEY)
    items = [row["item_id"] for row in version_rows(version)]
    record_run("assist-evals", "ana", "small-1", [{"item": i, "passed": True} for i in items],
               variant="small")
    session.commit()
    assert wilson(3, 3)[0] == pytest.approx(3 / (3 + Z2)) and 3 / (3 + Z2) >= 0.4
    done = client.post(url.format("small"), json={"reason": "cheaper, as good"}, headers=admin_headers)
    assert done.status_code == 200, done.get_json()
    assert [(v["name"], v["weight"]) for v in done.get_json()["variants"]] == [("big", 0), ("small", 100)]
    assert not db.session.scalars(select(AuditEntry).where(AuditEntry.action == "gate.override")).all()


def rollout_feature_id() -> int:
    return variants.feature_or_404(KEY).id


def test_an_override_with_a_reason_promotes_and_is_audited(tmp_path, monkeypatch, client, admin_headers,
                                                           session):
    write_playbook(tmp_path, monkeypatch)
    world()
    session.commit()
    url = f"/api/v1/features/{KEY}/variants/big/promote"
    no_reason = client.post(url, json={"override": True}, headers=admin_headers)
    assert no_reason.status_code == 422 and no_reason.get_json()["details"][0]["field"] == "reason"
    done = client.post(url, json={"override": True, "reason": "legal wants big"}, headers=admin_headers)
    assert done.status_code == 200
    assert [(v["name"], v["weight"]) for v in done.get_json()["variants"]] == [("big", 100), ("small", 0)]
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "gate.override")).one()
    after = json.loads(entry.after)
    assert (after["promotion"], sorted(after["failed"])) == ("big", ["eval_pass_rate", "variant_decision"])
    assert entry.reason == "legal wants big"


def test_the_cli_promotes_through_the_same_binding(tmp_path, monkeypatch, runner, session):
    write_playbook(tmp_path, monkeypatch)
    world()
    session.commit()
    refused = runner.invoke(args=["liftoff", "features", "promote", KEY, "small", "--reason", "cheaper"])
    assert refused.exit_code != 0 and "eval_pass_rate" in refused.output
    done = runner.invoke(args=["liftoff", "features", "promote", KEY, "small", "--reason", "cheaper",
                               "--override"])
    assert done.exit_code == 0, done.output
    assert "FAILED (overridden): eval_pass_rate" in done.output
    db.session.expire_all()
    assert [v.weight for v in db.session.scalars(select(FeatureVariant).order_by(FeatureVariant.position))] \
        == [0, 100]


def test_the_dashboard_promotes_through_the_same_binding(tmp_path, monkeypatch, session):
    from app.security import Identity
    from app.services.rollout.gates import GateFailed
    from dashboards.variants import actions

    write_playbook(tmp_path, monkeypatch)
    world()
    product = Identity(name="pat@corp.test", role="product")
    with pytest.raises(GateFailed) as refused:
        actions.promote_variant(KEY, "small", product, "cheaper")
    assert [d.field for d in refused.value.details] == ["eval_pass_rate"]
    assert [v.weight for v in db.session.scalars(select(FeatureVariant).order_by(FeatureVariant.position))] \
        == [50, 50]
    actions.promote_variant(KEY, "small", product, "cheaper", override=True)
    assert [v.weight for v in db.session.scalars(select(FeatureVariant).order_by(FeatureVariant.position))] \
        == [0, 100]
