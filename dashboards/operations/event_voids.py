"""The Operations page's "Void events" panel, for the roles the permission matrix allows
(``events:void``): event ids pasted one a line or comma-separated, an optional source, a required
reason. Reviewing looks the events up and asks for confirmation, saying how many will be voided and
which features' KPIs the next refresh recomputes; confirming voids them through the same service as
``POST /api/v1/events/void`` (all or none). The server checks the role again at each step
(dashboards/operations/actions.py)."""

from __future__ import annotations

import logging

from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from app.db import db
from app.errors import LiftoffError
from app.security import Identity, current_identity
from app.services.ingest.voids import MAX_REASON, MAX_VOID_BATCH
from dashboards.operations import actions
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import N_CLICKS, accepts, text

log = logging.getLogger(__name__)
DIALOG_CLOSED, DIALOG_OPEN = ui.DIALOG_CLOSED, ui.DIALOG_OPEN
# A full batch of the longest ids (200 characters, Event.event_id) with a separator each.
MAX_IDS_TEXT = MAX_VOID_BATCH * 202


def panel(identity: Identity | None) -> list:
    """The panel and its dialog, or nothing for a role that may not void events."""
    if not actions.may_void_events(identity):
        return []
    form = html.Div([
        html.P("Voided events stay stored but count in no figure: the KPIs drop them at the next "
               "refresh, and a closed month they fall in is marked restated.", className="lo-muted"),
        ui.field("Event ids (one a line, or separated by commas)",
                 dcc.Textarea(id="void-ids", className="lo-input", value="")),
        # Event ids are unique per source: an admin token posts under "api", an ingest token
        # under "ingest:<its name>", the CSV import under "csv" (unless told otherwise).
        ui.field("Source (empty: api; csv for the CSV import, ingest:NAME for an ingest token)",
                 ui.text_input("void-source", "api")),
        ui.field("Reason (required, kept in the audit trail)",
                 dcc.Textarea(id="void-reason", className="lo-input", value="")),
        html.Button("Void events…", id="void-review", className="lo-btn lo-btn-danger", n_clicks=0),
        html.Div(id="void-message"),
    ])
    dialog = ui.confirm_dialog("void", [
            html.H2("Void these events?", className="lo-card-title"),
            html.P(id="void-dialog-text"),
        ], "Void", danger=True)
    return [ui.card("Void events", form, card_id="void-card"), dialog]


accepts("void-ids", "value", text(MAX_IDS_TEXT))
accepts("void-source", "value", text(120))
accepts("void-reason", "value", text(MAX_REASON))
for _button in ("void-review", "void-cancel", "void-confirm"):
    accepts(_button, "n_clicks", N_CLICKS)


def _refusal(error: LiftoffError, identity: Identity | None) -> html.Div:
    """The service's refusal, each bad id named with its place in the list."""
    if isinstance(error, actions.NotAllowed):
        log.warning("refused an event void by %s", identity.name if identity else None)
    lines = [error.message] + [
        f"{'' if d.index is None else f'id {d.index + 1}: '}{d.message}" for d in error.details]
    return ui.alert(html.Ul([html.Li(line) for line in lines]), "danger", alert_id="void-error")


def confirmation(preview: dict) -> str:
    """The dialog's sentence: how many events, and whose KPIs the next refresh recomputes."""
    count = preview["fresh"]
    said = f"{count} event{'' if count == 1 else 's'} of source {preview['source']!r} will be voided"
    if preview["already"]:
        said += f" ({preview['already']} already void, left as they are)"
    if not count:
        return said + ". Nothing changes."
    days = preview["first_day"] if preview["first_day"] == preview["last_day"] else \
        f"{preview['first_day']} to {preview['last_day']}"
    said += (f". The next KPI refresh (refresh-kpis) recomputes every KPI of "
             f"{', '.join(preview['features'])} for {days}")
    if preview["closed_months"]:
        said += f"; closed month {', '.join(preview['closed_months'])} will be marked restated"
    return said + "."


@callback(
    Output("void-dialog", "className"), Output("void-dialog-text", "children"),
    Output("void-message", "children"),
    Input("void-review", "n_clicks"), Input("void-cancel", "n_clicks"),
    State("void-ids", "value"), State("void-source", "value"), State("void-reason", "value"),
    prevent_initial_call=True,
)
def review_void(clicks, _cancel, ids, source, reason):
    """Look the events up (nothing written) and ask for confirmation, or say what is wrong."""
    if ctx.triggered_id != "void-review" or not clicks:
        return DIALOG_CLOSED, no_update, no_update
    identity = current_identity()
    try:
        preview = actions.preview_event_void(ids, source, identity, reason)
    except LiftoffError as error:
        return DIALOG_CLOSED, "", _refusal(error, identity)
    return DIALOG_OPEN, confirmation(preview), ""


@callback(
    Output("void-message", "children", allow_duplicate=True),
    Output("void-dialog", "className", allow_duplicate=True),
    Input("void-confirm", "n_clicks"),
    State("void-ids", "value"), State("void-source", "value"), State("void-reason", "value"),
    prevent_initial_call=True,
)
def confirm_void(clicks, ids, source, reason):
    """Void the events through the service; the role is checked again here."""
    if not clicks:
        return no_update, no_update
    identity = current_identity()
    try:
        result = actions.void_event_ids(actions.event_ids(ids), source, identity, reason)
        db.session.commit()
    except LiftoffError as error:
        db.session.rollback()
        return _refusal(error, identity), DIALOG_CLOSED
    done = (f"Voided: {len(result.voided)}; already voided: {len(result.already_voided)}. "
            "The KPIs drop them at the next refresh.")
    return ui.alert(done, "success", alert_id="void-done"), DIALOG_CLOSED
