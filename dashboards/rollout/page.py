"""Rollout control: one feature's stages, history and audit; product and admin act on it."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import dash
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from app.db import db
from app.errors import LiftoffError
from app.security import current_identity
from app.services.rollout import impact
from app.services.rollout.gates import GateFailed
from dashboards.enablement import data as gates
from dashboards.rollout import corrections, data, view, who
from dashboards.rollout.actions import NotAllowed, may_change_rollouts, perform_rollout_action
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import (
    COUNTER,
    FEATURE_KEY,
    N_CLICKS,
    PAGE_FEATURE,
    accepts,
    text,
    texts,
)

log = logging.getLogger(__name__)

ACTION_LABELS = {
    "advance": ("Advance", "Advance to the next stage", "primary"),
    "rollback": ("Roll back", "Roll back one stage", "secondary"),
    "kill": ("Kill", "Kill: switch the feature off for everyone", "danger"),
    "resume": ("Resume", "Resume at the current stage", "secondary"),
}
DIALOG_CLOSED, DIALOG_OPEN = ui.DIALOG_CLOSED, ui.DIALOG_OPEN


def _actions_bar() -> html.Div:
    buttons = [
        html.Button(label, id=f"rollout-{action}", className=f"lo-btn lo-btn-{kind}", n_clicks=0)
        for action, (label, _title, kind) in ACTION_LABELS.items()
    ]
    return html.Div(buttons, className="lo-actions", id="rollout-actions")


def _dialog() -> html.Div:
    return ui.confirm_dialog("rollout", [
            html.H2("Confirm", id="rollout-dialog-title", className="lo-card-title"),
            # The effect in people (gain, lose, total), from the impact service, before confirming.
            html.P(id="rollout-dialog-effect", className="lo-strong lo-dialog-effect"),
            html.P("This changes who gets the feature now; SDKs pick it up at their next poll.",
                   className="lo-muted"),
            html.Label("Reason (required, kept in the audit trail)", htmlFor="rollout-reason"),
            dcc.Textarea(id="rollout-reason", className="lo-input", value="",
                         placeholder="e.g. gate passed: error rate at baseline for 2 weeks"),
            html.Div(id="rollout-dialog-error", className="lo-field-error"),
            # Shown once an advance was refused by its gate: going on anyway is an audited override.
            html.Div(dcc.Checklist(id="rollout-override", className="lo-check", value=[], options=[
                {"label": " Override the failed gate (audited with the reason above)",
                 "value": "override"}]), id="rollout-override-box", hidden=True),
        ], "Confirm")


def layout(feature: str | None = None, **_query) -> html.Div:
    identity = current_identity()
    options = data.feature_options()
    keys = {o["value"] for o in options}
    # No feature in the URL: open the one this browser viewed last (the "remember" callback reads
    # local storage and switches to it), else the first one; never on an empty page.
    defaulted = not feature and bool(options)
    if defaulted:
        feature = options[0]["value"]
    head = html.Div([
        html.Div([html.H1("Rollout control"),
                  html.P("Stages, audiences and history of one feature.", className="lo-lede")]),
        html.Div([
            html.Label("Feature", htmlFor="rollout-feature-picker", className="lo-kpi-label"),
            dcc.Dropdown(id="rollout-feature-picker", options=options,
                         value=feature if feature in keys else None,
                         clearable=False, placeholder="Pick a feature", className="lo-picker"),
        ], className="lo-kpi-picker"),
    ], className="lo-page-head")
    parts = [dcc.Location(id="rollout-location", refresh="callback-nav"), head]
    if not options:
        parts.append(ui.empty_state("No features yet.", "Create one with “New feature” on the Portfolio, or "
                                    "run `liftoff seed` for the demo company.", state_id="rollout-empty"))
        return html.Div(parts)
    if feature not in keys:
        message = (f"There is no feature “{feature}”. " if feature else "") + \
            "Pick a feature above, or open one from the Portfolio."
        parts.append(ui.empty_state("No such feature.", message, state_id="rollout-empty"))
        return html.Div(parts)
    parts += [dcc.Store(id="rollout-feature", data=feature), dcc.Store(id="rollout-version", data=0),
              dcc.Store(id="rollout-last", storage_type="local"),
              dcc.Store(id="rollout-defaulted", data=defaulted),
              dcc.Store(id="rollout-pending"), html.Div(id="rollout-message")]
    if may_change_rollouts(identity):
        parts += [_actions_bar(), _dialog()]
    else:
        parts.append(ui.alert("Read only: product and admin users change rollouts.", "info",
                              alert_id="rollout-read-only"))
    parts += [
        dcc.Loading(html.Div(id="rollout-body", className="lo-stack"), type="dot", delay_show=150),
        who.panel(),
        dcc.Loading(html.Div(id="rollout-sdks"), type="dot", delay_show=150),
    ]
    if corrections.shown_to(identity):
        parts.append(corrections.panel(identity))
    return html.Div(parts)


dash.register_page(__name__, path="/rollout", name="Rollout", title="Rollout · Liftoff", order=4,
                   layout=layout)

# What the components hold (checked before any callback runs: dashboards/shell/callback_inputs.py).
accepts("rollout-feature-picker", "value", FEATURE_KEY)
accepts("rollout-feature", "data", PAGE_FEATURE)
accepts("rollout-version", "data", COUNTER)
accepts("rollout-last", "data", FEATURE_KEY)  # the feature this browser viewed last (local storage)
accepts("rollout-defaulted", "data",
        lambda value: None if isinstance(value, bool) else ("", "must be true or false"))
accepts("rollout-pending", "data", text(20))  # the action asked for; None while none is
accepts("rollout-reason", "value", text(2000))
accepts("rollout-override", "value", texts(20, 5))
accepts("rollout-override-box", "hidden", lambda value: None if value is None or isinstance(value, bool)
        else ("", "must be true or false"))
for _button in [*(f"rollout-{action}" for action in ACTION_LABELS), "rollout-cancel", "rollout-confirm"]:
    accepts(_button, "n_clicks", N_CLICKS)


@callback(Output("rollout-location", "search"), Input("rollout-feature-picker", "value"),
          prevent_initial_call=True)
def pick_feature(key):
    """Put the chosen feature in the URL, so the page is a deep link."""
    return "?" + urlencode({"feature": key}) if key else no_update


@callback(Output("rollout-feature-picker", "value"), Output("rollout-last", "data"),
          Input("rollout-last", "data"), State("rollout-feature", "data"), State("rollout-defaulted", "data"))
def remember_feature(last, key, defaulted):
    """Remember the feature shown; when the URL named none, switch to the one viewed last."""
    if defaulted and last and last != key and last in {o["value"] for o in data.feature_options()}:
        return last, no_update  # the picker puts it in the URL; that page remembers it
    return no_update, (key if key != last else no_update)


@callback(Output("rollout-body", "children"), Input("rollout-feature", "data"),
          Input("rollout-version", "data"))
def render_rollout(key, _version):
    """The feature's state, its stage timeline, its history and its audit trail."""
    try:
        overview = data.rollout_overview(key)
    except LiftoffError as error:
        return ui.alert(error.message, "danger")
    body = view.rollout_body(overview, data.transitions(key), data.audit_entries(key))
    if overview["status"] in ("live", "complete"):  # only a started stage has a gate
        feature_query = "?" + urlencode({"feature": key})
        stages = overview["stages"]
        names = {int(p): n for p, n in zip(stages["position"], stages["name"], strict=True)}
        gate = view.gate_status(gates.latest_gate(key), gates.latest_drift(key)["verdict"],
                                dash.get_relative_path("/enablement") + feature_query, names)
        body.insert(2, gate)
    return body


