"""One authority: every route and every dashboard write declares a permission of app/security.py.

The walk runs in a subprocess with the Dash dashboard mounted (Dash allows one app per process):
every rule of the Flask url_map, and every Dash callback. A callback *writes* when it commits
(the callback owns the transaction; nothing it does is kept otherwise); a writing callback must
call a dashboard action carrying ``liftoff_permission`` (``app.security.dashboard_action``).
"""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.models.access import ROLES, TOKEN_KINDS
from app.security import DASHBOARD_ACTIONS, PERMISSIONS, Identity, NotAllowed, dashboard_action


def _resolve(node: ast.expr, scope: dict):
    """The object a call's target names in the function's module (``f`` or ``module.f``)."""
    if isinstance(node, ast.Name):
        return scope.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, scope)
        return getattr(owner, node.attr, None) if owner is not None else None
    return None


def callback_verdict(function) -> dict:
    """Whether ``function`` writes (commits) and the permissions of the actions it calls."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    calls = [node.func for node in ast.walk(tree) if isinstance(node, ast.Call)]
    writes = any(isinstance(f, ast.Attribute) and f.attr == "commit" for f in calls)
    permissions = sorted({target.liftoff_permission for f in calls
                          if (target := _resolve(f, function.__globals__)) is not None
                          and hasattr(target, "liftoff_permission")})
    return {"writes": writes, "permissions": permissions}


def undeclared_writes(verdicts: dict[str, dict]) -> list[str]:
    return sorted(name for name, v in verdicts.items() if v["writes"] and not v["permissions"])


# --- the checker itself fails on what it must catch -------------------------------------------

class _Session:
    def commit(self) -> None: ...


db_session = _Session()


def _declared_action(identity) -> None: ...


_declared_action.liftoff_permission = "rollout:write"  # as dashboard_action marks one


def _writes_without_a_declared_action(key):
    db_session.commit()


def _writes_through_a_declared_action(key, identity):
    _declared_action(identity)
    db_session.commit()


def _only_reads(key):
    return str(key)


def test_the_checker_flags_a_write_without_a_declared_permission():
    verdicts = {f.__name__: callback_verdict(f) for f in (
        _writes_without_a_declared_action, _writes_through_a_declared_action, _only_reads)}
    assert verdicts["_writes_through_a_declared_action"] == {"writes": True, "permissions": ["rollout:write"]}
    assert verdicts["_only_reads"] == {"writes": False, "permissions": []}
    assert undeclared_writes(verdicts) == ["_writes_without_a_declared_action"]


# --- the walk -----------------------------------------------------------------------------------

def _probe(database_url: str) -> dict:
    from app import create_app
    from app.security import declared_permission
    from dashboards import init_dash

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "walk", "SKIP_DASH": True})
    dash_app = init_dash(app)
    routes = {}
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes[f"{method} {rule.rule}"] = declared_permission(app.view_functions[rule.endpoint],
                                                                  rule.endpoint)
    app.test_client().get("/dashboard/_dash-dependencies")  # Dash fills its callback map lazily
    callbacks = {}
    for entry in dash_app.callback_map.values():
        function = inspect.unwrap(entry["callback"]) if "callback" in entry else None
        if function is None or function.__module__.split(".")[0] == "dash":
            continue  # clientside callbacks run in the browser; Dash's own page router reads only
        callbacks[f"{function.__module__}.{function.__qualname__}"] = callback_verdict(function)
    return {"routes": routes, "callbacks": callbacks, "actions": dict(DASHBOARD_ACTIONS)}


@pytest.fixture(scope="module")
def walk(tmp_path_factory) -> dict:
    database = tmp_path_factory.mktemp("walk") / "walk.db"
    result = subprocess.run(
        [sys.executable, "-m", "tests.test_security_declared", f"sqlite:///{database}"],
        cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_route_declares_a_known_permission(walk):
    routes = walk["routes"]
    assert sorted(key for key, permission in routes.items() if permission is None) == []
    assert {p for p in routes.values()} - {"public"} <= set(PERMISSIONS)
    # The walk saw the API, the web pages, the client API and the dashboard.
    for key in ("POST /api/v1/features/<key>/advance", "POST /login", "GET /api/client/features",
                "POST /dashboard/_dash-update-component"):
        assert key in routes
    assert routes["POST /api/v1/features/<key>/gate/evaluate"] == "gates:evaluate"


def test_every_dashboard_write_goes_through_a_declared_action(walk):
    callbacks = walk["callbacks"]
    assert undeclared_writes(callbacks) == []
    writers = {name: v["permissions"] for name, v in callbacks.items() if v["writes"]}
    # Known writers and what they declare (a new writer without an action fails above).
    assert writers["dashboards.rollout.page.confirm_action"] == ["rollout:write"]
    assert writers["dashboards.kpi.executive_page.subscribe"] == ["reports:receive"]
    assert writers["dashboards.operations.page.run_now"] == ["jobs:run"]
    assert writers["dashboards.operations.page.confirm_close"] == ["jobs:run"]
    assert writers["dashboards.admin.page.change_users"] == ["accounts:admin"]
    assert writers["dashboards.admin.page.change_tokens"] == ["accounts:admin"]
    assert writers["dashboards.variants.page.confirm_promotion"] == ["rollout:write"]
    assert set(walk["actions"].values()) <= set(PERMISSIONS)


def test_every_dashboard_action_module_function_declares_a_permission():
    import dashboards.admin.actions as admin_actions
    import dashboards.enablement.actions as enablement_actions
    import dashboards.kpi.actions as kpi_actions
    import dashboards.rollout.actions as rollout_actions
    import dashboards.variants.actions as variant_actions

    for module in (rollout_actions, enablement_actions, admin_actions, variant_actions, kpi_actions):
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__ or name.startswith(("_", "may_")):
                continue  # helpers and the may_* predicates (which read the matrix) act on nothing
            assert hasattr(function, "liftoff_permission"), f"{module.__name__}.{name} declares none"


def test_a_dashboard_action_refuses_as_the_matrix_says(monkeypatch):
    import app.security

    monkeypatch.setattr(app.security, "DASHBOARD_ACTIONS", {})  # keep the registry to real actions
    calls = []

    @dashboard_action("gates:evaluate", "evaluate gates")
    def evaluate(key, identity):
        calls.append(identity.name)

    for role in ROLES:
        identity = Identity(f"{role}@liftoff.test", role=role)
        if role in PERMISSIONS["gates:evaluate"][1]:
            evaluate("k", identity)
        else:
            with pytest.raises(NotAllowed) as refused:
                evaluate("k", identity=identity)
            assert refused.value.status == 403
    # An API token never acts through the dashboard, even one whose kind has the permission.
    with pytest.raises(NotAllowed):
        evaluate("k", Identity("token:ops", token_kind="admin"))
    with pytest.raises(NotAllowed):
        evaluate("k", None)
    assert calls == ["admin@liftoff.test", "product@liftoff.test", "change_manager@liftoff.test"]


def test_the_matrix_names_only_known_roles_and_token_kinds():
    for kinds, roles in PERMISSIONS.values():
        assert kinds <= set(TOKEN_KINDS) and roles <= set(ROLES)
    # Gate evaluation stores gate history: a write, so never for read-only executives.
    assert "executive" not in PERMISSIONS["gates:evaluate"][1]


def test_gate_evaluation_needs_the_same_permission_in_the_api_and_the_dashboard(client, session):
    from app.api.enablement import evaluate_gate
    from dashboards.enablement.actions import evaluate_gate_now, may_evaluate_gates

    assert evaluate_gate.liftoff_permission == evaluate_gate_now.liftoff_permission == "gates:evaluate"
    for role in ROLES:
        identity = Identity(role, role=role)
        assert may_evaluate_gates(identity) == (role in PERMISSIONS["gates:evaluate"][1])


if __name__ == "__main__":
    print(json.dumps(_probe(sys.argv[1])))
