"""The Rollout page's "Who gets it?" tester: pick a person and an instant (now, or a past UTC
date-time) and read whether they have the feature and why (the stage, cohort or percentage
bucket, or the kill or archive), from app/services/rollout/explain.py. Reads only, so every role
that sees the page may ask."""

from __future__ import annotations

from datetime import UTC, datetime

from dash import Input, Output, State, callback, dcc, html

from app.errors import LiftoffError
from app.services.rollout import explain
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import accepts, text

INSTANT_HELP = "UTC; leave empty for now"


def panel() -> html.Section:
    person = dcc.Dropdown(id="who-person", options=[], value=None, placeholder="Type a name or id…",
                          searchable=True, clearable=True, className="lo-picker")
    instant = dcc.Input(id="who-at", type=ui.browser_input_type("datetime-local"), value="",
                        className="lo-field", debounce=True)
    form = html.Div([
        html.Div([html.Label("Person", htmlFor="who-person"), person]),
        html.Div([html.Label(f"At ({INSTANT_HELP})", htmlFor="who-at"), instant]),
    ], className="lo-form-row")
    return ui.card("Who gets it?", [
        html.P("Whether one person has the feature in production, and the rule that decides it: the "
               "same cohorts and percentage bucket the SDKs apply.", className="lo-muted"),
        form, html.Div(id="who-answer", className="lo-who-answer", **ui.attributes({"aria-live": "polite"})),
    ], card_id="who-panel")


accepts("who-person", "value", text(200))
accepts("who-person", "search_value", text(200))
accepts("who-at", "value", text(40))


@callback(Output("who-person", "options"), Input("who-person", "search_value"), State("who-person", "value"))
def search_people(search, chosen):
    """The first people whose name or id matches what is typed (the chosen one stays listed)."""
    options = explain.person_options(search)
    if chosen and chosen not in {o["value"] for o in options}:
        options = explain.person_options(chosen, limit=1) + options
    return options


def parse_instant(value: str | None) -> datetime | None:
    """A ``datetime-local`` value (``YYYY-MM-DDTHH:MM``, read as UTC); None when empty.

    :raises ValueError: not such a value.
    """
    text = (value or "").strip()
    if not text:
        return None
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


@callback(Output("who-answer", "children"), Input("who-person", "value"), Input("who-at", "value"),
          Input("rollout-version", "data"), State("rollout-feature", "data"))
def answer(person_id, at, _version, key):
    """On or off for the person at the instant, and why."""
    if not person_id:
        return html.P("Pick a person to see whether they get it.", className="lo-muted")
    try:
        instant = parse_instant(at)
    except ValueError:
        return ui.alert("At: not a date and time (YYYY-MM-DD HH:MM, UTC).", "danger", alert_id="who-error")
    try:
        result = explain.explain(key, person_id, instant)
    except LiftoffError as error:
        details = "; ".join(f"{d.field}: {d.message}" for d in error.details)
        return ui.alert(error.message + (f" ({details})" if details else ""), "danger", alert_id="who-error")
    when = "now" if instant is None else ui.when(result.at)
    verdict = ui.badge("On", "live") if result.on else ui.badge("Off", "off")
    return html.Div([
        html.Div([verdict, html.Span(f" {result.person_name or result.person_id} ({result.person_id}), "
                                     f"{when}", className="lo-strong")], className="lo-inline"),
        html.P(result.why, id="who-why"),
    ], id="who-result", **{"data-on": "true" if result.on else "false"})
