"""The Compare variants page's form to define a feature's variants or change them: rows of name,
weight, payload and cost per task, the live sum of the weights, the decision rule, an effective time
and a reason. Saving goes through the service the API's PUT uses (dashboards/variants/actions.py), so
the same refusals come back, each shown beside the row it names; a change that moves people between
variants asks for confirmation first. Only the roles with ``rollout:write`` get the form."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from app.db import db
from app.errors import LiftoffError
from app.schemas.variants import OBJECTIVES
from app.security import Identity, current_identity
from dashboards.kpi import view as kv
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import FEATURE_KEY, N_CLICKS, accepts, calendar_month, text, whole
from dashboards.shell.refusals import error_lines
from dashboards.variants import actions, form_values
from dashboards.variants import data as variant_data

log = logging.getLogger(__name__)
DIALOG_CLOSED, DIALOG_OPEN = ui.DIALOG_CLOSED, ui.DIALOG_OPEN
FIELDS = ("name", "weight", "payload", "cost")
MAX_ROWS = 20
OBJECTIVE_LABELS = {"cost_per_task": "lower cost per task", "net_eur_per_person": "higher net € per person"}
BLANK = {"name": "", "weight": "", "payload": "", "cost": ""}


def _row_id(field: str, row) -> dict:
    return {"type": f"variants-row-{field}", "row": row}


def _row(i: int, row: dict, locked: bool) -> html.Div:
    """One variant's inputs. A recorded variant keeps its name and cannot be removed: SDKs assign
    people by walking the list in order (docs/variants.md), so weight 0 retires it instead."""

    def box(label: str, field: str, **extra) -> html.Label:
        control = dcc.Input(
            id=_row_id(field, i), type="text", value=row.get(field, ""), className="lo-field", **extra
        )
        return html.Label(
            [html.Span(label, className="lo-kpi-label"), control], className=f"lo-variant-{field}"
        )

    remove = (
        html.Span("recorded: set weight 0 to retire", className="lo-muted")
        if locked
        else html.Button("Remove", id=_row_id("remove", i), n_clicks=0, className="lo-btn lo-btn-ghost")
    )
    return html.Div(
        [
            html.Div(
                [
                    box("Name", "name", disabled=locked, maxLength=100),
                    box("Weight (%)", "weight", inputMode="numeric"),
                    box("Payload (JSON)", "payload"),
                    box("Cost per task (€)", "cost"),
                    html.Div(remove, className="lo-variant-remove"),
                ],
                className="lo-form-row lo-variant-row",
            ),
            html.Div(id=_row_id("error", i), className="lo-field-error", role="status"),
        ],
        className="lo-variant-item",
    )


def _rows(rows: list[dict], current: dict) -> list[html.Div]:
    return [_row(i, row, row.get("name") in current) for i, row in enumerate(rows)]


def form(key: str | None, identity: Identity | None) -> html.Section:
    """The form card, or for a role without ``rollout:write`` a card saying who may use it."""
    if not actions.may_promote_variants(identity):
        return ui.card(
            "Define variants",
            html.P(
                "Defining or changing variants changes who gets what: product teams and admins do it "
                "(the rollout permission). You see the figures.",
                className="lo-muted",
                id="variants-define-refused",
            ),
            card_id="variants-define-card",
        )
    options = variant_data.definable_options()
    keys = {o["value"] for o in options}
    rule_row = html.Div(
        [
            kv.picker("variants-define-control", [], None, "No rule", "Decision rule: control"),
            html.Label(
                [
                    html.Span("Error rate may be worse by at most (points)", className="lo-kpi-label"),
                    dcc.Input(
                        id="variants-define-margin",
                        type="text",
                        value="",
                        className="lo-field",
                    ),
                ]
            ),
            kv.picker(
                "variants-define-objective",
                [{"label": label, "value": value} for value, label in OBJECTIVE_LABELS.items()],
                OBJECTIVES[0],
                "Objective",
                "Winner has",
            ),
        ],
        className="lo-form-row",
    )
    return ui.card(
        "Define or change variants",
        [
            html.P(
                "Each variant serves a share of the feature's exposed people. Weights are whole percent "
                "and sum to 100. The payload is the JSON object your app reads to pick the vendor, model, "
                "prompt version and settings. The cost per task (optional) counts for an event that "
                "carries no cost of its own. Recorded variants stay in the list (weight 0 retires one).",
                className="lo-muted",
            ),
            kv.picker(
                "variants-define-feature", options, key if key in keys else None, "Pick a feature", "Feature"
            ),
            dcc.Store(id="variants-define-current", data={}),
            html.Div(id="variants-define-rows"),
            html.Div(
                [
                    html.Button(
                        "Add a variant", id="variants-define-add", n_clicks=0, className="lo-btn lo-btn-ghost"
                    ),
                    html.Span(id="variants-define-sum", **ui.attributes({"aria-live": "polite"})),
                ],
                className="lo-kpi-controls lo-variant-add",
            ),
            rule_row,
            html.Div(
                [
                    html.Label(
                        [
                            html.Span("Effective (UTC; empty for now)", className="lo-kpi-label"),
                            dcc.Input(
                                id="variants-define-at",
                                type=ui.browser_input_type("datetime-local"),
                                value="",
                                className="lo-field",
                            ),
                        ]
                    ),
                    html.Label(
                        [
                            html.Span("Reason (kept in the audit trail)", className="lo-kpi-label"),
                            dcc.Input(
                                id="variants-define-reason",
                                type="text",
                                value="",
                                className="lo-field",
                                maxLength=2000,
                            ),
                        ]
                    ),
                ],
                className="lo-form-row",
            ),
            html.Div(id="variants-define-message"),
            html.Button(
                "Save variants", id="variants-define-save", n_clicks=0, className="lo-btn lo-btn-primary"
            ),
            ui.confirm_dialog(
                "variants-define",
                [
                    html.H2("Move people between variants?", className="lo-card-title"),
                    html.P(id="variants-define-dialog-text"),
                ],
                "Save the new weights",
            ),
        ],
        card_id="variants-define-card",
    )


ROW = {"row": whole(0, MAX_ROWS, optional=False)}
accepts("variants-define-feature", "value", FEATURE_KEY)
accepts(
    "variants-define-current",
    "data",
    lambda v: (
        None
        if isinstance(v, dict)
        and len(v) <= 100
        and all(isinstance(k, str) and isinstance(w, int) and not isinstance(w, bool) for k, w in v.items())
        else ("", "must be an object of variant names to whole weights")
    ),
)
accepts("variants-define-control", "value", text(100))
accepts("variants-define-margin", "value", text(40))
accepts("variants-define-objective", "value", text(40))
accepts("variants-define-at", "value", text(40))
accepts("variants-define-reason", "value", text(2000))
for _button in (
    "variants-define-add",
    "variants-define-save",
    "variants-define-cancel",
    "variants-define-confirm",
):
    accepts(_button, "n_clicks", N_CLICKS)
for _field, _limit in (("name", 100), ("weight", 40), ("payload", 10_000), ("cost", 40)):
    accepts(_row_id(_field, ALL), "value", text(_limit), ids=ROW)
accepts(_row_id("remove", ALL), "n_clicks", N_CLICKS, ids=ROW)
accepts("variants-define-month", "data", calendar_month())


def _typed(names, weights, payloads, costs) -> list[dict]:
    return [
        dict(zip(FIELDS, values, strict=True)) for values in zip(names, weights, payloads, costs, strict=True)
    ]


@callback(
    Output("variants-define-rows", "children"),
    Output("variants-define-current", "data"),
    Output("variants-define-control", "value"),
    Output("variants-define-margin", "value"),
    Output("variants-define-objective", "value"),
    Input("variants-define-feature", "value"),
    Input("variants-version", "data"),
)
def load_definition(key, _version):
    """The chosen feature's variants and rule as recorded; two blank rows for a feature without."""
    got = variant_data.definition(key)
    rows = got["rows"] or [dict(BLANK), dict(BLANK)]
    rule = got["rule"] or {}
    margin = rule.get("max_error_rate_increase")
    return (
        _rows(rows, got["weights"]),
        got["weights"],
        rule.get("control"),
        "" if margin is None else f"{margin * 100:g}",
        rule.get("objective", OBJECTIVES[0]),
    )


