"""A stage plan as a form: a fixed number of rows, each a stage's name, its cohorts (picked from
the cohorts that exist) and its percentage of everyone; the filled rows and one spare are shown
(at least three), "Add a stage" shows the next. Used to create a feature and to edit the
stages it has not reached. The rows are plain components with fixed ids, so a callback reads them
as states without pattern-matching ids; a row left without a name and without cohorts or a
percentage is no stage. The service validates the plan (as the API does); its details
(``stages[i].percentage``) are shown under the row and field they name."""

from __future__ import annotations

import json
import re

from dash import Input, Output, State, clientside_callback, dcc, html
from sqlalchemy import select

from app.db import db
from app.errors import Detail
from app.models import Cohort
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import accepts, text, texts, whole

SLOTS = 10  # rows in the form; a plan longer than this is rare and still editable through the API
MIN_SHOWN = 3
ROW, SPARE_ROW = "lo-stage-row", "lo-stage-row lo-stage-row-spare"  # a spare row is hidden (CSS)
FIELDS = ("name", "cohorts", "percentage")
_STAGE_DETAIL = re.compile(r"stages\[(\d+)\](?:\.(\w+))?$")


def cohort_options() -> list[dict]:
    """Every cohort for the pickers: ``[{"label": "Pilot group (pilot)", "value": "pilot"}]``."""
    rows = db.session.execute(select(Cohort.name, Cohort.key).order_by(Cohort.name, Cohort.key)).all()
    return [{"label": f"{name} ({key})", "value": key} for name, key in rows]


def ids(prefix: str, slot: int) -> dict[str, str]:
    return {field: f"{prefix}-stage-{field}-{slot}" for field in (*FIELDS, "error")}


def rows(prefix: str, stages: list[dict], options: list[dict], disabled: bool = False) -> html.Div:
    """The form's rows, the first ones filled with ``stages`` (``{"name", "cohorts", "percentage"}``)."""
    heads = [html.Span(label, className="lo-kpi-label") for label in ("Stage", "Cohorts", "% of everyone")]
    out = [html.Div(heads, className="lo-stage-row lo-stage-head",
                    **ui.attributes({"aria-hidden": "true"}))]
    shown = min(SLOTS, max(len(stages) + 1, MIN_SHOWN))
    for slot in range(SLOTS):
        stage = stages[slot] if slot < len(stages) else {}
        names = ids(prefix, slot)
        # No min/max on the number: a browser hands no value for one out of range, which would read
        # as 0 %; the service names the bad percentage instead. Visually hidden labels: the column
        # heads say it to the eye, these to a screen reader.
        out.append(html.Div([
            html.Div([html.Label(f"Stage {slot + 1} name", htmlFor=names["name"], className="lo-sr-only"),
                      dcc.Input(id=names["name"], type="text", value=stage.get("name", ""),
                                className="lo-field", placeholder=f"Stage {slot + 1} name", maxLength=200,
                                disabled=disabled)]),
            dcc.Dropdown(id=names["cohorts"], options=options, value=stage.get("cohorts", []), multi=True,
                         placeholder="Cohorts…", disabled=disabled, className="lo-stage-cohorts"),
            html.Div([html.Label(f"Stage {slot + 1} percentage of everyone", htmlFor=names["percentage"],
                                 className="lo-sr-only"),
                      dcc.Input(id=names["percentage"], type="number", step=1,
                                value=stage.get("percentage", 0 if stage else None), className="lo-field",
                                disabled=disabled, placeholder="0")]),
            html.Div(id=names["error"], className="lo-field-error lo-stage-error"),
        ], className=ROW if slot < shown else SPARE_ROW, id=f"{prefix}-stage-row-{slot}"))
    add = html.Button("Add a stage", id=f"{prefix}-stage-add", n_clicks=0, className="lo-btn lo-btn-ghost",
                      disabled=disabled or shown >= SLOTS)
    return html.Div([*out, html.Div(add, className="lo-form-button")], className="lo-stage-rows",
                    id=f"{prefix}-stages")


def states(prefix: str) -> list[str]:
    """The component ids of every row field, in ``collect`` order (each read as ``value``)."""
    return [ids(prefix, slot)[field] for slot in range(SLOTS) for field in FIELDS]


def error_outputs(prefix: str) -> list[str]:
    return [ids(prefix, slot)["error"] for slot in range(SLOTS)]


def _empty(name, cohorts, percentage) -> bool:
    blank_name = not (name.strip() if isinstance(name, str) else name)
    return blank_name and not cohorts and percentage in (None, "", 0)


def collect(values: list) -> tuple[list[dict], list[int]]:
    """The stages the rows hold (``values`` in ``states`` order) and the rows they came from: rows
    with nothing in them are left out, so a plan is the filled rows in order. An empty percentage
    is 0; anything else goes to the service as typed, which names what is wrong with it."""
    stages, slots = [], []
    for slot in range(SLOTS):
        name, cohorts, percentage = values[slot * 3: slot * 3 + 3]
        if _empty(name, cohorts, percentage):
            continue
        slots.append(slot)
        stages.append({"name": name.strip() if isinstance(name, str) else "", "cohorts": list(cohorts or []),
                       "percentage": 0 if percentage in (None, "") else _whole(percentage)})
    return stages, slots


def _whole(value):
    # A number input hands 40.0 for "40": the plan holds integers, and 40.5 stays 40.5 (refused).
    return int(value) if isinstance(value, float) and value.is_integer() else value


def row_errors(details: list[Detail], slots: list[int], first_row: int = 0) -> list[str]:
    """The message under each form row: the details naming ``stages[i]`` (``i`` counted in the plan
    sent; ``first_row`` is the plan index of the first form row, e.g. after the stages reached)."""
    out = [""] * SLOTS
    for detail in details:
        match = _STAGE_DETAIL.match(detail.field)
        if not match:
            continue
        index = int(match.group(1)) - first_row
        if 0 <= index < len(slots):
            field = match.group(2)
            message = f"{field}: {detail.message}" if field else detail.message
            slot = slots[index]
            out[slot] = f"{out[slot]} {message}".strip()
    return out


# "Add a stage" only shows a hidden row, so it runs in the browser: nothing reaches the server.
_SHOW_NEXT_ROW = """function(_clicks, ...classes) {
    const rows = classes.slice();
    const next = rows.indexOf(SPARE);
    if (next >= 0) { rows[next] = SHOWN; }
    return [...rows, rows.indexOf(SPARE) < 0];
}""".replace("SPARE", json.dumps(SPARE_ROW)).replace("SHOWN", json.dumps(ROW))


def declare(prefix: str) -> None:
    """What the rows hold, for the request check (dashboards/shell/callback_inputs.py), and the
    "Add a stage" button."""
    rows = [f"{prefix}-stage-row-{slot}" for slot in range(SLOTS)]
    clientside_callback(_SHOW_NEXT_ROW, [Output(row, "className") for row in rows],
                        Output(f"{prefix}-stage-add", "disabled"), Input(f"{prefix}-stage-add", "n_clicks"),
                        [State(row, "className") for row in rows], prevent_initial_call=True)
    for slot in range(SLOTS):
        names = ids(prefix, slot)
        accepts(names["name"], "value", text(200))
        accepts(names["cohorts"], "value", texts(120, 50))
        # A number input holds a number, or nothing while it is empty or not a number.
        accepts(names["percentage"], "value", number_value)


_WHOLE = whole()


def number_value(value):
    """What a number input holds: a finite number, or None while it is empty (or not a number)."""
    if isinstance(value, float) and value == value and abs(value) < 1e15:
        return None
    return _WHOLE(value)
