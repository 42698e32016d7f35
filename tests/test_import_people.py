"""`liftoff import people FILE.csv`: all rows or none, every bad row and column on stderr."""

from __future__ import annotations

from sqlalchemy import func, select

from app.db import db
from app.models import Department, Person
from tests.helpers import gen_department, gen_person

HEADER = "person_id,name,email,department\n"


def _write(tmp_path, text: str, name: str = "people.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _people() -> int:
    return db.session.scalar(select(func.count()).select_from(Person))


def test_imports_and_reimports_people(runner, tmp_path):
    gen_department("Sales")
    gen_department("HR")
    db.session.commit()
    path = _write(tmp_path, HEADER + "e1,Ann Lee,ann@example.com,Sales\n"
                  '"e2","Berg, Bo",bo@example.com,HR\n\n'
                  "e3,,,\n")
    result = runner.invoke(args=["liftoff", "import", "people", path])
    assert result.exit_code == 0, result.output + result.stderr
    assert "3 people created, 0 updated" in result.stdout
    bo = db.session.scalar(select(Person).where(Person.person_id == "e2"))
    assert (bo.name, bo.department.name) == ("Berg, Bo", "HR")
    e3 = db.session.scalar(select(Person).where(Person.person_id == "e3"))
    assert (e3.name, e3.email, e3.department) == (None, None, None)

    result = runner.invoke(args=["liftoff", "import", "people", path])
    assert "0 people created, 0 updated" in result.stdout


def test_every_bad_row_is_listed_and_nothing_is_written(runner, tmp_path):
    gen_department("Sales")
    gen_person("e0", name="Existing", email="old@example.com")
    db.session.commit()
    path = _write(tmp_path, HEADER
                  + "e0,Existing,new@example.com,Sales\n"  # line 2: a valid update
                  + "e1,Ann,ann@@example,Sales\n"  # line 3: malformed e-mail
                  + f"e2,Bo,bo@example.com,{'R' * 121}\n"  # line 4: department name too long
                  + "e1,Ann again,ann2@example.com,Sales\n"  # line 5: duplicate person_id
                  + ",Nobody,nobody@example.com,Sales\n"  # line 6: missing person_id
                  + "e3,Cy,cy@example.com,Sales,extra\n")  # line 7: one field too many
    result = runner.invoke(args=["liftoff", "import", "people", path])
    assert result.exit_code != 0
    err = result.stderr
    for expected in ("row 3: email", "row 4: department", "row 5: person_id", "first at row 3",
                     "row 6: person_id", "row 7: (row)"):
        assert expected in err, (expected, err)
    assert "row 2:" not in err
    # The valid update on line 2 was not applied either.
    db.session.expire_all()
    assert _people() == 1
    assert db.session.scalar(select(Person.email)) == "old@example.com"


def test_missing_and_extra_columns_are_one_clear_error(runner, tmp_path):
    path = _write(tmp_path, "person_id,email,dept,shoe_size\ne1,a@example.com,Sales,42\n")
    result = runner.invoke(args=["liftoff", "import", "people", path])
    assert result.exit_code != 0
    err = result.stderr
    assert "bad header" in err
    for expected in ("name: missing column", "department: missing column",
                     "dept: unexpected column", "shoe_size: unexpected column"):
        assert expected in err
    assert _people() == 0


def test_empty_file_is_refused(runner, tmp_path):
    result = runner.invoke(args=["liftoff", "import", "people", _write(tmp_path, "")])
    assert result.exit_code != 0
    assert "empty" in result.stderr


def test_new_departments_are_created_without_a_rate_unless_refused(runner, tmp_path):
    # The contract: a department not seen before is created without a rate (default applies).
    path = _write(tmp_path, HEADER + "e1,Ann,ann@example.com,Research\n")
    refused = runner.invoke(args=["liftoff", "import", "people", "--no-create-departments", path])
    assert refused.exit_code != 0 and "row 2: department" in refused.stderr
    assert db.session.scalar(select(Department.name)) is None
    result = runner.invoke(args=["liftoff", "import", "people", path])
    assert result.exit_code == 0, result.stderr
    research = db.session.scalar(select(Department))
    assert (research.name, research.hourly_rate_eur) == ("Research", None)
    again = runner.invoke(args=["liftoff", "import", "people", "--create-departments", path])
    assert again.exit_code == 0 and "0 people created, 0 updated" in again.stdout


def test_a_large_file_imports_with_progress_on_stderr(runner, tmp_path):
    gen_department("Ops")
    db.session.commit()
    lines = "".join(f"p{i:05d},Person {i},p{i}@example.com,Ops\n" for i in range(3000))
    path = _write(tmp_path, "\ufeff" + HEADER + lines)  # with a UTF-8 byte-order mark, as Excel writes
    result = runner.invoke(args=["liftoff", "import", "people", path])
    assert result.exit_code == 0, result.stderr
    assert "3000 people created" in result.stdout
    assert "reading people.csv" in result.stderr
    assert _people() == 3000


def test_help_describes_the_columns(runner):
    result = runner.invoke(args=["liftoff", "import", "people", "--help"])
    assert result.exit_code == 0
    assert "person_id,name,email,department" in result.output
