"""People & cohorts: every cohort with its size, and (for change managers and admins) a form that
creates a cohort or replaces its members, picked by name, department, cohort or an uploaded list."""

from __future__ import annotations

import logging

import dash
from dash import Input, Output, State, callback, html, no_update

from app.db import db
from app.errors import LiftoffError
from app.security import NotAllowed, current_identity
from dashboards.people import data, picker, view
from dashboards.people.actions import may_edit_cohorts, save_cohort
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import N_CLICKS, accepts, text
from dashboards.shell.refusals import error_lines

log = logging.getLogger(__name__)


def _cohort_options() -> list[dict]:
    rows = data.cohorts().to_dict("records")
    return [{"label": f"{r['name']} [{r['key']}]", "value": r["key"]} for r in rows]


def layout(**_query) -> html.Div:
    editable = may_edit_cohorts(current_identity())
    parts = [
        html.Div(html.Div([
            html.H1("People & cohorts"),
            html.P("Cohorts are the named groups rollout stages and trainings are aimed at.",
                   className="lo-lede"),
        ]), className="lo-page-head"),
        html.Div(id="people-message"),
    ]
    if editable:
        parts.append(html.Div(ui.card("Create or edit a cohort", view.cohort_form(_cohort_options()),
                                      card_id="cohort-card"), className="lo-section"))
    else:
        parts.append(ui.alert("Read only: change managers, product teams and admins edit cohorts.", "info",
                              alert_id="people-read-only"))
    parts.append(html.Div(ui.card("Cohorts", html.Div(view.cohort_table(data.cohorts()), id="cohorts-list"),
                                  card_id="cohorts-card"), className="lo-section"))
    return html.Div(parts)


dash.register_page(__name__, path="/people", name="People", title="People & cohorts · Liftoff",
                   order=4, layout=layout)

accepts("cohort-choice", "value", text(120))
accepts("cohort-key", "value", text(120))
accepts("cohort-name", "value", text(200))
accepts("cohort-effective-day", "value", text(40))
accepts("cohort-effective-time", "value", text(20))
accepts("cohort-save", "n_clicks", N_CLICKS)
CHOSEN = picker.chosen_state("cohort")


@callback(
    Output("cohort-key", "value"),
    Output("cohort-key", "disabled"),
    Output("cohort-name", "value"),
    picker.chosen_output("cohort"),
    picker.options_output("cohort"),
    picker.message_output("cohort"),
    Input("cohort-choice", "value"),
    prevent_initial_call=True,
)
def choose_cohort(key):
    """Fill the form with the chosen cohort (its key stays), or empty it for a new one."""
    cohort = data.cohort_detail(key) if key != view.NEW else None
    if cohort is None:
        return "", False, "", [], [], None
    members = cohort["members"]
    return cohort["key"], True, cohort["name"], members, picker.options_for(members), None


@callback(
    Output("cohort-form-message", "children"),
    Output("cohorts-list", "children"),
    Output("cohort-choice", "options"),
    Output("cohort-choice", "value"),
    Input("cohort-save", "n_clicks"),
    State("cohort-key", "value"),
    State("cohort-name", "value"),
    CHOSEN,
    State("cohort-effective-day", "value"),
    State("cohort-effective-time", "value"),
    prevent_initial_call=True,
)
def save(clicks, key, name, chosen, day, clock):
    """Save the cohort through the people service; every bad field or member is listed."""
    if not clicks:
        return no_update, no_update, no_update, no_update
    identity = current_identity()
    try:
        cohort = save_cohort(identity, key, name, picker.chosen_ids(chosen), day, clock)
        db.session.commit()
    except LiftoffError as error:
        db.session.rollback()
        if isinstance(error, NotAllowed):
            log.warning("refused cohort change %r by %s", key, identity.name if identity else None)
        lines = error_lines(error)
        message = [html.Div(lines[0], className="lo-strong"), *[html.Div(line) for line in lines[1:]]]
        return ui.alert(message, "danger", alert_id="cohort-error"), no_update, no_update, no_update
    done = ui.alert(f"Cohort “{cohort.name}” ({cohort.key}) saved with {len(picker.chosen_ids(chosen))} "
                    "members.", "success", alert_id="cohort-done")
    options = [{"label": "New cohort…", "value": view.NEW}, *_cohort_options()]
    return done, view.cohort_table(data.cohorts()), options, cohort.key
