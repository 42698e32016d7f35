"""Rendering of the People & cohorts page: the cohort list and the cohort form."""

from __future__ import annotations

import pandas as pd
from dash import dcc, html

from dashboards.people import picker
from dashboards.shell import components as ui

NEW = "__new__"  # the cohort chooser's value for a cohort not saved yet


def cohort_table(cohorts: pd.DataFrame) -> html.Div | html.Table:
    if cohorts.empty:
        return ui.empty_state("No cohorts yet.", "Create the first one with the form.",
                              state_id="cohorts-empty")
    return ui.table(
        cohorts,
        [("name", "Cohort"), ("key", "Key"), ("members", "Members"), ("history_from", "Recorded since")],
        render={"key": lambda r: html.Span(r["key"], className="lo-mono")},
        numeric=["members"],
        table_id="cohorts-table",
    )


def effective_fields(prefix: str) -> html.Div:
    """When a change takes effect: a date and a time (UTC), both blank for now."""
    return html.Div([
        # The browser's own date input: Dash 4's DatePickerSingle puts ARIA attributes on a plain
        # wrapper (axe: aria-allowed-attr).
        ui.field("Effective from (date, blank: now)", dcc.Input(
            id=f"{prefix}-effective-day", type=ui.browser_input_type("date"), value="",
            className="lo-field")),
        ui.field("Time (UTC, HH:MM)", ui.text_input(f"{prefix}-effective-time", "00:00")),
    ], className="lo-form-row")


def cohort_form(options: list[dict]) -> html.Div:
    """Choose a cohort (or a new one), name it, choose its members, save."""
    return html.Div([
        html.Div([
            ui.field("Cohort", dcc.Dropdown(
                id="cohort-choice", options=[{"label": "New cohort…", "value": NEW}, *options],
                value=NEW, clearable=False)),
            ui.field("Key (letters, digits, _ . : -)", ui.text_input("cohort-key", "e.g. pilot-sales")),
            ui.field("Name", ui.text_input("cohort-name", "e.g. Sales pilot")),
        ], className="lo-form-row"),
        picker.people_picker("cohort", "Members"),
        effective_fields("cohort"),
        html.Div(id="cohort-form-message", className="lo-form-message"),
        html.Button("Save cohort", id="cohort-save", className="lo-btn lo-btn-primary", n_clicks=0),
    ], className="lo-form", id="cohort-form")
