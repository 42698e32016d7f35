"""How the Administration page looks: the users and tokens tables and the forms beside them."""

from __future__ import annotations

import pandas as pd
from dash import dcc, html

from dashboards.admin import data
from dashboards.shell import components as ui
from dashboards.shell.frame import role_label

# A secret is one long word: it wraps anywhere rather than widen the page on a phone.
WRAP = {"whiteSpace": "pre-wrap", "wordBreak": "break-all", "userSelect": "all"}
USER_STATE_KINDS = {"active": "complete", "deactivated": "killed", "link sent": "live"}
TOKEN_STATE_KINDS = {"active": "complete", "revoked": "killed", "expired": "off"}


def _input(control_id: str, placeholder: str = "", kind: ui.InputKind = "text") -> dcc.Input:
    return dcc.Input(id=control_id, type=kind, placeholder=placeholder, value="", debounce=False,
                     className="lo-field", autoComplete="new-password" if kind == "password" else "off")


def _dropdown(control_id: str, options: list[dict], placeholder: str) -> dcc.Dropdown:
    return dcc.Dropdown(id=control_id, options=options, placeholder=placeholder, clearable=True)


def _button(label: str, control_id: str, style: str = "lo-btn-secondary") -> html.Div:
    return html.Div(html.Button(label, id=control_id, n_clicks=0, className=f"lo-btn {style}"),
                    className="lo-form-button")


def users_forms() -> html.Div:
    create = html.Div([
        html.H3("Add a user", className="lo-card-title"),
        html.Div([
            ui.field("E-mail", _input("admin-new-email", "name@company.example")),
            ui.field("Role", _dropdown("admin-new-role", data.role_options(), "Choose a role")),
            _button("Invite by link", "admin-invite-user", "lo-btn-primary"),
            ui.field("Initial password", _input("admin-new-password", "empty: generate one", "password")),
            _button("Create with password", "admin-create-user"),
        ], className="lo-form-row"),
        html.P("Invite by link: the user gets a one-time link (valid 7 days) where they choose their "
               "own password; nobody else sees it. Or set an initial password (12 characters, not easy "
               "to guess; left empty, a strong one is generated and shown here once, to hand over).",
               className="lo-muted"),
    ], className="lo-form")
    change = html.Div([
        html.H3("Change a user", className="lo-card-title"),
        html.Div([ui.field("User", _dropdown("admin-user", [], "Choose a user"))], className="lo-form-row"),
        html.Div([
            ui.field("New role", _dropdown("admin-user-role", data.role_options(), "Choose a role")),
            _button("Change role", "admin-change-role"),
            ui.field("New password", _input("admin-user-password", "empty: generate one", "password")),
            _button("Reset password", "admin-reset-password"),
            _button("New password link", "admin-new-link"),
        ], className="lo-form-row"),
        html.Div([
            _button("Deactivate", "admin-deactivate", "lo-btn-danger"),
            _button("Reactivate", "admin-reactivate"),
        ], className="lo-form-row"),
        html.P("Each change ends the user's sessions at once: they log in again with the new role "
               "or password. The last active admin can be neither demoted nor deactivated.",
               className="lo-muted"),
        ui.confirm_dialog("admin-deactivate", [
            html.H3("Deactivate this user?", id="admin-deactivate-title", className="lo-card-title"),
            html.P(id="admin-deactivate-text")], "Deactivate", danger=True,
            labelled_by="admin-deactivate-title"),
    ], className="lo-form")
    return html.Div([html.Div(id="admin-users-message", className="lo-form-message"), create, change],
                    className="lo-stack")


