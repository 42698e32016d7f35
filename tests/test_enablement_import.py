"""``liftoff import feedback FILE.csv``: all rows or none, ratings 1-5, every bad row listed."""

from __future__ import annotations

from app.db import db
from app.models import Feedback
from app.services.enablement import feedback_triage
from tests.helpers import gen_feature, gen_person

HEADER = "feature,person_id,rating,occurred_at,comment,category,severity\n"


def world():
    gen_feature("drafts")
    gen_person("p1")
    gen_person("p2")
    db.session.commit()


def test_a_good_file_is_stored_with_categories_and_severity(runner, tmp_path):
    world()
    path = tmp_path / "feedback.csv"
    path.write_text(HEADER
                    + "drafts,p1,4,2026-11-02T09:00:00+01:00,Saves me an hour,usability,\n"
                    + 'drafts,p2,1,2026-11-02T10:00:00Z,"Wrong VAT rate, said 19 %",correction,critical\n')
    result = runner.invoke(args=["liftoff", "import", "feedback", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 2 feedback rows" in result.output
    rows = db.session.scalars(db.select(Feedback).order_by(Feedback.id)).all()
    assert [(f.rating, f.category, f.severity, f.status) for f in rows] == [
        (4, "usability", "normal", "open"), (1, "correction", "critical", "open")]
    assert rows[0].occurred_at.hour == 8  # normalised to UTC
    assert [c["comment"] for c in feedback_triage.corrections("drafts")] == ["Wrong VAT rate, said 19 %"]


def test_ratings_outside_1_to_5_and_other_bad_rows_store_nothing(runner, tmp_path):
    world()
    path = tmp_path / "feedback.csv"
    path.write_text(HEADER
                    + "drafts,p1,4,2026-11-02T09:00:00Z,,,\n"
                    + "drafts,p1,6,2026-11-02T09:00:00Z,,,\n"
                    + "drafts,p2,0,2026-11-02,,,urgent\n"
                    + ",p2,3.5,yesterday,,,\n")
    result = runner.invoke(args=["liftoff", "import", "feedback", str(path)])
    assert result.exit_code == 1
    for line in ("row 2: rating: must be a whole number from 1 to 5, not '6'",
                 "row 3: rating", "row 3: occurred_at: needs a UTC offset", "row 3: severity",
                 "row 4: feature: is required", "row 4: rating", "row 4: occurred_at"):
        assert line in result.output, result.output
    assert db.session.scalar(db.select(db.func.count(Feedback.id))) == 0


def test_unknown_people_or_features_are_refused_by_the_shared_ingestion(runner, tmp_path):
    world()
    path = tmp_path / "feedback.csv"
    path.write_text(HEADER + "drafts,p1,4,2026-11-02T09:00:00Z,,,\nnope,ghost,3,2026-11-02T09:00:00Z,,,\n")
    result = runner.invoke(args=["liftoff", "import", "feedback", str(path)])
    assert result.exit_code == 1
    assert "unknown or missing feature 'nope'" in result.output
    assert db.session.scalar(db.select(db.func.count(Feedback.id))) == 0


def test_missing_and_unknown_columns(runner, tmp_path):
    path = tmp_path / "feedback.csv"
    path.write_text("feature,person,rating\ndrafts,p1,4\n")
    result = runner.invoke(args=["liftoff", "import", "feedback", str(path)])
    assert result.exit_code == 1
    assert "person_id: column is missing" in result.output and "person: unknown column" in result.output
    assert runner.invoke(args=["liftoff", "import", "feedback", "--help"]).exit_code == 0