@callback(
    Output("variants-define-rows", "children", allow_duplicate=True),
    Input("variants-define-add", "n_clicks"),
    Input(_row_id("remove", ALL), "n_clicks"),
    State(_row_id("name", ALL), "value"),
    State(_row_id("weight", ALL), "value"),
    State(_row_id("payload", ALL), "value"),
    State(_row_id("cost", ALL), "value"),
    State("variants-define-current", "data"),
    prevent_initial_call=True,
)
def edit_rows(_add, removes, names, weights, payloads, costs, current):
    """Add a blank row, or remove an unrecorded one, keeping what is typed in the others."""
    rows = _typed(names, weights, payloads, costs)
    trigger = ctx.triggered_id
    if trigger == "variants-define-add":
        if len(rows) >= MAX_ROWS:
            return no_update
        rows.append(dict(BLANK))
    elif isinstance(trigger, dict) and trigger.get("type") == "variants-row-remove":
        index = trigger.get("row")
        clicked = [i for i, n in enumerate(removes or []) if n]
        # Dash fires this also when new rows appear (their buttons at 0 clicks): only a click removes.
        if not isinstance(index, int) or index >= len(rows) or not clicked or rows[index]["name"] in current:
            return no_update
        del rows[index]
    else:
        return no_update
    return _rows(rows, current or {})


