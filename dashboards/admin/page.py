"""Administration: users (create, reset a password, change a role, deactivate, reactivate) and
API tokens (create with the secret shown once, revoke, last use). Admins only: the navigation
hides it from other roles, its URL shows them why (shell/frame.py), and every write re-checks the
role on the server (dashboards/admin/actions.py), so a replayed callback is refused too."""

from __future__ import annotations

import logging

import dash
from dash import Input, Output, State, callback, ctx, html, no_update

from app.db import db
from app.errors import LiftoffError
from app.security import current_identity
from dashboards.admin import actions, data, view
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import COUNTER, N_CLICKS, accepts, text, whole
from dashboards.shell.frame import role_label

log = logging.getLogger(__name__)
PERMISSION = "accounts:admin"


def layout(**_query) -> html.Div:
    return html.Div([
        html.Div(html.Div([
            html.H1("Administration"),
            html.P("Who may log in, with which role, and the API tokens scripts and SDKs use. "
                   "Every change is recorded in the audit log.", className="lo-lede"),
        ]), className="lo-page-head"),
        dash.dcc.Store(id="admin-version", data=0),
        html.Div([
            ui.card("Users", [html.Div(id="admin-users-body"), view.users_forms()],
                    card_id="admin-users-card"),
            ui.card("API tokens", [html.Div(id="admin-tokens-body"), view.tokens_forms()],
                    card_id="admin-tokens-card"),
        ], className="lo-stack"),
    ])


dash.register_page(__name__, path="/admin", name="Administration", title="Administration · Liftoff",
                   order=7, layout=layout, permission=PERMISSION)

# What the components hold (checked before any callback runs: dashboards/shell/callback_inputs.py).
accepts("admin-version", "data", COUNTER)
for button in ("admin-create-user", "admin-invite-user", "admin-new-link", "admin-change-role",
               "admin-reset-password", "admin-deactivate",
               "admin-deactivate-confirm", "admin-deactivate-cancel", "admin-reactivate",
               "admin-create-token", "admin-revoke-token", "admin-revoke-confirm", "admin-revoke-cancel"):
    accepts(button, "n_clicks", N_CLICKS)
accepts("admin-new-email", "value", text(320))
accepts("admin-new-role", "value", text(40))
accepts("admin-new-password", "value", text(1024))
accepts("admin-user", "value", text(320))
accepts("admin-user-role", "value", text(40))
accepts("admin-user-password", "value", text(1024))
accepts("admin-token-name", "value", text(200))
accepts("admin-token-kind", "value", text(40))
accepts("admin-token-env", "value", text(40))
accepts("admin-token-pick", "value", whole(1, 2**31 - 1))


def _refusal(error: LiftoffError) -> html.Div:
    lines = [error.message, *(f"{d.field}: {d.message}" for d in error.details)]
    return ui.alert("; ".join(lines), "danger", alert_id="admin-error")


@callback(
    Output("admin-users-body", "children"), Output("admin-tokens-body", "children"),
    Output("admin-user", "options"), Output("admin-token-pick", "options"),
    Input("admin-version", "data"),
)
def render_tables(_version):
    """Both tables, and the users and active tokens the forms can pick from (admins only)."""
    if not actions.may_administer(current_identity()):  # reachable without the page: refuse here too
        refused = ui.alert("Administration is for admins only.", "danger", alert_id="admin-refused")
        return refused, refused, [], []
    users, tokens = data.users_frame(), data.tokens_frame()
    return (view.users_table(users), view.tokens_table(tokens), data.user_options(users),
            data.active_token_options(tokens))


def _refused(error: LiftoffError, identity) -> html.Div:
    db.session.rollback()
    if error.status == 403:
        log.warning("refused administration by %s", identity.name if identity else None)
    return _refusal(error)


@callback(
    Output("admin-deactivate-dialog", "className"), Output("admin-deactivate-text", "children"),
    Input("admin-deactivate", "n_clicks"), Input("admin-deactivate-cancel", "n_clicks"),
    Input("admin-deactivate-confirm", "n_clicks"), State("admin-user", "value"),
    prevent_initial_call=True,
)
def ask_deactivate(_ask, _cancel, _confirm, email):
    """Deactivating ends someone's sessions at once: the dialog names them before it happens."""
    if ctx.triggered_id != "admin-deactivate":
        return ui.DIALOG_CLOSED, no_update
    who = email or "the chosen user (none chosen yet)"
    return ui.DIALOG_OPEN, (f"{who} is logged out at once and cannot log in until an admin "
                            "reactivates them. Their history and audit entries stay.")


