"""Issue #14, finding 1 and 2: connectors cannot be turned into readers of the host. A drop folder
cannot lead the files connector to another file, no error or reason file repeats a source's
content, an HTTP source cannot steer the connector (or its token) to another origin or to a cloud
metadata address, and job errors reach non-admins redacted."""

from __future__ import annotations

import os
import re
import socket
import stat
from pathlib import Path

import pytest
import requests

from app.connectors import http as http_source
from app.db import db, utcnow
from app.jobs.runner import run_job
from app.models import JobRun
from app.services.accounts.access import create_user
from app.services.operations.job_runs import redact, run_record
from tests.helpers import gen_feature
from tests.scheduler_support import Recorder, write_connector

SECRET = "5f1c0e9a7b3d4c2e8f6a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e"  # like instance/secret_key
PASSWORD = "long enough password"
MAPPING = """
mapping:
  feature: feature
  app_name: app
  hour: hour
  yes: yes_count
  no: no_count
"""
CSV_HEADER = "feature,app,hour,yes_count,no_count\n"


@pytest.fixture
def connectors(app, tmp_path):
    app.config["CONNECTORS_DIR"] = str(tmp_path / "connectors")
    gen_feature("summaries")
    db.session.commit()
    return tmp_path / "connectors"


@pytest.fixture
def drop(connectors, tmp_path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    write_connector(connectors, "drops", f"""
name: drops
kind: files
schedule: every 5m
target: flag_metrics
source: {{folder: "{folder}"}}
{MAPPING}""")
    return folder


@pytest.fixture
def secret_file(tmp_path) -> Path:
    instance = tmp_path / "instance"
    instance.mkdir()
    path = instance / "secret_key"
    path.write_text(SECRET)
    path.chmod(0o600)
    return path


def login(client, role: str) -> None:
    email = f"{role.replace('_', '-')}@connectors.test"
    create_user(email, role, PASSWORD)
    db.session.commit()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf})
    assert answer.status_code == 302


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- files -------------------------------------------------------------------------------------------


def test_a_symlink_to_the_session_key_is_refused_and_its_content_appears_nowhere(app, drop, secret_file):
    (drop / "export.csv").symlink_to(secret_file)
    run = run_job("pull:drops")
    assert run.status == "failed"
    assert "connector drops (files): export.csv: refused: a symbolic link" in run.error
    assert SECRET not in run.error
    moved = drop / "failed" / "export.csv"
    assert moved.is_symlink()  # the link itself moved aside, its target untouched
    assert secret_file.read_text() == SECRET
    reason = drop / "failed" / "export.csv.reason.txt"
    assert "symbolic link" in reason.read_text() and SECRET not in reason.read_text()
    assert mode(reason) == 0o600


def test_an_executive_reading_the_jobs_never_sees_the_key(app, client, drop, secret_file):
    (drop / "export.csv").symlink_to(secret_file)
    # Before the fix the key also reached the error through the header row of the file it read.
    (drop / "key.csv").write_text(SECRET + "\n")
    assert run_job("pull:drops").status == "failed"
    assert run_job("pull:drops").status == "failed"  # the second run meets key.csv
    login(client, "executive")
    for path in ("/api/v1/jobs", "/api/v1/jobs/pull:drops/runs"):
        answer = client.get(path)
        assert answer.status_code == 200 and SECRET not in answer.get_data(as_text=True)
    for reason in (drop / "failed").glob("*.reason.txt"):
        assert SECRET not in reason.read_text() and mode(reason) == 0o600


def test_a_file_whose_header_is_the_key_fails_without_repeating_it(app, drop):
    (drop / "key.csv").write_text(SECRET + "\n")
    run = run_job("pull:drops")
    assert run.status == "failed" and SECRET not in run.error
    assert "key.csv: column 'feature' (-> feature) is missing; the source has 1 column(s)" in run.error
    assert SECRET not in (drop / "failed" / "key.csv.reason.txt").read_text()


def test_a_hard_link_to_another_file_is_refused(app, drop, secret_file):
    os.link(secret_file, drop / "export.csv")
    run = run_job("pull:drops")
    assert run.status == "failed" and "export.csv: refused: a hard link" in run.error
    assert SECRET not in run.error


def test_a_fifo_is_refused_instead_of_hanging_the_run(app, drop):
    os.mkfifo(drop / "pipe.csv")
    run = run_job("pull:drops")
    assert run.status == "failed" and "pipe.csv: refused: not a regular file" in run.error


