"""The CSV reader behind every import: header checks, line numbers, malformed rows, progress."""

from __future__ import annotations

import gzip
import io

import pytest

from app.errors import Collector, ValidationFailed
from app.services.ingest.csv_rows import open_text, read_rows


def test_rows_carry_their_file_line_numbers_even_after_quoted_newlines():
    text = 'a,b\n1,"two\nlines"\n\n3,4\n'
    rows = read_rows(io.StringIO(text), ("a", "b"))
    assert [(r.line, r.values) for r in rows] == [
        (3, {"a": "1", "b": "two\nlines"}), (5, {"a": "3", "b": "4"})]


def test_optional_columns_may_be_absent_or_present_in_any_order():
    assert read_rows(io.StringIO("b,a\n2,1\n"), ("a", "b"), ("c",))[0].values == {"a": "1", "b": "2"}
    assert read_rows(io.StringIO("c,a,b\n3,1,2\n"), ("a", "b"), ("c",))[0].values["c"] == "3"


def test_repeated_columns_are_refused():
    with pytest.raises(ValidationFailed) as caught:
        read_rows(io.StringIO("a,b,a\n1,2,3\n"), ("a", "b"))
    assert [(d.field, d.message) for d in caught.value.details] == [("a", "column appears more than once")]


def test_rows_with_the_wrong_number_of_fields_are_collected_not_returned():
    problems = Collector()
    rows = read_rows(io.StringIO("a,b\n1\n1,2\n1,2,3\n"), ("a", "b"), problems=problems)
    assert [r.line for r in rows] == [3]
    assert [(d.index, d.field) for d in problems.details] == [(2, "(row)"), (4, "(row)")]
    with pytest.raises(ValidationFailed):
        read_rows(io.StringIO("a,b\n1\n"), ("a", "b"))


def test_progress_counts_every_byte_and_gzip_and_bom_are_handled(tmp_path):
    text = "\ufeffa,b\n1,é\n"
    path = tmp_path / "x.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write(text)
    seen = []
    with open_text(path) as stream:
        rows = read_rows(stream, ("a", "b"), progress=seen.append)
    assert rows[0].values == {"a": "1", "b": "é"}
    assert sum(seen) == len(text.encode("utf-8")) - len("\ufeff".encode())


def test_invalid_utf8_is_a_clear_error(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("a,b\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValidationFailed) as caught, open_text(path) as stream:
        read_rows(stream, ("a", "b"))
    assert "UTF-8" in caught.value.message
