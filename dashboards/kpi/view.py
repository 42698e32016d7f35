"""Rendering shared by the executive, adoption and quality pages: number formats (app.formats, shared
with the e-mailed report), pickers and the plotly look (figures come from dashboards.kpi.data;
nothing here computes a KPI)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
import pandas as pd
from dash import dcc, html

from app.formats import euro as euro
from app.formats import missing as _missing
from app.formats import num as num
from app.formats import pct as pct
from dashboards.shell import components as ui

FEWER_THAN_5 = "fewer than 5"
# A group hidden so the total minus the shown groups cannot give a smaller hidden one away.
PROTECTS_SMALLER = "hidden for privacy"
# A weekly cell hidden for either reason (the chart's title says both).
HIDDEN = "hidden"
BRAND, GOOD, WARN, BAD, MUTED = "#3b5bdb", "#2b8a3e", "#e67700", "#c92a2a", "#5b6478"
# For shares 0..1: lightest at 0, so more reads as more ink (plotly's "Blues" runs the other way).
SEQUENTIAL = [[0, "#f1f5ff"], [1, "#1c3a9e"]]


def interval(low, high, fmt) -> str:
    return "" if _missing(low) or _missing(high) else f"95 % interval {fmt(low)} to {fmt(high)}"


def href(path: str, **query) -> str:
    clean = {k: v for k, v in query.items() if v}
    return dash.get_relative_path(path) + ("?" + urlencode(clean) if clean else "")


def picker(picker_id: str, options, value, placeholder: str, label: str) -> html.Div:
    return html.Div([
        html.Label(label, htmlFor=picker_id, className="lo-kpi-label"),
        dcc.Dropdown(id=picker_id, options=options, value=value, clearable=False,
                     placeholder=placeholder, className="lo-picker"),
    ], className="lo-kpi-picker")


AXIS = {"gridcolor": "#eef0f5", "zerolinecolor": "#c9ceda", "automargin": True}


def hline(y: float, colour: str, dash: str = "solid", label: str | None = None) -> tuple[dict, list]:
    """A horizontal line across the plot (a shape) and its label (an annotation)."""
    shape = {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": y, "y1": y,
             "line": {"color": colour, "width": 1.5, "dash": dash}}
    notes = [] if label is None else [{"xref": "paper", "x": 0, "y": y, "yref": "y", "text": label,
                                       "showarrow": False, "xanchor": "left", "yanchor": "bottom",
                                       "font": {"color": colour}}]
    return shape, notes


def rollout_lines(marks: list[dict], first, last) -> tuple[list[dict], list[dict]]:
    """Vertical dotted lines (shapes) with the stage's name (annotations) at each rollout change
    between ``first`` and ``last`` (dates or timestamps), for a chart with a date x axis."""
    shapes: list[dict] = []
    notes: list[dict] = []
    if first is None or last is None:
        return shapes, notes
    low, high = pd.Timestamp(first), pd.Timestamp(last) + pd.Timedelta(days=7)
    for n, mark in enumerate(marks):
        at = mark["at"].tz_localize(None) if mark["at"].tzinfo else mark["at"]
        if not low <= at <= high:
            continue
        x = at.strftime("%Y-%m-%d %H:%M")
        shapes.append({"type": "line", "xref": "x", "x0": x, "x1": x, "yref": "paper", "y0": 0, "y1": 1,
                       "line": {"color": MUTED, "width": 1, "dash": "dot"}})
        # Alternate heights so two changes a few days apart keep both labels readable.
        notes.append({"xref": "x", "x": x, "yref": "paper", "y": 1.0 if n % 2 == 0 else 0.9,
                      "text": f"→ {mark['label']}", "showarrow": False, "xanchor": "left",
                      "yanchor": "top", "font": {"size": 11, "color": MUTED},
                      "bgcolor": "rgba(255,255,255,.8)"})
    return shapes, notes


def month_rollout_lines(months: list[str], changes: dict[str, list[str]]) -> tuple[list[dict], list[dict]]:
    """For a chart with one category per month: a dotted line at each month with rollout changes,
    labelled with how many, the list (``Feature → stage``) on hover."""
    shapes: list[dict] = []
    notes: list[dict] = []
    for month in months:
        texts = changes.get(month)
        if not texts:
            continue
        shapes.append({"type": "line", "xref": "x", "x0": month, "x1": month, "yref": "paper", "y0": 0,
                       "y1": 1, "line": {"color": MUTED, "width": 1, "dash": "dot"}})
        # Short enough to sit between two months; what changed shows on hover.
        label = "1 change" if len(texts) == 1 else f"{len(texts)} changes"
        notes.append({"xref": "x", "x": month, "yref": "paper", "y": 1, "text": label, "showarrow": False,
                      "xanchor": "left", "yanchor": "top", "font": {"size": 10, "color": MUTED},
                      "hovertext": "<br>".join(texts), "bgcolor": "rgba(255,255,255,.8)"})
    return shapes, notes


def graph(graph_id: str, figure: dict, height: int = 260) -> dcc.Graph:
    """A plotly figure given as a plain dict (building go.Figure objects costs tens of ms each)."""
    layout: dict[str, Any] = {  # plotly's layout: numbers, text and nested settings
        "height": height, "margin": {"l": 56, "r": 16, "t": 12, "b": 48}, "paper_bgcolor": "white",
        "plot_bgcolor": "white", "font": {"family": "system-ui, sans-serif", "size": 12, "color": "#1d2433"},
        "legend": {"orientation": "h", "y": -0.32}, "hovermode": "x unified",
    }
    layout.update(figure.get("layout", {}))
    for axis in ("xaxis", "yaxis"):
        layout[axis] = {**AXIS, **layout.get(axis, {})}
    return dcc.Graph(id=graph_id, figure={"data": figure["data"], "layout": layout},
                     config={"displaylogo": False, "responsive": True}, className="lo-kpi-graph")


def loading(body_id: str) -> dcc.Loading:
    return dcc.Loading(html.Div(id=body_id, className="lo-stack"), type="dot", delay_show=150)


def no_kpis(what: str, state_id: str) -> html.Div:
    return ui.empty_state(
        f"No {what} yet.",
        "Send events (POST /api/v1/events or `liftoff import events FILE.csv`), then run "
        "`liftoff jobs run refresh-kpis`; or load the demo company with `liftoff seed`.",
        state_id=state_id)


def quality_cell(flag: dict | None):
    """A feature's quality beside its money (app/kpi/quality.py): flagged when its error rate is
    worse than its baseline beyond the interval; the reason on hover."""
    if not flag or flag.get("error_rate") is None:
        return html.Span("—", className="lo-muted", title="no AI tasks with an outcome this month")
    if flag["flagged"]:
        return html.Span(ui.badge("worse than baseline", "killed"), title=flag["reason"])
    return html.Span("ok", className="lo-muted", title="error rate not worse than its baseline")
