"""Operations: X-Request-ID on every response and log line, JSON logs, and Prometheus /metrics."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from app import observability
from app.db import db
from app.jobs import JOBS, JobSpec
from app.jobs.runner import run_job
from tests.helpers import gen_feature, gen_person
from tests.kpi_scenarios import event


def sample(text: str, name: str, **labels) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def scrape(client, headers) -> str:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    return response.get_data(as_text=True)


def test_a_request_id_is_generated_kept_when_sane_and_replaced_when_not(client):
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert client.get("/healthz").headers["X-Request-ID"] != generated
    kept = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a:42"})
    assert kept.headers["X-Request-ID"] == "lb-7f3a:42"
    for forged in ("a b", "x" * 200, "id\u00e9", "<script>"):
        replaced = client.get("/api/v1/features", headers={"X-Request-ID": forged})
        assert replaced.status_code == 401
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-ID"])


def test_every_log_line_of_a_request_carries_its_id_in_json(app, client):
    @app.get("/_test/log-twice")
    def log_twice():
        logging.getLogger("app.test").info("first step")
        logging.getLogger("app.test").warning("second step")
        return "ok"

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(observability.JsonFormatter())
    handler.addFilter(observability.RequestIdFilter())
    logger = logging.getLogger("app.test")
    logger.addHandler(handler)
    try:
        response = client.get("/_test/log-twice", headers={"X-Request-ID": "req-123"})
        other = client.get("/_test/log-twice")
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(x["message"], x["level"]) for x in lines[:2]] == [("first step", "INFO"),
                                                                ("second step", "WARNING")]
    assert {x["request_id"] for x in lines[:2]} == {"req-123"} == {response.headers["X-Request-ID"]}
    assert {x["request_id"] for x in lines[2:]} == {other.headers["X-Request-ID"]}
    assert all(x["logger"] == "app.test" and x["time"].endswith("+00:00") for x in lines)
    assert observability.current_request_id() is None  # nothing leaks past the request


def test_the_log_format_setting_switches_between_text_and_json():
    root = logging.getLogger()
    try:
        observability.configure_logging("json")
        handlers = [h for h in root.handlers if getattr(h, "_liftoff", False)]
        assert len(handlers) == 1 and isinstance(handlers[0].formatter, observability.JsonFormatter)
        observability.configure_logging("text")
        handlers = [h for h in root.handlers if getattr(h, "_liftoff", False)]
        assert len(handlers) == 1 and "[%(request_id)s]" in handlers[0].formatter._fmt
    finally:
        observability.configure_logging()


def test_metrics_needs_an_admin_or_an_allowed_address(app, client, admin_headers, ingest_headers):
    assert client.get("/metrics").status_code == 401
    refused = client.get("/metrics", headers=ingest_headers)
    assert refused.status_code == 403 and "admin" in refused.get_json()["error"]
    assert client.get("/metrics", headers=admin_headers).status_code == 200
    app.config["METRICS_ALLOW"] = "10.0.0.0/8, 127.0.0.1"
    assert client.get("/metrics").status_code == 200  # the test client calls from 127.0.0.1
    app.config["METRICS_ALLOW"] = "10.0.0.0/8"
    assert client.get("/metrics").status_code == 401


def test_flag_fetches_events_and_latency_are_counted(app, client, admin_headers, ingest_headers,
                                                     client_token):
    gen_feature("draft")
    gen_person("a")
    db.session.commit()
    before = scrape(client, admin_headers)
    sdk = {"Authorization": client_token}
    first = client.get("/api/client/features", headers=sdk)
    assert first.status_code == 200
    # The second poll is answered by the WSGI shortcut (warm caches) and still counted.
    again = client.get("/api/client/features", headers={**sdk, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/api/client/features", headers={"Authorization": "nope"}).status_code == 401
    assert client.get("/api/client/features", headers=ingest_headers).status_code == 403
    rows = [event("draft", "a", "2026-10-01T10:00:00Z"), event("draft", "a", "2026-10-01T11:00:00Z")]
    assert client.post("/api/v1/events", json=rows, headers=ingest_headers).get_json()["accepted"] == 2
    assert client.post("/api/v1/events", json=rows, headers=ingest_headers).get_json()["duplicates"] == 2
    after = scrape(client, admin_headers)

    def delta(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert {s: delta("liftoff_flag_fetches_total", status=s) for s in ("200", "304", "401", "403")} == {
        "200": 1, "304": 1, "401": 1, "403": 1}
    assert delta("liftoff_events_ingested_total", result="accepted") == 2
    assert delta("liftoff_events_ingested_total", result="duplicate") == 2
    latency = "liftoff_http_request_duration_seconds_count"
    assert delta(latency, method="POST", endpoint="/api/v1/events", status="200") == 2
    assert delta(latency, method="GET", endpoint="/api/client/features", status="304") == 1
    assert delta(latency, method="GET", endpoint="/api/client/features", status="401") == 1


@pytest.fixture
def tick_jobs(monkeypatch):
    monkeypatch.setattr("app.jobs.JOBS", [
        *JOBS, JobSpec("obs-tick", "tests.scheduler_support:no_full_mode", "every 1h", "ticks"),
        JobSpec("obs-broken", "tests.no_such_module:job", "every 1h", "breaks"),
    ])


def test_job_durations_and_outcomes_are_counted(app, client, admin_headers, tick_jobs):
    before = scrape(client, admin_headers)
    assert run_job("obs-tick").status == "success"
    assert run_job("obs-tick").status == "success"
    assert run_job("obs-broken").status == "failed"
    after = scrape(client, admin_headers)
    runs = "liftoff_job_runs_total"
    assert sample(after, runs, job="obs-tick", status="success") - sample(
        before, runs, job="obs-tick", status="success") == 2
    assert sample(after, runs, job="obs-broken", status="failed") - sample(
        before, runs, job="obs-broken", status="failed") == 1
    assert sample(after, "liftoff_job_duration_seconds_count", job="obs-tick", status="success") >= 2
