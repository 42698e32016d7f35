"""Each connector against a real source: a second SQLite database, PostgreSQL, files in a folder,
a local HTTP server. All or nothing per run, idempotent reruns, and failures that name the row and
column."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, select, text

from app.db import db
from app.jobs.runner import run_job
from app.models import FlagMetric
from app.models.scheduling import ConnectorWatermark
from tests.conftest import PG_SERVER, USING_POSTGRES, create_pg_database, drop_pg_database
from tests.helpers import gen_feature, utc
from tests.scheduler_support import Recorder, write_connector

METRICS_MAPPING = """
mapping:
  feature: feature
  app_name: app
  environment: env
  hour: hour
  yes: yes_count
  no: no_count
"""


@pytest.fixture
def folder(app, tmp_path):
    """Connector YAML folder, and the two features the sources talk about."""
    app.config["CONNECTORS_DIR"] = str(tmp_path / "connectors")
    gen_feature("summaries")
    gen_feature("drafts")
    db.session.commit()
    return tmp_path / "connectors"


def metrics() -> list[tuple]:
    db.session.rollback()
    rows = db.session.execute(select(FlagMetric.feature_key, FlagMetric.app_name, FlagMetric.environment,
                                     FlagMetric.hour, FlagMetric.yes, FlagMetric.no)
                              .order_by(FlagMetric.feature_key, FlagMetric.app_name, FlagMetric.hour))
    return [tuple(r) for r in rows]


# -- SQL ---------------------------------------------------------------------------------------------


def sqlite_source(path: Path, rows: list[tuple]) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS usage (id INTEGER PRIMARY KEY, feature TEXT, app TEXT, "
                     "env TEXT, hour TEXT, yes_count INTEGER, no_count INTEGER)")
        conn.executemany("INSERT INTO usage (feature, app, env, hour, yes_count, no_count) "
                         "VALUES (?, ?, ?, ?, ?, ?)", rows)


def sql_connector(folder: Path, url: str, name: str = "usage") -> None:
    write_connector(folder, name, f"""
name: {name}
kind: sql
schedule: every 5m
target: flag_metrics
source: {{url: "{url}", query: "SELECT * FROM usage", watermark_column: id}}
{METRICS_MAPPING}""")


def test_sql_pulls_incrementally_by_watermark(folder, tmp_path):
    source = tmp_path / "source.db"
    sqlite_source(source, [("summaries", "crm", "production", "2026-11-01T10:00:00+00:00", 5, 1),
                           ("drafts", "crm", "production", "2026-11-01T10:00:00+00:00", 2, 2)])
    sql_connector(folder, f"sqlite:///{source}")
    first = run_job("pull:usage")
    assert (first.status, first.rows_read, first.rows_written) == ("success", 2, 2), first.error
    sqlite_source(source, [("summaries", "crm", "production", "2026-11-01T11:00:00+00:00", 7, 0)])
    second = run_job("pull:usage")
    assert (second.rows_read, second.rows_written) == (1, 1)  # only the new row was read
    assert metrics() == [
        ("drafts", "crm", "production", utc(2026, 11, 1, 10), 2, 2),
        ("summaries", "crm", "production", utc(2026, 11, 1, 10), 5, 1),
        ("summaries", "crm", "production", utc(2026, 11, 1, 11), 7, 0),
    ]
    again = run_job("pull:usage", full=True)  # everything re-read, nothing changes
    assert (again.rows_read, again.rows_written) == (3, 0)
    assert len(metrics()) == 3


def test_sql_source_that_changed_its_columns_fails_and_writes_nothing(folder, tmp_path):
    source = tmp_path / "source.db"
    sqlite_source(source, [("summaries", "crm", "production", "2026-11-01T10:00:00+00:00", 5, 1)])
    sql_connector(folder, f"sqlite:///{source}")
    with sqlite3.connect(source) as conn:
        conn.execute("ALTER TABLE usage RENAME COLUMN yes_count TO enabled_count")
    run = run_job("pull:usage")
    assert run.status == "failed"
    assert "column 'yes_count' (-> yes) is missing" in run.error
    assert metrics() == [] and db.session.get(ConnectorWatermark, "usage") is None


def test_sql_bad_row_names_row_and_column_and_nothing_is_written(folder, tmp_path):
    source = tmp_path / "source.db"
    sqlite_source(source, [("summaries", "crm", "production", "2026-11-01T10:00:00+00:00", 5, 1),
                           ("summaries", "crm", "production", "2026-11-01 11:00", -3, 1)])
    sql_connector(folder, f"sqlite:///{source}")
    run = run_job("pull:usage")
    assert run.status == "failed"
    assert "row 2: yes: expected a whole number >= 0" in run.error
    assert "-3" not in run.error  # the row and column, never the value read (issue #14)
    assert "row 2: hour: the timestamp has no UTC offset" in run.error
    assert metrics() == []
    with sqlite3.connect(source) as conn:  # the source is fixed; the next run takes everything
        conn.execute("UPDATE usage SET yes_count = 3, hour = '2026-11-01T11:00:00Z' WHERE id = 2")
    assert run_job("pull:usage").rows_written == 2


def test_sql_source_that_is_down_fails_with_the_reason(folder, tmp_path):
    sql_connector(folder, f"sqlite:///{tmp_path / 'missing' / 'nowhere.db'}")
    run = run_job("pull:usage")
    assert run.status == "failed" and "the SQL source failed: OperationalError" in run.error


@pytest.mark.postgres
@pytest.mark.skipif(not USING_POSTGRES, reason="needs LIFTOFF_TEST_DATABASE=postgresql+psycopg://...")
def test_sql_pulls_from_postgresql_with_a_timestamp_watermark(folder):
    name = f"liftoff_src_{uuid.uuid4().hex[:10]}"
    url = create_pg_database(name)
    try:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE usage (changed_at timestamptz PRIMARY KEY, feature text, "
                              "app text, env text, hour timestamptz, yes_count int, no_count int)"))
            conn.execute(text("INSERT INTO usage VALUES ('2026-11-01 10:05+00', 'summaries', 'crm', "
                              "'production', '2026-11-01 10:00+00', 4, 1)"))
        write_connector(folder, "pgusage", f"""
