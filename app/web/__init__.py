"""Pages outside Dash: login, logout, the landing redirect and the health check."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    Flask,
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
from app.services.access import authenticate

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


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; a user lands on the dashboard (or where they were going)."""
    error = None
    if request.method == "POST":
        user = authenticate(request.form.get("email", ""), request.form.get("password", ""))
        db.session.commit()  # keep the failed-login counter even when the login fails
        if user is not None:
            session.clear()
            session["user_id"] = user.id
            session.permanent = False
            log.info("login ok for %s", user.email)
            return redirect(_safe_next(request.args.get("next")))
        log.warning("login failed for %s", request.form.get("email", ""))
        error = "Unknown e-mail or wrong password (accounts lock for 15 minutes after 5 failures)."
    return render_template("login.html", error=error), (401 if error else 200)


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


def _security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Content-Security-Policy", CSP)
    return response


def init_app(app: Flask) -> None:
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
