"""Shared by the dashboard tests: a small company with rollouts in every state, and the app served
with its Dash dashboard in a subprocess (Dash allows one app per process; the test process has
its own apps without Dash)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

from app import create_app
from app.cli.admin import upgrade_database
from app.db import db, utcnow
from app.models import (
    AuditEntry,
    ExposureSpell,
    Feature,
    RejectedFetch,
    RolloutStage,
    RolloutTransition,
    SdkInstance,
)
from app.services.accounts.access import create_user
from tests.conftest import USING_POSTGRES, create_pg_database, drop_pg_database
from tests.helpers import gen_cohort, gen_department, gen_feature, gen_person

PASSWORD = "correct horse battery"
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
# Debian's Chromium, headless as root (no sandbox), never talking to anything but 127.0.0.1.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextlib.contextmanager
def chromium():
    """Headless Debian Chromium through Playwright (a test is skipped where either is missing)."""
    import pytest

    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def liftoff(url: str, *args: str) -> None:
    """Run the `liftoff` command on the database at ``url`` (as `make demo` does)."""
    env = {**os.environ, "DATABASE_URL": url, "LIFTOFF_SECRET_KEY": "kpi-browser"}
    subprocess.run([sys.executable, "-c", "from app.cli import main; main()", *args], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=300)


@contextlib.contextmanager
def module_database(workdir: Path, label: str):
    """A migrated database of the module's own (a PostgreSQL database or a SQLite file), with an app
    without Dash to fill and inspect it; dropped afterwards. Yields ``(url, app)``."""
    name = f"liftoff_{label}_{uuid.uuid4().hex[:12]}"  # xdist workers run such fixtures side by side
    url = create_pg_database(name) if USING_POSTGRES else f"sqlite:///{workdir / (label + '.db')}"
    upgrade_database(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SKIP_DASH": True, "SECRET_KEY": "look"})
    try:
        yield url, app
    finally:
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
        if USING_POSTGRES:
            drop_pg_database(name)
ROLES = ("admin", "product", "change_manager", "executive", "reviewer")


def email_for(role: str) -> str:
    return f"{role.replace('_', '-')}@liftoff.test"


def add_stages(feature: Feature, plan: list[tuple[str, list, int]]) -> None:
    for position, (name, cohorts, percentage) in enumerate(plan, start=1):
        db.session.add(RolloutStage(feature=feature, position=position, name=name,
                                    cohorts=list(cohorts), percentage=percentage))
    db.session.flush()


def record(feature: Feature, action: str, to_stage: int, at, actor="seed", reason="planned",
           killed: bool = False) -> None:
    db.session.add(RolloutTransition(
        feature=feature, action=action, from_stage=feature.current_stage, to_stage=to_stage,
        killed_after=killed, effective_at=at, actor=actor, reason=reason))
    db.session.add(AuditEntry(actor=actor, action=f"rollout.{action}", entity_type="feature",
                              entity_key=feature.key, reason=reason, at=at))
    feature.current_stage = to_stage
    feature.killed = killed
    db.session.flush()


def seed_company(with_users: bool = True) -> dict:
    """Users for every role (scrypt makes them slow: only when asked); 30 people; three features:
    at stage 2 of 3 with 8 people exposed, off (two stages, never started), and killed at stage 1.
    Returns the counts it made."""
    for role in ROLES if with_users else ():
        create_user(email_for(role), role, PASSWORD)
    sales = gen_department("Sales", 60.0)
    people = [gen_person(f"emp{i:03d}", department=sales) for i in range(30)]
    champions = gen_cohort("champions", people[:3], name="Champions")
    pilot = gen_cohort("pilot", people[3:8], name="Pilot group")
    now = utcnow()

    quote = gen_feature("quote-assistant", name="Quote assistant", owner="sales-ops",
                        description="Drafts standard quotes.")
    add_stages(quote, [("Champions", [champions], 0), ("Pilot", [pilot], 0), ("Everyone", [], 100)])
    record(quote, "advance", 1, now - timedelta(days=40), reason="start with champions")
    record(quote, "advance", 2, now - timedelta(days=10), actor="pm@liftoff.test", reason="champions happy")
    for person in people[:8]:
        db.session.add(ExposureSpell(feature_id=quote.id, person_id=person.id,
                                     start_at=now - timedelta(days=10)))

    idle = gen_feature("kb-assistant", name="Knowledge assistant", owner="support")
    add_stages(idle, [("Champions", [champions], 0), ("Half", [], 50)])

    cv = gen_feature("cv-screening", name="CV screening", owner="hr")
    add_stages(cv, [("Champions", [champions], 0), ("Everyone", [], 100)])
    record(cv, "advance", 1, now - timedelta(days=20))
    record(cv, "kill", 1, now - timedelta(days=2), actor="admin@liftoff.test", reason="bias concern",
           killed=True)
    # A closed spell: the kill ended it, so it no longer counts as exposed now.
    db.session.add(ExposureSpell(feature_id=cv.id, person_id=people[0].id,
                                 start_at=now - timedelta(days=20), end_at=now - timedelta(days=2)))

    db.session.add(SdkInstance(app_name="crm-web", instance_id="crm-1", environment="production",
                               sdk_version="unleash-client-python:6.9.0", interval_ms=15000,
                               first_seen=now - timedelta(days=3), last_seen=now))
    db.session.add(RejectedFetch(day=now.strftime("%Y-%m-%d"), reason="unknown", app_name="old-app",
                                 count=4, last_at=now))
    db.session.flush()
    return {"people": len(people), "exposed": {"quote-assistant": 8, "kb-assistant": 0, "cv-screening": 0}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DashboardServer:
    """``liftoff serve`` (with Dash) on a free port, on the given database, until closed."""

    def __init__(self, database_url: str, workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "server.log"
        env = dict(os.environ, DATABASE_URL=database_url, LIFTOFF_SECRET_KEY="dashboard-test-secret",
                   LIFTOFF_INSTANCE_DIR=str(workdir / "instance"))
        self._log = open(self.log_path, "wb")  # noqa: SIM115  (closed in close())
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from app.cli import main; main()", "serve", "--port", str(self.port)],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[1],
        )
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.close()
        raise RuntimeError(f"server did not become healthy: {self.log_path.read_text()[-3000:]}")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()
