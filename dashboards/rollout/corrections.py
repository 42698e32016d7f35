"""The Rollout page's corrections panel: archive or unarchive the feature, edit the stages it has
not reached. Shown to the roles the permission matrix allows; each action asks for confirmation
and a reason, and the server checks the role again (dashboards/rollout/correction_actions.py)."""

from __future__ import annotations

import logging

from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from app.db import db
from app.errors import LiftoffError
from app.security import Identity, current_identity
from dashboards.rollout import correction_actions as actions
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import N_CLICKS, accepts, text

log = logging.getLogger(__name__)
DIALOG_CLOSED, DIALOG_OPEN = "lo-dialog", "lo-dialog lo-dialog-open"
TITLES = {
    "archive": "Archive: off for everyone, out of the portfolio (history and KPIs stay)",
    "unarchive": "Unarchive: back at the stage it had",
    "stages": "Save the stages not yet reached",
}
STAGES_HELP = ('The stages after the current one, as JSON: [{"name": "pilot", "cohorts": ["sales"], '
               '"percentage": 0}, ...]. Stages already reached cannot change.')


def shown_to(identity: Identity | None) -> bool:
    return actions.may_archive(identity) or actions.may_edit_stages(identity)


def panel(identity: Identity | None) -> html.Div:
    """The panel (its content is filled by ``fill_panel``) and its confirmation dialog."""
    archive = html.Button("Archive", id="correct-archive", className="lo-btn lo-btn-secondary", n_clicks=0,
                          disabled=not actions.may_archive(identity))
    editor = html.Div([
        html.Label("Stages not yet reached", htmlFor="correct-stages"),
        html.P(STAGES_HELP, className="lo-muted"),
        dcc.Textarea(id="correct-stages", className="lo-input lo-mono", value=""),
        html.Button("Save stages…", id="correct-save-stages", className="lo-btn lo-btn-secondary", n_clicks=0,
                    disabled=not actions.may_edit_stages(identity)),
    ])
    dialog = html.Div(
        html.Div([
            html.H2("Confirm", id="correct-dialog-title", className="lo-card-title"),
            html.Label("Reason (required, kept in the audit trail)", htmlFor="correct-reason"),
            dcc.Textarea(id="correct-reason", className="lo-input", value=""),
            html.Div(id="correct-dialog-error", className="lo-field-error"),
            html.Div([
                html.Button("Cancel", id="correct-cancel", className="lo-btn lo-btn-ghost", n_clicks=0),
                html.Button("Confirm", id="correct-confirm", className="lo-btn lo-btn-primary", n_clicks=0),
            ], className="lo-dialog-buttons"),
        ], className="lo-dialog-box", role="dialog", **{"aria-modal": "true"}),
        id="correct-dialog", className=DIALOG_CLOSED,
    )
    return html.Div([
        dcc.Store(id="correct-pending"),
        ui.card("Corrections", [html.Div(archive, className="lo-actions"), editor], card_id="correct-panel"),
        dialog,
    ])


# What the components hold (checked before any callback runs: dashboards/shell/callback_inputs.py).
accepts("correct-pending", "data", text(20))
accepts("correct-reason", "value", text(2000))
accepts("correct-stages", "value", text(50_000))
for _button in ("correct-archive", "correct-save-stages", "correct-cancel", "correct-confirm"):
    accepts(_button, "n_clicks", N_CLICKS)


@callback(Output("correct-archive", "children"), Output("correct-stages", "value"),
          Input("rollout-version", "data"), Input("rollout-feature", "data"))
def fill_panel(_version, key):
    """The archive button says what it will do; the editor holds the stages not yet reached."""
    try:
        state = actions.plan_state(key)
    except LiftoffError:
        return no_update, ""
    return ("Unarchive" if state["archived"] else "Archive"), state["future"]


@callback(
    Output("correct-dialog", "className"), Output("correct-pending", "data"),
    Output("correct-dialog-title", "children"), Output("correct-reason", "value"),
    Output("correct-dialog-error", "children"),
    Input("correct-archive", "n_clicks"), Input("correct-save-stages", "n_clicks"),
    Input("correct-cancel", "n_clicks"), State("correct-archive", "children"),
    prevent_initial_call=True,
)
def open_correction(_archive, _stages, _cancel, archive_label):
    """Ask for confirmation and a reason before archiving or saving stages."""
    trigger = ctx.triggered_id
    if trigger == "correct-cancel" or not ctx.triggered or not ctx.triggered[0]["value"]:
        return DIALOG_CLOSED, None, no_update, no_update, ""
    action = "stages" if trigger == "correct-save-stages" else (
        "unarchive" if archive_label == "Unarchive" else "archive")
    return DIALOG_OPEN, action, TITLES[action], "", ""


accepts("correct-archive", "children", text(20))


@callback(
    Output("rollout-message", "children", allow_duplicate=True),
    Output("rollout-version", "data", allow_duplicate=True),
    Output("correct-dialog", "className", allow_duplicate=True),
    Output("correct-dialog-error", "children", allow_duplicate=True),
    Input("correct-confirm", "n_clicks"),
    State("correct-pending", "data"), State("correct-reason", "value"), State("correct-stages", "value"),
    State("rollout-feature", "data"), State("rollout-version", "data"),
    prevent_initial_call=True,
)
def confirm_correction(clicks, action, reason, stages, key, version):
    """Run the confirmed correction through its service; the role is checked again here."""
    if not clicks or action not in TITLES:
        return no_update, no_update, no_update, no_update
    if not (reason or "").strip():
        return no_update, no_update, DIALOG_OPEN, "Give a reason: it is kept in the audit trail."
    identity = current_identity()
    try:
        if action == "stages":
            feature = actions.save_future_stages(key, identity, reason, stages)
            done = f"Saved: {feature.name} has {len(feature.stages)} stages."
        else:
            feature = actions.set_archived(key, identity, reason, archived=action == "archive")
            done = f"{feature.name} is {'archived' if feature.archived_at else 'back at its stage'}."
        db.session.commit()
    except LiftoffError as error:
        db.session.rollback()
        if isinstance(error, actions.NotAllowed):
            log.warning("refused %s on %s by %s", action, key, identity.name if identity else None)
        details = "; ".join(f"{d.field}: {d.message}" for d in error.details)
        message = error.message + (f" ({details})" if details else "")
        return ui.alert(message, "danger", alert_id="correct-error"), (version or 0) + 1, DIALOG_CLOSED, ""
    return ui.alert(done, "success", alert_id="correct-done"), (version or 0) + 1, DIALOG_CLOSED, ""