@callback(Output("rollout-sdks", "children"), Input("rollout-version", "data"))
def render_sdks(_version):
    """The SDKs that fetch flags, and the fetches refused."""
    return view.sdk_panel(data.connected_sdks(), data.rejected_fetches())


@callback(
    [Output(f"rollout-{action}", "disabled") for action in ACTION_LABELS],
    Input("rollout-feature", "data"), Input("rollout-version", "data"),
)
def enable_actions(key, _version):
    """Offer only the actions that make sense in the feature's state (the service decides)."""
    try:
        position = data.rollout_position(key)
        archived = data.is_archived(key)
    except LiftoffError:
        return [True] * len(ACTION_LABELS)
    if archived:  # an archived feature refuses every transition
        return [True] * len(ACTION_LABELS)
    stage, n, killed = position["stage"], position["stage_count"], position["killed"]
    return [killed or stage >= n, killed or stage <= 0, killed or stage <= 0, not killed]


@callback(
    Output("rollout-dialog", "className"), Output("rollout-pending", "data"),
    Output("rollout-dialog-title", "children"), Output("rollout-reason", "value"),
    Output("rollout-dialog-error", "children"),
    Output("rollout-override-box", "hidden"), Output("rollout-override", "value"),
    Output("rollout-dialog-effect", "children"),
    [Input(f"rollout-{action}", "n_clicks") for action in ACTION_LABELS],
    Input("rollout-cancel", "n_clicks"), State("rollout-feature", "data"),
    prevent_initial_call=True,
)
def open_dialog(*args):
    """Ask for confirmation and a reason before any action (no override until a gate refuses),
    stating what it does in people: who gains it, who loses it, how many have it after."""
    key = args[-1]
    trigger = ctx.triggered_id
    if trigger == "rollout-cancel" or not ctx.triggered or not ctx.triggered[0]["value"]:
        return DIALOG_CLOSED, None, no_update, no_update, "", True, [], no_update
    action = trigger.removeprefix("rollout-")
    try:
        effect = impact.preview(key, action).sentence
    except LiftoffError as error:
        effect = error.message
    return DIALOG_OPEN, action, ACTION_LABELS[action][1], "", "", True, [], effect


