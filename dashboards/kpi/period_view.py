"""The executive's period card: a range of months ending at the chosen month (this month, last
month, quarter to date, year to date) with its value, cost, net, ROI and hours saved, each beside
the change against the equally long period right before it. Sums of the portfolio's monthly
history (dashboards.kpi.data.executive), so every month's figure is still the KPI module's."""

from __future__ import annotations

import pandas as pd
from dash import Input, Output, State, callback, dcc, html

from app.errors import LiftoffError
from dashboards.kpi import data as kpi_data
from dashboards.kpi import view as kv
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import accepts, text

PRESETS = {"month": "This month", "last": "Last month", "quarter": "Quarter to date",
           "ytd": "Year to date"}


def shift_month(month: str, by: int) -> str:
    """``month`` (YYYY-MM) moved by ``by`` months."""
    index = int(month[:4]) * 12 + int(month[5:]) - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _span(months: list[str]) -> str:
    return months[0] if len(months) == 1 else f"{months[0]} to {months[-1]}"


def period_months(preset: str, month: str) -> tuple[list[str], list[str]]:
    """The months of the period (oldest first) and those of the equally long period before it.
    ``month`` is the month the page shows; an unknown preset is this month."""
    if preset == "last":
        end, length = shift_month(month, -1), 1
    elif preset == "quarter":
        end, length = month, (int(month[5:]) - 1) % 3 + 1
    elif preset == "ytd":
        end, length = month, int(month[5:])
    else:
        end, length = month, 1
    months = [shift_month(end, -k) for k in range(length - 1, -1, -1)]
    return months, [shift_month(m, -length) for m in months]


def period_figures(history: pd.DataFrame, months: list[str]) -> dict | None:
    """Sums over ``months`` of the history; ROI = net / cost. None when no month of it is known."""
    rows = history[history["month"].isin(months)]
    if rows.empty:
        return None
    value, cost = float(rows["value_eur"].sum()), float(rows["cost_eur"].sum())
    return {"value_eur": value, "cost_eur": cost, "net_eur": value - cost,
            "roi_pct": (value - cost) / cost * 100 if cost else None,
            "hours_saved": float(rows["hours_saved"].sum())}


def _change(now: float | None, before: float | None, points: bool = False) -> str:
    if now is None or before is None:
        return "no earlier period to compare"
    if points:
        return f"{now - before:+,.0f} points against the period before".replace(",", "\u202f")
    if before == 0:
        return "the period before was 0"
    return f"{(now - before) / abs(before) * 100:+.0f} % against the period before"


def period_body(history: pd.DataFrame, month: str, preset: str) -> html.Div:
    months, before_months = period_months(preset, month)
    now, before = period_figures(history, months), period_figures(history, before_months)
    span = _span(months)
    if now is None:
        return ui.empty_state(f"No figures for {span}.", "Pick another period or month.",
                              state_id="exec-period-empty")
    b = before or {}
    return html.Div([
        html.P(f"{span}, against {_span(before_months)}", className="lo-muted", id="exec-period-span"),
        html.Div([
            ui.tile("Value", kv.euro(now["value_eur"]), _change(now["value_eur"], b.get("value_eur")),
                    tile_id="exec-period-value"),
            ui.tile("Cost", kv.euro(now["cost_eur"]), _change(now["cost_eur"], b.get("cost_eur")),
                    tile_id="exec-period-cost"),
            ui.tile("Net", kv.euro(now["net_eur"]), _change(now["net_eur"], b.get("net_eur")),
                    tile_id="exec-period-net"),
            ui.tile("ROI", kv.pct(now["roi_pct"], 0, 1) if now["roi_pct"] is not None else "—",
                    _change(now["roi_pct"], b.get("roi_pct"), points=True), tile_id="exec-period-roi"),
            ui.tile("Hours saved", kv.num(now["hours_saved"], 0),
                    _change(now["hours_saved"], b.get("hours_saved")), tile_id="exec-period-hours"),
        ], className="lo-tiles lo-kpi-tiles"),
    ])


def card(history: pd.DataFrame, month: str) -> html.Section:
    """The card, rendered with this month; the presets re-render its body in place."""
    presets = html.Div([
        html.Label("Period", htmlFor="exec-period-preset", className="lo-kpi-label"),
        dcc.RadioItems(id="exec-period-preset", value="month", className="lo-radios", inline=True,
                       options=[{"label": f" {label}", "value": key} for key, label in PRESETS.items()]),
    ])
    body = html.Div(period_body(history, month, "month"), id="exec-period-body")
    return ui.card("Period and change", [presets, body], card_id="exec-period")


accepts("exec-period-preset", "value", text(20))  # an unknown preset reads as this month


@callback(Output("exec-period-body", "children"), Input("exec-period-preset", "value"),
          State("exec-month", "data"), prevent_initial_call=True)
def pick_period(preset, month):
    """The chosen period's sums and their change, from the month's history."""
    try:
        history = kpi_data.executive(month)["history"]
    except LiftoffError as error:
        return ui.alert(error.message, "danger")
    return period_body(history, month, preset if preset in PRESETS else "month")