name: pgusage
kind: sql
schedule: every 5m
target: flag_metrics
source: {{url: "{url}", query: "SELECT * FROM usage", watermark_column: changed_at}}
{METRICS_MAPPING}""")
        assert run_job("pull:pgusage").rows_written == 1
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO usage VALUES ('2026-11-01 11:05+00', 'summaries', 'crm', "
                              "'production', '2026-11-01 11:00+00', 6, 0)"))
        run = run_job("pull:pgusage")
        assert (run.status, run.rows_read, run.rows_written) == ("success", 1, 1), run.error
        assert [m[3:] for m in metrics()] == [(utc(2026, 11, 1, 10), 4, 1), (utc(2026, 11, 1, 11), 6, 0)]
        engine.dispose()
    finally:
        drop_pg_database(name)
    assert PG_SERVER


# -- files -------------------------------------------------------------------------------------------


def files_connector(folder: Path, drop: Path, target: str = "flag_metrics", mapping: str = METRICS_MAPPING):
    write_connector(folder, "drops", f"""
name: drops
kind: files
schedule: every 5m
target: {target}
source: {{folder: "{drop}"}}
{mapping}""")


CSV_HEADER = "feature,app,env,hour,yes_count,no_count\n"


def test_files_are_written_once_and_moved_to_done(folder, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "a.csv").write_text(CSV_HEADER + "summaries,crm,production,2026-11-01T10:00:00Z,5,1\n")
    pd.DataFrame([{"feature": "drafts", "app": "mail", "env": "production",
                   "hour": "2026-11-01T09:00:00+00:00", "yes_count": 3, "no_count": 0}]).to_excel(
        drop / "b.xlsx", index=False)
    files_connector(folder, drop)
    run = run_job("pull:drops")
    assert (run.status, run.rows_read, run.rows_written) == ("success", 2, 2), run.error
    assert sorted(p.name for p in (drop / "done").iterdir()) == ["a.csv", "b.xlsx"]
    assert [m[0] for m in metrics()] == ["drafts", "summaries"]
    # The same content dropped again (a crash before the move, or a resend) is not written twice.
    (drop / "done" / "a.csv").rename(drop / "a.csv")
    rerun = run_job("pull:drops")
    assert (rerun.status, rerun.rows_written) == ("success", 0)
    assert not (drop / "a.csv").exists() and len(list((drop / "done").iterdir())) == 2
    assert len(metrics()) == 2


def test_a_bad_file_goes_to_failed_with_its_reason_and_nothing_is_written(folder, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "1-good.csv").write_text(CSV_HEADER + "summaries,crm,production,2026-11-01T10:00:00Z,5,1\n")
    (drop / "2-bad.csv").write_text(CSV_HEADER + "summaries,crm,production,2026-11-01T10:00:00Z,5,1\n"
                                    "summaries,crm,production,yesterday,5,x\n")
    files_connector(folder, drop)
    run = run_job("pull:drops")
    assert run.status == "failed"
    assert "2-bad.csv line 3: hour: expected an ISO 8601 timestamp" in run.error
    assert "2-bad.csv line 3: no: expected a number" in run.error
    assert "yesterday" not in run.error  # the row and column, never the value read (issue #14)
    assert metrics() == []  # not even the good file's row
    reason = (drop / "failed" / "2-bad.csv.reason.txt").read_text()
    assert "line 3" in reason and "no_count" in reason
    assert (drop / "1-good.csv").exists()  # untouched: the next run takes it
    assert run_job("pull:drops").rows_written == 1
    assert (drop / "done" / "1-good.csv").exists()


def test_a_file_missing_a_column_is_refused_naming_the_column(folder, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "old.csv").write_text("feature,app,env,hour,yes_count\nsummaries,crm,production,"
                                  "2026-11-01T10:00:00Z,5\n")
    files_connector(folder, drop)
    run = run_job("pull:drops")
    assert run.status == "failed" and "column 'no_count' (-> no) is missing" in run.error
    assert "no_count" in (drop / "failed" / "old.csv.reason.txt").read_text()


def test_events_rows_are_validated_before_anything_is_written(folder, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "events.csv").write_text(
        "id,who,at,ai,result\n"
        "e1,p1,2026-11-01T10:00:00+01:00,true,success\n"
        "e2,p2,2026-11-01T10:00:00+01:00,maybe,exploded\n"
    )
    files_connector(folder, drop, "events", """
