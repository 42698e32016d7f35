"""Review: reviewers label samples of a feature's AI outputs (correct, corrected with the fix, wrong,
not assessable, with a category), see the reviewed error rate with its interval and the agreement
between reviewers, and export the corrections as a versioned dataset (docs/review.md)."""

from __future__ import annotations

import logging

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from app.db import db
from app.errors import LiftoffError
from app.models import EVENT_TEXT_MAX, LABELS
from app.models.review import CATEGORY_MAX, DATASET_KEY_MAX
from app.security import current_identity
from app.services.review import labels as review_labels
from dashboards.review import actions, data, view
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import COUNTER, FEATURE_KEY, N_CLICKS, accepts, text, whole

log = logging.getLogger(__name__)
HIDDEN = {"display": "none"}  # the verdict form while there is nothing to label
LABEL_NAMES = {"correct": "Correct", "corrected": "Corrected (write the fix)", "wrong": "Wrong",
               "not_assessable": "Not assessable"}


def _refusal(error: LiftoffError, alert_id: str) -> html.Div:
    lines = [error.message] + [f"{d.field}: {d.message}" for d in error.details]
    return ui.alert(html.Ul([html.Li(line) for line in lines]), "danger", alert_id=alert_id)


def _labelling() -> html.Section:
    verdict = html.Div([
        html.Fieldset([
            html.Legend("Your verdict"),
            dcc.RadioItems(id="review-label", options=[{"label": LABEL_NAMES[k], "value": k} for k in LABELS],
                           value=None, className="lo-radios", labelClassName="lo-radio"),
        ], className="lo-fieldset"),
        ui.field("Category (required for corrected and wrong, e.g. facts, tone, format)",
                 ui.text_input("review-category")),
        ui.field("The fixed version (corrected only)",
                 dcc.Textarea(id="review-fix", className="lo-input", value="")),
        html.Button("Save label", id="review-save", className="lo-btn lo-btn-primary", n_clicks=0),
    ], id="review-verdict", className="lo-stack", style=HIDDEN)
    form = html.Div([html.Div(id="review-item"), dcc.Store(id="review-item-id", data=None), verdict,
                     html.Div(id="review-save-message")], className="lo-stack")
    return ui.card("Label the next output", form, card_id="review-label-card")


def _drawing() -> html.Section:
    form = html.Div([
        html.P("A random sample of the feature's AI outputs at its current stage, stratified by "
               "department; a share of it goes to a second reviewer too (the playbook sets both).",
               className="lo-muted"),
        ui.field("Sample size (empty: the playbook's)",
                 dcc.Input(id="review-size", type="number", min=1, max=10_000, step=1, className="lo-field")),
        html.Button("Draw a sample", id="review-draw", className="lo-btn lo-btn-primary", n_clicks=0),
        html.Div(id="review-draw-message"),
    ])
    return ui.card("New sample", form, card_id="review-draw-card")


def _exporting() -> html.Section:
    form = html.Div([
        html.P("Self-reported corrections and the outputs reviewers labelled corrected or wrong. Each "
               "export is a new, recorded version of the dataset.", className="lo-muted"),
        ui.field("Dataset name", ui.text_input("review-dataset", "e.g. quotes-corrections")),
        ui.field("Only this category (empty: all)", ui.text_input("review-export-category")),
        dcc.RadioItems(id="review-format", options=[{"label": "JSONL", "value": "jsonl"},
                                                    {"label": "CSV", "value": "csv"}],
                       value="jsonl", inline=True, className="lo-radios", labelClassName="lo-radio"),
        html.Button("Export dataset", id="review-export", className="lo-btn lo-btn-primary", n_clicks=0),
        dcc.Download(id="review-download"),
        html.Div(id="review-export-message"),
    ])
    return ui.card("Export corrections", form, card_id="review-export-card")


def layout(feature: str | None = None, **_query) -> html.Div:
    identity = current_identity()
    options = data.feature_options()
    keys = [o["value"] for o in options]
    chosen = feature if feature in keys else (keys[0] if keys else None)
    head = html.Div([html.Div([
        html.H1("Review"),
        html.P("People check what the AI produced; their verdicts become a quality figure and a dataset.",
               className="lo-lede"),
    ])], className="lo-page-head")
    picker = html.Div([
        ui.field("Feature", dcc.Dropdown(id="review-feature", options=options, value=chosen,
                                         clearable=False, className="lo-picker")),
        ui.field("Sample", dcc.Dropdown(id="review-sample", options=[], value=None, className="lo-picker",
                                        placeholder="Pick a sample, or draw one")),
    ], className="lo-kpi-controls")
    parts = [head, dcc.Store(id="review-version", data=0), picker,
             html.Div(id="review-figures")]
    if actions.may_review(identity):
        parts += [html.Div([_labelling(), _drawing()], className="lo-grid-2")]
    else:
        parts.append(ui.alert("Reviewers, change managers and admins label outputs; you see the figures.",
                              "info", alert_id="review-read-only"))
    if actions.may_export(identity):
        parts.append(_exporting())
    return html.Div(parts, className="lo-stack")


dash.register_page(__name__, path="/review", name="Review", title="Review · Liftoff", order=7, layout=layout)