def test_a_failed_folder_planted_as_a_symlink_is_not_written_through(app, drop, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (drop / "failed").symlink_to(elsewhere)
    (drop / "bad.csv").write_text(CSV_HEADER + "summaries,crm,yesterday,1,0\n")
    assert run_job("pull:drops").status == "failed"
    assert list(elsewhere.iterdir()) == []
    assert (drop / "bad.csv").exists()  # left where it was; the move failed and was logged


def test_bad_cells_are_named_by_row_and_column_and_reason_files_are_private(app, drop):
    (drop / "bad.csv").write_text(CSV_HEADER + f"summaries,crm,{SECRET},1,0\n")
    run = run_job("pull:drops")
    assert "connector drops (files): 1 bad row(s) from the source" in run.error
    assert "bad.csv line 2: hour: expected an ISO 8601 timestamp" in run.error
    assert SECRET not in run.error
    reason = drop / "failed" / "bad.csv.reason.txt"
    assert SECRET not in reason.read_text() and mode(reason) == 0o600


def test_an_unknown_feature_refused_by_the_service_is_not_quoted(app, drop):
    (drop / "m.csv").write_text(CSV_HEADER + f"{SECRET},crm,2026-11-01T10:00:00Z,1,0\n")
    run = run_job("pull:drops")
    assert run.status == "failed" and "m.csv line 2: unknown feature" in run.error
    assert SECRET not in run.error


# -- HTTP --------------------------------------------------------------------------------------------


def http_connector(connectors: Path, url: str, extra: str = "") -> None:
    write_connector(connectors, "api", f"""
name: api
kind: http
schedule: every 5m
target: flag_metrics
source:
  url: "{url}"
  auth_env: TEST_API_TOKEN
  records_path: items
  timeout_seconds: 2
{extra}
{MAPPING}""")


ITEM = {"feature": "summaries", "app": "crm", "hour": "2026-11-01T10:00:00Z", "yes_count": 1, "no_count": 0}
NEXT_URL = "  pagination: {style: next_url, next_path: next}"


def test_next_links_on_the_same_origin_are_followed_with_the_token(connectors, monkeypatch):
    monkeypatch.setenv("TEST_API_TOKEN", "s3cret")
    with Recorder() as api:
        api.routes["/usage"] = (200, {"items": [ITEM], "next": f"{api.url}/usage2"})
        api.routes["/usage2"] = (200, {"items": [], "next": None})
        http_connector(connectors, f"{api.url}/usage", NEXT_URL)
        run = run_job("pull:api")
        assert run.status == "success", run.error
        assert [(r["path"], r["headers"]["Authorization"]) for r in api.requests] == [
            ("/usage", "Bearer s3cret"), ("/usage2", "Bearer s3cret")]


def test_a_next_link_to_another_port_is_refused_and_gets_no_token(connectors, monkeypatch):
    monkeypatch.setenv("TEST_API_TOKEN", "s3cret")
    with Recorder() as api, Recorder() as thief:
        assert api.url.rsplit(":", 1)[1] != thief.url.rsplit(":", 1)[1]
        api.routes["/usage"] = (200, {"items": [ITEM], "next": f"{thief.url}/collect"})
        http_connector(connectors, f"{api.url}/usage", NEXT_URL)
        run = run_job("pull:api")
        assert thief.requests == []
    port = api.url.rsplit(":", 1)[1]
    assert run.status == "failed"
    assert (f"connector api (http): page 1: the next-page link leaves http://127.0.0.1:{port}; "
            "refused, nothing was sent there") in run.error
    assert "s3cret" not in run.error


@pytest.mark.parametrize("link", ["//127.0.0.2/x", "https://127.0.0.1/x"])
def test_next_links_changing_host_or_scheme_are_refused(connectors, monkeypatch, link):
    monkeypatch.setenv("TEST_API_TOKEN", "s3cret")
    with Recorder() as api:
        api.routes["/usage"] = (200, {"items": [ITEM], "next": link})
        http_connector(connectors, f"{api.url}/usage", NEXT_URL)
        run = run_job("pull:api")
        assert len(api.requests) == 1
    assert run.status == "failed" and "the next-page link leaves" in run.error


def test_a_redirect_to_another_server_is_not_followed(connectors, monkeypatch):
    monkeypatch.setenv("TEST_API_TOKEN", "s3cret")
    with Recorder() as api, Recorder() as thief:
        api.routes["/usage"] = (302, b"", {"Location": f"{thief.url}/collect"})
        http_connector(connectors, f"{api.url}/usage")
        run = run_job("pull:api")
        assert thief.requests == []
    assert "page 1: answered HTTP 302 Found (redirects are not followed)" in run.error


def test_an_error_answer_is_recorded_by_its_status_only(connectors, monkeypatch):
    monkeypatch.setenv("TEST_API_TOKEN", "s3cret")
    with Recorder() as api:
        api.routes["/usage"] = (500, {"trace": f"db password {SECRET}"})
        http_connector(connectors, f"{api.url}/usage")
        run = run_job("pull:api")
    assert run.error == "connector api (http): page 1: answered HTTP 500 Internal Server Error"


def test_a_refused_connection_names_the_connector_and_the_cause(connectors, monkeypatch):
    monkeypatch.setenv("TEST_API_TOKEN", "t")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    http_connector(connectors, f"http://127.0.0.1:{port}/usage")
    run = run_job("pull:api")
    assert run.error == "connector api (http): page 1: connection refused"


@pytest.fixture
def no_network(monkeypatch):
    """Any request reaching requests.get is recorded instead of sent: these tests must not touch
    a metadata address even if the check under test were broken."""
    sent = []

    def fake_get(url, **kwargs):
        sent.append(url)
        raise requests.ConnectionError("blocked by the test")

    monkeypatch.setattr(http_source.requests, "get", fake_get)
    return sent


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[fe80::1]/x",
    "http://[::ffff:169.254.169.254]/x",
    "http://100.100.100.200/latest/meta-data/",
    "http://169.254.10.1:8080/x",
])
def test_metadata_and_link_local_addresses_are_refused(connectors, monkeypatch, no_network, url):
    monkeypatch.setenv("TEST_API_TOKEN", "t")
    http_connector(connectors, url)
    run = run_job("pull:api")
    assert no_network == []
    assert run.status == "failed"
    assert "is a link-local or cloud metadata address" in run.error
    assert "source.allow_link_local: true allows it" in run.error


