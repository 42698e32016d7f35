"""The enablement page's change-manager callbacks: attach a playbook, schedule a training, record
attendance. Each writes through a declared action (dashboards/enablement/actions.py), commits on
success, and lists every bad field under its form; a refused role gets the refusal, logged."""

from __future__ import annotations

import logging

from dash import Input, Output, State, callback, html, no_update

from app.db import db
from app.errors import LiftoffError
from app.security import NotAllowed, current_identity
from dashboards.enablement import data
from dashboards.enablement.actions import attach_playbook, record_attendance, schedule_training
from dashboards.people import picker
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import N_CLICKS, accepts, text, texts, whole

log = logging.getLogger(__name__)

accepts("playbook-choice", "value", text(120))
accepts("training-title", "value", text(200))
accepts("training-trainer", "value", text(200))
accepts("training-stage", "value", whole(0, 2**31 - 1))
accepts("training-day", "value", text(40))
accepts("training-time", "value", text(20))
accepts("training-duration", "value", whole())
accepts("training-format", "value", text(40))
accepts("attendance-session", "value", whole(1, 2**31 - 1))
accepts("attendance-completed", "value", texts(20, 5))
for _button in ("playbook-attach", "training-save", "attendance-save"):
    accepts(_button, "n_clicks", N_CLICKS)
TRAINEES = picker.chosen_state("training")
ATTENDEES = picker.chosen_state("attendance")


def _refused(error: LiftoffError, what: str, key, alert_id: str) -> html.Div:
    """The refusal under the form: the message, then each bad field."""
    db.session.rollback()
    if isinstance(error, NotAllowed):
        identity = current_identity()
        log.warning("refused %s on %s by %s", what, key, identity.name if identity else None)
    # The attendee rows are the picker's choices, not rows anyone numbered: the message names the person.
    lines = [error.message, *[f"{d.field}: {d.message}" for d in error.details]]
    return ui.alert([html.Div(lines[0], className="lo-strong"), *[html.Div(line) for line in lines[1:]]],
                    "danger", alert_id=alert_id)


@callback(
    Output("playbook-form-message", "children"),
    Output("enablement-message", "children", allow_duplicate=True),
    Output("enablement-version", "data", allow_duplicate=True),
    Input("playbook-attach", "n_clicks"),
    State("enablement-feature", "data"),
    State("playbook-choice", "value"),
    State("enablement-version", "data"),
    prevent_initial_call=True,
)
def attach(clicks, key, playbook_key, version):
    """Attach the chosen playbook through the same service as the API's attach."""
    if not clicks:
        return no_update, no_update, no_update
    try:
        run = attach_playbook(key, current_identity(), playbook_key)
        db.session.commit()
    except LiftoffError as error:
        return _refused(error, "playbook attach", key, "playbook-error"), no_update, no_update
    # The version bump re-renders the playbook card (and its form): say so at the top of the page.
    done = ui.alert(f"Playbook {run.playbook_key} attached to {key}.", "success", alert_id="playbook-done")
    return no_update, done, (version or 0) + 1


@callback(
    Output("training-form-message", "children"),
    Output("enablement-version", "data", allow_duplicate=True),
    Output("training-title", "value"),
    picker.chosen_output("training"),
    Input("training-save", "n_clicks"),
    State("enablement-feature", "data"),
    State("training-title", "value"),
    State("training-trainer", "value"),
    State("training-stage", "value"),
    State("training-day", "value"),
    State("training-time", "value"),
    State("training-duration", "value"),
    State("training-format", "value"),
    TRAINEES,
    State("enablement-version", "data"),
    prevent_initial_call=True,
)
def schedule(clicks, key, title, trainer, stage, day, clock, duration, fmt, trainees, version):
    """Schedule a training for a stage at a date and time, with its attendees so far."""
    if not clicks:
        return no_update, no_update, no_update, no_update
    form = {"stage": stage, "title": title, "trainer": trainer, "day": day, "time": clock,
            "duration_minutes": duration, "format": fmt, "attendees": picker.chosen_ids(trainees)}
    try:
        session = schedule_training(key, current_identity(), form)
        db.session.commit()
    except LiftoffError as error:
        return _refused(error, "training", key, "training-error"), no_update, no_update, no_update
    when = session.held_on.isoformat() + (f" {session.starts_at:%H:%M} UTC" if session.starts_at else "")
    done = ui.alert(f"Training “{session.title}” scheduled for {when} (stage {session.stage_position}, "
                    f"{len(session.attendance)} attendees).", "success", alert_id="training-done")
    return done, (version or 0) + 1, "", []


@callback(
    Output("attendance-session", "options"),
    Input("enablement-version", "data"),
    State("enablement-feature", "data"),
    prevent_initial_call=True,
)
def refresh_sessions(_version, key):
    """Offer the sessions as they are now (a training just scheduled among them)."""
    try:
        return data.session_options(key)
    except LiftoffError:
        return no_update


@callback(
    Output("attendance-form-message", "children"),
    Output("enablement-version", "data", allow_duplicate=True),
    picker.chosen_output("attendance"),
    Input("attendance-save", "n_clicks"),
    State("enablement-feature", "data"),
    State("attendance-session", "value"),
    ATTENDEES,
    State("attendance-completed", "value"),
    State("enablement-version", "data"),
    prevent_initial_call=True,
)
def attend(clicks, key, session_id, attendees, completed, version):
    """Record who attended the chosen session (each must be in its stage's audience)."""
    if not clicks:
        return no_update, no_update, no_update
    chosen = picker.chosen_ids(attendees)
    try:
        session = record_attendance(session_id, current_identity(), chosen, "completed" in (completed or []))
        db.session.commit()
    except LiftoffError as error:
        return _refused(error, "attendance", key, "attendance-error"), no_update, no_update
    done = ui.alert(f"Attendance of {len(chosen)} recorded for “{session.title}”; "
                    f"{len(session.attendance)} attendees in all.", "success", alert_id="attendance-done")
    return done, (version or 0) + 1, []
