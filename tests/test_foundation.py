"""The skeleton: health check, login, token auth and the API's error shape."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.db import db
from app.models import ApiToken, User
from app.services.accounts.access import create_user, hash_secret


def test_healthz_answers_without_auth(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"


def test_healthz_is_503_when_the_database_is_gone(app, client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("connection refused")

    monkeypatch.setattr(db.session, "execute", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.headers["Retry-After"]


def _csrf(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_login_with_the_right_password_opens_a_session(app, client):
    create_user("Exec@Example.com", "executive", "correct horse")
    db.session.commit()
    response = client.post(
        "/login",
        data={"email": "exec@example.com", "password": "correct horse", "csrf_token": _csrf(client)},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard/"


def test_login_without_csrf_token_is_refused(app, client):
    create_user("a@example.com", "admin", "correct horse")
    db.session.commit()
    response = client.post("/login", data={"email": "a@example.com", "password": "correct horse"})
    assert response.status_code == 400


def test_repeated_wrong_passwords_lock_the_account(app, client):
    create_user("a@example.com", "admin", "correct horse")
    db.session.commit()
    for _ in range(5):
        r = client.post(
            "/login", data={"email": "a@example.com", "password": "nope", "csrf_token": _csrf(client)}
        )
        assert r.status_code == 401
    r = client.post(
        "/login",
        data={"email": "a@example.com", "password": "correct horse", "csrf_token": _csrf(client)},
    )
    assert r.status_code == 401  # locked even with the right password


def test_passwords_and_tokens_are_stored_hashed(app, runner, admin_token):
    create_user("b@example.com", "product", "correct horse")
    db.session.commit()
    user = db.session.scalar(select(User))
    assert "correct horse" not in user.password_hash
    assert user.password_hash.startswith("scrypt:")
    stored = db.session.scalar(select(ApiToken))
    assert stored.token_hash == hash_secret(admin_token)
    assert admin_token not in (stored.token_hash, stored.prefix)


def test_tokens_create_prints_the_secret_alone_on_the_last_line(app, runner):
    result = runner.invoke(args=["liftoff", "tokens", "create", "--kind", "client"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"lo_client_production\.[0-9a-f]{64}", secret)


def test_users_create_rejects_an_unknown_role(app, runner):
    result = runner.invoke(
        args=["liftoff", "users", "create", "--email", "x@example.com", "--role", "boss",
              "--password", "12345678"]
    )
    assert result.exit_code != 0
    assert "role" in result.output


def test_api_errors_are_json(client, admin_headers):
    response = client.get("/api/v1/nothing-here", headers=admin_headers)
    assert response.status_code == 404
    assert set(response.get_json()) == {"error", "details"}


def test_security_headers_are_set(client):
    response = client.get("/login")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_each_request_is_authenticated_on_its_own(client, admin_headers):
    # The app context of a test spans requests; the caller must not leak from one to the next.
    assert client.get("/api/v1/nothing", headers=admin_headers).status_code == 404
    assert client.post("/api/v1/features", json={}).status_code == 401