def tokens_forms() -> html.Div:
    create = html.Div([
        html.H3("Create a token", className="lo-card-title"),
        html.Div([
            ui.field("Name", _input("admin-token-name", "e.g. CRM event feed")),
            ui.field("Kind", _dropdown("admin-token-kind", data.kind_options(), "Choose a kind")),
            ui.field("Environment (client and frontend)",
                     _dropdown("admin-token-env", data.environment_options(), "production")),
            _button("Create token", "admin-create-token", "lo-btn-primary"),
        ], className="lo-form-row"),
    ], className="lo-form")
    revoke = html.Div([
        html.H3("Revoke a token", className="lo-card-title"),
        html.Div([
            ui.field("Token", _dropdown("admin-token-pick", [], "Choose an active token")),
            _button("Revoke", "admin-revoke-token", "lo-btn-danger"),
        ], className="lo-form-row"),
        html.P("A revoked token is refused at once (SDK polls within 10 seconds).", className="lo-muted"),
        ui.confirm_dialog("admin-revoke", [
            html.H3("Revoke this token?", id="admin-revoke-title", className="lo-card-title"),
            html.P(id="admin-revoke-text")], "Revoke", danger=True, labelled_by="admin-revoke-title"),
    ], className="lo-form")
    return html.Div([html.Div(id="admin-tokens-message", className="lo-form-message"), create, revoke],
                    className="lo-stack")


def users_table(users: pd.DataFrame):
    if users.empty:
        return ui.empty_state("No users yet.", "Add the first one below.", state_id="admin-users-empty")
    columns = [("email", "E-mail"), ("role", "Role"), ("state", "State"), ("created_at", "Created")]
    return ui.table(users, columns,
                    render={
                        "role": lambda r: ui.badge(role_label(r["role"]), "off"),
                        "state": lambda r: ui.badge(r["state"], USER_STATE_KINDS[r["state"]]),
                        "created_at": lambda r: ui.when(r["created_at"]),
                    }, table_id="admin-users")


def _when_or(value, empty: str) -> str:
    return empty if value is None or value != value else ui.when(value)  # NaT/NaN: nothing recorded


def tokens_table(tokens: pd.DataFrame):
    if tokens.empty:
        return ui.empty_state("No API tokens yet.", "Create one below; its secret is shown once.",
                              state_id="admin-tokens-empty")
    return ui.table(tokens, [("name", "Name"), ("kind", "Kind"), ("environment", "Environment"),
                             ("prefix", "Starts with"), ("state", "State"), ("created_at", "Created"),
                             ("expires_at", "Expires"), ("last_used", "Last used")],
                    render={
                        "prefix": lambda r: html.Span(f"{r['prefix']}…", className="lo-mono"),
                        "state": lambda r: ui.badge(r["state"], TOKEN_STATE_KINDS.get(r["state"], "off")),
                        "created_at": lambda r: ui.when(r["created_at"]),
                        "expires_at": lambda r: _when_or(r["expires_at"], "never"),
                        "last_used": lambda r: _when_or(r["last_used"], "not yet"),
                    }, table_id="admin-tokens")


def secret_once(token_name: str, secret: str) -> html.Div:
    """The one time a token's secret exists outside its holder: copy it now."""
    return ui.alert([
        html.Strong(f"Token '{token_name}' created. Copy its secret now: it is not shown again."),
        html.Pre(secret, id="admin-token-secret", className="lo-mono", style=WRAP),
    ], "success", alert_id="admin-token-created")


def link_once(email: str, what: str, link: str) -> html.Div:
    """An invitation link, the one time it is shown: whoever opens it chooses the password."""
    return ui.alert([
        html.Strong(f"{what} {email}. Send them this link (valid 7 days, usable once; it is not shown "
                    "again): they choose their own password there."),
        html.Pre(link, id="admin-invite-link", className="lo-mono", style=WRAP),
    ], "success", alert_id="admin-user-done")


def password_once(email: str, what: str, password: str | None) -> html.Div:
    if password is None:
        return ui.alert(f"{what} {email}.", "success", alert_id="admin-user-done")
    return ui.alert([
        html.Strong(f"{what} {email}. Their password, shown once: hand it over safely."),
        html.Pre(password, id="admin-generated-password", className="lo-mono", style=WRAP),
    ], "success", alert_id="admin-user-done")
