"""Enablement: a feature's playbook stage, training, feedback and its triage, action items, and the
stage gate with the drift verdict. Change managers and admins record; product and admins promote."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from app.db import db
from app.errors import LiftoffError
from app.security import current_identity
from dashboards.enablement import (
    data,
    forms,
    pulse,
    records,  # noqa: F401  (the change manager's callbacks register)
    view,
)
from dashboards.enablement.actions import (
    NotAllowed,
    add_action_item,
    complete_action_item,
    evaluate_gate_now,
    may_edit_enablement,
    may_evaluate_gates,
    may_promote,
    promote_with_gate,
    submit_feedback,
    triage_feedback,
)
from dashboards.people import picker
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import (
    COUNTER,
    FEATURE_KEY,
    N_CLICKS,
    PAGE_FEATURE,
    RECORD_ID,
    accepts,
    text,
    texts,
    whole,
)

log = logging.getLogger(__name__)
DIALOG_CLOSED, DIALOG_OPEN = ui.DIALOG_CLOSED, ui.DIALOG_OPEN


def _promote_dialog() -> html.Div:
    return ui.confirm_dialog(
        "promote",
        [
            html.H2("Promote with the gate result", className="lo-card-title"),
            html.P(
                "The gate is evaluated again now and attached to the transition. A failed gate "
                "promotes only with an override and a reason, which is audited.",
                className="lo-muted",
            ),
            html.Label("Reason", htmlFor="promote-reason"),
            dcc.Textarea(id="promote-reason", className="lo-input", value=""),
            dcc.Checklist(
                id="promote-override",
                options=[{"label": " Override a failed gate", "value": "override"}],
                value=[],
                className="lo-check",
            ),
            html.Div(id="promote-error", className="lo-field-error"),
        ],
        "Promote",
    )


def layout(feature: str | None = None, **_query) -> html.Div:
    identity = current_identity()
    options = data.enablement_feature_options()
    keys = {o["value"] for o in options}
    feature = feature or data.default_enablement_feature()  # never open on an empty page
    head = html.Div(
        [
            html.Div(
                [
                    html.H1("Enablement"),
                    html.P(
                        "Playbook, training, feedback and the stage gate of one feature.", className="lo-lede"
                    ),
                ]
            ),
            dcc.Dropdown(
                id="enablement-feature-picker",
                options=options,
                clearable=False,
                value=feature if feature in keys else None,
                placeholder="Pick a feature",
                className="lo-picker",
            ),
        ],
        className="lo-page-head",
    )
    parts = [dcc.Location(id="enablement-location", refresh="callback-nav"), head]
    if not options:
        parts.append(
            ui.empty_state(
                "No features yet.",
                "Create one with POST /api/v1/features, or run `liftoff seed` for the demo company.",
                state_id="enablement-empty",
            )
        )
        return html.Div(parts)
    if feature is None or feature not in keys:
        message = (f"There is no feature “{feature}”. " if feature else "") + "Pick a feature above."
        parts.append(ui.empty_state("No feature chosen.", message, state_id="enablement-empty"))
        return html.Div(parts)
    editable = may_edit_enablement(identity)
    parts += [
        dcc.Store(id="enablement-feature", data=feature),
        dcc.Store(id="enablement-version", data=0),
        html.Div(id="enablement-message"),
    ]
    if not editable:
        parts.append(
            ui.alert(
                "Read only: change managers and admins record feedback and action items.",
                "info",
                alert_id="enablement-read-only",
            )
        )
    if may_promote(identity):
        parts.append(_promote_dialog())
    feedback = [view.feedback_form()] if editable else []
    actions = [view.action_form()] if editable else []
    parts += [
        dcc.Loading(html.Div(id="enablement-playbook"), type="dot", delay_show=150),
        html.Div(
            [
                dcc.Loading(html.Div(id="enablement-gate"), type="dot", delay_show=150),
                dcc.Loading(html.Div(id="enablement-trainings"), type="dot", delay_show=150),
            ],
            className="lo-grid-2 lo-section",
        ),
    ]
    if editable:
        stages = data.stage_options(feature)
        current = next((o["value"] for o in stages if o["label"].endswith("(now)")), None)
        parts.append(html.Div(ui.card("Trainings and attendance", html.Div(
            [forms.training_form(stages, current), forms.attendance_form(data.session_options(feature))],
            className="lo-grid-2"), card_id="training-forms-card"), className="lo-section"))
    parts += [
        html.Div(dcc.Loading(html.Div(id="enablement-pulse"), type="dot", delay_show=150),
                 className="lo-section"),
        html.Div(
            ui.card(
                "Feedback",
                [*feedback, view.feedback_controls(),
                 dcc.Loading(html.Div(id="enablement-feedback"), type="dot", delay_show=150),
                 html.Button(f"Show {view.FEEDBACK_PAGE} more", id="feedback-more", n_clicks=0, hidden=True,
                             className="lo-btn lo-btn-ghost")],
                card_id="feedback-card",
            ),
            className="lo-section",
        ),
        html.Div(
            ui.card("Action items", [*actions, html.Div(id="enablement-actions")], card_id="actions-card"),
            className="lo-section",
        ),
    ]
    return html.Div(parts)


dash.register_page(
    __name__, path="/enablement", name="Enablement", title="Enablement · Liftoff", order=5, layout=layout
)

# What the components hold (checked before any callback runs: dashboards/shell/callback_inputs.py). Texts are
# as long as the columns they are stored in; the services judge what the values mean.
OWNER = text(320)
accepts("enablement-feature-picker", "value", FEATURE_KEY)
accepts("enablement-feature", "data", PAGE_FEATURE)
accepts("enablement-version", "data", COUNTER)
FEEDBACK_PERSON = picker.chosen_state("feedback")
accepts("feedback-rating", "value", whole())  # any whole number: the form names one outside 1-5
accepts("feedback-category", "value", text(40))
accepts("feedback-severity", "value", text(20))
accepts("feedback-comment", "value", text(5000))
accepts({"type": "fb-triage", "id": ALL, "to": ALL}, "n_clicks", N_CLICKS,
        ids={"id": RECORD_ID, "to": text(20, optional=False)})
accepts({"type": "fb-owner", "id": ALL}, "value", OWNER, ids={"id": RECORD_ID})
accepts("action-title", "value", text(500))
accepts("action-owner", "value", OWNER)
accepts("action-due", "value", text(40))
accepts({"type": "action-done", "id": ALL}, "n_clicks", N_CLICKS, ids={"id": RECORD_ID})
accepts("promote-reason", "value", text(2000))
accepts("promote-override", "value", texts(20, 5))
accepts("feedback-scope", "value", text(10))
for _button in ("feedback-more", "feedback-submit", "action-add", "gate-evaluate", "gate-promote",
                "promote-cancel", "promote-confirm"):
    accepts(_button, "n_clicks", N_CLICKS)


def _refusal(error: LiftoffError) -> list:
    lines = data.error_lines(error)
    return [html.Div(lines[0], className="lo-strong"), *[html.Div(line) for line in lines[1:]]]


@callback(
    Output("enablement-location", "search"),
    Input("enablement-feature-picker", "value"),
    prevent_initial_call=True,
)
def pick_feature(key):
    """Put the chosen feature in the URL (a deep link)."""
    return "?" + urlencode({"feature": key}) if key else no_update


@callback(
    Output("enablement-playbook", "children"),
    Output("enablement-gate", "children"),
    Output("enablement-trainings", "children"),
    Output("enablement-actions", "children"),
    Output("enablement-pulse", "children"),
    Input("enablement-feature", "data"),
    Input("enablement-version", "data"),
)
def render_enablement(key, _version):
    """Every section of the page, re-read after each change."""
    identity = current_identity()
    editable = may_edit_enablement(identity)
    try:
        overview = data.enablement_overview(key)
        attach = (forms.attach_form(data.playbook_options(), (overview["playbook"] or {}).get("key"))
                  if editable else None)
        playbook = view.playbook_card(overview, data.stage_completion(key), attach)
        gate = view.gate_panel(
            data.latest_gate(key),
            data.latest_drift(key),
            may_evaluate_gates(identity),
            may_promote(identity) and overview["stage"] is not None,
        )
        trainings = view.trainings_card(data.training_sessions(key))
        actions = view.action_list(data.action_items(key), editable)
        pulse_card = pulse.pulse_card(*pulse.pulse_frames(key))
    except LiftoffError as error:
        return ui.alert(error.message, "danger"), None, None, None, None
    return playbook, gate, trainings, actions, pulse_card


@callback(
    Output("enablement-feedback", "children"),
    Output("feedback-more", "hidden"),
    Input("enablement-feature", "data"),
    Input("enablement-version", "data"),
    Input("feedback-scope", "value"),
    Input("feedback-more", "n_clicks"),
)
def render_feedback(key, _version, scope, more):
    """The feedback list: what still needs action (or everything), newest first, a page at a time;
    a large rollout collects hundreds of answers."""
    try:
        items = data.feedback_items(key, needs_action=scope != "all")
    except LiftoffError as error:
        return ui.alert(error.message, "danger"), True
    shown = view.FEEDBACK_PAGE * (1 + (more or 0))
    editable = may_edit_enablement(current_identity())
    return view.feedback_list(items, editable, key, shown), len(items) <= shown


def _done(message: str, version, alert_id: str = "enablement-done"):
    return ui.alert(message, "success", alert_id=alert_id), (version or 0) + 1


def _failed(error: LiftoffError, action: str, key, version):
    db.session.rollback()
    if isinstance(error, NotAllowed):
        identity = current_identity()
        log.warning("refused %s on %s by %s", action, key, identity.name if identity else None)
    # Re-read the page: someone else may have changed what it shows.
    return ui.alert(_refusal(error), "danger", alert_id="enablement-error"), (version or 0) + 1


@callback(
    Output("feedback-form-message", "children"),
    Output("enablement-version", "data", allow_duplicate=True),
    Output("feedback-comment", "value"),
    Input("feedback-submit", "n_clicks"),
    State("enablement-feature", "data"),
    FEEDBACK_PERSON,
    State("feedback-rating", "value"),
    State("feedback-category", "value"),
    State("feedback-severity", "value"),
    State("feedback-comment", "value"),
    State("enablement-version", "data"),
    prevent_initial_call=True,
)
def record_feedback(clicks, key, person, rating, category, severity, comment, version):
    """Record the form's feedback; every bad field is listed under the form."""
    if not clicks:
        return no_update, no_update, no_update
    form = {
        "person_id": next(iter(picker.chosen_ids(person)), None),
        "rating": rating,
        "category": category,
        "severity": severity,
        "comment": comment,
    }
    try:
        item = submit_feedback(key, current_identity(), form)
        db.session.commit()
    except LiftoffError as error:
        db.session.rollback()
        return ui.alert(_refusal(error), "danger", alert_id="feedback-error"), no_update, no_update
    return (
        ui.alert(
            f"Feedback #{item.id} recorded ({item.rating}/5, {item.category or 'no category'}).",
            "success",
            alert_id="feedback-done",
        ),
        (version or 0) + 1,
        "",
    )


