"""Pages outside Dash: login, logout, the landing redirect and the health check."""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from flask import (
    Blueprint,
    Flask,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import text

from app.db import db
from app.services.access import LoginThrottle, authenticate

bp = Blueprint(
    "web", __name__, template_folder="templates", static_folder="static", static_url_path="/web-static"
)
csrf = CSRFProtect()
log = logging.getLogger(__name__)

# Dash renders with inline styles and needs 'unsafe-eval' for its callback graph in dev tools off;
# scripts otherwise come only from this origin.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths: never bounce a user to another host after login.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/dashboard/"


def _throttle() -> LoginThrottle:
    return current_app.extensions.setdefault("liftoff_login_throttle", LoginThrottle())


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; a user lands on the dashboard (or where they were going)."""
    error = None
    status = 200
    if request.method == "POST":
        email = request.form.get("email", "")
        password = request.form.get("password", "")
        address = request.remote_addr or "unknown"
        if not email or not password:
            error, status = "Enter your e-mail and password.", 400
        elif _throttle().blocked(address):
            log.warning("login refused: too many failures from %s", address)
            error, status = "Too many failed logins from your address; try again later.", 429
        else:
            user = authenticate(email, password)
            db.session.commit()  # keep the failed-login counter even when the login fails
            if user is not None:
                session.clear()  # a fresh session: no fixation of a pre-login cookie
                session["user_id"] = user.id
                session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME
                log.info("login ok for %s", user.email)
                return redirect(_safe_next(request.args.get("next")))
            _throttle().failed(address)
            log.warning("login failed for %s from %s", email, address)
            error, status = (
                "Unknown e-mail or wrong password (accounts lock for 15 minutes after 5 failures).",
                401,
            )
    response = current_app.make_response((render_template("login.html", error=error), status))
    if status == 429:
        response.headers["Retry-After"] = "900"
    return response


@bp.route("/logout", methods=["POST"])
def logout():
    """Ends the session."""
    session.clear()
    return redirect(url_for("web.login"))


@bp.route("/")
def index():
    """The landing page is the dashboard."""
    return redirect("/dashboard/")


@bp.route("/healthz")
def healthz():
    """200 when the app and its database answer, else 503."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means the database does not answer
        log.error("health check failed: %s", exc)
        db.session.rollback()
        response = jsonify({"status": "unavailable", "database": "down"})
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response
    return jsonify({"status": "ok", "database": "ok"})


def security_headers(config) -> list[tuple[str, str]]:
    """The headers every answer carries, for this app's settings. One list, so the SDK fast path
    (app/flags/fast_path.py), which answers without Flask, sends exactly what Flask sends."""
    headers = []
    if config.get("SESSION_COOKIE_SECURE"):
        # Served over HTTPS (secure cookies on): tell browsers never to use plain HTTP.
        headers.append(("Strict-Transport-Security", "max-age=31536000"))
    headers += [
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Content-Security-Policy", CSP),
    ]
    return headers


def _security_headers(response):
    for name, value in security_headers(current_app.config):
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    # Session cookies: HttpOnly, SameSite=Lax, Secure when LIFTOFF_SECURE_COOKIES=1 (app/config.py);
    # a login lasts LIFTOFF_SESSION_HOURS (default 8), enforced by the signed cookie's timestamp.
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        hours=float(app.config.get("SESSION_HOURS") or os.environ.get("LIFTOFF_SESSION_HOURS", "8"))
    )
    csrf.init_app(app)
    app.register_blueprint(bp)
    app.after_request(_security_headers)

    @app.errorhandler(403)
    def _forbidden(error):
        if request.path.startswith("/api/"):
            return jsonify({"error": "forbidden", "details": []}), 403
        return render_template("error.html", message="You do not have access to this page."), 403


def exempt_from_form_csrf(blueprint: Blueprint) -> None:
    """Token-authenticated APIs carry no cookie to forge; for browser sessions the API checks the
    X-CSRFToken header itself (see ``app.security.requires``)."""
    csrf.exempt(blueprint)