def test_a_name_resolving_to_the_metadata_address_is_refused(connectors, monkeypatch, no_network):
    monkeypatch.setenv("TEST_API_TOKEN", "t")
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "metadata.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(http_source.socket, "getaddrinfo", resolve)
    http_connector(connectors, "http://metadata.test/computeMetadata/v1/")
    run = run_job("pull:api")
    assert no_network == [] and "metadata.test is a link-local or cloud metadata address" in run.error


def test_the_connector_config_may_allow_link_local(connectors, monkeypatch, no_network):
    monkeypatch.setenv("TEST_API_TOKEN", "t")
    http_connector(connectors, "http://169.254.10.1:8080/x", "  allow_link_local: true")
    run = run_job("pull:api")
    assert no_network == ["http://169.254.10.1:8080/x"]  # allowed through to the (stubbed) request
    assert "page 1:" in run.error and "metadata" not in run.error


def test_the_unleash_connector_refuses_metadata_addresses_too(connectors, no_network):
    write_connector(connectors, "unleash", """
name: unleash
kind: unleash_metrics
schedule: every 1h
source: {url: "http://169.254.169.254"}
""")
    run = run_job("pull:unleash")
    assert no_network == []
    assert run.error.startswith("connector unleash (unleash_metrics): feature summaries: "
                                "169.254.169.254 is a link-local or cloud metadata address")


# -- job errors for non-admins -------------------------------------------------------------------------

LEAKY = (f"OperationalError: connection to postgresql://liftoff:hunter2@db.internal/liftoff failed\n"
         f"GET https://crm.example.com/v1/usage?api_key=k-123 answered; password=hunter2\n"
         f"Authorization: Bearer tok.123 key {SECRET}")


def test_redact_keeps_the_words_and_drops_the_secrets():
    text = redact(LEAKY)
    for secret in ("hunter2", "k-123", "tok.123", SECRET):
        assert secret not in text
    assert text.splitlines()[0] == ("OperationalError: connection to "
                                    "postgresql://[redacted]@db.internal/liftoff failed")
    assert "https://crm.example.com/v1/usage?[redacted]" in text
    ordinary = "connector drops (files): 2-bad.csv line 3: hour: expected an ISO 8601 timestamp"
    assert redact(ordinary) == ordinary and redact(None) is None


@pytest.fixture
def leaky_run(app) -> JobRun:
    run = JobRun(job="refresh-kpis", trigger="schedule", attempt=1, status="failed", started_at=utcnow(),
                 finished_at=utcnow(), error=LEAKY)
    db.session.add(run)
    db.session.commit()
    return run


@pytest.mark.parametrize("role", ["executive", "product", "change_manager"])
def test_non_admins_read_job_errors_redacted(client, leaky_run, role):
    login(client, role)
    listing = client.get("/api/v1/jobs").get_json()
    error = next(j for j in listing if j["name"] == "refresh-kpis")["last_run"]["error"]
    history = client.get("/api/v1/jobs/refresh-kpis/runs").get_json()[0]["error"]
    assert error == history == redact(LEAKY) != LEAKY


def test_admins_read_job_errors_whole(client, leaky_run, admin_headers):
    listing = client.get("/api/v1/jobs", headers=admin_headers).get_json()
    assert next(j for j in listing if j["name"] == "refresh-kpis")["last_run"]["error"] == LEAKY
    login(client, "admin")
    assert client.get("/api/v1/jobs/refresh-kpis/runs").get_json()[0]["error"] == LEAKY


def test_the_operations_page_data_redacts_unless_asked(leaky_run):
    from dashboards.enablement import data

    assert data.job_registry()[0].set_index("name").loc["refresh-kpis", "error"] == redact(LEAKY)
    assert data.job_registry(full_errors=True)[0].set_index("name").loc["refresh-kpis", "error"] == LEAKY
    assert data.recent_runs().iloc[0]["error"] == redact(LEAKY)
    assert data.recent_runs(full_errors=True).iloc[0]["error"] == LEAKY
    assert run_record(leaky_run)["error"] == redact(LEAKY)
