"""Free texts of AI events: a correction needs its output, a GDPR erase and the retention job blank
every text (events' outputs and corrections, reviewers' fixes), and nothing else changes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.db import db, utcnow
from app.models import AuditEntry, Event
from app.services.people import retention
from tests.helpers import gen_feature, gen_person

EVENT = {"feature": "f", "person_id": "p1", "ai_assisted": True, "outcome": "corrected"}


def _stamp(days_ago: int) -> str:
    return (utcnow() - timedelta(days=days_ago)).isoformat()


def _world(session):
    gen_person("p1")
    gen_person("p2")
    gen_feature("f")
    session.commit()


def test_a_correction_without_an_output_is_refused_naming_the_field(client, admin_headers, session):
    _world(session)
    rows = [{**EVENT, "event_id": "ok", "occurred_at": _stamp(1), "output": "a", "correction": "b"},
            {**EVENT, "event_id": "bad", "occurred_at": _stamp(1), "correction": "the fix of nothing"}]
    response = client.post("/api/v1/events", json=rows, headers=admin_headers)
    assert response.status_code == 422
    (detail,) = response.get_json()["details"]
    assert (detail["index"], detail["field"]) == (1, "correction")
    assert "needs the output" in detail["message"]
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0


def test_retention_blanks_old_texts_once_audited_and_keeps_recent_ones(client, admin_headers, session):
    _world(session)
    rows = [{**EVENT, "event_id": "old", "occurred_at": _stamp(40), "output": "old answer",
             "correction": "old fix", "model_version": "m1", "duration_seconds": 12},
            {**EVENT, "event_id": "recent", "occurred_at": _stamp(5), "output": "new answer",
             "correction": "new fix", "model_version": "m2"}]
    assert client.post("/api/v1/events", json=rows, headers=admin_headers).status_code == 200
    assert retention.blank_old_texts(days=0)["events_blanked"] == 0  # off: nothing blanked
    result = retention.blank_old_texts(days=30)
    db.session.commit()
    assert result["events_blanked"] == 1
    db.session.expire_all()
    old, recent = db.session.scalars(select(Event).order_by(Event.occurred_at)).all()
    assert (old.output, old.correction) == (None, None)
    # The figures the KPIs read and the model version stay.
    assert (old.outcome, old.duration_seconds, old.model_version) == ("corrected", 12.0, "m1")
    assert (recent.output, recent.correction) == ("new answer", "new fix")
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "texts.retention")).all()
    assert len(entries) == 1 and '"events_blanked": 1' in entries[0].after
    # A second run finds nothing left to blank and writes no second entry.
    assert retention.blank_old_texts(days=30)["events_blanked"] == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "texts.retention")) == 1


def test_the_retention_job_reads_its_setting(app, client, admin_headers, session, runner):
    _world(session)
    client.post("/api/v1/events", json=[{**EVENT, "event_id": "old", "occurred_at": _stamp(10),
                                          "output": "x", "correction": "y"}], headers=admin_headers)
    app.config["EVENT_TEXT_RETENTION_DAYS"] = 7
    result = runner.invoke(args=["liftoff", "jobs", "run", "text-retention"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.scalar(select(Event.output)) is None


def _labelled_fixes(client, admin_headers) -> dict[str, int]:
    """Every output of the review world sampled and labelled corrected with a fix: event_id -> label id."""
    from app.services.review import labels, sampling
    from tests.review_support import live_world

    live_world(client, admin_headers, events_per_person=2)
    sample = sampling.draw_sample("f", "cm", size=100, second_share=0.0, seed=1)
    out = {}
    for item in labels.queue(sample.id, "ana"):
        label = labels.label_item(item.id, "ana", "corrected", "tone", f"fixed {item.event_id}")
        out[db.session.get(Event, item.event_id).event_id] = label.id
    db.session.commit()
    return out


def test_gdpr_erase_blanks_every_text_of_the_person_reviewers_fixes_included(client, admin_headers):
    from app.models import ReviewLabel

    fixes = _labelled_fixes(client, admin_headers)
    erased = client.post("/api/v1/people/s1/erase", headers=admin_headers).get_json()
    # s1 has two events with texts (and one without any), both reviewed with a fix.
    assert (erased["event_texts_erased"], erased["review_fixes_erased"]) == (2, 2)
    db.session.expire_all()
    for event in db.session.scalars(select(Event)):
        mine = event.event_id.startswith("f-s1-") or event.event_id == "f-no-output"
        texts = (event.output, event.correction, event.model_version)
        assert (texts == (None, None, None)) == mine, event.event_id
    for event_id, label_id in fixes.items():
        fix = db.session.get(ReviewLabel, label_id).fix
        assert (fix is None) == event_id.startswith("f-s1-"), event_id
    # The verdicts stay: the reviewed error rate does not change with an erasure.
    assert db.session.scalar(select(func.count()).select_from(ReviewLabel)
                             .where(ReviewLabel.label == "corrected")) == len(fixes)


def test_retention_blanks_reviewers_fixes_of_old_events_too(client, admin_headers):
    from app.models import ReviewLabel

    fixes = _labelled_fixes(client, admin_headers)  # events 1-2 days old
    result = retention.blank_old_texts(now=utcnow() + timedelta(days=40), days=30)
    db.session.commit()
    assert (result["events_blanked"], result["fixes_blanked"]) == (len(fixes), len(fixes))
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(ReviewLabel)
                             .where(ReviewLabel.fix.is_not(None))) == 0
    assert db.session.scalar(select(func.count()).select_from(Event).where(
        (Event.output.is_not(None)) | (Event.correction.is_not(None)))) == 0
