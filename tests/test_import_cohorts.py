"""`liftoff import cohorts FILE.csv`: one member per row; each named cohort's members are replaced."""

from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.models import Cohort
from tests.helpers import gen_cohort, gen_person


def _write(tmp_path, text: str):
    path = tmp_path / "cohorts.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _members(key: str) -> list[str]:
    db.session.expire_all()
    cohort = db.session.scalar(select(Cohort).where(Cohort.key == key))
    return sorted(m.person.person_id for m in cohort.members)


def test_creates_cohorts_and_replaces_members_of_the_named_ones_only(runner, tmp_path):
    a, b, c = gen_person("a"), gen_person("b"), gen_person("c")
    gen_cohort("pilot", [a, b], name="Pilot")
    gen_cohort("other", [c], name="Other")
    db.session.commit()
    path = _write(tmp_path, "cohort_key,person_id\npilot,b\npilot,c\nchampions,a\n")
    result = runner.invoke(args=["liftoff", "import", "cohorts", path])
    assert result.exit_code == 0, result.stderr
    assert "cohort pilot: updated, +1 -1 members" in result.stdout
    assert "cohort champions: created, +1 -0 members" in result.stdout
    assert _members("pilot") == ["b", "c"]
    assert _members("champions") == ["a"]
    assert _members("other") == ["c"]
    assert db.session.scalar(select(Cohort.name).where(Cohort.key == "champions")) == "champions"


def test_optional_cohort_name_column_names_the_cohort(runner, tmp_path):
    gen_person("a")
    db.session.commit()
    path = _write(tmp_path, "cohort_key,person_id,cohort_name\nsales-pilot,a,Sales pilot group\n")
    assert runner.invoke(args=["liftoff", "import", "cohorts", path]).exit_code == 0
    assert db.session.scalar(select(Cohort.name)) == "Sales pilot group"


def test_unknown_members_and_bad_keys_are_listed_and_nothing_changes(runner, tmp_path):
    a = gen_person("a")
    gen_cohort("pilot", [a], name="Pilot")
    db.session.commit()
    path = _write(tmp_path, "cohort_key,person_id,cohort_name\n"
                  "pilot,a,Pilot\n"  # line 2: fine
                  "pilot,ghost,Pilot\n"  # line 3: unknown person
                  "bad key!,a,\n"  # line 4: bad key
                  "pilot,,Pilot\n"  # line 5: no person
                  "pilot,a,Another name\n")  # line 6: conflicting name
    result = runner.invoke(args=["liftoff", "import", "cohorts", path])
    assert result.exit_code != 0
    for expected in ("row 3: person_id: unknown person 'ghost'", "row 4: cohort_key",
                     "row 5: person_id: is required", "row 6: cohort_name"):
        assert expected in result.stderr, (expected, result.stderr)
    assert "row 2:" not in result.stderr
    assert _members("pilot") == ["a"]
    assert len(db.session.scalars(select(Cohort)).all()) == 1


def test_missing_column_is_refused(runner, tmp_path):
    result = runner.invoke(args=["liftoff", "import", "cohorts", _write(tmp_path, "cohort,person\nx,a\n")])
    assert result.exit_code != 0
    assert "cohort_key: missing column" in result.stderr
    assert "person: unexpected column" in result.stderr
