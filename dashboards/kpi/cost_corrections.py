"""The Executive page's cost entries of the month, each with a "Void" button for the roles the
permission matrix allows (``costs:void``). Voiding asks for confirmation and a reason; the server
checks the role again (dashboards/kpi/actions.py). A voided entry stays listed, marked."""

from __future__ import annotations

import logging

import pandas as pd
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from app.db import db
from app.errors import LiftoffError
from app.security import current_identity
from dashboards.kpi import actions, data
from dashboards.kpi import view as kv
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import COUNTER, N_CLICKS, RECORD_ID, accepts, is_month, text, whole

log = logging.getLogger(__name__)
DIALOG_CLOSED, DIALOG_OPEN = ui.DIALOG_CLOSED, ui.DIALOG_OPEN
COLUMNS = [("feature", "Feature"), ("category", "Category"), ("amount_eur", "Amount"),
           ("note", "Note"), ("state", "State"), ("void", "")]


def panel() -> html.Div:
    """The month's cost entries (filled by ``render_costs``) and the void dialog."""
    dialog = ui.confirm_dialog("cost", [
            html.H2("Void this cost entry?", id="cost-dialog-title", className="lo-card-title"),
            html.P("It stays listed as voided but no longer counts; a closed month is restated.",
                   className="lo-muted"),
            html.Label("Reason (required, kept in the audit trail)", htmlFor="cost-reason"),
            dcc.Textarea(id="cost-reason", className="lo-input", value=""),
            html.Div(id="cost-dialog-error", className="lo-field-error"),
        ], "Void", danger=True)
    return html.Div([dcc.Store(id="cost-version", data=0), dcc.Store(id="cost-pending"),
                     html.Div(id="cost-message"), html.Div(id="cost-list"), dialog])


accepts("cost-version", "data", COUNTER)
accepts("cost-pending", "data", whole(1, 2**31 - 1))
accepts("cost-reason", "value", text(2000))
accepts({"type": "cost-void", "id": ALL}, "n_clicks", N_CLICKS, ids={"id": RECORD_ID})
for _button in ("cost-cancel", "cost-confirm"):
    accepts(_button, "n_clicks", N_CLICKS)


def _void_cell(row: dict):
    if row["voided"]:
        return ""
    return html.Button("Void…", id={"type": "cost-void", "id": row["id"]}, n_clicks=0,
                       className="lo-btn lo-btn-ghost lo-btn-sm")


@callback(Output("cost-list", "children"), Input("exec-month", "data"), Input("cost-version", "data"))
def render_costs(month, _version):
    """The cost entries of the month, voided ones marked with their reason."""
    rows = data.month_costs(month) if is_month(month) else []
    if not rows:
        empty = html.P("No cost entries this month.", className="lo-muted")
        return ui.card(f"Cost entries of {month}", empty, card_id="cost-card")
    frame = pd.DataFrame(rows)
    frame["state"] = [f"voided: {r['void_reason']}" if r["voided"] else "counted" for r in rows]
    table = ui.table(frame, COLUMNS, numeric=["amount_eur"], table_id="cost-table",
                     render={"void": _void_cell, "note": lambda r: r["note"] or "—",
                             "amount_eur": lambda r: kv.euro(r["amount_eur"], 2)})
    return ui.card(f"Cost entries of {month}", table, card_id="cost-card")


@callback(
    Output("cost-dialog", "className"), Output("cost-pending", "data"), Output("cost-reason", "value"),
    Output("cost-dialog-error", "children"),
    Input({"type": "cost-void", "id": ALL}, "n_clicks"), Input("cost-cancel", "n_clicks"),
    prevent_initial_call=True,
)
def open_void(_clicks, _cancel):
    """Ask for confirmation and a reason before voiding an entry."""
    trigger = ctx.triggered_id
    if trigger == "cost-cancel" or not isinstance(trigger, dict) or not ctx.triggered[0]["value"]:
        return DIALOG_CLOSED, None, no_update, ""
    return DIALOG_OPEN, trigger["id"], "", ""


@callback(
    Output("cost-message", "children"), Output("cost-version", "data"),
    Output("cost-dialog", "className", allow_duplicate=True),
    Output("cost-dialog-error", "children", allow_duplicate=True),
    Input("cost-confirm", "n_clicks"), State("cost-pending", "data"), State("cost-reason", "value"),
    State("cost-version", "data"),
    prevent_initial_call=True,
)
def confirm_void(clicks, cost_id, reason, version):
    """Void the entry through the service; the role is checked again here."""
    if not clicks or cost_id is None:
        return no_update, no_update, no_update, no_update
    if not (reason or "").strip():
        return no_update, no_update, DIALOG_OPEN, "Give a reason: it is kept in the audit trail."
    identity = current_identity()
    try:
        entry = actions.void_cost_entry(cost_id, identity, reason)
        db.session.commit()
    except LiftoffError as error:
        db.session.rollback()
        if isinstance(error, actions.NotAllowed):
            log.warning("refused a cost void by %s", identity.name if identity else None)
        return ui.alert(error.message, "danger", alert_id="cost-error"), (version or 0) + 1, DIALOG_CLOSED, ""
    done = f"Voided: {entry['feature']} {entry['month']} {entry['amount_eur']:.2f} EUR ({entry['category']})."
    return ui.alert(done, "success", alert_id="cost-done"), (version or 0) + 1, DIALOG_CLOSED, ""