@callback(
    Output("enablement-message", "children"),
    Output("enablement-version", "data", allow_duplicate=True),
    Input({"type": "fb-triage", "id": ALL, "to": ALL}, "n_clicks"),
    State({"type": "fb-owner", "id": ALL}, "value"),
    State({"type": "fb-owner", "id": ALL}, "id"),
    State("enablement-feature", "data"),
    State("enablement-version", "data"),
    prevent_initial_call=True,
)
def triage(clicks, owners, owner_ids, key, version):
    """Move one feedback item on, with the owner typed beside it."""
    trigger = ctx.triggered_id
    if not trigger or not any(clicks):
        return no_update, no_update
    owner = dict(zip([i["id"] for i in owner_ids], owners, strict=True)).get(trigger["id"])
    try:
        item = triage_feedback(trigger["id"], trigger["to"], owner, current_identity())
        db.session.commit()
    except LiftoffError as error:
        return _failed(error, "triage", key, version)
    return _done(f"Feedback #{item.id} is now {item.status} (owner {item.owner}).", version)


@callback(
    Output("action-form-message", "children"),
    Output("enablement-version", "data", allow_duplicate=True),
    Output("action-title", "value"),
    Input("action-add", "n_clicks"),
    State("enablement-feature", "data"),
    State("action-title", "value"),
    State("action-owner", "value"),
    State("action-due", "value"),
    State("enablement-version", "data"),
    prevent_initial_call=True,
)
def add_action(clicks, key, title, owner, due_on, version):
    """Add an action item with an owner and a due date."""
    if not clicks:
        return no_update, no_update, no_update
    try:
        item = add_action_item(key, current_identity(), title, owner, due_on)
        db.session.commit()
    except LiftoffError as error:
        db.session.rollback()
        return ui.alert(_refusal(error), "danger", alert_id="action-error"), no_update, no_update
    return (
        ui.alert(f"Action item “{item.title}” added.", "success", alert_id="action-done"),
        (version or 0) + 1,
        "",
    )


