"""Quality and time saved of one feature: error rate against its baseline, time saved per task."""

from __future__ import annotations

from urllib.parse import urlencode

import dash
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update

from app.errors import LiftoffError
from dashboards.kpi import data as kpi_data
from dashboards.kpi import periods as kpi_time
from dashboards.kpi import view as kv
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import (
    FEATURE_KEY,
    PAGE_FEATURE,
    SEARCH,
    accepts,
    calendar_month,
    is_month,
    record,
)

EVIDENCE = {
    "measured": ("Measured", "complete", "durations of AI tasks against a baseline"),
    "modeled": ("Modeled", "off", "the feature's estimated minutes saved per task"),
    "mixed": ("Mixed", "live", "partly measured durations, partly the estimate"),
}


def layout(feature: str | None = None, month: str | None = None, **_query) -> html.Div:
    options = kpi_data.feature_keys()
    keys = {o["value"] for o in options}
    key = feature if feature in keys else (None if feature else kpi_data.default_feature())
    refusal = kpi_time.month_refusal(month)  # a URL can say 2026-13: say so, never show another month
    chosen = month if is_month(month) and refusal is None else kpi_data.default_month()
    months = [{"label": m, "value": m} for m in kpi_data.month_options()]
    if chosen not in {m["value"] for m in months}:
        months.insert(0, {"label": chosen, "value": chosen})
    head = html.Div([
        html.Div([html.H1("Quality and time saved"),
                  html.P("Does the AI make more mistakes, and how much time does it really save?",
                         className="lo-lede")]),
        html.Div([kv.picker("quality-feature-picker", options, key, "Pick a feature", "Feature"),
                  kv.picker("quality-month-picker", months, chosen, "Pick a month", "Month")],
                 className="lo-kpi-controls"),
    ], className="lo-page-head")
    parts = [dcc.Location(id="quality-location", refresh="callback-nav"), head]
    if refusal:
        parts.append(ui.alert(f"{refusal} Showing {chosen} instead.", "danger", alert_id="quality-bad-month"))
    if not options:
        parts.append(ui.empty_state("No features yet.", "Create one with POST /api/v1/features, or run "
                                    "`liftoff seed` for the demo company.", state_id="quality-empty"))
    elif key is None:
        parts.append(ui.empty_state("No feature chosen.", f"There is no feature “{feature}”. Pick one above.",
                                    state_id="quality-empty"))
    else:
        parts += [dcc.Store(id="quality-query", data={"feature": key, "month": chosen}),
                  kv.loading("quality-body"), kv.loading("quality-weeks")]
    return html.Div(parts)


dash.register_page(__name__, path="/quality", name="Quality", title="Quality · Liftoff", order=3,
                   layout=layout)

# What the components hold (checked before any callback runs: dashboards/shell/callback_inputs.py).
accepts("quality-feature-picker", "value", FEATURE_KEY)
accepts("quality-month-picker", "value", calendar_month(optional=True))
accepts("quality-location", "search", SEARCH)
accepts("quality-query", "data", record(feature=PAGE_FEATURE, month=calendar_month()))


@callback(Output("quality-location", "search"), Input("quality-feature-picker", "value"),
          Input("quality-month-picker", "value"), State("quality-location", "search"),
          prevent_initial_call=True)
def pick(feature, month, search):
    """Keep feature and month in the URL (a deep link)."""
    wanted = "?" + urlencode({k: v for k, v in (("feature", feature), ("month", month)) if v})
    return wanted if wanted != search else no_update


def band(trend: pd.DataFrame, low: str, high: str, colour: str) -> dict:
    """The 95 % interval as a filled band over the weeks that have one."""
    known = trend[trend[low].notna() & trend[high].notna()]
    weeks = [str(w) for w in known["week"]]
    return {"type": "scatter", "x": weeks + weeks[::-1], "y": list(known[high]) + list(known[low])[::-1],
            "fill": "toself", "fillcolor": colour, "mode": "lines", "line": {"width": 0},
            "name": "95 % interval", "hoverinfo": "skip"}


def _line(trend: pd.DataFrame, field: str, name: str, colour: str) -> dict:
    return {"type": "scatter", "x": [str(w) for w in trend["week"]], "y": list(trend[field]),
            "mode": "lines+markers", "name": name, "line": {"color": colour}}


