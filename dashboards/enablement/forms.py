"""The change manager's forms on the enablement page: attach a playbook, schedule a training, record
attendance. Shown only to those who may (the actions check again on the server)."""

from __future__ import annotations

from dash import dcc, html

from dashboards.people import picker
from dashboards.shell import components as ui


def attach_form(options: list[dict], current: str | None) -> html.Div:
    """Choose a playbook of the playbooks folder and attach it (replacing the current one)."""
    return html.Div([
        html.Div([
            ui.field("Playbook to attach", dcc.Dropdown(
                id="playbook-choice", options=options, value=current, clearable=False,
                placeholder="Choose a playbook")),
            html.Div(html.Button("Attach playbook", id="playbook-attach", n_clicks=0,
                                 className="lo-btn lo-btn-primary"), className="lo-form-button"),
        ], className="lo-form-row"),
        html.Div(id="playbook-form-message", className="lo-form-message"),
    ], className="lo-form", id="playbook-form")


def training_form(stages: list[dict], current_stage: int | None) -> html.Div:
    """Schedule a session: what, who trains, for which stage, when (date picker and time)."""
    return html.Div([
        html.H3("Schedule a training", className="lo-subhead"),
        html.Div([
            ui.field("Title", ui.text_input("training-title", "e.g. Pilot kick-off")),
            ui.field("Trainer", ui.text_input("training-trainer", "who gives it")),
            ui.field("Stage", dcc.Dropdown(id="training-stage", options=stages, clearable=False,
                                           value=current_stage or (stages[0]["value"] if stages else None))),
        ], className="lo-form-row"),
        html.Div([
            # The browser's own date picker: Dash 4's DatePickerSingle puts ARIA attributes on a plain
            # wrapper (axe: aria-allowed-attr).
            ui.field("Date", dcc.Input(id="training-day", type=ui.browser_input_type("date"), value="",
                                       className="lo-field")),
            ui.field("Time (UTC)", dcc.Input(id="training-time", type=ui.browser_input_type("time"), value="",
                                                    className="lo-field")),
            ui.field("Minutes", dcc.Input(id="training-duration", type="number", min=1, step=1,
                                          value=None, className="lo-field")),
            ui.field("Format", ui.text_input("training-format", "workshop, video…")),
        ], className="lo-form-row"),
        picker.people_picker("training", "Attendees (optional; people of the stage's audience)"),
        html.Div(id="training-form-message", className="lo-form-message"),
        html.Button("Schedule training", id="training-save", n_clicks=0, className="lo-btn lo-btn-primary"),
    ], className="lo-form", id="training-form")


def attendance_form(sessions: list[dict]) -> html.Div:
    """Record who attended a session, and whether they completed it."""
    return html.Div([
        html.H3("Record attendance", className="lo-subhead"),
        ui.field("Session", dcc.Dropdown(id="attendance-session", options=sessions, clearable=False,
                                         value=sessions[0]["value"] if sessions else None,
                                         placeholder="Schedule a session first")),
        picker.people_picker("attendance", "Who attended"),
        dcc.Checklist(id="attendance-completed", value=["completed"], className="lo-check",
                      options=[{"label": " They completed it", "value": "completed"}]),
        html.Div(id="attendance-form-message", className="lo-form-message"),
        html.Button("Record attendance", id="attendance-save", n_clicks=0, className="lo-btn lo-btn-primary"),
    ], className="lo-form", id="attendance-form")