@callback(
    Output("enablement-message", "children", allow_duplicate=True),
    Output("enablement-version", "data", allow_duplicate=True),
    Input({"type": "action-done", "id": ALL}, "n_clicks"),
    State("enablement-feature", "data"),
    State("enablement-version", "data"),
    prevent_initial_call=True,
)
def finish_action(clicks, key, version):
    """Mark an action item done."""
    trigger = ctx.triggered_id
    if not trigger or not any(clicks):
        return no_update, no_update
    try:
        item = complete_action_item(trigger["id"], current_identity())
        db.session.commit()
    except LiftoffError as error:
        return _failed(error, "action item", key, version)
    return _done(f"Action item “{item.title}” is done.", version)


@callback(
    Output("enablement-message", "children", allow_duplicate=True),
    Output("enablement-version", "data", allow_duplicate=True),
    Input("gate-evaluate", "n_clicks"),
    State("enablement-feature", "data"),
    State("enablement-version", "data"),
    prevent_initial_call=True,
)
def evaluate(clicks, key, version):
    """Evaluate the current stage's gate now and store the result."""
    if not clicks:
        return no_update, no_update
    try:
        evaluation = evaluate_gate_now(key, current_identity())
        db.session.commit()
    except LiftoffError as error:
        return _failed(error, "gate evaluation", key, version)
    return _done(f"Gate evaluated: {'passed' if evaluation.passed else 'failed'}.", version, "gate-done")