accepts("review-feature", "value", FEATURE_KEY)
accepts("review-sample", "value", whole(1, 2**31 - 1))
accepts("review-version", "data", COUNTER)
accepts("review-size", "value", whole(1, 10_000))
accepts("review-item-id", "data", whole(1, 2**31 - 1))
accepts("review-label", "value", text(20))
accepts("review-category", "value", text(CATEGORY_MAX * 4))
accepts("review-fix", "value", text(EVENT_TEXT_MAX))
accepts("review-dataset", "value", text(DATASET_KEY_MAX * 2))
accepts("review-export-category", "value", text(CATEGORY_MAX * 4))
accepts("review-format", "value", text(5))
for _button in ("review-draw", "review-save", "review-export"):
    accepts(_button, "n_clicks", N_CLICKS)


@callback(Output("review-sample", "options"), Output("review-figures", "children"),
          Input("review-feature", "value"), Input("review-version", "data"))
def show_feature(feature, _version):
    """The feature's samples and its review figures."""
    if not feature:
        return [], ui.empty_state("No feature yet", "Create a feature first.", state_id="review-empty")
    try:
        quality = review_labels.reviewed_quality(feature)
    except LiftoffError as error:
        return [], ui.alert(error.message, "warning", alert_id="review-unknown-feature")
    return data.sample_options(feature), ui.card("Reviewed quality", view.figures(quality),
                                                 card_id="review-figures-card")


@callback(Output("review-item", "children"), Output("review-item-id", "data"),
          Output("review-verdict", "style"),
          Input("review-sample", "value"), Input("review-version", "data"))
def show_item(sample, _version):
    """The next output waiting for the logged-in reviewer."""
    identity = current_identity()
    if not sample or not actions.may_review(identity):
        return ui.empty_state("No sample picked", "Pick a sample above, or draw a new one.",
                              state_id="review-no-sample"), None, HIDDEN
    try:
        item, waiting = data.next_item(sample, identity.name)
    except LiftoffError as error:
        return ui.alert(error.message, "warning"), None, HIDDEN
    if item is None:
        return ui.empty_state("Nothing left for you in this sample",
                              "Draw another sample, or ask a second reviewer to check the shared items.",
                              state_id="review-done"), None, HIDDEN
    return view.item_card(item, waiting), item["id"], {}


@callback(Output("review-version", "data"), Output("review-sample", "value"),
          Output("review-sample", "options", allow_duplicate=True), Output("review-draw-message", "children"),
          Input("review-draw", "n_clicks"), State("review-feature", "value"), State("review-size", "value"),
          State("review-version", "data"), prevent_initial_call=True)
def draw(clicks, feature, size, version):
    """Draw a sample through the service; the role is checked again here."""
    if not clicks or not feature:
        return no_update, no_update, no_update, no_update
    try:
        sample = actions.draw_sample(feature, size, identity=current_identity())
        db.session.commit()
    except LiftoffError as error:
        db.session.rollback()
        return no_update, no_update, no_update, _refusal(error, "review-draw-error")
    # The options come with the value: a dropdown drops a value its options do not hold yet.
    drawn = ui.alert(f"Sample {sample.id}: {sample.size} output(s) to review.", "success",
                     alert_id="review-drawn")
    return (version or 0) + 1, sample.id, data.sample_options(feature), drawn


@callback(Output("review-version", "data", allow_duplicate=True),
          Output("review-save-message", "children"), Output("review-fix", "value"),
          Output("review-category", "value"), Output("review-label", "value"),
          Input("review-save", "n_clicks"), State("review-item-id", "data"), State("review-label", "value"),
          State("review-category", "value"), State("review-fix", "value"), State("review-version", "data"),
          prevent_initial_call=True)
def save_label(clicks, item_id, label, category, fix, version):
    """Label the shown item and move on to the next one."""
    if not clicks or not item_id:
        return no_update, no_update, no_update, no_update, no_update
    try:
        actions.label_item(item_id, label, category, fix, identity=current_identity())
        db.session.commit()
    except LiftoffError as error:
        db.session.rollback()
        return no_update, _refusal(error, "review-save-error"), no_update, no_update, no_update
    said = LABEL_NAMES[label].split(" (")[0].lower()
    saved = ui.alert(f"Saved: {said}.", "success", alert_id="review-saved")
    return (version or 0) + 1, saved, "", "", None


@callback(Output("review-download", "data"), Output("review-export-message", "children"),
          Input("review-export", "n_clicks"), State("review-feature", "value"),
          State("review-dataset", "value"), State("review-export-category", "value"),
          State("review-format", "value"), prevent_initial_call=True)
def export(clicks, feature, dataset, category, fmt):
    """A new recorded version of the dataset, downloaded as JSONL or CSV."""
    if not clicks or not feature:
        return no_update, no_update
    try:
        name, content, count = actions.export_dataset(dataset, feature, category, fmt or "jsonl",
                                                      identity=current_identity())
        db.session.commit()
    except LiftoffError as error:
        db.session.rollback()
        return no_update, _refusal(error, "review-export-error")
    return (dict(content=content, filename=name),
            ui.alert(f"{name}: {count} item(s), recorded.", "success", alert_id="review-exported"))