@callback(Output("rollout-dialog-error", "children", allow_duplicate=True), Input("rollout-reason", "value"),
          State("rollout-override-box", "hidden"), prevent_initial_call=True)
def clear_reason_error(reason, override_hidden):
    """Typing a reason clears the request for one (a gate's failing criteria stay in view).
    An empty reason clears nothing: opening the dialog sets the reason to "" too, and that chained
    call may arrive after a quick click on Confirm has asked for a reason."""
    if not (reason or "").strip() or override_hidden is False:
        return no_update
    return ""


@callback(
    Output("rollout-message", "children"), Output("rollout-version", "data"),
    Output("rollout-dialog", "className", allow_duplicate=True),
    Output("rollout-dialog-error", "children", allow_duplicate=True),
    Output("rollout-override-box", "hidden", allow_duplicate=True),
    Input("rollout-confirm", "n_clicks"),
    State("rollout-pending", "data"), State("rollout-reason", "value"),
    State("rollout-feature", "data"), State("rollout-version", "data"), State("rollout-override", "value"),
    prevent_initial_call=True,
)
def confirm_action(clicks, action, reason, key, version, override):
    """Run the confirmed action through the rollout service; the role is re-checked here. An
    advance refused by its gate keeps the dialog open with the failing criteria and the override."""
    if not clicks:
        return no_update, no_update, no_update, no_update, no_update
    identity = current_identity()
    if not (reason or "").strip() and may_change_rollouts(identity):
        return no_update, no_update, DIALOG_OPEN, "Give a reason: it is kept in the audit trail.", no_update
    try:
        overriding = "override" in (override or [])
        feature = perform_rollout_action(action, key, identity, reason, override=overriding)
        db.session.commit()
    except NotAllowed as error:
        db.session.rollback()
        log.warning("refused rollout %s on %s by %s", action, key, identity.name if identity else None)
        return ui.alert(error.message, "danger", alert_id="rollout-error"), no_update, DIALOG_CLOSED, "", True
    except GateFailed as error:
        db.session.rollback()
        refusal = view.gate_refusal(error.message, [(d.field, d.message) for d in error.details])
        return no_update, (version or 0) + 1, DIALOG_OPEN, refusal, False
    except LiftoffError as error:
        db.session.rollback()
        details = "; ".join(f"{d.field}: {d.message}" for d in error.details)
        text = f"{error.message}" + (f" ({details})" if details else "")
        # The page may be stale (someone else acted): show the refusal and re-read the state.
        return ui.alert(text, "danger", alert_id="rollout-error"), (version or 0) + 1, DIALOG_CLOSED, "", True
    names = {stage.position: stage.name for stage in feature.stages}
    stage, count = feature.current_stage, len(feature.stages)
    where = "killed." if feature.killed else f"at {data.stage_name(names, stage)} ({stage} of {count})."
    done = f"{ACTION_LABELS[action][0]}: {feature.name} is now {where}"
    return ui.alert(done, "success", alert_id="rollout-done"), (version or 0) + 1, DIALOG_CLOSED, "", True
