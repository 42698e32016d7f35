"""Connectors end to end into events (the ingestion service) and baselines (the activity service):
idempotent reruns and service refusals pointed at the source row."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select

from app.db import db
from app.jobs.runner import run_job
from app.models import Baseline, Event
from tests.helpers import gen_feature, gen_person, utc
from tests.scheduler_support import Recorder, write_connector


@pytest.fixture
def folder(app, tmp_path):
    app.config["CONNECTORS_DIR"] = str(tmp_path / "connectors")
    gen_feature("summaries")
    gen_person("p1")
    gen_person("p2")
    db.session.commit()
    return tmp_path / "connectors"


def _events() -> list[tuple]:
    db.session.rollback()
    return [tuple(r) for r in db.session.execute(
        select(Event.source, Event.event_id, Event.occurred_at, Event.ai_assisted, Event.outcome,
               Event.duration_seconds).order_by(Event.event_id))]


def test_sql_rows_become_events_once(folder, tmp_path):
    source = tmp_path / "helpdesk.db"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE tickets (id INTEGER PRIMARY KEY, agent TEXT, closed_at TEXT, ai INTEGER, "
                     "secs REAL, resolution TEXT)")
        conn.executemany("INSERT INTO tickets VALUES (?, ?, ?, ?, ?, ?)", [
            (1, "p1", "2026-11-02T09:00:00+01:00", 1, 120.0, "success"),
            (2, "p2", "2026-11-02T10:00:00Z", 0, None, "corrected"),
        ])
    write_connector(folder, "helpdesk", f"""
name: helpdesk
kind: sql
schedule: every 15m
target: events
source: {{url: "sqlite:///{source}", query: "SELECT * FROM tickets", watermark_column: id}}
mapping:
  event_id: id
  feature: {{value: summaries}}
  person_id: agent
  occurred_at: closed_at
  task: {{value: ticket}}
  ai_assisted: ai
  duration_seconds: secs
  outcome: resolution
""")
    run = run_job("pull:helpdesk")
    assert (run.status, run.rows_read, run.rows_written) == ("success", 2, 2), run.error
    expected = [
        ("connector:helpdesk", "1", utc(2026, 11, 2, 8), True, "success", 120.0),
        ("connector:helpdesk", "2", utc(2026, 11, 2, 10), False, "corrected", None),
    ]
    assert _events() == expected
    full = run_job("pull:helpdesk", full=True)  # re-read everything: recognised by event_id
    assert (full.status, full.rows_read, full.rows_written) == ("success", 2, 0), full.error
    assert _events() == expected
    assert run_job("refresh-kpis").status == "success"  # the KPI job takes them from here


def test_an_unknown_person_is_named_with_the_source_line(folder, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "events.csv").write_text(
        "id,who,at,ai,result\n"
        "e1,p1,2026-11-01T10:00:00+01:00,true,success\n"
        "e2,nobody,2026-11-01T10:00:00+01:00,false,error\n"
    )
    write_connector(folder, "drops", f"""
name: drops
kind: files
schedule: every 5m
target: events
source: {{folder: "{drop}"}}
mapping: {{event_id: id, feature: {{value: summaries}}, person_id: who, occurred_at: at, ai_assisted: ai,
           outcome: result}}
""")
    run = run_job("pull:drops")
    assert run.status == "failed"
    assert "events.csv line 3" in run.error and "person_id" in run.error
    assert _events() == []
    assert (drop / "failed" / "events.csv.reason.txt").exists()


def test_http_baselines_are_recorded_once(folder, monkeypatch):
    with Recorder() as api:
        api.routes["/baselines"] = (200, [
            {"task": "ticket", "minutes": 14.5, "errors": 0.08, "at": "2026-10-01T00:00:00Z"},
            {"task": "email", "minutes": 6, "errors": None, "at": "2026-10-01T00:00:00Z"},
        ])
        write_connector(folder, "timesheets", f"""
name: timesheets
kind: http
schedule: every 1h
target: baselines
source: {{url: "{api.url}/baselines"}}
mapping: {{feature: {{value: summaries}}, task: task, minutes_per_task: minutes, error_rate: errors,
           measured_at: at}}
""")
        first = run_job("pull:timesheets")
        assert (first.status, first.rows_written) == ("success", 2), first.error
        assert run_job("pull:timesheets").rows_written == 0
    db.session.rollback()
    rows = db.session.execute(select(Baseline.task, Baseline.minutes_per_task, Baseline.error_rate,
                                     Baseline.source).order_by(Baseline.task)).all()
    assert [tuple(r) for r in rows] == [("email", 6.0, None, "connector:timesheets"),
                                        ("ticket", 14.5, 0.08, "connector:timesheets")]
    assert db.session.scalar(select(func.count()).select_from(Baseline)) == 2
