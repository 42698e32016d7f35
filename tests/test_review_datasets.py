"""Datasets of corrections through the API: exactly the self-reported corrections and the items
reviewers labelled corrected or wrong, versioned and recorded; evaluation runs all or nothing; the
eval_pass_rate gate criterion judged on the lower bound of the pass rate's interval."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.db import db, utcnow
from app.models import AuditEntry, DatasetVersion, EvaluationRun, Event
from app.services.review import labels, sampling
from tests.review_support import live_world

VERSIONS = "/api/v1/datasets/f-corrections/versions"
EVAL_GATE = """\
key: eval-gate
name: Evaluation gate
description: The first stage moves on only when the model passes the corrections dataset.
stages:
  - name: Pilot
    adkar: [awareness, desire, knowledge, ability, reinforcement]
    trainings:
      - {title: Intro, audience: stage, format: webinar, duration_minutes: 30, adkar: knowledge}
    communications:
      - {channel: email, audience: pilots, timing: day 1, message: Welcome, adkar: awareness}
    feedback: {cadence: weekly, scale: [1, 5], questions: ["Was it useful?"]}
    checklist: [Baseline recorded]
    gate:
      - {metric: eval_pass_rate, min: 0.8, dataset: "{feature}-corrections"}
    guardrails: {max_error_rate: 0.5, action: rollback}
