"""Mounting the Dash app: every /dashboard/ route behind the login, one Dash app per process.
Checked in a subprocess, because Dash's registries are per process and tests run without Dash."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROBE = textwrap.dedent("""
    import json, sys
    from app import create_app
    from dashboards import init_dash

    app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "SECRET_KEY": "probe", "TESTING": True})
    dash_app = init_dash(app)  # a second call for the same app is harmless
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/dashboard/")]
    unguarded = [r.rule for r in rules
                 if not getattr(app.view_functions[r.endpoint], "liftoff_login_required", False)]
    client = app.test_client()
    page = client.get("/dashboard/rollout?feature=x")
    layout = client.get("/dashboard/_dash-layout")
    asset = client.get("/dashboard/assets/liftoff-dashboard.css")
    callback = client.post("/dashboard/_dash-update-component", json={})
    try:
        create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "SECRET_KEY": "probe"})
        second = "allowed"
    except RuntimeError as error:
        second = str(error)
    print(json.dumps({
        "same": dash_app is init_dash(app), "rules": [r.rule for r in rules], "unguarded": unguarded,
        "page": [page.status_code, page.headers.get("Location")], "layout": layout.status_code,
        "asset": asset.status_code, "callback": callback.status_code, "second": second,
        "pages": sorted(p["path"] for p in __import__("dash").page_registry.values()),
    }))
""")


def test_every_dashboard_route_needs_a_login_and_dash_mounts_once(database_url):
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", PROBE, database_url], cwd=root, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["same"] is True
    assert "/dashboard/_dash-update-component" in probe["rules"] and len(probe["rules"]) >= 6
    assert probe["unguarded"] == []
    assert probe["page"] == [302, "/login?next=/dashboard/rollout?feature%3Dx"]
    assert probe["layout"] == 401 and probe["asset"] == 401
    assert probe["callback"] in (400, 401)  # CSRF refuses it before the login check would
    assert "one app per process" in probe["second"]
    assert {"/", "/rollout", "/enablement", "/operations", "/executive", "/adoption", "/quality"} <= set(
        probe["pages"]
    )
