"""Smaller contract items: training answers in external ids, one broken playbook hides no other,
every documented setting is read from the environment."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from app import config
from app.playbooks import playbook_dir
from tests.enablement_builders import live_feature

ROOT = Path(__file__).resolve().parents[1]


def test_training_answers_name_attendees_by_the_person_ids_sent(client, admin_headers, session):
    feature, members, _ = live_feature(people=3)
    session.commit()
    sent = sorted(m.person_id for m in members)
    body = {"stage": 1, "title": "Kick-off", "trainer": "Ana", "held_on": "2026-11-02",
            "attendees": [sent[0], {"person_id": sent[1], "completed": False}]}
    created = client.post(f"/api/v1/features/{feature.key}/trainings", json=body, headers=admin_headers)
    assert created.status_code == 201
    assert created.get_json()["attendees"] == [{"person_id": sent[0], "completed": True},
                                               {"person_id": sent[1], "completed": False}]
    more = client.post(f"/api/v1/trainings/{created.get_json()['id']}/attendance", json=[sent[2]],
                       headers=admin_headers)
    assert [a["person_id"] for a in more.get_json()["attendees"]] == sent
    listed = client.get(f"/api/v1/features/{feature.key}/trainings", headers=admin_headers).get_json()
    assert [a["person_id"] for a in listed[0]["attendees"]] == sent


def test_one_invalid_playbook_is_reported_and_the_valid_ones_still_listed(client, admin_headers, tmp_path,
                                                                         monkeypatch):
    shipped = sorted(playbook_dir().glob("*.yaml"))
    for path in shipped:
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "broken.yaml").write_text("key: broken\nname: [unclosed\n")
    monkeypatch.setenv("LIFTOFF_PLAYBOOK_DIR", str(tmp_path))
    response = client.get("/api/v1/playbooks", headers=admin_headers)
    assert response.status_code == 200
    listed = response.get_json()
    valid = [p["key"] for p in listed if p["valid"]]
    assert valid == sorted(p.stem for p in shipped)
    (broken,) = [p for p in listed if not p["valid"]]
    assert (broken["key"], broken["file"], broken["error"]) == ("broken", "broken.yaml",
                                                              "invalid playbook broken.yaml")
    assert "not valid YAML" in broken["details"][0]["message"]


# (environment variable, config key, value set, value expected): each documented setting that
# app/config.py reads into the app's configuration.
CONFIG_SETTINGS = [
    ("DATABASE_URL", "SQLALCHEMY_DATABASE_URI", "sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ("LIFTOFF_SECRET_KEY", "SECRET_KEY", "s3cret", "s3cret"),
    ("LIFTOFF_DEFAULT_HOURLY_RATE", "DEFAULT_HOURLY_RATE", "55.5", 55.5),
    ("LIFTOFF_AUTO_CREATE_PEOPLE", "AUTO_CREATE_PEOPLE", "1", True),
    ("LIFTOFF_FLAG_BACKEND", "FLAG_BACKEND", "unleash", "unleash"),
    ("LIFTOFF_UNLEASH_URL", "UNLEASH_URL", "http://127.0.0.1:4242/api", "http://127.0.0.1:4242/api"),
    ("LIFTOFF_UNLEASH_ADMIN_TOKEN", "UNLEASH_ADMIN_TOKEN", "tok", "tok"),
    ("LIFTOFF_UNLEASH_PROJECT", "UNLEASH_PROJECT", "ai", "ai"),
    ("LIFTOFF_UNLEASH_ENVIRONMENTS", "UNLEASH_ENVIRONMENTS", "production=prod", "production=prod"),
    ("LIFTOFF_UNLEASH_TIMEOUT_S", "UNLEASH_TIMEOUT_S", "3", 3.0),
    ("LIFTOFF_KPI_WARM_SECONDS", "KPI_WARM_SECONDS", "0", 0.0),
    ("LIFTOFF_KPI_CACHE_MB", "KPI_CACHE_MB", "64", 64.0),
    ("LIFTOFF_SCHEDULER_IN_PROCESS", "RUN_SCHEDULER_IN_PROCESS", "1", True),
    ("LIFTOFF_SECURE_COOKIES", "SESSION_COOKIE_SECURE", "1", True),
    ("LIFTOFF_JOB_MAX_ATTEMPTS", "JOB_MAX_ATTEMPTS", "5", 5),
    ("LIFTOFF_JOB_RETRY_BASE_SECONDS", "JOB_RETRY_BASE_SECONDS", "2.5", 2.5),
    ("LIFTOFF_JOB_RETRY_MAX_SECONDS", "JOB_RETRY_MAX_SECONDS", "60", 60.0),
    ("LIFTOFF_JOB_MISFIRE_GRACE_SECONDS", "JOB_MISFIRE_GRACE_SECONDS", "17", 17),
    ("LIFTOFF_SCHEDULER_THREADS", "SCHEDULER_THREADS", "2", 2),
    ("LIFTOFF_SCHEDULER_RESYNC_SECONDS", "SCHEDULER_RESYNC_SECONDS", "5", 5.0),
]


@pytest.mark.parametrize(("variable", "key", "raw", "expected"), CONFIG_SETTINGS,
                         ids=[s[0] for s in CONFIG_SETTINGS])
def test_each_setting_is_read_from_the_environment(monkeypatch, tmp_path, variable, key, raw, expected):
    monkeypatch.setenv("LIFTOFF_SECRET_KEY", "fixed")  # no secret file written by load()
    assert config.load()[key] != expected
    monkeypatch.setenv(variable, raw)
    assert config.load()[key] == expected


def test_a_malformed_number_stops_the_start_naming_the_variable(monkeypatch):
    monkeypatch.setenv("LIFTOFF_SECRET_KEY", "fixed")
    monkeypatch.setenv("LIFTOFF_JOB_MAX_ATTEMPTS", "three")
    with pytest.raises(ValueError, match="LIFTOFF_JOB_MAX_ATTEMPTS must be a whole number"):
        config.load()


def test_the_job_runner_takes_its_attempts_and_backoff_from_the_environment(monkeypatch, database_url):
    from app import create_app
    from app.jobs.runner import backoff_seconds

    monkeypatch.setenv("LIFTOFF_JOB_RETRY_BASE_SECONDS", "2")
    monkeypatch.setenv("LIFTOFF_JOB_RETRY_MAX_SECONDS", "5")
    monkeypatch.setenv("LIFTOFF_JOB_MAX_ATTEMPTS", "7")
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SKIP_DASH": True, "SECRET_KEY": "x"})
    assert [backoff_seconds(app, n) for n in (1, 2, 3)] == [2.0, 4.0, 5.0]
    assert app.config["JOB_MAX_ATTEMPTS"] == 7


@pytest.mark.parametrize("variable", ["LIFTOFF_SMTP_HOST", "LIFTOFF_SMTP_PORT", "LIFTOFF_SMTP_FROM",
                                      "LIFTOFF_SMTP_STARTTLS", "LIFTOFF_SMTP_USER", "LIFTOFF_SMTP_PASSWORD",
                                      "LIFTOFF_ALERT_WEBHOOK_URL", "LIFTOFF_ALERT_EMAILS",
                                      "LIFTOFF_ALERT_TIMEOUT_SECONDS"])
def test_each_alert_and_mail_setting_is_read_from_the_environment(app, monkeypatch, variable):
    from app.alerts import setting

    monkeypatch.setenv(variable, "from-env")
    assert setting(variable.removeprefix("LIFTOFF_")) == "from-env"


def test_the_folder_session_metrics_and_database_settings_are_read_from_the_environment(monkeypatch,
                                                                                       database_url,
                                                                                       tmp_path):
    from app import create_app
    from app.connectors.config import connectors_dir

    monkeypatch.setenv("LIFTOFF_PLAYBOOK_DIR", str(tmp_path / "pb"))
    monkeypatch.setenv("LIFTOFF_CONNECTORS_DIR", str(tmp_path / "cx"))
    monkeypatch.setenv("LIFTOFF_SESSION_HOURS", "2")
    monkeypatch.setenv("LIFTOFF_METRICS_ALLOW", "10.0.0.0/8")
    monkeypatch.setenv("LIFTOFF_PG_WORK_MEM", "64MB")
    assert playbook_dir() == tmp_path / "pb"
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SKIP_DASH": True, "SECRET_KEY": "x"})
    with app.app_context():
        assert connectors_dir() == tmp_path / "cx"
    assert app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() == 2 * 3600
    assert app.config["METRICS_ALLOW"] == "10.0.0.0/8"
    settings = {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@127.0.0.1/x"}
    config.engine_options(settings)
    assert settings["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["options"] == "-c work_mem=64MB"


def test_the_process_wide_settings_are_read_from_the_environment(tmp_path):
    # Read once at import or by gunicorn's config file: checked in a fresh interpreter.
    script = ("import runpy, logging; from app import config, observability; print(config.INSTANCE_DIR); "
              "observability.configure_logging(); "
              "print(type(logging.getLogger().handlers[-1].formatter).__name__); "
              "g = runpy.run_path('scripts/gunicorn.conf.py'); "
              "print(g['bind'], g['workers'], g['worker_class']); print(config.load()['WEB_THREADS'])")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "LIFTOFF_INSTANCE_DIR": str(tmp_path),
           "LIFTOFF_LOG_FORMAT": "json", "LIFTOFF_BIND": "127.0.0.1:9001", "LIFTOFF_WORKERS": "3",
           "LIFTOFF_THREADS": "5"}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split("\n")
    assert out[:4] == [str(tmp_path), "JsonFormatter", "127.0.0.1:9001 3 asgi", "5"]


def test_every_liftoff_variable_the_docs_name_is_read_somewhere():
    documented = set()
    for doc in [*ROOT.glob("docs/*.md"), ROOT / "README.md"]:
        documented |= set(re.findall(r"\bLIFTOFF_[A-Z0-9_]+\b", doc.read_text()))
    # Read as f"LIFTOFF_{name}" by app/alerts.py.
    prefixed = {f"LIFTOFF_{name}" for name in ("SMTP_HOST", "SMTP_PORT", "SMTP_FROM", "SMTP_STARTTLS",
                                               "SMTP_USER", "SMTP_PASSWORD", "ALERT_WEBHOOK_URL",
                                               "ALERT_EMAILS", "ALERT_TIMEOUT_SECONDS")}
    code = "\n".join(p.read_text() for folder in ("app", "dashboards", "scripts")
                     for p in (ROOT / folder).rglob("*.py"))
    unread = sorted(v for v in documented - prefixed if f'"{v}"' not in code)
    assert unread == []
