"""Hypothesis against the parsers of user files: the CSV reader and the CSV imports, playbook YAML
and connector YAML. Whatever the input, the only failure is the project's own LiftoffError (a clear
message naming the row or field), and a failed import writes nothing.
LIFTOFF_FUZZ_EXAMPLES=2000 digs deeper (150 by default)."""

from __future__ import annotations

import io
import json
import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app import plausible
from app.connectors import config as connector_config
from app.db import db
from app.errors import LiftoffError
from app.models import Cohort, Event, Feature, Person
from app.playbooks.loader import parse_playbook
from app.services.ingest.csv_rows import read_rows
from tests.helpers import gen_feature

FUZZ = settings(max_examples=int(os.environ.get("LIFTOFF_FUZZ_EXAMPLES", "150")), deadline=None,
                derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Text biased towards what breaks CSV: quotes, separators, line ends, blanks, NUL, non-ASCII.
CSV_CHARS = st.sampled_from(list('ab1,,,""\n\n\r \t;é\x00\ufeff-@.:T'))
csv_text = st.one_of(st.text(), st.text(CSV_CHARS, max_size=200))
PEOPLE_HEADER = "person_id,name,email,department\n"


def _ok_or_liftoff(call) -> object:
    try:
        return call()
    except LiftoffError as error:
        assert str(error)  # a message a person can act on
        return error


# --- CSV -----------------------------------------------------------------------------------------

@FUZZ
@given(body=csv_text, with_header=st.booleans())
def test_read_rows_raises_only_validation_errors(body, with_header):
    text = (PEOPLE_HEADER if with_header else "") + body
    result = _ok_or_liftoff(lambda: read_rows(io.StringIO(text, newline=""), ("person_id",),
                                              ("name", "email", "department")))
    if not isinstance(result, LiftoffError):
        assert all(set(row.values) <= {"person_id", "name", "email", "department"} for row in result)


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@FUZZ
@given(body=csv_text, raw=st.binary(max_size=120), use_raw=st.booleans())
def test_csv_imports_write_all_rows_or_none(app, runner, tmp_path, body, raw, use_raw):
    if not db.session.scalar(select(func.count()).select_from(Feature)):
        gen_feature("fuzz")  # events need a known feature to get past the header
        db.session.commit()
    content = raw if use_raw else (PEOPLE_HEADER + body).encode("utf-8")
    path = tmp_path / "input.csv"
    path.write_bytes(content)
    for command, model in (("people", Person), ("cohorts", Cohort), ("events", Event)):
        before = _count(model)
        result = runner.invoke(args=["liftoff", "import", command, str(path)])
        # click's runner turns sys.exit into SystemExit; anything else is an unhandled crash.
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        db.session.expire_all()
        if result.exit_code != 0:
            assert result.exit_code == 1 and "error" in result.output.lower()
            assert _count(model) == before, f"a failed {command} import wrote rows"


# --- YAML ----------------------------------------------------------------------------------------

PLAYBOOK_KEYS = ["key", "name", "description", "stages", "adkar", "training", "communication",
                 "criteria", "guardrails", "feedback", "metric", "op", "value", "days", "title"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from(["awareness", "desire", "adoption_rate", ">="]))
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(PLAYBOOK_KEYS), st.integers(), st.text(max_size=8)),
                        children, max_size=5),
    ),
    max_leaves=25,
)
yaml_text = st.one_of(
    st.text(max_size=300),
    st.text(st.sampled_from(list("key: - [ ]{}\n  &*!|>'\"#%@`,?x1")), max_size=200),
    documents.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
)


@FUZZ
@given(text=yaml_text)
def test_playbook_yaml_raises_only_validation_errors(text):
    _ok_or_liftoff(lambda: parse_playbook(text, "fuzz.yaml"))


@FUZZ
@given(text=yaml_text)
def test_connector_yaml_raises_only_validation_errors(tmp_path, text):
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    _ok_or_liftoff(lambda: connector_config.load_file(path))


CONNECTOR_KEYS = ["name", "kind", "schedule", "target", "source", "mapping", "feature", "enabled",
                  "path", "url", "format", "person_id", "occurred_at", "events", "files", "http"]


@FUZZ
@given(document=st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(CONNECTOR_KEYS), st.integers()), children, max_size=6),
    ),
    max_leaves=30,
))
def test_connector_documents_raise_only_validation_errors(document):
    _ok_or_liftoff(lambda: connector_config.parse(document, "fuzz"))


# Text biased towards what cannot be stored: NUL, lone and paired surrogates, other escapes.
_json_text = st.text(st.sampled_from(["a", "é", "\x00", "\ud800", "\udfff", "\U0001f600", "\\", "u", "0"]),
                     max_size=8)


def _verdict(document, raw: bytes | None) -> tuple | None:
    try:
        plausible.refuse_unstorable_json(document, raw)
    except LiftoffError as error:
        return type(error).__name__, error.status, str(error), getattr(error, "details", None)
    return None


@FUZZ
@given(document=st.recursive(
    st.none() | st.booleans() | st.integers() | _json_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_json_text, inner, max_size=3),
    max_leaves=80), wrap=st.integers(0, 70), ascii_only=st.booleans(),
    encoding=st.sampled_from(["utf-8", "utf-16"]))
def test_the_raw_body_shortcut_refuses_exactly_what_the_full_scan_refuses(document, wrap, ascii_only,
                                                                           encoding):
    """``refuse_unstorable_json`` with the raw body skips the walk of every value when the text can
    hold nothing unstorable: the verdict is the same as the full scan's, for any text, any nesting
    around the limit, and bodies in UTF-8 (with or without escapes, a surrogate encoded raw as
    Python's parser reads it) or UTF-16."""
    for _ in range(wrap):
        document = [document]
    raw = json.dumps(document, ensure_ascii=ascii_only).encode(encoding, errors="surrogatepass")
    assert _verdict(document, raw) == _verdict(document, None)


def test_the_raw_body_shortcut_refuses_the_nesting_the_full_scan_refuses():
    """Every nesting around ``MAX_JSON_DEPTH``, with a value, an empty or a full container at the
    bottom: the same verdict with and without the raw body."""
    for depth in range(plausible.MAX_JSON_DEPTH - 3, plausible.MAX_JSON_DEPTH + 4):
        for leaf in (1, "x", [], {}, [1], {"a": 1}):
            document = leaf
            for level in range(depth):
                document = [document] if level % 2 else {"k": document}
            verdict = _verdict(document, json.dumps(document).encode())
            assert verdict == _verdict(document, None), (depth, leaf)
            assert (verdict is not None) == (depth + (leaf in ([1], {"a": 1})) > plausible.MAX_JSON_DEPTH)