@callback(
    Output("promote-dialog", "className"),
    Output("promote-error", "children"),
    Input("gate-promote", "n_clicks"),
    Input("promote-cancel", "n_clicks"),
    prevent_initial_call=True,
)
def open_promote(*_clicks):
    """Ask for a reason (and an override for a failed gate) before promoting."""
    if ctx.triggered_id == "promote-cancel" or not ctx.triggered or not ctx.triggered[0]["value"]:
        return DIALOG_CLOSED, ""
    return DIALOG_OPEN, ""


@callback(
    Output("enablement-message", "children", allow_duplicate=True),
    Output("enablement-version", "data", allow_duplicate=True),
    Output("promote-dialog", "className", allow_duplicate=True),
    Output("promote-error", "children", allow_duplicate=True),
    Input("promote-confirm", "n_clicks"),
    State("enablement-feature", "data"),
    State("promote-reason", "value"),
    State("promote-override", "value"),
    State("enablement-version", "data"),
    prevent_initial_call=True,
)
def promote(clicks, key, reason, override, version):
    """Promote through the gate service; a failed gate keeps the dialog open with its reasons."""
    if not clicks:
        return no_update, no_update, no_update, no_update
    try:
        feature, evaluation = promote_with_gate(
            key, current_identity(), reason, "override" in (override or [])
        )
        db.session.commit()
    except NotAllowed as error:
        message, new_version = _failed(error, "promotion", key, version)
        return message, new_version, DIALOG_CLOSED, ""
    except LiftoffError as error:
        db.session.rollback()
        return no_update, (version or 0) + 1, DIALOG_OPEN, _refusal(error)
    result = ("none to judge" if evaluation is None else
              "passed" if evaluation.passed else "failed (overridden)")
    message, new_version = _done(
        f"Promoted {feature.name} to stage {feature.current_stage} of {len(feature.stages)}; gate {result}.",
        version,
        "promote-done",
    )
    return message, new_version, DIALOG_CLOSED, ""
