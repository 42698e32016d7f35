"""The Rollout page's corrections panel: archive or unarchive the feature, edit the stages it has
not reached. Shown to the roles the permission matrix allows; each action asks for confirmation
and a reason, and the server checks the role again (dashboards/rollout/correction_actions.py)."""

from __future__ import annotations

import logging

import dash
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from app.db import db
from app.errors import LiftoffError
from app.security import Identity, current_identity
from dashboards.rollout import correction_actions as actions
from dashboards.rollout import stage_form
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import N_CLICKS, accepts, text

log = logging.getLogger(__name__)
DIALOG_CLOSED, DIALOG_OPEN = ui.DIALOG_CLOSED, ui.DIALOG_OPEN
TITLES = {
    "archive": "Archive: off for everyone, out of the portfolio (history and KPIs stay)",
    "unarchive": "Unarchive: back at the stage it had",
    "stages": "Save the stages not yet reached",
}
STAGES_HELP = ("The stages after the current one, in order: a name, the cohorts it adds and the percentage "
               "of everyone it reaches. Clear a row to drop a stage. Stages already reached cannot change.")


def shown_to(identity: Identity | None) -> bool:
    return actions.may_archive(identity) or actions.may_edit_stages(identity)


def panel(identity: Identity | None) -> html.Div:
    """The panel (its content is filled by ``fill_panel``) and its confirmation dialog."""
    archive = html.Button("Archive", id="correct-archive", className="lo-btn lo-btn-secondary", n_clicks=0,
                          disabled=not actions.may_archive(identity))
    editor = html.Div([
        html.H3("Stages not yet reached", className="lo-subhead"),
        html.P(STAGES_HELP, className="lo-muted"),
        html.Div(id="correct-editor"),
        html.Div(id="correct-stages-error", className="lo-field-error"),
        html.Div([html.Button("Save stages…", id="correct-save-stages", className="lo-btn lo-btn-secondary",
                              n_clicks=0, disabled=not actions.may_edit_stages(identity)),
                  dcc.Link("Manage cohorts →", href=dash.get_relative_path("/people"), className="lo-link")],
                 className="lo-inline"),
    ])
    dialog = ui.confirm_dialog("correct", [
            html.H2("Confirm", id="correct-dialog-title", className="lo-card-title"),
            html.Label("Reason (required, kept in the audit trail)", htmlFor="correct-reason"),
            dcc.Textarea(id="correct-reason", className="lo-input", value=""),
            html.Div(id="correct-dialog-error", className="lo-field-error"),
        ], "Confirm")
    return html.Div([
        dcc.Store(id="correct-pending"),
        ui.card("Corrections", [html.Div(archive, className="lo-actions"), editor], card_id="correct-panel"),
        dialog,
    ])


# What the components hold (checked before any callback runs: dashboards/shell/callback_inputs.py).
accepts("correct-pending", "data", text(20))
accepts("correct-reason", "value", text(2000))
stage_form.declare("correct")
for _button in ("correct-archive", "correct-save-stages", "correct-cancel", "correct-confirm"):
    accepts(_button, "n_clicks", N_CLICKS)


@callback(Output("correct-archive", "children"), Output("correct-editor", "children"),
          Input("rollout-version", "data"), Input("rollout-feature", "data"))
def fill_panel(_version, key):
    """The archive button says what it will do; the editor holds the stages not yet reached, after
    the reached ones named (read only)."""
    try:
        state = actions.plan_state(key)
    except LiftoffError:
        return no_update, ""
    editable = actions.may_edit_stages(current_identity())
    reached = (html.P("Reached (fixed): " + " → ".join(state["reached"]), className="lo-muted",
                      id="correct-reached") if state["reached"] else None)
    rows = stage_form.rows("correct", state["future"], stage_form.cohort_options(), disabled=not editable)
    return ("Unarchive" if state["archived"] else "Archive"), [reached, rows]


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
    Output("correct-stages-error", "children"),
    [Output(row, "children") for row in stage_form.error_outputs("correct")],
    Input("correct-confirm", "n_clicks"),
    State("correct-pending", "data"), State("correct-reason", "value"),
    State("rollout-feature", "data"), State("rollout-version", "data"),
    [State(field, "value") for field in stage_form.states("correct")],
    prevent_initial_call=True,
)
def confirm_correction(clicks, action, reason, key, version, *rows):
    """Run the confirmed correction through its service; the role is checked again here. A stage
    the service refuses has its message under its row."""
    unchanged = [no_update] * (stage_form.SLOTS + 1)
    if not clicks or action not in TITLES:
        return no_update, no_update, no_update, no_update, *unchanged
    if not (reason or "").strip():
        return no_update, no_update, DIALOG_OPEN, "Give a reason: it is kept in the audit trail.", *unchanged
    identity = current_identity()
    stages, slots = stage_form.collect(list(rows)) if rows else ([], [])
    cleared = [""] * (stage_form.SLOTS + 1)
    first_row = 0  # the plan index of the form's first row: after the stages reached
    try:
        if action == "stages":
            first_row = actions.plan_state(key)["current"]
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
        alert = ui.alert(message, "danger", alert_id="correct-error")
        if action != "stages" or isinstance(error, actions.NotAllowed):
            return alert, (version or 0) + 1, DIALOG_CLOSED, "", *cleared
        # Keep what was typed (no re-read of the plan), with each message beside its field.
        plan = "; ".join(d.message for d in error.details if d.field == "stages")
        return (alert, no_update, DIALOG_CLOSED, "", plan,
                *stage_form.row_errors(error.details, slots, first_row))
    return ui.alert(done, "success", alert_id="correct-done"), (version or 0) + 1, DIALOG_CLOSED, "", *cleared