# Two lines each: on a 390 px screen one line left no room for the bars and was cut at the edge.
BEFORE_AFTER = "Before / after:<br>AI tasks (feeds the ROI)"
DID = "Diff. in diff.:<br>tasks of exposed people"
ROI_SOURCE = ("The ROI's value comes from the before / after estimate: each AI task's minutes against "
              "the task's baseline minutes. Difference in differences (minutes per task of the exposed "
              "people, against people not yet exposed) is a check on it, not an input.")
WEEK_AXIS = {"title": {"text": "week starting"}, "type": "date", "tickformat": "%b %d"}


def _marks(trend: pd.DataFrame, marks) -> tuple[list[dict], list[dict]]:
    weeks = sorted(trend["week"]) if len(trend) else [None]
    return kv.rollout_lines(list(marks), weeks[0], weeks[-1])


def error_figure(trend: pd.DataFrame, baseline: float | None, marks=()) -> dict:
    shapes, notes = _marks(trend, marks)
    layout = {"xaxis": WEEK_AXIS, "shapes": shapes, "annotations": notes,
              "yaxis": {"tickformat": ".0%", "rangemode": "tozero",
                        "title": {"text": "error rate (%)"}}}
    if baseline is not None:
        shape, base_notes = kv.hline(baseline, kv.BAD, "dash", f"baseline {baseline:.1%}")
        layout.update(shapes=[*shapes, shape], annotations=[*notes, *base_notes])
    return {"data": [band(trend, "error_rate_ci_low", "error_rate_ci_high", "rgba(59,91,219,.15)"),
                     _line(trend, "error_rate", "AI error rate", kv.BRAND)], "layout": layout}


def saved_figure(record: dict) -> dict:
    names, values, lows, highs = [], [], [], []
    for label, field, low, high in ((BEFORE_AFTER, "time_saved_per_task", "time_saved_per_task_ci_low",
                                     "time_saved_per_task_ci_high"),
                                    (DID, "did_time_saved_per_task", "did_ci_low", "did_ci_high")):
        if record[field] is not None:
            names.append(label)
            values.append(record[field])
            lows.append(record[field] - record[low] if record[low] is not None else 0)
            highs.append(record[high] - record[field] if record[high] is not None else 0)
    zero = {"type": "line", "yref": "paper", "y0": 0, "y1": 1, "x0": 0, "x1": 0,
            "line": {"color": kv.MUTED, "width": 1}}
    # One bar per row, half its height, the value written on it; labels get the room they need.
    return {"data": [{"type": "bar", "x": values, "y": names, "orientation": "h", "width": 0.5,
                      "marker": {"color": [kv.BRAND, kv.GOOD][:len(names)]},
                      "text": [f"{v:.1f} min" for v in values], "textposition": "inside",
                      "insidetextanchor": "middle",
                      "error_x": {"type": "data", "symmetric": False, "array": highs, "arrayminus": lows}}],
            "layout": {"hovermode": "closest", "shapes": [zero], "showlegend": False,
                       "margin": {"l": 16, "t": 8, "b": 64},
                       "yaxis": {"type": "category", "autorange": "reversed", "automargin": True},
                       "xaxis": {"title": {"text": "minutes saved per task<br>(95 % interval)"}}}}


def saved_trend_figure(trend: pd.DataFrame, marks=()) -> dict:
    shapes, notes = _marks(trend, marks)
    return {"data": [band(trend, "time_saved_per_task_ci_low", "time_saved_per_task_ci_high",
                          "rgba(43,138,62,.15)"),
                     _line(trend, "time_saved_per_task", "minutes saved per task", kv.GOOD)],
            "layout": {"xaxis": WEEK_AXIS, "yaxis": {"title": {"text": "minutes saved<br>per AI task"}},
                       "shapes": shapes, "annotations": notes}}


def _verdict(record: dict) -> str:
    outside = kpi_data.outside_interval(record["baseline_error_rate"], record["error_rate_ci_low"],
                                        record["error_rate_ci_high"])
    if outside is None:
        return "no baseline or no judged AI tasks to compare"
    if not outside:
        return "baseline within the 95 % interval: no clear difference"
    worse = record["error_rate"] > record["baseline_error_rate"]
    return f"baseline outside the 95 % interval: clearly {'worse' if worse else 'better'} than by hand"


def _reviewed_tile(reviewed: dict):
    """The error rate reviewers found in sampled outputs (all samples so far, not only this month):
    what people report about their AI tasks, checked by someone else."""
    rate = reviewed["reviewed_error_rate"]
    if rate is None:
        return ui.tile("Reviewed error rate", "—", "no reviewed outputs yet (Review page)",
                       tile_id="quality-reviewed")
    interval = kv.interval(reviewed["reviewed_error_rate_ci_low"], reviewed["reviewed_error_rate_ci_high"],
                           kv.pct)
    return ui.tile("Reviewed error rate", kv.pct(rate),
                   f"{reviewed['assessed']:,} outputs judged by reviewers, all samples; {interval}",
                   tile_id="quality-reviewed")


