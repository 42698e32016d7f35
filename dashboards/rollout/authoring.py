"""The Portfolio's "New feature" form: a product team creates a feature and its stage plan without
the API. The form's body is the body of ``POST /api/v1/features`` and goes through the same service
and validation (dashboards/rollout/actions.create_feature); each message the service gives is
shown under the field it names. Shown to the roles that may create features; the server checks
the role again whatever the page showed."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from app.db import db
from app.errors import LiftoffError
from app.security import Identity, current_identity
from dashboards.rollout import stage_form
from dashboards.rollout.actions import NotAllowed, create_feature, may_create_features
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import N_CLICKS, accepts, text

log = logging.getLogger(__name__)

# The API's fields, their labels and their inputs (number inputs hand a number, or None).
FIELDS: list[tuple[str, str, ui.InputKind, str]] = [
    ("key", "Key (the flag name SDKs ask for)", "text", "e.g. meeting-notes"),
    ("name", "Name", "text", "e.g. Meeting notes"),
    ("baseline_days", "Baseline days", "number", "28"),
    ("estimated_minutes_saved", "Estimated minutes saved per task", "number", "0"),
    ("per_event_cost_eur", "Cost per task (EUR)", "number", "0"),
]
FIRST_STAGES = [{"name": "Champions", "cohorts": [], "percentage": 0}]


def _field(field: str, label: str, kind: ui.InputKind, placeholder: str) -> html.Div:
    control = dcc.Input(id=f"new-{field}", type=kind, value="" if kind == "text" else None,
                        placeholder=placeholder, className="lo-field",
                        **({"step": "any"} if kind == "number" else {"maxLength": 200}))
    return html.Div([html.Label(label, htmlFor=f"new-{field}"), control,
                     html.Div(id=f"new-{field}-error", className="lo-field-error")])


def panel(identity: Identity | None) -> html.Details | None:
    """The form, folded until opened; None for a role that may not create features."""
    if not may_create_features(identity):
        return None
    fields = [_field(*spec) for spec in FIELDS]
    description = html.Div([
        html.Label("Description", htmlFor="new-description"),
        dcc.Textarea(id="new-description", value="", className="lo-input", maxLength=10_000,
                     placeholder="What it does, for whom"),
        html.Div(id="new-description-error", className="lo-field-error")])
    return html.Details([
        html.Summary("New feature", className="lo-btn lo-btn-primary lo-summary", id="new-open"),
        html.Div([
            dcc.Location(id="new-location", refresh="callback-nav"),
            html.Div(fields[:2], className="lo-form-row"),
            description,
            html.Div(fields[2:], className="lo-form-row"),
            html.H3("Stage plan", className="lo-subhead"),
            html.P("Each stage adds its cohorts to the earlier ones and reaches its percentage of everyone "
                   "(sticky per person, as the SDKs bucket). The feature starts off; advance it on its "
                   "Rollout page.", className="lo-muted"),
            stage_form.rows("new", FIRST_STAGES, stage_form.cohort_options()),
            html.Div(id="new-stages-error", className="lo-field-error"),
            html.Div([html.Button("Create feature", id="new-create", className="lo-btn lo-btn-primary",
                                  n_clicks=0),
                      dcc.Link("Manage cohorts →", href=dash.get_relative_path("/people"),
                               className="lo-link")], className="lo-inline"),
            html.Div(id="new-message", className="lo-form-message"),
        ], className="lo-form", id="new-form"),
    ], id="new-feature", className="lo-new-feature")


ERROR_FIELDS = [field for field, *_ in FIELDS] + ["description"]
for _field_name, _label, _kind, _hint in FIELDS:
    accepts(f"new-{_field_name}", "value", text(200) if _kind == "text" else stage_form.number_value)
accepts("new-description", "value", text(10_000))
accepts("new-create", "n_clicks", N_CLICKS)
stage_form.declare("new")


def spec_of(values: dict, stages: list[dict]) -> dict:
    """The API body of the form: empty fields left out (the service's defaults apply)."""
    spec = {field: value for field, value in values.items()
            if value is not None and not (isinstance(value, str) and not value.strip())}
    return {**spec, "stages": stages}


@callback(
    Output("new-message", "children"), Output("new-location", "href"),
    [Output(f"new-{field}-error", "children") for field in ERROR_FIELDS],
    Output("new-stages-error", "children"),
    [Output(row, "children") for row in stage_form.error_outputs("new")],
    Input("new-create", "n_clicks"),
    [State(f"new-{field}", "value") for field in ERROR_FIELDS],
    [State(field, "value") for field in stage_form.states("new")],
    prevent_initial_call=True,
)
def create(clicks, *values):
    """Create the feature through the API's service; on success open its Rollout page."""
    blank = [""] * (len(ERROR_FIELDS) + 1 + stage_form.SLOTS)
    if not clicks:
        return no_update, no_update, *([no_update] * len(blank))
    head, rows = values[:len(ERROR_FIELDS)], values[len(ERROR_FIELDS):]
    stages, slots = stage_form.collect(list(rows))
    identity = current_identity()
    try:
        feature = create_feature(spec_of(dict(zip(ERROR_FIELDS, head, strict=True)), stages), identity)
        key = feature.key
        db.session.commit()
    except LiftoffError as error:
        db.session.rollback()
        if isinstance(error, NotAllowed):
            log.warning("refused feature creation by %s", identity.name if identity else None)
            return ui.alert(error.message, "danger", alert_id="new-error"), no_update, *blank
        by_field = {}
        for detail in error.details:
            by_field.setdefault(detail.field, []).append(detail.message)
        fields = ["; ".join(by_field.get(field, [])) for field in ERROR_FIELDS]
        plan = "; ".join(by_field.get("stages", []))
        named = ", ".join(dict.fromkeys(d.field for d in error.details))
        message = ui.alert(f"{error.message}: nothing was created (see {named})." if named else error.message,
                           "danger", alert_id="new-error")
        return message, no_update, *fields, plan, *stage_form.row_errors(error.details, slots)
    href = dash.get_relative_path("/rollout") + "?" + urlencode({"feature": key})
    return ui.alert(f"Created {key}.", "success", alert_id="new-done"), href, *blank