@callback(
    Output("admin-revoke-dialog", "className"), Output("admin-revoke-text", "children"),
    Input("admin-revoke-token", "n_clicks"), Input("admin-revoke-cancel", "n_clicks"),
    Input("admin-revoke-confirm", "n_clicks"), State("admin-token-pick", "value"),
    prevent_initial_call=True,
)
def ask_revoke(_ask, _cancel, _confirm, token_id):
    """A revoked token cannot be restored: the dialog names it, and who stops working."""
    if ctx.triggered_id != "admin-revoke-token":
        return ui.DIALOG_CLOSED, no_update
    if not actions.may_administer(current_identity()):
        return ui.DIALOG_CLOSED, no_update
    options = data.active_token_options(data.tokens_frame())
    label = next((o["label"] for o in options if o.get("value") == token_id), None)
    what = f"Token {label}" if label else "The chosen token (none chosen yet)"
    return ui.DIALOG_OPEN, (f"{what} is refused from now on: every script or SDK using it gets 401 "
                            "until it is given a new token. A revoked token cannot be restored.")


@callback(
    Output("admin-users-message", "children"), Output("admin-version", "data"),
    Output("admin-new-password", "value"), Output("admin-user-password", "value"),
    Output("admin-new-email", "value"),
    Input("admin-create-user", "n_clicks"), Input("admin-invite-user", "n_clicks"),
    Input("admin-new-link", "n_clicks"), Input("admin-change-role", "n_clicks"),
    Input("admin-reset-password", "n_clicks"), Input("admin-deactivate-confirm", "n_clicks"),
    Input("admin-reactivate", "n_clicks"),
    State("admin-new-email", "value"), State("admin-new-role", "value"),
    State("admin-new-password", "value"),
    State("admin-user", "value"), State("admin-user-role", "value"), State("admin-user-password", "value"),
    State("admin-version", "data"),
    prevent_initial_call=True,
)
def change_users(_create, _invite, _link, _role, _reset, _deactivate, _reactivate, new_email, new_role,
                 new_password, email, role, password, version):
    """Every user change of the page; each through an action that re-checks the admin role."""
    trigger = ctx.triggered_id
    if trigger == "admin-create-user":
        def work(identity):
            user, made = actions.create_user(identity, new_email, new_role, new_password)
            return view.password_once(user.email, f"Created {role_label(user.role)} user", made)
    elif trigger == "admin-invite-user":
        def work(identity):
            user, link = actions.invite_user(identity, new_email, new_role)
            return view.link_once(user.email, f"Invited {role_label(user.role)} user", link)
    elif trigger == "admin-new-link":
        def work(identity):
            user, link = actions.new_link(identity, email)
            return view.link_once(user.email, "New password link for", link)
    elif trigger == "admin-reset-password":
        def work(identity):
            user, made = actions.reset_password(identity, email, password)
            return view.password_once(user.email, "New password set for", made)
    elif trigger == "admin-change-role":
        def work(identity):
            user = actions.change_role(identity, email, role)
            return ui.alert(f"{user.email} is now {role_label(user.role)}; "
                            "their sessions have ended.", "success", alert_id="admin-user-done")
    elif trigger in ("admin-deactivate-confirm", "admin-reactivate"):
        active = trigger == "admin-reactivate"

        def work(identity):
            user = actions.set_active(identity, email, active)
            what = ("reactivated: they can log in again" if active
                    else "deactivated; their sessions have ended")
            return ui.alert(f"{user.email} {what}.", "success", alert_id="admin-user-done")
    else:
        return no_update, no_update, no_update, no_update, no_update
    identity = current_identity()
    try:
        shown = work(identity)
        db.session.commit()
    except LiftoffError as error:
        return _refused(error, identity), no_update, no_update, no_update, no_update
    # A typed password does not stay in the form; the form is ready for the next new user.
    created = trigger in ("admin-create-user", "admin-invite-user")
    return shown, (version or 0) + 1, "", "", "" if created else no_update


@callback(
    Output("admin-tokens-message", "children"), Output("admin-version", "data", allow_duplicate=True),
    Output("admin-token-name", "value"),
    Input("admin-create-token", "n_clicks"), Input("admin-revoke-confirm", "n_clicks"),
    State("admin-token-name", "value"), State("admin-token-kind", "value"),
    State("admin-token-env", "value"),
    State("admin-token-pick", "value"), State("admin-version", "data"),
    prevent_initial_call=True,
)
def change_tokens(_create, _revoke, name, kind, environment, token_id, version):
    """Create a token (its secret is in this one response, nowhere else) or revoke one."""
    trigger = ctx.triggered_id
    if trigger == "admin-create-token":
        def work(identity):
            token, secret = actions.create_token(identity, kind, environment, name)
            return view.secret_once(token.name, secret)
    elif trigger == "admin-revoke-confirm":
        def work(identity):
            token = actions.revoke_token(identity, token_id)
            return ui.alert(f"Token #{token.id} '{token.name}' revoked.", "success",
                            alert_id="admin-token-revoked")
    else:
        return no_update, no_update, no_update
    identity = current_identity()
    try:
        shown = work(identity)
        db.session.commit()
    except LiftoffError as error:
        return _refused(error, identity), no_update, no_update
    return shown, (version or 0) + 1, ""
