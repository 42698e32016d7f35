"""Playbook files: the shipped ones are valid ADKAR playbooks; bad ones fail naming file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import ValidationFailed
from app.models import AuditEntry, Feature, PlaybookRun
from app.playbooks import ADKAR, GATE_METRICS, load_all, playbook_dir
from app.playbooks.loader import load_playbook, parse_playbook
from app.services.enablement.activities import attach_playbook
from tests.helpers import gen_cohort, gen_feature

SHIPPED = ("champion-enablement", "company-wide-rollout", "pilot-feedback-loop")
PILOT = (playbook_dir() / "pilot-feedback-loop.yaml").read_text()


def problems(text: str, name: str = "pilot-feedback-loop.yaml") -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        parse_playbook(text, name)
    assert name in caught.value.message
    return [(d.field, d.message) for d in caught.value.details]


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(needle)


def test_the_three_shipped_playbooks_are_valid_and_follow_adkar():
    playbooks = load_all()
    assert sorted(playbooks) == list(SHIPPED)
    for playbook in playbooks.values():
        phases = [p for stage in playbook.stages for p in stage.adkar]
        assert phases == sorted(phases, key=ADKAR.index)
        assert set(phases) == set(ADKAR)
        for stage in playbook.stages:
            assert stage.trainings and stage.communications and stage.checklist and stage.gate
            assert stage.pulse_questions and stage.feedback_cadence
            assert all(t.duration_minutes > 0 and t.format for t in stage.trainings)
            assert stage.guardrails.max_error_rate or stage.guardrails.spike_factor
    # Between them the playbooks use every gate metric.
    used = {c.metric for pb in playbooks.values() for s in pb.stages for c in s.gate}
    assert used == set(GATE_METRICS)


def test_unknown_metric_names_file_line_and_field():
    bad = PILOT.replace("metric: feedback_mean", "metric: happiness", 1)
    found = problems(bad)
    assert found == [("stages[0].gate[3].metric",
                      f"pilot-feedback-loop.yaml line {line_of(bad, 'happiness')}: unknown metric "
                      "'happiness' (known: " + ", ".join([*GATE_METRICS, "variant_decision"]) + ")")]


def test_out_of_range_threshold_and_missing_field_are_all_reported():
    bad = PILOT.replace("min_pct: 80", "min_pct: 180", 1).replace("    checklist:\n", "    checklist_x:\n", 1)
    fields = dict(problems(bad))
    assert fields["stages[0].gate[2].min_pct"].startswith(
        f"pilot-feedback-loop.yaml line {line_of(bad, 'min_pct: 180')}: 180 is out of range")
    assert "unknown field 'checklist_x'" in fields["stages[0].checklist_x"]
    assert fields["stages[0].checklist"].endswith("is required")


def test_wrong_parameter_for_a_metric_and_wrong_types():
    bad = PILOT.replace("metric: days_in_stage\n        min: 7", "metric: days_in_stage\n        max: 7", 1)
    bad = bad.replace("duration_minutes: 45", "duration_minutes: long", 1)
    fields = dict(problems(bad))
    assert "unknown field 'max' (allowed: metric, min)" in fields["stages[0].gate[0].max"]
    assert fields["stages[0].trainings[0].duration_minutes"] == (
        f"pilot-feedback-loop.yaml line {line_of(bad, 'duration_minutes: long')}: must be a whole number")


def test_adkar_out_of_order_and_bad_scale_and_unknown_format():
    bad = PILOT.replace("adkar: [awareness, desire]", "adkar: [desire, awareness]", 1)
    bad = bad.replace("scale: [1, 5]", "scale: [1, 10]", 1).replace("format: webinar", "format: podcast", 1)
    fields = dict(problems(bad))
    assert "ADKAR order" in fields["stages[0].adkar"]
    assert "the pulse survey scale is [1, 5]" in fields["stages[0].feedback.scale"]
    assert "'podcast' is not one of" in fields["stages[0].trainings[0].format"]


def test_broken_yaml_and_key_not_matching_file(tmp_path: Path):
    found = problems("key: x\nstages: [\n", "x.yaml")
    assert found[0][0] == "(yaml)" and "x.yaml line 3: not valid YAML" in found[0][1]
    path = tmp_path / "other-name.yaml"
    path.write_text(PILOT)
    with pytest.raises(ValidationFailed) as caught:
        load_playbook(path)
    assert caught.value.details[0].field == "key"
    assert "line 2: must match the file name ('other-name')" in caught.value.details[0].message


def test_attaching_checks_cohorts_of_trainings(tmp_path, monkeypatch, session):
    feature = gen_feature()
    text = PILOT.replace("key: pilot-feedback-loop", "key: custom", 1).replace(
        "audience: stage", "audience: cohort:sales-pilots", 1)
    (tmp_path / "custom.yaml").write_text(text)
    monkeypatch.setenv("LIFTOFF_PLAYBOOK_DIR", str(tmp_path))
    with pytest.raises(ValidationFailed) as caught:
        attach_playbook(feature.key, "custom", "tester")
    detail = caught.value.details[0]
    assert detail.field == "stages[0].trainings[0].audience"
    line = line_of(text, "title: Pilot kick-off")
    assert detail.message == f"custom.yaml line {line}: unknown cohort 'sales-pilots'"
    assert session.query(PlaybookRun).count() == 0
    gen_cohort(key="sales-pilots")
    run = attach_playbook(feature.key, "custom", "tester")
    assert run.playbook_key == "custom" and session.get(Feature, feature.id).playbook_key == "custom"


def test_reattaching_ends_the_previous_run_and_is_audited(session):
    feature = gen_feature()
    first = attach_playbook(feature.key, "pilot-feedback-loop", "cm@example.com")
    second = attach_playbook(feature.key, "company-wide-rollout", "cm@example.com")
    assert first.ended_at is not None and second.ended_at is None
    entries = session.query(AuditEntry).filter_by(action="playbook.attach").all()
    assert [e.after for e in entries] == ['{"playbook": "pilot-feedback-loop"}',
                                          '{"playbook": "company-wide-rollout"}']


def test_playbook_api_reads_and_attach_permissions(client, admin_headers, ingest_headers, session):
    feature = gen_feature()
    session.commit()
    listed = client.get("/api/v1/playbooks", headers=admin_headers)
    assert listed.status_code == 200
    assert [p["key"] for p in listed.get_json()] == list(SHIPPED)
    one = client.get("/api/v1/playbooks/champion-enablement", headers=admin_headers).get_json()
    assert one["stages"][0]["gate"][0] == {"metric": "days_in_stage", "min": 14}
    assert client.get("/api/v1/playbooks/nope", headers=admin_headers).status_code == 422
    assert client.get("/api/v1/playbooks").status_code == 401
    url = f"/api/v1/features/{feature.key}/playbook"
    refused = client.put(url, json={"playbook": "pilot-feedback-loop"}, headers=ingest_headers)
    assert refused.status_code == 403
    bad = client.put(url, json={"playbook": "../etc/passwd"}, headers=admin_headers)
    assert bad.status_code == 422 and bad.get_json()["details"][0]["field"] == "playbook"
    ok = client.put(url, json={"playbook": "pilot-feedback-loop"}, headers=admin_headers)
    assert ok.status_code == 200 and ok.get_json()["playbook"] == "pilot-feedback-loop"
