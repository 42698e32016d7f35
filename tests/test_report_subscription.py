"""The Executive page's "E-mail me this report at each monthly close" checkbox, through Flask's test
client posting the Dash callback with the session's CSRF token, as the browser's renderer does.

Dash allows one app per process, so the requests run in a subprocess with the dashboard mounted
(python -m tests.test_report_subscription DATABASE_URL), like tests/test_security_matrix.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

PASSWORD = "subscription password"
USERS = {"exec@sub.test": "executive", "peer@sub.test": "executive", "boss@sub.test": "admin",
         "cm@sub.test": "change_manager"}
URL = "/dashboard/_dash-update-component"


@pytest.mark.slow
def test_the_checkbox_changes_only_the_callers_subscription_and_refuses_other_roles(database_url):
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-m", "tests.test_report_subscription", database_url],
                            cwd=root, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    no_one = dict.fromkeys(USERS, False)

    # Who sees the checkbox, and ticked or not.
    assert probe["shown"] == {"exec@sub.test": [], "boss@sub.test": [], "cm@sub.test": None}
    # The executive ticks it: only their own flag changes.
    status, text, flags = probe["steps"]["exec ticks"]
    assert status == 200 and "Subscribed: the report goes to exec@sub.test" in text
    assert flags == {**no_one, "exec@sub.test": True}
    assert probe["shown_after"] == ["monthly"]
    # Without the CSRF header the callback is refused before it runs.
    status, _text, flags = probe["steps"]["exec unticks without CSRF"]
    assert status == 400 and flags == {**no_one, "exec@sub.test": True}
    # The admin subscribes themselves; the executive's flag stays as it was.
    status, text, flags = probe["steps"]["admin ticks"]
    assert status == 200 and "boss@sub.test" in text
    assert flags == {**no_one, "exec@sub.test": True, "boss@sub.test": True}
    # A change manager forging the callback is refused on the server, and nothing changes.
    status, text, flags = probe["steps"]["change manager forges a tick"]
    assert status == 200 and "your role may not subscribe to the monthly report" in text
    assert flags == {**no_one, "exec@sub.test": True, "boss@sub.test": True}
    # Unticking unsubscribes the caller only.
    status, text, flags = probe["steps"]["exec unticks"]
    assert status == 200 and "Unsubscribed" in text
    assert flags == {**no_one, "boss@sub.test": True}


# --- the probe, run in a subprocess: python -m tests.test_report_subscription DATABASE_URL --------


def _callback(ticked: bool) -> dict:
    return {"output": "exec-subscribe-message.children",
            "outputs": {"id": "exec-subscribe-message", "property": "children"},
            "inputs": [{"id": "exec-subscribe", "property": "value", "value": ["monthly"] if ticked else []}],
            "changedPropIds": ["exec-subscribe.value"], "state": []}


def _probe(database_url: str) -> dict:
    from flask import session
    from sqlalchemy import select

    from app import create_app
    from app.db import db
    from app.models import User
    from app.services.accounts.access import create_user

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "subscription",
                      "SKIP_DASH": False})
    from dashboards.kpi import executive_page as executive  # registered with the Dash app create_app mounted

    with app.app_context():
        ids = {email: create_user(email, role, PASSWORD).id for email, role in USERS.items()}
        db.session.commit()

    def flags() -> dict:
        with app.app_context():
            return dict(db.session.execute(select(User.email, User.monthly_report)).all())

    def checkbox(email: str):
        """The checkbox's value on the Executive page as ``email`` gets it (None: not shown)."""
        with app.test_request_context("/dashboard/executive"):
            session["user_id"] = ids[email]
            page = executive.layout()
            found = [c for c in page._traverse() if getattr(c, "id", None) == "exec-subscribe"]
            return found[0].value if found else None

    def csrf_of(client) -> str:
        page = client.get("/login").get_data(as_text=True)
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def logged_in(email: str):
        client = app.test_client()
        response = client.post("/login", data={"email": email, "password": PASSWORD,
                                               "csrf_token": csrf_of(client)})
        assert response.status_code == 302, response.status_code
        return client, {"X-CSRFToken": csrf_of(client)}  # logging in starts a new session

    steps = {}

    def step(name: str, client, headers: dict, ticked: bool) -> None:
        response = client.post(URL, json=_callback(ticked), headers=headers)
        steps[name] = [response.status_code, response.get_data(as_text=True), flags()]

    shown = {email: checkbox(email) for email in ("exec@sub.test", "boss@sub.test", "cm@sub.test")}
    executive_client, executive_headers = logged_in("exec@sub.test")
    step("exec ticks", executive_client, executive_headers, True)
    shown_after = checkbox("exec@sub.test")
    step("exec unticks without CSRF", executive_client, {}, False)
    admin_client, admin_headers = logged_in("boss@sub.test")
    step("admin ticks", admin_client, admin_headers, True)
    manager_client, manager_headers = logged_in("cm@sub.test")
    step("change manager forges a tick", manager_client, manager_headers, True)
    step("exec unticks", executive_client, executive_headers, False)
    return {"shown": shown, "shown_after": shown_after, "steps": steps}


if __name__ == "__main__":
    print(json.dumps(_probe(sys.argv[1])))
