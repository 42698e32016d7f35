"""Compare variants: for product teams choosing which model, prompt or vendor to run for everyone.
Assignment and sample-ratio check, each variant against a control with 95 % intervals, trends per
variant with rollout and weight changes marked, cost per task, the decision, and a promote button
(with a confirm dialog) for the roles the permission matrix allows."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import dash
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from app.db import db
from app.errors import LiftoffError
from app.security import current_identity
from dashboards.kpi import data as kpi_data
from dashboards.kpi import periods as kpi_time
from dashboards.kpi import view as kv
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import (
    COUNTER,
    FEATURE_KEY,
    N_CLICKS,
    PAGE_FEATURE,
    SEARCH,
    accepts,
    calendar_month,
    is_month,
    record,
    text,
    texts,
)
from dashboards.variants import actions, define
from dashboards.variants import data as variant_data
from dashboards.variants import view as vv

log = logging.getLogger(__name__)
DIALOG_CLOSED, DIALOG_OPEN = ui.DIALOG_CLOSED, ui.DIALOG_OPEN


def layout(feature: str | None = None, month: str | None = None, **_query) -> html.Div:
    options = variant_data.feature_options()
    keys = {o["value"] for o in options}
    key = feature if feature in keys else (None if feature else (options[0]["value"] if options else None))
    refusal = kpi_time.month_refusal(month)
    chosen = month if is_month(month) and refusal is None else kpi_data.default_month()
    months = [{"label": m, "value": m} for m in kpi_data.month_options()]
    if chosen not in {m["value"] for m in months}:
        months.insert(0, {"label": chosen, "value": chosen})
    head = html.Div(
        [
            html.Div(
                [
                    html.H1("Compare variants"),
                    html.P(
                        "Which model, prompt or vendor should everyone get? Each variant against a "
                        "control on adoption, errors, time saved and cost.",
                        className="lo-lede",
                    ),
                ]
            ),
            html.Div(
                [
                    kv.picker("variants-feature-picker", options, key, "Pick a feature", "Feature"),
                    kv.picker("variants-month-picker", months, chosen, "Pick a month", "Month"),
                ],
                className="lo-kpi-controls",
            ),
        ],
        className="lo-page-head",
    )
    parts = [
        dcc.Location(id="variants-location", refresh="callback-nav"),
        # Bumped by a save or a promotion to re-read the figures and the form (on every layout, since
        # the form is on every layout).
        dcc.Store(id="variants-version", data=0),
        dcc.Store(id="variants-define-month", data=chosen),
        head,
    ]
    if refusal:
        parts.append(
            ui.alert(f"{refusal} Showing {chosen} instead.", "danger", alert_id="variants-bad-month")
        )
    if not options:
        parts.append(
            ui.empty_state(
                "No feature has variants yet.",
                "Give a feature its variants with the form below: name, weight and payload of each.",
                state_id="variants-empty",
            )
        )
    elif key is None:
        parts.append(
            ui.empty_state(
                "No feature chosen.",
                f"“{feature}” has no variants. Pick one above, or give it variants below.",
                state_id="variants-empty",
            )
        )
    else:
        parts += [
            dcc.Store(id="variants-query", data={"feature": key, "month": chosen}),
            html.Div(id="variants-message"),
            kv.loading("variants-body"),
            kv.loading("variants-weeks"),
            _promote_dialog(),
        ]
    parts.append(html.Div(define.form(key or feature, current_identity()), className="lo-section"))
    return html.Div(parts)


def _promote_dialog() -> html.Div:
    return ui.confirm_dialog(
        "variants",
        [
            html.H2("Promote this variant?", className="lo-card-title"),
            html.P(id="variants-dialog-text"),
            ui.field(
                "Reason (required, kept in the audit trail)",
                dcc.Textarea(id="variants-reason", className="lo-input", value=""),
            ),
            # The promotion binds to the stage gate's criteria for this variant; going on although
            # one fails is an audited override, never a silent one.
            dcc.Checklist(id="variants-override", className="lo-check", value=[], options=[
                {"label": " Promote even if the stage's criteria for this variant fail "
                          "(recorded as an override with the reason)", "value": "override"}]),
        ],
        "Promote",
    )


dash.register_page(
    __name__, path="/variants", name="Variants", title="Compare variants · Liftoff", order=4, layout=layout
)

accepts("variants-feature-picker", "value", FEATURE_KEY)
accepts("variants-month-picker", "value", calendar_month(optional=True))
accepts("variants-location", "search", SEARCH)
accepts("variants-query", "data", record(feature=PAGE_FEATURE, month=calendar_month()))
accepts("variants-version", "data", COUNTER)
accepts("variants-promote-choice", "value", text(100))
accepts("variants-reason", "value", text(2000))
accepts("variants-override", "value", texts(20, 1))
for _button in ("variants-promote", "variants-cancel", "variants-confirm"):
    accepts(_button, "n_clicks", N_CLICKS)


@callback(
    Output("variants-location", "search"),
    Input("variants-feature-picker", "value"),
    Input("variants-month-picker", "value"),
    State("variants-location", "search"),
    prevent_initial_call=True,
)
def pick(feature, month, search):
    """Keep feature and month in the URL (a deep link)."""
    wanted = "?" + urlencode({k: v for k, v in (("feature", feature), ("month", month)) if v})
    return wanted if wanted != search else no_update


def _promote_card(comparison: dict) -> html.Section | None:
    if not actions.may_promote_variants(current_identity()):
        return None
    names = [v["variant"] for v in comparison["variants"]]
    winner = comparison["decision"]["winner"]
    return ui.card(
        "Promote a variant",
        [
            html.P(
                "Promoting gives the variant weight 100 %: every exposed person gets it from now on. "
                "Audited with your reason.",
                className="lo-muted",
            ),
            html.Div(
                [
                    kv.picker(
                        "variants-promote-choice",
                        names,
                        winner or names[0],
                        "Pick a variant",
                        "Variant to promote",
                    ),
                    html.Button(
                        "Promote…", id="variants-promote", className="lo-btn lo-btn-primary", n_clicks=0
                    ),
                ],
                className="lo-kpi-controls",
            ),
        ],
        card_id="variants-promote-card",
    )


@callback(
    Output("variants-body", "children"), Input("variants-query", "data"), Input("variants-version", "data")
)
def render_variants(query, _version):
    """Assignment and SRM, the comparison with intervals, cost per task, the decision."""
    try:
        comparison = variant_data.comparison(query["feature"], query["month"], None)
    except LiftoffError as error:
        return ui.alert(error.message, "danger")
    parts = [
        ui.card(
            f"Each variant, {comparison['start']} to {comparison['end']}",
            vv.figures_table(comparison),
            card_id="variants-figures-card",
        ),
        ui.card(
            f"Difference from the control ({comparison['control']}), 95 % interval",
            [
                vv.differences_table(comparison),
                html.P(
                    "Newcombe intervals for adoption and error rate, Welch for the means. “excludes 0”: "
                    "a clear difference.",
                    className="lo-muted",
                ),
            ],
            card_id="variants-differences-card",
        ),
        html.Div(
            [
                ui.card("Decision", vv.decision(comparison), card_id="variants-decision-card"),
                ui.card(
                    "Assignment and sample ratio", vv.sample_ratio(comparison), card_id="variants-srm-card"
                ),
            ],
            className="lo-grid-2",
        ),
        ui.card("Cost per AI task", kv.graph("variants-cost", vv.cost_figure(comparison), 240)),
    ]
    promote = _promote_card(comparison)
    if promote is not None:
        parts.append(promote)
    return parts


@callback(
    Output("variants-weeks", "children"), Input("variants-query", "data"), Input("variants-version", "data")
)
def render_variant_weeks(query, _version):
    """AI tasks and error rate per variant and week, rollout and weight changes marked."""
    try:
        weekly = variant_data.weekly(query["feature"], query["month"])
        marks = variant_data.marks(query["feature"])
    except LiftoffError as error:
        return ui.alert(error.message, "danger")
    if weekly.empty:
        return ui.empty_state(
            "No AI tasks in the 8 weeks up to this month.",
            "Pick another month.",
            state_id="variants-no-weeks",
        )
    return html.Div(
        [
            ui.card(
                "AI tasks per week, per variant",
                kv.graph(
                    "variants-tasks-trend", vv.trend_figure(weekly, "ai_tasks", "AI tasks", ",d", marks)
                ),
            ),
            ui.card(
                "Error rate per week, per variant",
                kv.graph(
                    "variants-error-trend", vv.trend_figure(weekly, "error_rate", "error rate", ".0%", marks)
                ),
            ),
        ],
        className="lo-grid-2",
    )


@callback(
    Output("variants-dialog", "className"),
    Output("variants-dialog-text", "children"),
    Input("variants-promote", "n_clicks"),
    Input("variants-cancel", "n_clicks"),
    State("variants-promote-choice", "value"),
    State("variants-query", "data"),
    prevent_initial_call=True,
)
def review_promotion(clicks, _cancel, name, query):
    """Open the confirm dialog naming what changes (nothing written)."""
    if ctx.triggered_id != "variants-promote" or not clicks:
        return DIALOG_CLOSED, no_update
    return DIALOG_OPEN, (
        f"{name} will serve 100 % of the people exposed to {query['feature']}; the other "
        "variants drop to 0 %."
    )


@callback(
    Output("variants-message", "children"),
    Output("variants-dialog", "className", allow_duplicate=True),
    Output("variants-version", "data"),
    Input("variants-confirm", "n_clicks"),
    State("variants-promote-choice", "value"),
    State("variants-reason", "value"),
    State("variants-override", "value"),
    State("variants-query", "data"),
    State("variants-version", "data"),
    prevent_initial_call=True,
)
def confirm_promotion(clicks, name, reason, override, query, version):
    """Promote through the service; the role is checked again here."""
    if not clicks:
        return no_update, no_update, no_update
    identity = current_identity()
    try:
        actions.promote_variant(query["feature"], name, identity, reason, "override" in (override or []))
        db.session.commit()
    except LiftoffError as error:
        db.session.rollback()
        if isinstance(error, actions.NotAllowed):
            log.warning("refused a variant promotion by %s", identity.name if identity else None)
        lines = [error.message] + [d.message for d in error.details]
        return (
            ui.alert(html.Ul([html.Li(line) for line in lines]), "danger", alert_id="variants-error"),
            DIALOG_CLOSED,
            no_update,
        )
    done = ui.alert(
        f"{name} promoted: it now serves 100 % of the exposed people.", "success", alert_id="variants-done"
    )
    return done, DIALOG_CLOSED, (version or 0) + 1