mapping:
  event_id: id
  feature: {value: summaries}
  person_id: who
  occurred_at: at
  ai_assisted: ai
  outcome: result
""")
    run = run_job("pull:drops")
    assert run.status == "failed"
    assert "events.csv line 3: ai_assisted: expected true/false" in run.error
    assert "maybe" not in run.error
    assert "events.csv line 3: outcome: expected one of success, error, corrected, abandoned" in run.error
    assert (drop / "failed" / "events.csv").exists()


# -- HTTP JSON ---------------------------------------------------------------------------------------


def http_connector(folder: Path, url: str, extra: str = "") -> None:
    write_connector(folder, "api", f"""
name: api
kind: http
schedule: every 5m
target: flag_metrics
source:
  url: "{url}"
  auth_env: TEST_API_TOKEN
  records_path: data.items
  timeout_seconds: 1
{extra}
{METRICS_MAPPING.replace("app_name: app", "app_name: client.app")}""")


def item(hour: int, yes: int) -> dict:
    return {"feature": "summaries", "client": {"app": "crm"}, "env": "production",
            "hour": f"2026-11-01T{hour:02d}:00:00Z", "yes_count": yes, "no_count": 0}


def test_http_follows_cursors_and_sends_the_auth_header(folder, monkeypatch):
    monkeypatch.setenv("TEST_API_TOKEN", "s3cret")
    with Recorder() as api:
        pages = {"": {"data": {"items": [item(1, 1), item(2, 2)]}, "meta": {"next_cursor": "c2"}},
                 "cursor=c2": {"data": {"items": [item(3, 3)]}, "meta": {"next_cursor": None}}}
        api.routes["/usage"] = lambda query: (200, pages[query])
        http_connector(folder, f"{api.url}/usage",
                       "  pagination: {style: cursor, param: cursor, cursor_path: meta.next_cursor}")
        run = run_job("pull:api")
        assert (run.status, run.rows_read, run.rows_written) == ("success", 3, 3), run.error
        assert [r["headers"]["Authorization"] for r in api.requests] == ["Bearer s3cret"] * 2
    assert [m[5 - 1] for m in metrics()] == [1, 2, 3]


def test_http_pages_by_number_until_a_short_page(folder, monkeypatch):
    monkeypatch.setenv("TEST_API_TOKEN", "t")
    with Recorder() as api:
        pages = {1: [item(1, 1), item(2, 2)], 2: [item(3, 3), item(4, 4)], 3: [item(5, 5)]}
        api.routes["/usage"] = lambda query: (200, {"data": {"items": pages[int(dict(
            p.split("=") for p in query.split("&"))["page"])]}})
        http_connector(folder, f"{api.url}/usage",
                       "  pagination: {style: page, param: page, start: 1, size_param: per_page, size: 2}")
        run = run_job("pull:api")
        assert (run.status, run.rows_read) == ("success", 5), run.error
        assert [r["query"] for r in api.requests] == [f"page={n}&per_page=2" for n in (1, 2, 3)]


@pytest.mark.parametrize(("answer", "reason"), [
    ((503, {"error": "maintenance"}), "page 1: answered HTTP 503"),
    ((200, b"<html>oops</html>"), "page 1: the answer is not JSON"),
    ((200, {"data": {"items": {"not": "a list"}}}), "records_path 'data.items' is not a list"),
])
def test_http_source_faults_fail_the_run_with_the_reason(folder, monkeypatch, answer, reason):
    monkeypatch.setenv("TEST_API_TOKEN", "t")
    with Recorder() as api:
        api.routes["/usage"] = answer
        http_connector(folder, f"{api.url}/usage")
        run = run_job("pull:api")
    assert run.status == "failed" and reason in run.error
    assert metrics() == []


def test_a_slow_http_source_times_out(folder, monkeypatch):
    monkeypatch.setenv("TEST_API_TOKEN", "t")
    with Recorder() as api:
        def slow(query):
            time.sleep(2)
            return 200, {"data": {"items": []}}

        api.routes["/usage"] = slow
        http_connector(folder, f"{api.url}/usage")
        run = run_job("pull:api")
    assert run.status == "failed" and "no answer within 1s" in run.error


def test_a_missing_secret_is_named(folder, monkeypatch):
    monkeypatch.delenv("TEST_API_TOKEN", raising=False)
    http_connector(folder, "http://127.0.0.1:9/usage")
    run = run_job("pull:api")
    assert run.status == "failed" and "TEST_API_TOKEN is not set" in run.error


# -- Unleash metrics ---------------------------------------------------------------------------------


def test_unleash_metrics_land_in_flag_metrics(folder, monkeypatch):
    # A stand-in for an Unleash server's admin metrics endpoint (unleash-server itself needs npm and
    # its own database; the unleash_server-marked tests of the flags work drive the real one).
    monkeypatch.setenv("UNLEASH_ADMIN", "admin-token")
    with Recorder() as unleash:
        unleash.routes["/api/admin/client-metrics/features/summaries/raw"] = (200, {"version": 1, "data": [
            {"featureName": "summaries", "appName": "crm", "environment": "production",
             "timestamp": "2026-11-01T10:00:00.000Z", "yes": 40, "no": 2},
            {"featureName": "summaries", "appName": "crm", "environment": "production",
             "timestamp": "2026-11-01T11:00:00.000Z", "yes": 0, "no": 0},
        ]})
        unleash.routes["/api/admin/client-metrics/features/drafts/raw"] = (200, {"version": 1, "data": []})
        write_connector(folder, "unleash", f"""
name: unleash
kind: unleash_metrics
schedule: every 1h
source: {{url: "{unleash.url}", token_env: UNLEASH_ADMIN}}
""")
        run = run_job("pull:unleash")
        assert (run.status, run.rows_written) == ("success", 1), run.error
        assert {r["headers"]["Authorization"] for r in unleash.requests} == {"admin-token"}
        assert run_job("pull:unleash").rows_written == 0  # the same hour again changes nothing
    assert metrics() == [("summaries", "crm", "production", utc(2026, 11, 1, 10), 40, 2)]
