"""The login check around every Dash route, and the CSRF token Dash's callbacks send back."""

from __future__ import annotations

import functools
import logging

import dash
from flask import Flask, current_app, jsonify, make_response, redirect, request, url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import escape

from app.security import current_identity, user_may
from dashboards.shell.dash_requests import (
    CALLBACK_RULE,
    SUITES_RULE,
    bad_request_for_junk,
    not_found_for_unknown_files,
)

log = logging.getLogger(__name__)

# Dash's renderer reads this cookie and sends its value as the X-CSRFToken header on every
# callback POST, which is exactly what Flask-WTF's CSRFProtect checks: no callback is exempt.
CSRF_COOKIE = "liftoff_csrf"


class LiftoffDash(dash.Dash):
    """Dash with the CSRF token also in the page head (for forms such as logout)."""

    def interpolate_index(self, **kwargs):
        meta = f'<meta name="csrf-token" content="{escape(generate_csrf())}">'
        kwargs["metas"] = meta + kwargs.get("metas", "")
        return super().interpolate_index(**kwargs)


def _logged_in() -> bool:
    # API tokens have no role: the dashboard is for people who logged in (and may read).
    return user_may(current_identity(), "read")


def _guard(view, prefix: str, is_page: bool):
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        if not _logged_in():
            if is_page and request.method == "GET":
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            return jsonify({"error": "authentication required", "details": []}), 401
        response = make_response(view(*args, **kwargs))
        if is_page:
            response.set_cookie(
                CSRF_COOKIE,
                generate_csrf(),
                path=prefix,
                samesite="Lax",
                secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
                httponly=False,  # the renderer must read it; another site cannot
            )
            response.headers["Cache-Control"] = "no-store"
        return response

    # Marks on the function (vars(): its type, functools.wraps' wrapper, declares no such attributes).
    # The permission is what _logged_in checks (the route walk test reads it).
    vars(guarded).update(liftoff_login_required=True, liftoff_permission="read")
    return guarded


def protect_dash_routes(app: Flask, prefix: str, dash_app: dash.Dash) -> list[str]:
    """Wrap every route under ``prefix`` (pages, layout, callbacks, assets, component suites) in
    the login check; returns the wrapped rules. Behind the login, junk sent to the component suites
    or the callback route gets a 404 or a 400 instead of Dash's 500 (dashboards/shell/dash_requests.py)."""
    pages = {prefix, prefix + "<path:path>"}
    wrapped = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(prefix):
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, "liftoff_login_required", False):
            continue
        if rule.rule == prefix + SUITES_RULE:
            view = not_found_for_unknown_files(view)
        elif rule.rule == prefix + CALLBACK_RULE:
            view = bad_request_for_junk(view, dash_app)
        app.view_functions[rule.endpoint] = _guard(view, prefix, rule.rule in pages)
        wrapped.append(rule.rule)
    log.debug("dashboard routes behind the login: %s", wrapped)
    return wrapped
