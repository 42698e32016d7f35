"""Connector documents: the schema, errors naming file and field, YAML and app-configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.connectors.config import all_connectors, get_connector, load_file, parse, save_connector
from app.db import db
from app.errors import ValidationFailed
from app.jobs import all_jobs
from tests.scheduler_support import write_connector

EXAMPLES = Path(__file__).resolve().parents[1] / "connectors" / "examples"

GOOD = """
name: tickets
kind: sql
schedule: "*/15 * * * *"
target: events
source: {url: "sqlite:///x.db", query: "SELECT * FROM t", watermark_column: id}
mapping:
  event_id: id
  feature: {value: f}
  person_id: who
  occurred_at: at
  ai_assisted: ai
  outcome: result
"""


def _fields(error: ValidationFailed) -> set[str]:
    return {d.field for d in error.details}


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_the_example_connectors_are_valid(app, path):
    config = load_file(path)
    assert config.name and config.target in ("events", "baselines", "flag_metrics")


def test_errors_name_the_file_and_every_bad_field(app, tmp_path):
    path = write_connector(tmp_path, "bad", GOOD.replace("sqlite:///x.db", "")
                           .replace('"*/15 * * * *"', '"every fortnight"')
                           .replace("SELECT * FROM t", "DELETE FROM t")
                           .replace("  outcome: result\n", "  mood: result\n"))
    with pytest.raises(ValidationFailed) as error:
        load_file(path)
    assert str(path) in error.value.message
    assert _fields(error.value) == {"schedule", "source.url", "source.query", "mapping.outcome",
                                    "mapping.mood"}


def test_kind_target_and_source_types_are_checked(app):
    with pytest.raises(ValidationFailed) as error:
        parse({"name": "Bad Name", "kind": "ftp", "schedule": "every 5m", "target": "nowhere",
               "source": {"url": 42}}, "inline")
    assert {"name", "kind", "target"} <= _fields(error.value)
    with pytest.raises(ValidationFailed) as error:
        parse({"name": "h", "kind": "http", "schedule": "every 5m", "target": "flag_metrics",
               "source": {"url": "http://x", "timeout_seconds": True, "pagination": {"style": "pages"}},
               "mapping": {"feature": "f", "app_name": "a", "hour": "h", "yes": "y", "no": "n"}}, "inline")
    assert _fields(error.value) == {"source.timeout_seconds", "source.pagination.style"}


def test_yaml_and_app_connectors_become_pull_jobs(app, tmp_path):
    app.config["CONNECTORS_DIR"] = str(tmp_path)
    write_connector(tmp_path, "tickets", GOOD)
    document = parse_yaml(GOOD.replace("name: tickets", "name: stored"))
    save_connector(document)
    db.session.commit()
    assert [c.origin.endswith("tickets.yaml") for c in all_connectors()] == [True, False]
    pulls = {s.name: s for s in all_jobs() if s.name.startswith("pull:")}
    assert set(pulls) == {"pull:tickets", "pull:stored"}
    assert pulls["pull:stored"].kwargs == {"connector": "stored"}
    assert get_connector("stored").schedule == "*/15 * * * *"


def test_the_same_name_twice_is_an_error_naming_both(app, tmp_path):
    app.config["CONNECTORS_DIR"] = str(tmp_path)
    write_connector(tmp_path, "tickets", GOOD)
    save_connector(parse_yaml(GOOD))
    with pytest.raises(ValidationFailed, match="defined twice"):
        all_connectors()


def test_cli_check_names_the_bad_file(app, runner, tmp_path):
    good = write_connector(tmp_path, "good", GOOD)
    bad = write_connector(tmp_path, "bad", GOOD.replace("kind: sql", "kind: smoke-signals"))
    result = runner.invoke(args=["liftoff", "connectors", "check", str(good), str(bad)])
    assert result.exit_code == 1
    assert str(bad) in result.output and "kind:" in result.output
    assert runner.invoke(args=["liftoff", "connectors", "check", str(good)]).exit_code == 0


def parse_yaml(text: str) -> dict:
    from app.connectors.config import read_yaml

    return read_yaml(text)
