"""Pages outside Dash: login, logout, the invitation link, the landing redirect and the health check."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from urllib.parse import urlsplit

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
from app.errors import LiftoffError
from app.security import session_user, start_session
from app.services.accounts import invites
from app.services.accounts.access import end_sessions
from app.services.accounts.login import LoginThrottle, attempt_login

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


DEFAULT_LANDING = "/dashboard/"


def safe_next(target: str | None) -> str:
    """Where to go after login: a path of this site, else the dashboard.

    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so ``/%09/evil``
    or ``/%5Cevil`` (decoded: a tab, a backslash) would lead to another host: any control
    character, whitespace or backslash refuses the target, as does a scheme or a host. Never raises.
    """
    if not isinstance(target, str) or not target.startswith("/") or len(target) > 2048:
        return DEFAULT_LANDING
    if any(not ch.isprintable() or ch.isspace() or ch == "\\" for ch in target):
        return DEFAULT_LANDING
    parts = urlsplit(target)
    if target.startswith("//") or parts.scheme or parts.netloc:
        return DEFAULT_LANDING
    return target


def loggable(text: object, limit: int = 200) -> str:
    """``text`` for one log line: control characters (newlines above all) escaped, so a value sent
    by a client cannot forge a line of its own."""
    value = str(text)[:limit]
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in value)


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
        else:
            result = attempt_login(email, password, address, _throttle())
            db.session.commit()  # keep the failure count even when the login fails
            if result.user is not None:
                start_session(result.user)
                log.info("login ok for %s", loggable(result.user.email))
                return redirect(safe_next(request.args.get("next")))
            if result.address_blocked:
                log.warning("login refused: too many failures from %s", loggable(address))
                error, status = "Too many failed logins from your address; try again later.", 429
            else:
                log.warning("login failed for %s from %s", loggable(email), loggable(address))
                error, status = (
                    "Unknown e-mail or wrong password (accounts lock for 15 minutes after 5 failures).",
                    401,
                )
    response = current_app.make_response((render_template("login.html", error=error), status))
    if status == 429:
        response.headers["Retry-After"] = str(int(_throttle().window.total_seconds()))
    return response


@bp.route("/invite/<secret>", methods=["GET", "POST"])
def invite(secret: str):
    """An invited user chooses their password (app/services/accounts/invites.py), then is signed
    in. The secret is in the path, so this page sends no Referer and is never cached; log lines
    name the user, never the secret."""
    found = invites.pending(secret)
    error, status = None, 200 if found else 404
    if found is not None and request.method == "POST":
        try:
            form = request.form
            user = invites.accept(secret, form.get("password", ""), form.get("confirmation", ""))
            db.session.commit()
        except LiftoffError as refused:
            db.session.rollback()
            error = "; ".join(d.message for d in refused.details) or refused.message
            status = refused.status
        else:
            start_session(user)
            log.info("invitation used by %s", loggable(user.email))
            return redirect(DEFAULT_LANDING)
    email = found[1].email if found else None
    response = current_app.make_response((render_template("invite.html", email=email, error=error), status))
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/logout", methods=["POST"])
def logout():
    """Ends the session, and every other session of the same user."""
    user = session_user()
    if user is not None:
        end_sessions(user)
        db.session.commit()
        log.info("logout of %s: every session ended", loggable(user.email))
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
