"""GET /api/v1/jobs and POST /api/v1/jobs/{name}/run."""

from __future__ import annotations

import pytest

from app.jobs import JOBS, JobSpec


@pytest.fixture
def registry(app, monkeypatch, tmp_path):
    app.config["CONNECTORS_DIR"] = str(tmp_path / "connectors")
    monkeypatch.setattr("app.jobs.JOBS", [
        *JOBS,
        JobSpec("test-add", "tests.scheduler_support:add_department", "every 1m", "adds a row"),
        JobSpec("test-half", "tests.scheduler_support:write_then_fail", "every 1m", "fails late"),
    ])
    return app


def test_running_a_job_answers_with_its_run_record(registry, client, admin_headers):
    response = client.post("/api/v1/jobs/test-add/run", headers=admin_headers)
    assert response.status_code == 200
    record = response.get_json()
    assert (record["job"], record["status"], record["trigger"]) == ("test-add", "success", "api")
    assert (record["rows_read"], record["rows_written"]) == (3, 1)
    assert record["finished_at"] is not None

    listing = client.get("/api/v1/jobs", headers=admin_headers).get_json()
    jobs = {job["name"]: job for job in listing}
    assert jobs["test-add"]["last_run"]["id"] == record["id"]
    assert jobs["monthly-close"]["last_run"] is None
    assert {"refresh-kpis", "flag-reconcile"} <= set(jobs)


def test_a_failed_run_is_reported_with_its_error(registry, client, admin_headers):
    record = client.post("/api/v1/jobs/test-half/run", headers=admin_headers).get_json()
    assert record["status"] == "failed" and "source exploded" in record["error"]
    runs = client.get("/api/v1/jobs/test-half/runs?limit=5", headers=admin_headers).get_json()
    assert [r["id"] for r in runs] == [record["id"]]


def test_full_must_be_a_boolean(registry, client, admin_headers):
    response = client.post("/api/v1/jobs/test-add/run", headers=admin_headers, json={"full": "yes"})
    assert response.status_code == 422
    assert response.get_json()["details"][0]["field"] == "full"


def test_unknown_job_is_404(registry, client, admin_headers):
    assert client.post("/api/v1/jobs/nope/run", headers=admin_headers).status_code == 404


# One request per test: the test client shares the fixture's app context, so ``g`` (where the
# caller's identity is cached) would carry over between requests.
@pytest.mark.parametrize(("method", "path", "who", "status"), [
    ("post", "/api/v1/jobs/test-add/run", None, 401),
    ("post", "/api/v1/jobs/test-add/run", "ingest", 403),
    ("get", "/api/v1/jobs", None, 401),
    ("get", "/api/v1/jobs", "ingest", 403),
])
def test_running_needs_an_admin_and_listing_needs_a_reader(registry, client, request, method, path, who,
                                                           status):
    headers = request.getfixturevalue("ingest_headers") if who else {}
    assert getattr(client, method)(path, headers=headers).status_code == status


def test_a_broken_connector_file_still_lists_the_fixed_jobs(registry, client, admin_headers, tmp_path):
    from tests.scheduler_support import write_connector

    write_connector(tmp_path / "connectors", "broken", "name: broken\nkind: sql\n")
    response = client.get("/api/v1/jobs", headers=admin_headers)
    assert response.status_code == 200
    assert "refresh-kpis" in {job["name"] for job in response.get_json()}
    assert "broken.yaml" in response.headers["X-Liftoff-Warning"]