@callback(
    Output("variants-define-sum", "children"),
    Output("variants-define-control", "options"),
    Input(_row_id("weight", ALL), "value"),
    Input(_row_id("name", ALL), "value"),
)
def weights_sum(weights, names):
    """The sum of the typed weights, as the rows change, and the names a rule may take as control."""
    total, unreadable = 0.0, False
    for value in weights:
        if value is None or not str(value).strip():
            continue
        try:
            total += float(str(value).replace(",", "."))
        except ValueError:
            unreadable = True
    shown = f"{total:g} %"
    if unreadable:
        words, kind = f"Weights sum to {shown} (some are not numbers)", "failed"
    elif total == 100:
        words, kind = f"Weights sum to {shown}", "complete"
    else:
        words, kind = f"Weights sum to {shown}: they must sum to 100", "failed"
    options = sorted({n.strip() for n in names if n and n.strip()})
    return ui.badge(words, kind), options


def _rule(control, margin, objective) -> dict | None:
    """The rule as the API takes it; None (the recorded rule kept) without a control. A margin that
    is no number goes as typed, refused by the service naming ``rule.max_error_rate_increase``."""
    if not control:
        return None
    points = (margin or "").strip()
    try:
        share: object = float(points.replace(",", ".")) / 100 if points else 0.0
    except ValueError:
        share = points
    return {"control": control, "max_error_rate_increase": share, "objective": objective or OBJECTIVES[0]}


def _error_slots() -> list[int]:
    """The rows whose error lines this request may fill, as the page sent them (``ctx.outputs_list``
    holds the row-error components, the second output of either save callback)."""
    slots = ctx.outputs_list[1] if len(ctx.outputs_list) > 1 else []
    return [slot["id"]["row"] for slot in slots if isinstance(slot, dict)]