"""


def _reviewed_world(client, headers) -> dict[str, str]:
    """The review world plus one self-reported correction; four outputs labelled by a reviewer.
    Returns event_id -> what happened to it (for the expected dataset)."""
    live_world(client, headers, events_per_person=1)
    sample = sampling.draw_sample("f", "cm", size=4, second_share=0, seed=5)
    verdicts = [("corrected", "tone", '=HYPERLINK("http://x")'), ("wrong", "facts", None),
                ("correct", None, None), ("not_assessable", None, None)]
    fate = {"self-1": "self"}
    for item, (label, category, fix) in zip(labels.queue(sample.id, "ana"), verdicts, strict=True):
        labels.label_item(item.id, "ana", label, category, fix)
        fate[db.session.get(Event, item.event_id).event_id] = label
    db.session.commit()
    # Reported after the sample was drawn, so it is a self-reported correction only.
    corrected = {"event_id": "self-1", "feature": "f", "person_id": "o1", "ai_assisted": True,
                 "outcome": "corrected", "occurred_at": (utcnow() - timedelta(days=2)).isoformat(),
                 "output": "Dear client", "correction": "Dear Ms Doe", "model_version": "m1"}
    assert client.post("/api/v1/events", json=[corrected], headers=headers).status_code == 200
    return fate


def test_an_export_holds_exactly_the_corrections_and_reviewed_errors(client, admin_headers):
    fate = _reviewed_world(client, admin_headers)
    made = client.post(VERSIONS, json={"feature": "f"}, headers=admin_headers)
    assert made.status_code == 201, made.get_json()
    record = made.get_json()
    assert (record["version"], record["items"], record["created_by"]) == (1, 3, "token:test admin")
    assert record["filter"] == {"feature": "f", "variant": None, "start": None, "end": None, "category": None}
    text = client.get("/api/v1/datasets/f-corrections/versions/1?format=jsonl", headers=admin_headers)
    rows = [json.loads(line) for line in text.get_data(as_text=True).splitlines()]
    expected = {e for e, what in fate.items() if what in ("self", "corrected", "wrong")}
    assert {r["event_id"] for r in rows} == expected
    by_fate = {fate[r["event_id"]]: r for r in rows}
    assert (by_fate["self"]["correction"], by_fate["self"]["origin"], by_fate["self"]["label"]) == (
        "Dear Ms Doe", "self_reported", None)
    assert (by_fate["corrected"]["correction"], by_fate["corrected"]["category"]) == (
        '=HYPERLINK("http://x")', "tone")
    assert (by_fate["wrong"]["label"], by_fate["wrong"]["category"], by_fate["wrong"]["stage"]) == (
        "wrong", "facts", 1)
    # CSV: the same items; a formula-like text is neutralised.
    sheet = client.get("/api/v1/datasets/f-corrections/versions/1?format=csv", headers=admin_headers)
    cells = list(csv.DictReader(io.StringIO(sheet.get_data(as_text=True))))
    assert {c["event_id"] for c in cells} == expected
    assert "'=HYPERLINK(\"http://x\")" in [c["correction"] for c in cells]
    # A filter by category makes version 2 with the wrong item alone; both exports are recorded.
    facts = client.post("/api/v1/datasets/f-corrections/versions", json={"feature": "f", "category": "facts"},
                        headers=admin_headers).get_json()
    assert (facts["version"], facts["items"]) == (2, 1)
    listed = client.get("/api/v1/datasets/f-corrections", headers=admin_headers).get_json()["versions"]
    assert [(v["version"], v["items"], v["filter"]["category"]) for v in listed] == [
        (1, 3, None), (2, 1, "facts")]
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "dataset.export")) == 2
    # A date window after every event: an empty version, still recorded.
    later = (utcnow() + timedelta(days=1)).date().isoformat()
    empty = client.post("/api/v1/datasets/f-corrections/versions", json={"feature": "f", "start": later},
                        headers=admin_headers).get_json()
    assert empty["items"] == 0


@pytest.mark.parametrize(("body", "field"), [
    ({"feature": "f", "start": "2026-13-01"}, "start"), ({"feature": "f", "colour": 1}, "colour"),
    ({"feature": "f", "category": ""}, "category"), ({}, "feature")])
def test_a_bad_export_names_the_field_and_records_nothing(client, admin_headers, body, field):
    live_world(client, admin_headers, events_per_person=1)
    response = client.post("/api/v1/datasets/d1/versions", json=body, headers=admin_headers)
    assert response.status_code == 422
    assert field in [d["field"] for d in response.get_json()["details"]]
    assert db.session.scalar(select(func.count()).select_from(DatasetVersion)) == 0


def test_a_bad_dataset_name_is_refused(client, admin_headers):
    live_world(client, admin_headers, events_per_person=1)
    response = client.post("/api/v1/datasets/Bad%20Name/versions", json={"feature": "f"},
                           headers=admin_headers)
    assert response.status_code == 422 and response.get_json()["details"][0]["field"] == "dataset"


def _items(client, headers, key="f-corrections") -> list[int]:
    text = client.get(f"/api/v1/datasets/{key}/versions/1", headers=headers).get_data(as_text=True)
    return [json.loads(line)["item_id"] for line in text.splitlines()]


def test_an_evaluation_run_is_all_or_nothing_and_names_the_unknown_item(client, admin_headers,
                                                                        ingest_headers):
    _reviewed_world(client, admin_headers)
    client.post("/api/v1/datasets/f-corrections/versions", json={"feature": "f"}, headers=admin_headers)
    items = _items(client, admin_headers)
    results = [{"item": i, "passed": True, "score": 0.9} for i in items]
    unknown = client.post("/api/v1/datasets/f-corrections/evaluations", headers=ingest_headers,
                          json={"model_version": "m2",
                                "results": [*results[:-1], {"item": 999_999, "passed": True}]})
    assert unknown.status_code == 422
    details = unknown.get_json()["details"]
    assert {"index": len(items) - 1, "field": "item",
            "message": "no item 999999 in this dataset version"} in details
    missing = client.post("/api/v1/datasets/f-corrections/evaluations", headers=ingest_headers,
                          json={"model_version": "m2", "results": results[:-1]})
    assert missing.status_code == 422 and missing.get_json()["details"][0]["field"] == "results"
    twice = client.post("/api/v1/datasets/f-corrections/evaluations", headers=ingest_headers,
                        json={"model_version": "m2", "results": [*results, results[0]]})
    assert twice.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(EvaluationRun)) == 0
    good = client.post("/api/v1/datasets/f-corrections/evaluations", headers=ingest_headers,
                       json={"model_version": "m2", "results": results})
    assert good.status_code == 201
    run = good.get_json()
    assert (run["items"], run["passed"], run["pass_rate"], run["version"]) == (3, 3, 1.0, 1)
    assert client.post("/api/v1/datasets/nope/evaluations", headers=ingest_headers,
                       json={"model_version": "m2", "results": results}).status_code == 404


def test_the_evaluation_gate_blocks_a_small_or_missing_run(client, admin_headers, tmp_path, monkeypatch):
    (tmp_path / "eval-gate.yaml").write_text(EVAL_GATE)
    monkeypatch.setenv("LIFTOFF_PLAYBOOK_DIR", str(tmp_path))
    _reviewed_world(client, admin_headers)
    assert client.put("/api/v1/features/f/playbook", json={"playbook": "eval-gate"},
                      headers=admin_headers).status_code == 200
    blocked = client.post("/api/v1/features/f/advance", json={}, headers=admin_headers)
    assert blocked.status_code == 409
    (detail,) = blocked.get_json()["details"]
    assert detail["field"] == "eval_pass_rate"
    assert "no evaluation run on dataset f-corrections" in detail["message"]
    client.post("/api/v1/datasets/f-corrections/versions", json={"feature": "f"}, headers=admin_headers)
    items = _items(client, admin_headers)
    # 3 of 3 passed: the Wilson lower bound of 3/3 is 0.438, below 0.8: still blocked.
    client.post("/api/v1/datasets/f-corrections/evaluations", headers=admin_headers,
                json={"model_version": "m2", "results": [{"item": i, "passed": True} for i in items]})
    still = client.post("/api/v1/features/f/advance", json={}, headers=admin_headers)
    assert still.status_code == 409
    assert "interval 0.438-1" in still.get_json()["details"][0]["message"]
    assert client.get("/api/v1/features/f", headers=admin_headers).get_json()["current_stage"] == 1


def test_the_gate_passes_on_a_large_enough_passing_run(client, admin_headers, tmp_path, monkeypatch):
    (tmp_path / "eval-gate.yaml").write_text(EVAL_GATE)
    monkeypatch.setenv("LIFTOFF_PLAYBOOK_DIR", str(tmp_path))
    live_world(client, admin_headers, events_per_person=5)  # 50 outputs
    sample = sampling.draw_sample("f", "cm", size=50, second_share=0, seed=1)
    for item in labels.queue(sample.id, "ana"):
        labels.label_item(item.id, "ana", "wrong", "facts")
    db.session.commit()
    client.put("/api/v1/features/f/playbook", json={"playbook": "eval-gate"}, headers=admin_headers)
    client.post("/api/v1/datasets/f-corrections/versions", json={"feature": "f"}, headers=admin_headers)
    items = _items(client, admin_headers)
    assert len(items) == 50
    # 48 of 50 pass: 0.96, Wilson 95 % interval [0.865, 0.989]: the lower bound clears 0.8.
    results = [{"item": i, "passed": n >= 2} for n, i in enumerate(items)]
    client.post("/api/v1/datasets/f-corrections/evaluations", headers=admin_headers,
                json={"model_version": "m2", "results": results})
    advanced = client.post("/api/v1/features/f/advance", json={}, headers=admin_headers)
    assert advanced.status_code == 200, advanced.get_json()
    assert advanced.get_json()["current_stage"] == 2


def test_the_cli_exports_a_recorded_version(client, admin_headers, runner, tmp_path):
    fate = _reviewed_world(client, admin_headers)
    out = tmp_path / "d.csv"
    export = ["liftoff", "datasets", "export", "--dataset", "f-corrections", "--feature", "f"]
    result = runner.invoke(args=[*export, "--format", "csv", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "f-corrections version 1: 3 item(s)" in result.output
    cells = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {c["event_id"] for c in cells} == {e for e, w in fate.items()
                                              if w in ("self", "corrected", "wrong")}
    bad = runner.invoke(args=[*export, "--start", "yesterday"])
    assert bad.exit_code == 1 and "start: must be a date" in bad.stderr
    listed = runner.invoke(args=["liftoff", "datasets", "versions", "f-corrections"])
    assert listed.exit_code == 0 and listed.output.count("\n") == 1 and "3 item(s)" in listed.output
    assert "--category" in runner.invoke(args=["liftoff", "datasets", "export", "--help"]).output
