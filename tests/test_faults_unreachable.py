"""A database that cannot be opened at all (a SQLite file in a folder that does not exist: the driver
itself refuses to connect): the API answers 503 with Retry-After, not a 500. The PostgreSQL outage
under a live SDK is in test_faults_database.py."""

from __future__ import annotations

import pytest

from app import create_app
from app.db import db


@pytest.fixture
def unreachable(tmp_path):
    application = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'no-such-folder' / 'liftoff.db'}",
        "TESTING": True, "SKIP_DASH": True, "SECRET_KEY": "x",
    })
    with application.app_context():
        yield application.test_client()
        db.session.remove()


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/api/v1/features", None),
    ("POST", "/api/v1/events", []),
    ("GET", "/api/client/features", None),
    ("POST", "/api/client/metrics", {}),
])
def test_every_api_path_answers_503_with_retry_after(unreachable, method, path, body):
    response = unreachable.open(path, method=method, json=body,
                                headers={"Authorization": "Bearer some-token", "X-Request-ID": "r-1"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json() == {"error": "the database is unavailable; retry later", "details": []}
    assert response.headers["X-Request-ID"] == "r-1"


def test_the_health_check_answers_503_too(unreachable):
    health = unreachable.get("/healthz")
    assert health.status_code == 503 and health.get_json()["database"] == "down"
    assert health.headers["Retry-After"]