def _save(key, rows, rule, reason, at, month, search, version):
    """Save through the service, or show its refusal beside the rows it names (nothing written)."""
    identity = current_identity()
    slots = _error_slots()
    cleared = [None] * len(slots)
    if not key:
        alert = ui.alert("Pick a feature first.", "danger", alert_id="variants-define-error")
        return alert, cleared, no_update, no_update
    try:
        actions.define_variants(key, rows, identity, rule=rule, reason=reason, effective=at)
        db.session.commit()
    except LiftoffError as error:
        db.session.rollback()
        if isinstance(error, actions.NotAllowed):
            log.warning("refused a variant definition by %s", identity.name if identity else None)
        by_row: dict[int, list[str]] = {}
        for d in error.details:
            row = form_values.row_of(d.field, rows)
            if row is not None:
                # "variants[2].weight" -> "weight: ..." beside the row itself
                by_row.setdefault(row, []).append(f"{d.field.partition('.')[2] or d.field}: {d.message}")
        lines = [html.Li(line) for line in error_lines(error)]
        alert = ui.alert(html.Ul(lines), "danger", alert_id="variants-define-error")
        beside = [html.Ul([html.Li(e) for e in by_row[s]]) if s in by_row else None for s in slots]
        return alert, beside, no_update, no_update
    wanted = "?" + urlencode({"feature": key, "month": month} if month else {"feature": key})
    done = ui.alert(f"Variants of {key} saved.", "success", alert_id="variants-define-done")
    if wanted != search:
        # Another feature than the one shown: open it (the page lists features with variants).
        return done, cleared, no_update, wanted
    return done, cleared, (version or 0) + 1, no_update


SAVE_OUTPUTS = (
    Output("variants-define-message", "children"),
    Output(_row_id("error", ALL), "children"),
    Output("variants-version", "data"),
    Output("variants-location", "search"),
    Output("variants-define-dialog", "className"),
    Output("variants-define-dialog-text", "children"),
)
FORM_STATES = (
    State("variants-define-feature", "value"),
    State(_row_id("name", ALL), "value"),
    State(_row_id("weight", ALL), "value"),
    State(_row_id("payload", ALL), "value"),
    State(_row_id("cost", ALL), "value"),
    State("variants-define-control", "value"),
    State("variants-define-margin", "value"),
    State("variants-define-objective", "value"),
    State("variants-define-reason", "value"),
    State("variants-define-at", "value"),
    State("variants-define-current", "data"),
    State("variants-define-month", "data"),
    State("variants-location", "search"),
    State("variants-version", "data"),
)


@callback(
    *[Output(o.component_id, o.component_property, allow_duplicate=True) for o in SAVE_OUTPUTS],
    Input("variants-define-save", "n_clicks"),
    Input("variants-define-cancel", "n_clicks"),
    *FORM_STATES,
    prevent_initial_call=True,
)
def review_save(
    clicks,
    _cancel,
    key,
    names,
    weights,
    payloads,
    costs,
    control,
    margin,
    objective,
    reason,
    at,
    current,
    month,
    search,
    version,
):
    """Save at once, or first ask when the new weights move people between variants."""
    rows = _typed(names, weights, payloads, costs)
    keep = [no_update] * len(_error_slots())
    if ctx.triggered_id != "variants-define-save" or not clicks:
        return no_update, keep, no_update, no_update, DIALOG_CLOSED, no_update
    if form_values.moves_people(current or {}, rows):
        new = {r["name"]: r["weight"] for r in form_values.variant_rows(rows)}
        words = ", ".join(f"{name} {current[name]} % → {new.get(name)} %" for name in current)
        return (
            no_update,
            keep,
            no_update,
            no_update,
            DIALOG_OPEN,
            f"{words}. People exposed to {key} move to their new variant from the effective time.",
        )
    saved = _save(key, rows, _rule(control, margin, objective), reason, at, month, search, version)
    return (*saved, DIALOG_CLOSED, no_update)


@callback(
    *[Output(o.component_id, o.component_property, allow_duplicate=True) for o in SAVE_OUTPUTS[:5]],
    Input("variants-define-confirm", "n_clicks"),
    *FORM_STATES,
    prevent_initial_call=True,
)
def confirm_save(
    clicks,
    key,
    names,
    weights,
    payloads,
    costs,
    control,
    margin,
    objective,
    reason,
    at,
    _current,
    month,
    search,
    version,
):
    """Save the confirmed new weights through the service; the role is checked again there."""
    rows = _typed(names, weights, payloads, costs)
    if not clicks:
        return no_update, [no_update] * len(_error_slots()), no_update, no_update, no_update
    saved = _save(key, rows, _rule(control, margin, objective), reason, at, month, search, version)
    return (*saved, DIALOG_CLOSED)
