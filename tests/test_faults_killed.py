"""Processes killed with SIGKILL in the middle of their work: an events import leaves no partial
batch, and a scheduler killed mid-job leaves nothing of it, then runs it exactly once.
(tests/test_connectors_crash.py covers ``liftoff jobs run`` killed mid-pull.)"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.db import db
from tests.helpers import gen_feature, gen_person
from tests.scheduler_support import Recorder, write_connector

LIFTOFF = str(Path(sys.executable).with_name("liftoff"))
ROWS = 20_000  # two 10,000-row batches: seconds of work


def env_for(database_url: str, tmp_path: Path, **extra) -> dict:
    return {**os.environ, "DATABASE_URL": database_url, "LIFTOFF_INSTANCE_DIR": str(tmp_path),
            "LIFTOFF_SECRET_KEY": "x", **extra}


def count(engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


@pytest.mark.slow
def test_an_import_killed_midway_stores_nothing_and_the_rerun_stores_all_once(app, database_url,
                                                                              tmp_path):
    gen_feature("draft")
    for i in range(50):
        gen_person(f"p{i:02d}")
    db.session.commit()
    db.session.remove()
    path = tmp_path / "events.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_id", "feature", "person_id", "occurred_at", "ai_assisted", "outcome",
                         "duration_seconds"])
        for i in range(ROWS):
            writer.writerow([f"ev{i}", "draft", f"p{i % 50:02d}",
                             f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:00:00Z", "true", "success", 60])
    env = env_for(database_url, tmp_path)
    process = subprocess.Popen([LIFTOFF, "import", "events", str(path)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    engine = create_engine(database_url)
    try:
        # The progress label appears once the file is parsed, as the one transaction starts writing.
        label = process.stderr.readline()
        assert "importing events" in label, label
        time.sleep(0.5)
        assert process.poll() is None, "the import finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        assert process.returncode == -signal.SIGKILL
        assert count(engine, "SELECT count(*) FROM events") == 0

        rerun = subprocess.run([LIFTOFF, "import", "events", str(path)], env=env, capture_output=True,
                               text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        assert f"imported {ROWS} events (0 duplicates skipped)" in rerun.stdout
        assert count(engine, "SELECT count(*) FROM events") == ROWS
        assert count(engine, "SELECT count(DISTINCT event_id) FROM events") == ROWS
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()
        process.stderr.close()
        engine.dispose()


def page_items(number: int) -> list[dict]:
    return [{"feature": "summaries", "app": f"app-{number}-{i}", "hour": f"2026-11-01T{i % 24:02d}:00:00Z",
             "yes_count": number * 100 + i, "no_count": i} for i in range(40)]


def _scheduler(env: dict) -> subprocess.Popen:
    return subprocess.Popen([LIFTOFF, "scheduler", "--poll", "0.3"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.mark.slow
def test_a_scheduler_killed_midjob_runs_it_exactly_once_next_time(app, database_url, tmp_path):
    gen_feature("summaries")
    db.session.commit()
    db.session.remove()
    reached_last_page, release = threading.Event(), threading.Event()
    hold = {"first": True}

    def pages(query: str):
        number = int(query.removeprefix("page=") or 1)
        if number == 3 and hold["first"]:
            hold["first"] = False
            reached_last_page.set()
            release.wait(30)  # the first leader hangs here, pages 1-2 flushed, until it is killed
        return 200, {"items": page_items(number) if number <= 3 else []}

    engine = create_engine(database_url)

    def stored() -> list[tuple]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(
                "SELECT app_name, yes, no FROM flag_metrics ORDER BY app_name"))]

    def runs() -> list[tuple]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(
                "SELECT status, trigger, rows_written, error FROM job_runs WHERE job = 'pull:api' "
                "ORDER BY id"))]

    with Recorder() as api:
        api.routes["/usage"] = pages
        connectors = tmp_path / "connectors"
        write_connector(connectors, "api", f"""
name: api
kind: http
schedule: every 2s
target: flag_metrics
source:
  url: "{api.url}/usage"
  records_path: items
  timeout_seconds: 60
  pagination: {{style: page, param: page, start: 1}}
mapping: {{feature: feature, app_name: app, hour: hour, "yes": yes_count, "no": no_count}}
""")
        env = env_for(database_url, tmp_path, LIFTOFF_CONNECTORS_DIR=str(connectors))
        first = _scheduler(env)
        second = None
        try:
            assert reached_last_page.wait(30), "the scheduled pull never reached page 3"
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
            release.set()
            assert stored() == []  # pages 1 and 2 were flushed, never committed
            assert runs() == [("running", "schedule", 0, None)]  # what the dead leader left

            second = _scheduler(env)
            deadline = time.monotonic() + 40
            while len([r for r in runs() if r[0] == "success"]) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            _stop(second)
        finally:
            release.set()
            for process in (first, second):
                if process is not None and process.poll() is None:
                    process.kill()
        history = runs()
        assert history[0][0] == "failed" and "interrupted" in history[0][3]
        successes = [r for r in history[1:] if r[0] == "success"]
        assert len(successes) >= 2, history
        # The first full run wrote every record; later ticks found nothing new to write.
        assert [r[2] for r in successes] == [120] + [0] * (len(successes) - 1)
        expected = sorted((r["app"], r["yes_count"], r["no_count"]) for n in (1, 2, 3) for r in page_items(n))
        assert stored() == expected
    engine.dispose()
