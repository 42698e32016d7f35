"""Kill the process in the middle of a pull: nothing of it stays, and the rerun yields exactly the
data an uninterrupted pull gives."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.db import db
from tests.helpers import gen_feature
from tests.scheduler_support import Recorder, write_connector

LIFTOFF = str(Path(sys.executable).with_name("liftoff"))
PAGE = 50


def page_items(number: int) -> list[dict]:
    return [{"feature": "summaries", "app": f"app-{number}-{i}", "hour": f"2026-11-01T{i % 24:02d}:00:00Z",
             "yes_count": number * 100 + i, "no_count": i} for i in range(PAGE)]


@pytest.mark.slow
def test_a_pull_killed_midway_leaves_nothing_and_the_rerun_is_exact(app, database_url, tmp_path):
    gen_feature("summaries")
    db.session.commit()
    db.session.remove()
    reached_last_page, release = threading.Event(), threading.Event()

    def pages(query: str):
        number = int(query.removeprefix("page=") or 1)
        if number == 3:
            reached_last_page.set()
            release.wait(20)  # hold the puller here, pages 1-2 already flushed, until it is killed
        return 200, {"items": page_items(number) if number <= 3 else []}

    with Recorder() as api:
        api.routes["/usage"] = pages
        connectors = tmp_path / "connectors"
        write_connector(connectors, "api", f"""
name: api
kind: http
schedule: every 5m
target: flag_metrics
source:
  url: "{api.url}/usage"
  records_path: items
  timeout_seconds: 30
  pagination: {{style: page, param: page, start: 1}}
mapping: {{feature: feature, app_name: app, hour: hour, "yes": yes_count, "no": no_count}}
""")
        env = {**os.environ, "DATABASE_URL": database_url, "LIFTOFF_CONNECTORS_DIR": str(connectors),
               "LIFTOFF_INSTANCE_DIR": str(tmp_path), "LIFTOFF_SECRET_KEY": "x"}
        process = subprocess.Popen([LIFTOFF, "jobs", "run", "pull:api"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert reached_last_page.wait(30), "the pull never reached page 3"
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            release.set()
            if process.poll() is None:
                process.kill()
        engine = create_engine(database_url)

        def stored() -> list[tuple]:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(text(
                    "SELECT app_name, yes, no FROM flag_metrics ORDER BY app_name"))]

        assert stored() == []  # pages 1 and 2 were flushed, never committed
        # The next listing shows the killed run as interrupted, naming the process that was gone.
        listing = subprocess.run([LIFTOFF, "jobs", "list", "--json"], env=env, capture_output=True,
                                 text=True, timeout=60)
        assert listing.returncode == 0, listing.stderr
        last = {job["name"]: job for job in json.loads(listing.stdout)}["pull:api"]["last_run"]
        assert last["status"] == "failed" and last["finished_at"] is not None
        assert f"interrupted: the process {process.pid}@{socket.gethostname()} was gone" in last["error"]
        rerun = subprocess.run([LIFTOFF, "jobs", "run", "pull:api"], env=env, capture_output=True,
                               text=True, timeout=60)
        assert rerun.returncode == 0, rerun.stderr
        expected = sorted((r["app"], r["yes_count"], r["no_count"]) for n in (1, 2, 3) for r in page_items(n))
        assert stored() == expected
        again = subprocess.run([LIFTOFF, "jobs", "run", "pull:api"], env=env, capture_output=True,
                               text=True, timeout=60)
        assert again.returncode == 0 and "0 written" in again.stdout
        assert stored() == expected
        with engine.connect() as conn:
            runs = conn.execute(text("SELECT status, rows_written FROM job_runs ORDER BY id")).all()
        assert [tuple(r) for r in runs] == [("failed", 0), ("success", 150), ("success", 0)]
        engine.dispose()
