"""Hostile input the fuzzers found: NUL characters (PostgreSQL text cannot hold them) and ids too
large for an INTEGER column answer 4xx on both databases, never a driver error."""

from __future__ import annotations

from sqlalchemy import func, select

from app.db import db
from app.models import Event
from tests.helpers import gen_feature, gen_person


def test_nul_in_a_json_body_is_a_400_and_writes_nothing(app, client, ingest_headers):
    gen_feature("demo")
    gen_person("p1")
    db.session.commit()
    rows = [{"event_id": "ok", "feature": "demo", "person_id": "p1", "occurred_at": "2026-10-01T10:00:00Z",
             "ai_assisted": True, "outcome": "success"},
            {"event_id": "bad\x00", "feature": "demo", "person_id": "p1",
             "occurred_at": "2026-10-01T10:00:00Z", "ai_assisted": True, "outcome": "success"}]
    response = client.post("/api/v1/events", json=rows, headers=ingest_headers)
    assert response.status_code == 400
    assert "NUL" in response.get_json()["error"]
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0
    # The escaped text "\\u0000" (a backslash, not a NUL) is ordinary data.
    rows[1]["event_id"] = "bad\\u0000"
    assert client.post("/api/v1/events", json=rows, headers=ingest_headers).status_code == 200


def test_nul_in_the_path_or_query_is_a_400(client, admin_headers):
    assert client.get("/api/v1/cohorts/a%00b", headers=admin_headers).status_code == 400
    assert client.get("/api/v1/people?department=a%00", headers=admin_headers).status_code == 400


def test_an_id_too_large_for_the_database_is_a_404(client, admin_headers):
    response = client.patch(f"/api/v1/action-items/{2**40}", json={"status": "done"}, headers=admin_headers)
    assert response.status_code == 404
    assert response.get_json()["error"]


def test_a_csv_row_with_nul_is_named_and_nothing_is_imported(app, runner, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("person_id,name,email,department\np1,Ann,,\np2,B\x00b,,\n", encoding="utf-8")
    result = runner.invoke(args=["liftoff", "import", "people", str(path)])
    assert result.exit_code == 1
    assert "NUL" in result.output and "3" in result.output
