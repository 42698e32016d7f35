"""Small building blocks of the design system (styled by assets/liftoff-dashboard.css)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

import pandas as pd
from dash import dcc, html
from dash.development.base_component import Component

# The <input> types Dash's dcc.Input stub names (its docs' list).
InputKind = Literal["text", "number", "password", "email", "range", "search", "tel", "url", "hidden"]


def attributes(values: dict[str, str]) -> dict[str, Any]:
    """HTML attributes Python cannot spell as keywords (``aria-*``, ``data-*``), to splat into a
    component. Typed Any: Dash's stubs type each keyword by its own parameter, and a dict of str
    splatted into them would match none, though Dash passes these names through to the browser."""
    return values


def browser_input_type(kind: Literal["date", "time", "datetime-local"]) -> Any:
    """An <input> type the browser renders as its own picker. Dash's dcc.Input stub lists only the
    types its docs name, narrower than what Dash passes through and the pages use: typed Any."""
    return kind


STATUS_LABELS = {"off": "Off", "live": "Rolling out", "complete": "Everyone", "killed": "Killed",
                 "archived": "Archived"}


def when(value) -> str:
    """A UTC timestamp as ``2026-11-22 15:04 UTC``; empty for missing values."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    if isinstance(value, datetime | pd.Timestamp):
        return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def number(value: int | float) -> str:
    return f"{value:,.0f}".replace(",", "\u202f")


DIALOG_CLOSED, DIALOG_OPEN = "lo-dialog", "lo-dialog lo-dialog-open"


def confirm_dialog(prefix: str, body: list, confirm: str, *, danger: bool = False,
                   labelled_by: str | None = None) -> html.Div:
    """A modal confirmation, closed until a callback sets its class to ``DIALOG_OPEN``: ``body``
    above a Cancel and a ``confirm`` button. Ids: ``{prefix}-dialog``, ``{prefix}-cancel``,
    ``{prefix}-confirm`` (assets/liftoff-a11y.js moves the focus in and closes it on Esc)."""
    aria = {"aria-modal": "true", **({"aria-labelledby": labelled_by} if labelled_by else {})}
    buttons = html.Div([
        html.Button("Cancel", id=f"{prefix}-cancel", className="lo-btn lo-btn-ghost", n_clicks=0),
        html.Button(confirm, id=f"{prefix}-confirm", n_clicks=0,
                    className="lo-btn lo-btn-danger" if danger else "lo-btn lo-btn-primary"),
    ], className="lo-dialog-buttons")
    return html.Div(html.Div([*body, buttons], className="lo-dialog-box", role="dialog", **attributes(aria)),
                    id=f"{prefix}-dialog", className=DIALOG_CLOSED)


def _optional_id(component_id: str | None) -> dict[str, Any]:
    # Keywords for a component's id when it has one: no id at all (not id=None) otherwise. Typed
    # Any to splat, as in attributes().
    return {"id": component_id} if component_id else {}


def badge(text: str, kind: str) -> html.Span:
    return html.Span(text, className=f"lo-badge lo-badge-{kind}")


def status_badge(status: str) -> html.Span:
    return badge(STATUS_LABELS.get(status, status), status)


def field(label: str, control) -> html.Div:
    """A form control with its label, tied together by the control's id (for screen readers)."""
    return html.Div([html.Label(label, htmlFor=control.id), control])


def text_input(control_id: str, placeholder: str = "") -> dcc.Input:
    return dcc.Input(id=control_id, type="text", className="lo-field", value="", placeholder=placeholder)


def tile(label: str, value: str, hint: str | None = None, tile_id: str | None = None) -> html.Div:
    children = [html.Div(label, className="lo-tile-label"), html.Div(value, className="lo-tile-value")]
    if hint:
        children.append(html.Div(hint, className="lo-tile-hint"))
    return html.Div(children, className="lo-tile", id=tile_id or f"tile-{label.lower().replace(' ', '-')}")


def card(title: str, body, actions=None, card_id: str | None = None) -> html.Section:
    head: list[Component] = [html.H2(title, className="lo-card-title")]
    if actions is not None:
        head.append(html.Div(actions, className="lo-card-actions"))
    kwargs = _optional_id(card_id)
    return html.Section([html.Div(head, className="lo-card-head"), html.Div(body, className="lo-card-body")],
                        className="lo-card", **kwargs)


def empty_state(title: str, next_step, state_id: str | None = None) -> html.Div:
    """Say what is missing and what to do about it."""
    kwargs = _optional_id(state_id)
    return html.Div([html.P(title, className="lo-empty-title"), html.P(next_step, className="lo-empty-next")],
                    className="lo-empty", **kwargs)


def alert(message, kind: str = "info", alert_id: str | None = None) -> html.Div:
    kwargs = _optional_id(alert_id)
    return html.Div(message, className=f"lo-alert lo-alert-{kind}", role="alert", **kwargs)


def _text(value) -> str:
    missing = value is None or (isinstance(value, float) and pd.isna(value))
    if missing or isinstance(value, datetime | pd.Timestamp):
        return when(value)
    return str(value)


def table(
    frame: pd.DataFrame,
    columns: Sequence[tuple[str, str]],
    render: dict[str, Callable] | None = None,
    table_id: str | None = None,
    numeric: Sequence[str] = (),
) -> html.Div:
    """An HTML table of ``frame``: ``columns`` are (field, heading); ``render`` turns a row into a
    cell's content for fields that need more than text. Dash escapes every text node."""
    render = render or {}
    head = html.Thead(html.Tr([
        html.Th(heading, className="lo-num" if field in numeric else None) for field, heading in columns
    ]))
    rows = []
    for record in frame.to_dict("records"):
        cells = []
        for field, _heading in columns:
            content = render[field](record) if field in render else _text(record.get(field))
            cells.append(html.Td(content, className="lo-num" if field in numeric else None))
        rows.append(html.Tr(cells))
    kwargs = _optional_id(table_id)
    # The wrapper scrolls a wide table inside its card; keyboard users reach it by Tab to scroll it.
    return html.Div(html.Table([head, html.Tbody(rows)], className="lo-table", **kwargs),
                    className="lo-table-wrap", tabIndex="0", role="region",
                    **attributes({"aria-label": "Scrollable table"}))
