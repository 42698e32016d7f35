"""The executive monthly view: portfolio ROI of a month, its features, and the months before it; and
an executive's (or admin's) own subscription to the monthly report by e-mail."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import dash
import pandas as pd
from dash import Input, Output, callback, dcc, html, no_update

from app.db import db
from app.errors import LiftoffError
from app.security import current_identity
from app.services.reporting import board_report, report_mail
from dashboards.kpi import cost_corrections, period_view
from dashboards.kpi import data as kpi_data
from dashboards.kpi import periods as kpi_time
from dashboards.kpi import view as kv
from dashboards.kpi.actions import (
    NotAllowed,
    may_subscribe_to_report,
    may_void_costs,
    set_own_report_subscription,
)
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import accepts, calendar_month, is_month, texts

log = logging.getLogger(__name__)
SUBSCRIBE = "monthly"
SUBSCRIBE_LABEL = "E-mail me this report at each monthly close"


def layout(month: str | None = None, **_query) -> html.Div:
    refusal = kpi_time.month_refusal(month)  # a URL can say 2026-13: say so, never show another month
    chosen = month if is_month(month) and refusal is None else kpi_data.default_month()
    options = [{"label": m, "value": m} for m in kpi_data.month_options()]
    if chosen not in {o["value"] for o in options}:
        options.insert(0, {"label": chosen, "value": chosen})
    exports = html.Div([
        html.A("CSV", href=kv.href("/export/roi.csv", month=chosen), id="exec-export-csv",
               className="lo-btn lo-btn-ghost lo-btn-sm", download=f"liftoff-roi-{chosen}.csv"),
        html.A("Excel", href=kv.href("/export/roi.xlsx", month=chosen), id="exec-export-xlsx",
               className="lo-btn lo-btn-ghost lo-btn-sm", download=f"liftoff-roi-{chosen}.xlsx"),
        html.A("Board report (PDF)", href=kv.href("/report.pdf", month=chosen), id="exec-board-pdf",
               className="lo-btn lo-btn-ghost lo-btn-sm", download=f"liftoff-board-report-{chosen}.pdf"),
        html.A("Printable report", href=kv.href("/report", month=chosen), id="exec-report",
               className="lo-btn lo-btn-ghost lo-btn-sm", target="_blank"),
    ], className="lo-actions lo-kpi-exports")
    return html.Div([
        dcc.Location(id="exec-location", refresh="callback-nav"),
        dcc.Store(id="exec-month", data=chosen),
        html.Div([
            html.Div([html.H1("Executive"),
                      html.P("What the AI features returned this month, and since they started.",
                             className="lo-lede")]),
            html.Div([kv.picker("exec-month-picker", options, chosen, "Pick a month", "Month"), exports],
                     className="lo-kpi-controls"),
        ], className="lo-page-head"),
        ui.alert(f"{refusal} Showing {chosen} instead.", "danger", alert_id="exec-bad-month")
        if refusal else None,
        _subscription(),
        kv.loading("exec-body"),
        cost_corrections.panel() if may_void_costs(current_identity()) else None,
    ])


def _subscription() -> html.Div | None:
    """The checkbox of one's own monthly report by e-mail: shown to executives and admins only
    (the callback checks the role again)."""
    identity = current_identity()
    if identity is None or not may_subscribe_to_report(identity):
        return None
    on = report_mail.is_subscribed(identity.name)
    return html.Div([
        dcc.Checklist(id="exec-subscribe", className="lo-check", value=[SUBSCRIBE] if on else [],
                      options=[{"label": f" {SUBSCRIBE_LABEL}", "value": SUBSCRIBE}]),
        html.Div(id="exec-subscribe-message", className="lo-form-message"),
    ], className="lo-kpi-subscribe")


dash.register_page(__name__, path="/executive", name="Executive", title="Executive · Liftoff", order=1,
                   layout=layout)

# What the components hold (checked before any callback runs: dashboards/shell/callback_inputs.py).
accepts("exec-month-picker", "value", calendar_month(optional=True))
accepts("exec-month", "data", calendar_month())
accepts("exec-subscribe", "value", texts(20, 5))


@callback(Output("exec-location", "search"), Input("exec-month-picker", "value"), prevent_initial_call=True)
def pick_month(month):
    """Put the chosen month in the URL, so the view is a deep link."""
    return "?" + urlencode({"month": month}) if month else no_update


@callback(Output("exec-subscribe-message", "children"), Input("exec-subscribe", "value"),
          prevent_initial_call=True)
def subscribe(value):
    """Tick: the logged-in user gets the report after each monthly close; untick: no more."""
    identity = current_identity()
    on = SUBSCRIBE in (value or [])
    try:
        user = set_own_report_subscription(identity, on)
        db.session.commit()
    except LiftoffError as error:
        db.session.rollback()
        if isinstance(error, NotAllowed):
            log.warning("refused a monthly report subscription for %s", identity.name if identity else None)
        return ui.alert(error.message, "danger", alert_id="exec-subscribe-error")
    if on:
        text = f"Subscribed: the report goes to {user.email} after each monthly close."
    else:
        text = "Unsubscribed: no more monthly report e-mails."
    return ui.alert(text, "success", alert_id="exec-subscribe-done")


def _status(roi: dict, month: str):
    if not roi["closed"]:
        if kpi_time.month_state(month, False) == "open":
            return ui.badge("Open month: figures move with late events", "off")
        return html.Span([ui.badge("Not closed yet", "live"), " ",
                          html.Span("a past month nobody has closed: figures still move with late events",
                                    className="lo-muted")], id="exec-status")
    closed_at = roi["closed_at"][:10]
    if roi["restated"]:
        return html.Span([ui.badge("Restated", "killed"), " ",
                          html.Span(f"Closed on {closed_at}; the inputs changed since. Live and closed "
                                    "figures are both shown.", className="lo-muted")], id="exec-status")
    return html.Span([ui.badge("Closed", "complete"), " ",
                      html.Span(f"on {closed_at}: frozen figures", className="lo-muted")], id="exec-status")


def _tiles(roi: dict, history: pd.DataFrame, month: str) -> html.Div:
    total = roi["total"]
    frozen = (roi.get("closed_figures") or {}).get("total") if roi["restated"] else None

    def hint(field, fmt):
        return f"closed: {fmt(frozen.get(field))}" if frozen else None

    hours = history.loc[history["month"] == month, "hours_saved"]
    return html.Div([
        ui.tile("Value", kv.euro(total["value_eur"]), hint("value_eur", kv.euro), tile_id="exec-value"),
        ui.tile("Cost", kv.euro(total["cost_eur"]), hint("cost_eur", kv.euro), tile_id="exec-cost"),
        ui.tile("Net", kv.euro(total["net_eur"]), hint("net_eur", kv.euro), tile_id="exec-net"),
        ui.tile("ROI", kv.pct(total["roi_pct"], 0, 1), hint("roi_pct", lambda v: kv.pct(v, 0, 1)),
                tile_id="exec-roi"),
        ui.tile("Payback", total["payback_month"] or "not yet",
                f"cumulative net {kv.euro(total['cumulative_net_eur'])}", tile_id="exec-payback"),
        ui.tile("Cost per AI task", kv.euro(total["cost_per_task_eur"], 2),
                f"{ui.number(total['ai_tasks'])} AI tasks", tile_id="exec-cost-per-task"),
        ui.tile("Hours saved", kv.num(float(hours.iloc[0]) if len(hours) else None, 0),
                "this month", tile_id="exec-hours"),
    ], className="lo-tiles lo-kpi-tiles")


def _freshness() -> html.Details:
    """Data through the newest event, per feature; a live feature silent for over two days is late."""
    through = kpi_time.data_through()
    late = through[through["late"]]
    summary = (f"Late source: no events for over 2 days from {', '.join(late['name'])}" if len(late)
               else "Every live feature sent events in the last 2 days")
    items = [html.Li([html.Span(row["name"], className="lo-strong"), ": data through ",
                      ui.when(row["last_event_at"]) if row["last_event_at"] is not None else "no events yet",
                      " ", ui.badge("late", "killed") if row["late"] else None])
             for row in through.to_dict("records")]
    return html.Details([html.Summary(summary, className="lo-alert-danger" if len(late) else None),
                         html.Ul(items)], id="exec-freshness", className="lo-freshness",
                        open=bool(len(late)))


def _euro_cell(field: str):
    return lambda row: kv.euro(row[field])


def _payback_cell(row) -> str:
    # pandas holds a missing month as NaN, which is truthy (it rendered as an empty cell): test for text.
    month = row["payback_month"]
    return month if isinstance(month, str) and month else "not yet"


def _feature_table(features: pd.DataFrame, month: str, closed: bool, quality: dict[str, dict]):
    def name_cell(row):
        return html.Div([
            dcc.Link(row["name"], href=kv.href("/adoption", feature=row["feature"], month=month),
                     className="lo-link", id=f"exec-open-{row['feature']}"),
            html.Div(row["feature"], className="lo-muted lo-mono")])

    columns = [("name", "Feature"), ("ai_tasks", "AI tasks"), ("value_eur", "Value"), ("cost_eur", "Cost"),
               ("cost_per_task_eur", "Cost / task"), ("net_eur", "Net"), ("roi_pct", "ROI"),
               ("cumulative_net_eur", "Cumulative net"), ("payback_month", "Payback"), ("quality", "Quality")]
    if closed:
        columns.append(("closed_net_eur", "Net at close"))
    money = {f: _euro_cell(f) for f in
             ("value_eur", "cost_eur", "net_eur", "cumulative_net_eur", "closed_net_eur")}
    return ui.table(features, columns, table_id="exec-features",
                    numeric=[c for c, _ in columns if c not in ("name", "payback_month", "quality")],
                    render={"name": name_cell, **money, "ai_tasks": lambda r: ui.number(r["ai_tasks"]),
                            "cost_per_task_eur": lambda r: kv.euro(r["cost_per_task_eur"], 2),
                            "roi_pct": lambda r: kv.pct(r["roi_pct"], 0, 1),
                            "payback_month": _payback_cell,
                            "quality": lambda r: kv.quality_cell(quality.get(r["feature"]))})


def _month_marks(history: pd.DataFrame) -> list[str]:
    return ["restated" if r else kpi_time.month_state(m, bool(c))
            for m, c, r in zip(history["month"], history["closed"], history["restated"], strict=True)]


MONTH_AXIS = {"type": "category", "title": {"text": "month"}}


def cumulative_figure(history: pd.DataFrame, payback: str | None, changes: dict | None = None) -> dict:
    marks = _month_marks(history)
    colours = {"open": kv.BRAND, "not closed yet": kv.BRAND, "closed": kv.GOOD, "restated": kv.WARN}
    months = list(history["month"])
    zero, _ = kv.hline(0, kv.MUTED)
    shapes, notes = kv.month_rollout_lines(months, changes or {})
    layout = {"xaxis": MONTH_AXIS, "yaxis": {"title": {"text": "cumulative net (€)"}},
              "shapes": [zero, *shapes], "annotations": notes}
    if payback and payback in months:
        y = float(history.loc[history["month"] == payback, "cumulative_net_eur"].iloc[0])
        # notes is the list the layout holds as its annotations
        notes.append({"x": payback, "y": y, "text": f"payback {payback}", "showarrow": True,
                      "arrowhead": 2, "ax": 0, "ay": -36, "font": {"color": kv.GOOD}})
    return {"data": [{
        "type": "scatter", "x": months, "y": list(history["cumulative_net_eur"]), "mode": "lines+markers",
        "name": "Cumulative net", "line": {"color": kv.BRAND}, "customdata": marks,
        "marker": {"size": 9, "color": [colours[m] for m in marks],
                   "symbol": ["diamond" if m in ("closed", "restated") else "circle" for m in marks]},
        "hovertemplate": "%{x}: € %{y:,.0f} (%{customdata})<extra></extra>"}], "layout": layout}


def hours_figure(history: pd.DataFrame, changes: dict | None = None) -> dict:
    marks = _month_marks(history)
    shapes, notes = kv.month_rollout_lines(list(history["month"]), changes or {})
    return {"data": [{
        "type": "bar", "x": list(history["month"]), "y": list(history["hours_saved"]), "name": "Hours saved",
        "marker": {"color": [kv.WARN if m == "restated" else kv.BRAND for m in marks]},
        "text": [{"closed": "closed", "restated": "restated"}.get(m, "") for m in marks],
        "textposition": "outside"}],
        "layout": {"xaxis": MONTH_AXIS, "yaxis": {"title": {"text": "hours saved"}}, "shapes": shapes,
                   "annotations": notes}}


def cost_per_task_figure(history: pd.DataFrame, changes: dict | None = None) -> dict:
    shapes, notes = kv.month_rollout_lines(list(history["month"]), changes or {})
    return {"data": [{"type": "scatter", "x": list(history["month"]), "y": list(history["cost_per_task_eur"]),
                      "mode": "lines+markers", "name": "Cost per AI task", "line": {"color": kv.MUTED},
                      "connectgaps": False}],
            "layout": {"xaxis": MONTH_AXIS, "shapes": shapes, "annotations": notes,
                       "yaxis": {"title": {"text": "cost per AI task (€)"}, "rangemode": "tozero"}}}


@callback(Output("exec-body", "children"), Input("exec-month", "data"))
def render_executive(month):
    """The month's tiles, features and history from kpi_data.executive()."""
    try:
        view = kpi_data.executive(month)
    except LiftoffError as error:
        return ui.alert(error.message, "danger")
    roi, history, features = view["roi"], view["history"], view["features"]
    if history.empty and features.empty:
        return kv.no_kpis(f"ROI figures for {month}", "exec-empty")
    parts = [html.Div(_status(roi, month), className="lo-kpi-status")]
    if not kpi_time.month_has_events(month):
        # Costs may be booked before any event arrives: 0 % adoption would be a false statement.
        parts.append(ui.alert(f"No data arrived for {month} yet: value, ROI and hours stay at zero until "
                              "events come in.", "info", alert_id="exec-no-data"))
    parts += [_tiles(roi, history, month),
              html.P("ROI is this month's net over this month's cost; cumulative net is everything returned "
                     "minus everything spent so far, so a high ROI can sit beside a negative cumulative net "
                     "while earlier costs are paid back.", className="lo-muted", id="exec-roi-explained"),
              _freshness(), period_view.card(history, month)]
    changes = kpi_time.rollout_changes_by_month()
    if roi["restated"]:
        parts.append(ui.alert("This month was restated after its close: the tiles show the live figures, "
                              "with the figures at close beneath them.", "info", alert_id="exec-restated"))
    quality = board_report.month_quality(month)
    worse = [row["name"] for row in features.to_dict("records")
             if quality.get(row["feature"], {}).get("flagged")]
    if worse:  # ROI hides quality: a feature paying off while making more mistakes must say so
        parts.append(ui.alert(f"Quality: the error rate of {', '.join(worse)} is worse than its baseline "
                              "beyond the 95 % interval, whatever its ROI.", "danger",
                              alert_id="exec-quality"))
    parts.append(ui.card("Features this month", _feature_table(features, month, roi["closed"], quality)
                         if not features.empty else kv.no_kpis("features", "exec-features-empty")))
    parts.append(html.Div([
        ui.card("Cumulative net and payback", kv.graph("exec-cumulative", cumulative_figure(
            history, roi["total"]["payback_month"], changes))),
        ui.card("Hours saved per month", kv.graph("exec-hours-trend", hours_figure(history, changes))),
    ], className="lo-grid-2"))
    parts.append(html.Div([
        ui.card("Cost per AI task", kv.graph("exec-cost-trend", cost_per_task_figure(history, changes), 240)),
        ui.card("Months", html.P([
            "◆ green: closed month (frozen figures); ◆ orange: restated after its close; ● open month "
            "or a past month not closed yet. ",
            "Payback is the first month whose cumulative net is at or above zero, counted from the "
            "first month with a cost."], className="lo-muted")),
    ], className="lo-grid-2"))
    return parts