@callback(Output("quality-body", "children"), Input("quality-query", "data"))
def render_quality(query):
    """Error rate, time saved and evidence from kpi_data.quality()."""
    try:
        view = kpi_data.quality(query["feature"], query["month"])
    except LiftoffError as error:
        return ui.alert(error.message, "danger")
    record = view["record"]
    if not record["ai_tasks"]:
        return ui.empty_state(
            f"No AI tasks of {query['feature']} in {query['month']}.",
            "Pick another month, or check that events arrive with ai_assisted=true and run "
            "`liftoff jobs run refresh-kpis`.", state_id="quality-empty")
    label, kind, why = EVIDENCE.get(record["time_saved_evidence"] or "", ("Unknown", "off", "no AI tasks"))
    minutes = lambda v: kv.num(v, 1, "min")  # noqa: E731
    tiles = html.Div([
        ui.tile("Error rate", kv.pct(record["error_rate"]),
                kv.interval(record["error_rate_ci_low"], record["error_rate_ci_high"], kv.pct),
                tile_id="quality-error"),
        ui.tile("Baseline error rate", kv.pct(record["baseline_error_rate"]), _verdict(record),
                tile_id="quality-baseline"),
        ui.tile("Saved per task (before/after)", minutes(record["time_saved_per_task"]),
                kv.interval(record["time_saved_per_task_ci_low"], record["time_saved_per_task_ci_high"],
                            minutes), tile_id="quality-before-after"),
        ui.tile("Diff. in diff. (exposed people)", minutes(record["did_time_saved_per_task"]),
                kv.interval(record["did_ci_low"], record["did_ci_high"], minutes) or
                "not enough timed tasks in a group", tile_id="quality-did"),
        ui.tile("Hours saved", kv.num(record["time_saved_hours"], 0), f"{view['start']} to {view['end']}",
                tile_id="quality-hours"),
        _reviewed_tile(kpi_data.reviewed_quality(query["feature"])),
    ], className="lo-tiles lo-kpi-tiles")
    baselines = pd.DataFrame(sorted((record["baseline_minutes"] or {}).items()), columns=["task", "minutes"])
    return [
        html.Div([html.Span("Evidence: ", className="lo-strong"), ui.badge(label, kind),
                  html.Span(f" {why}.", className="lo-muted")],
                 id="quality-evidence", className="lo-kpi-status"),
        tiles,
        html.Div([
            ui.card("Minutes saved per AI task: two estimates", [
                kv.graph("quality-saved", saved_figure(record), 220),
                html.P(ROI_SOURCE, className="lo-strong", id="quality-roi-source"),
                html.P(f"Difference in differences compares {record['did_treated_users']} exposed people "
                       "with "
                       f"{record['did_control_users']} not yet exposed, against the baseline window "
                       f"{record['baseline_window_start'] or '—'} to {record['baseline_window_end'] or '—'}.",
                       className="lo-muted")]),
            ui.card("Baseline minutes per task", ui.table(
                baselines, [("task", "Task"), ("minutes", "Minutes by hand")], table_id="quality-baselines",
                numeric=["minutes"], render={"minutes": lambda r: kv.num(r["minutes"], 1)})
                if not baselines.empty else ui.empty_state(
                    "No baseline minutes.", "Record one with POST /api/v1/baselines, or send "
                    "timed manual events before the first exposure.", state_id="quality-no-baseline")),
        ], className="lo-grid-2"),
    ]


@callback(Output("quality-weeks", "children"), Input("quality-query", "data"))
def render_quality_weeks(query):
    """Error rate and minutes saved per week, from kpi_data.quality_weeks()."""
    try:
        weeks = kpi_data.quality_weeks(query["feature"], query["month"])
        trend, baseline = weeks["trend"], weeks["baseline_error_rate"]
        marks = kpi_time.rollout_marks(query["feature"])
    except LiftoffError as error:
        return ui.alert(error.message, "danger")
    return html.Div([
        ui.card("Error rate per week against the baseline",
                kv.graph("quality-error-trend", error_figure(trend, baseline, marks))),
        ui.card("Minutes saved per task, per week",
                kv.graph("quality-saved-trend", saved_trend_figure(trend, marks))),
    ], className="lo-grid-2")
