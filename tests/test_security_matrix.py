"""Every route x every kind of caller -> the answer app/security.py's PERMISSIONS promises.

ROUTES below is the one table of who may call what: each route names a permission of PERMISSIONS
(or PUBLIC). A route the app serves but the table lacks fails, so does a stale entry, and so does
an API view whose @requires permission differs from the table. The expected status of each caller
is derived from PERMISSIONS, never written by hand.

The requests run in a subprocess with the Dash dashboard mounted (Dash allows one app per
process): one app, one database, ~500 requests.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.security import PERMISSIONS

PUBLIC = "public"
ROLES = ("admin", "product", "change_manager", "executive", "reviewer")
TOKEN_KINDS = ("admin", "ingest", "client", "frontend")
CALLERS = ("anonymous", *(f"role:{r}" for r in ROLES), *(f"token:{k}" for k in TOKEN_KINDS))
DASHBOARD = "/dashboard/"

# "METHOD rule" -> permission. /api/client and /api/frontend take tokens only, /dashboard/ sessions
# only, /api/v1 both.
ROUTES: dict[str, str] = {
    # pages
    "GET /": PUBLIC,
    "GET /login": PUBLIC,
    "POST /login": PUBLIC,
    "POST /logout": PUBLIC,
    "GET /invite/<secret>": PUBLIC,  # the link's secret is the credential (tests/test_user_invites.py)
    "POST /invite/<secret>": PUBLIC,
    "GET /healthz": PUBLIC,
    "GET /metrics": "metrics:read",
    "GET /api/openapi.json": PUBLIC,
    "GET /api/docs": PUBLIC,
    "GET /static/<path:filename>": PUBLIC,
    "GET /web-static/<path:filename>": PUBLIC,
    # the Unleash client API
    "GET /api/client/features": "flags:read",
    "POST /api/client/metrics": "flags:read",
    "POST /api/client/register": "flags:read",
    # the Unleash frontend API (browser and mobile apps)
    "GET /api/frontend": "flags:frontend",
    "POST /api/frontend": "flags:frontend",
    "POST /api/frontend/client/metrics": "flags:frontend",
    "POST /api/frontend/client/register": "flags:frontend",
    # the dashboard (every Dash route behind the login guard)
    "GET /dashboard/": "read",
    "GET /dashboard/<path:path>": "read",
    "GET /dashboard/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": "read",
    "GET /dashboard/_dash-dependencies": "read",
    "GET /dashboard/_dash-layout": "read",
    "POST /dashboard/_dash-update-component": "read",
    "GET /dashboard/_favicon.ico": "read",
    "GET /dashboard/_reload-hash": "read",
    "GET /dashboard/assets/<path:filename>": "read",
    "GET /dashboard/export/roi.csv": "read",
    "GET /dashboard/export/roi.xlsx": "read",
    "GET /dashboard/report": "read",
    "GET /dashboard/report.pdf": "read",
    # the REST API
    "PATCH /api/v1/action-items/<int:item_id>": "enablement:write",
    "POST /api/v1/baselines": "baselines:write",
    "GET /api/v1/cohorts": "read",
    "PUT /api/v1/cohorts/<key>": "cohorts:write",
    "GET /api/v1/cohorts/<key>": "read",
    "GET /api/v1/departments": "read",
    "PUT /api/v1/departments/<path:name>": "people:write",
    "POST /api/v1/events": "events:write",
    "POST /api/v1/events/void": "events:void",
    "POST /api/v1/features": "features:write",
    "GET /api/v1/features": "read",
    "GET /api/v1/features/<key>": "read",
    "POST /api/v1/features/<key>/action-items": "enablement:write",
    "GET /api/v1/features/<key>/action-items": "read",
    "POST /api/v1/features/<key>/advance": "rollout:write",
    "GET /api/v1/features/<key>/corrections": "read",
    "POST /api/v1/features/<key>/review-samples": "reviews:label",
    "GET /api/v1/review-samples/<int:sample_id>": "reviews:label",
    "POST /api/v1/review-items/<int:item_id>/label": "reviews:label",
    "GET /api/v1/features/<key>/reviewed-quality": "read",
    "POST /api/v1/datasets/<key>/versions": "datasets:export",
    "GET /api/v1/datasets/<key>": "read",
    "GET /api/v1/datasets/<key>/versions/<int:version>": "datasets:export",
    "POST /api/v1/datasets/<key>/evaluations": "evaluations:write",
    "POST /api/v1/features/<key>/costs": "costs:write",
    "GET /api/v1/features/<key>/costs": "read",
    "POST /api/v1/features/<key>/costs/<int:cost_id>/void": "costs:void",
    "POST /api/v1/features/<key>/archive": "features:archive",
    "POST /api/v1/features/<key>/unarchive": "features:archive",
    "PUT /api/v1/features/<key>/stages": "features:write",
    "PATCH /api/v1/features/<key>/stages/<int:position>": "features:write",
    "GET /api/v1/features/<key>/drift": "read",
    "GET /api/v1/features/<key>/feedback": "read",
    "POST /api/v1/features/<key>/gate/evaluate": "gates:evaluate",  # stores gate history: a write
    "GET /api/v1/features/<key>/gates": "read",
    "POST /api/v1/features/<key>/kill": "rollout:write",
    "GET /api/v1/features/<key>/kpis": "read",
    "PUT /api/v1/features/<key>/playbook": "enablement:write",
    "POST /api/v1/features/<key>/promote": "rollout:write",
    "PUT /api/v1/features/<key>/variants": "rollout:write",
    "POST /api/v1/features/<key>/variants/<name>/promote": "rollout:write",
    "GET /api/v1/features/<key>/variants/comparison": "read",
    "POST /api/v1/features/<key>/resume": "rollout:write",
    "POST /api/v1/features/<key>/rollback": "rollout:write",
    "POST /api/v1/features/<key>/trainings": "enablement:write",
    "GET /api/v1/features/<key>/trainings": "read",
    "POST /api/v1/feedback": "feedback:write",
    "POST /api/v1/feedback/<int:feedback_id>/triage": "enablement:write",
    "POST /api/v1/closes/<month>": "jobs:run",
    "GET /api/v1/jobs": "read",
    "POST /api/v1/jobs/<path:name>/run": "jobs:run",
    "GET /api/v1/jobs/<path:name>/runs": "read",
    "POST /api/v1/people": "people:write",
    "GET /api/v1/people": "read",
    "POST /api/v1/people/<path:person_id>/erase": "privacy:admin",
    "GET /api/v1/people/<path:person_id>/export": "privacy:admin",
    "GET /api/v1/playbooks": "read",
    "GET /api/v1/playbooks/<key>": "read",
    "GET /api/v1/roi/monthly": "read",
    "GET /api/v1/sdks": "read",
    "POST /api/v1/trainings/<int:session_id>/attendance": "enablement:write",
}


def channel(rule: str) -> str:
    """Who can present credentials here: ``token`` only, ``session`` only, or ``both``."""
    if rule.startswith(("/api/client/", "/api/frontend")):
        return "token"
    if rule.startswith(DASHBOARD):
        return "session"
    return "both"


def expected(permission: str, rule: str, caller: str) -> str:
    """``ok`` (any answer but 401/403/5xx), ``401`` or ``403``, from PERMISSIONS alone."""
    if permission == PUBLIC:
        return "ok"
    if caller == "anonymous":
        return "401"
    kinds, roles = PERMISSIONS[permission]
    what, name = caller.split(":")
    if what == "token":
        if channel(rule) == "session":
            return "401"  # a token is no login: the dashboard wants a session
        return "ok" if name in kinds else "403"
    if channel(rule) == "token":
        return "401"  # a session carries no token
    return "ok" if name in roles else "403"


def observed(status: int, location: str | None) -> str:
    if status >= 500:
        return f"server error {status}"
    if status == 302 and (location or "").startswith("/login?next="):
        return "401"  # a page's way of saying "log in first"
    if status in (401, 403):
        return str(status)
    return "ok"


def test_the_table_names_only_known_permissions():
    import dashboards.admin.actions  # noqa: F401  (their actions register their permissions)
    import dashboards.enablement.actions  # noqa: F401
    import dashboards.kpi.actions  # noqa: F401  (reports:receive: alone, nothing imported it)
    import dashboards.operations.actions  # noqa: F401
    import dashboards.review.actions  # noqa: F401
    import dashboards.rollout.actions  # noqa: F401
    from app.security import DASHBOARD_ACTIONS

    assert set(ROUTES.values()) - {PUBLIC} <= set(PERMISSIONS)
    # Every permission guards at least one route or dashboard action (a stale permission is a
    # smell, not a feature).
    assert set(PERMISSIONS) <= set(ROUTES.values()) | set(DASHBOARD_ACTIONS.values())


@pytest.mark.slow
def test_every_route_answers_every_caller_as_the_permissions_say(database_url):
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "tests.test_security_matrix", database_url],
        cwd=root, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])

    served = set(probe["declared"])
    assert sorted(served - set(ROUTES)) == [], "routes missing from ROUTES (declare their permission)"
    assert sorted(set(ROUTES) - served) == [], "stale ROUTES entries (the app no longer serves them)"
    for key, permission in probe["declared"].items():
        if key.split(" ", 1)[1].startswith("/api/v1/"):
            assert permission == ROUTES[key], f"{key}: @requires({permission!r}) but the table says"

    wrong = [
        f"{key} as {caller}: got {observed(status, location)} ({status}), "
        f"expected {expected(ROUTES[key], key.split(' ', 1)[1], caller)}"
        for key, caller, status, location in probe["answers"]
        if observed(status, location) != expected(ROUTES[key], key.split(" ", 1)[1], caller)
    ]
    assert wrong == []
    assert len(probe["answers"]) == len(ROUTES) * len(CALLERS)
    # The matrix really exercised each outcome.
    outcomes = {observed(status, location) for _, _, status, location in probe["answers"]}
    assert outcomes == {"ok", "401", "403"}


# --- the probe, run in a subprocess: python -m tests.test_security_matrix DATABASE_URL -------------

PASSWORD = "matrix password 1"
# A real, read-only callback (the portfolio's refresh), so the answers show the permission check
# rather than the 400 a body that fits no callback gets (tests/test_dashboard_junk.py).
DASH_CALLBACK = {
    "output": "portfolio-body.children",
    "outputs": {"id": "portfolio-body", "property": "children"},
    "inputs": [{"id": "portfolio-refresh", "property": "n_clicks", "value": None}],
    "changedPropIds": [],
    "state": [],
}


def _url(rule: str) -> str:
    # Placeholder values that match the converters; the records need not exist (404 is "ok").
    url = re.sub(r"<int:[^>]+>", "987654", rule)
    # A real file, so the answers show the permission check (an unknown one is a 404 behind the login).
    url = url.replace("<string:package_name>/<path:fingerprinted_path>", "dash/deps/polyfill@7.12.1.min.js")
    return re.sub(r"<[^>]+>", "no-such-thing", url)


def _probe(database_url: str) -> dict:
    from app import create_app
    from app.db import db
    from app.services.accounts.access import create_token, create_user

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "matrix",
                      "SKIP_DASH": False})
    clients: dict[str, tuple] = {}
    with app.app_context():
        for role in ROLES:
            create_user(f"{role.replace('_', '-')}@matrix.test", role, PASSWORD)
        secrets = {kind: create_token(kind, name=f"matrix {kind}")[1] for kind in TOKEN_KINDS}
        db.session.commit()
    # Every caller holds a CSRF token of its own session (anyone can get one from the login page),
    # so the answers show the permission check, not Flask-WTF's refusal of a missing token.
    def csrf_of(client) -> str:
        page = client.get("/login").get_data(as_text=True)
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    anonymous = app.test_client()
    clients["anonymous"] = (anonymous, {"X-CSRFToken": csrf_of(anonymous)})
    for kind, secret in secrets.items():
        client = app.test_client()
        clients[f"token:{kind}"] = (client, {"Authorization": f"Bearer {secret}",
                                             "X-CSRFToken": csrf_of(client)})
    for role in ROLES:
        client = app.test_client()
        login = client.post("/login", data={"email": f"{role.replace('_', '-')}@matrix.test",
                                            "password": PASSWORD, "csrf_token": csrf_of(client)})
        assert login.status_code == 302, login.status_code
        # Logging in starts a fresh session, with a fresh CSRF token.
        clients[f"role:{role}"] = (client, {"X-CSRFToken": csrf_of(client)})

    rules = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            rules.append((f"{method} {rule.rule}", method, rule))
    rules.sort(key=lambda r: (r[2].rule == "/logout", r[0]))  # logging out last keeps the sessions
    declared = {key: getattr(app.view_functions[rule.endpoint], "liftoff_permission", None)
                for key, _, rule in rules}
    answers = []
    for key, method, rule in rules:
        for caller in CALLERS:
            client, headers = clients[caller]
            kwargs = {"headers": headers}
            if method != "GET":
                kwargs["json"] = DASH_CALLBACK if rule.rule.endswith("_dash-update-component") else {}
            response = client.open(_url(rule.rule), method=method, **kwargs)
            answers.append([key, caller, response.status_code, response.headers.get("Location")])
    return {"declared": declared, "answers": answers}


if __name__ == "__main__":
    print(json.dumps(_probe(sys.argv[1])))

