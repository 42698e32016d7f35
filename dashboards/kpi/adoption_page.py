"""Adoption of one feature: the funnel, who adopts over time, where people get stuck."""

from __future__ import annotations

from collections.abc import Sequence
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
    text,
)

GROUPING_LABELS = {"stage": "Rollout stage (champions, pilot, the rest)", "cohort": "Cohort",
                   "department": "Department"}


def layout(feature: str | None = None, month: str | None = None, group: str | None = None,
           **_query) -> html.Div:
    options = kpi_data.feature_keys()
    keys = {o["value"] for o in options}
    key = feature if feature in keys else (None if feature else kpi_data.default_feature())
    refusal = kpi_time.month_refusal(month)  # a URL can say 2026-13: say so, never show another month
    chosen = month if is_month(month) and refusal is None else kpi_data.default_month()
    grouping = group if group in kpi_data.GROUPINGS else "stage"
    months = [{"label": m, "value": m} for m in kpi_data.month_options()]
    if chosen not in {m["value"] for m in months}:
        months.insert(0, {"label": chosen, "value": chosen})
    head = html.Div([
        html.Div([html.H1("Adoption"),
                  html.P("Who has the feature, who tried it, who kept using it.", className="lo-lede")]),
        html.Div([
            kv.picker("adoption-feature-picker", options, key, "Pick a feature", "Feature"),
            kv.picker("adoption-month-picker", months, chosen, "Pick a month", "Month"),
            kv.picker("adoption-group-picker", [{"label": v, "value": k} for k, v in GROUPING_LABELS.items()],
                      grouping, "Group by", "Compare"),
        ], className="lo-kpi-controls"),
    ], className="lo-page-head")
    parts = [dcc.Location(id="adoption-location", refresh="callback-nav"), head]
    if refusal:
        parts.append(ui.alert(f"{refusal} Showing {chosen} instead.", "danger",
                              alert_id="adoption-bad-month"))
    if not options:
        parts.append(ui.empty_state("No features yet.", "Create one with POST /api/v1/features, or run "
                                    "`liftoff seed` for the demo company.", state_id="adoption-empty"))
        return html.Div(parts)
    if key is None:
        parts.append(ui.empty_state("No feature chosen.", f"There is no feature “{feature}”. Pick one above.",
                                    state_id="adoption-empty"))
        return html.Div(parts)
    parts += [dcc.Store(id="adoption-query", data={"feature": key, "month": chosen, "group": grouping}),
              kv.loading("adoption-body"), kv.loading("adoption-weeks")]
    return html.Div(parts)


dash.register_page(__name__, path="/adoption", name="Adoption", title="Adoption · Liftoff", order=2,
                   layout=layout)

# What the components hold (checked before any callback runs: dashboards/shell/callback_inputs.py).
GROUP = text(20)  # a grouping, known or not (kpi_data answers an unknown one with an alert)
accepts("adoption-feature-picker", "value", FEATURE_KEY)
accepts("adoption-month-picker", "value", calendar_month(optional=True))
accepts("adoption-group-picker", "value", GROUP)
accepts("adoption-location", "search", SEARCH)
accepts("adoption-query", "data", record(feature=PAGE_FEATURE, month=calendar_month(), group=GROUP))


@callback(Output("adoption-location", "search"),
          Input("adoption-feature-picker", "value"), Input("adoption-month-picker", "value"),
          Input("adoption-group-picker", "value"), State("adoption-location", "search"),
          prevent_initial_call=True)
def pick(feature, month, group, search):
    """Keep feature, month and grouping in the URL (a deep link)."""
    query = (("feature", feature), ("month", month), ("group", group))
    wanted = "?" + urlencode({k: v for k, v in query if v})
    return wanted if wanted != search else no_update


def funnel_figure(funnel: pd.DataFrame) -> dict:
    return {"data": [{"type": "funnel", "y": list(funnel["stage"]), "x": [int(v) for v in funnel["people"]],
                      "textinfo": "value+percent initial", "textposition": "inside",
                      "insidetextfont": {"color": "white", "size": 13}, "constraintext": "none",
                      "marker": {"color": [kv.BRAND, "#4263eb", "#364fc7", kv.GOOD]}}],
            # No legend and thin margins: the four bars get the chart's height, their values fit in.
            "layout": {"hovermode": "closest", "showlegend": False, "margin": {"l": 80, "t": 8, "b": 8},
                       "yaxis": {"title": {"text": ""}}}}


def trend_figure(trend: pd.DataFrame, marks: Sequence[dict] = ()) -> dict:
    data = []
    for name, part in trend.groupby("group", sort=False):
        hidden = part["suppressed"].fillna(False).astype(bool)
        everyone = name == "All"
        data.append({
            "type": "scatter", "x": [str(w) for w in part["week"]], "y": list(part["adoption_rate"]),
            "mode": "lines+markers", "name": str(name),
            "line": {"width": 3 if everyone else 2, "dash": "dot" if everyone else "solid"},
            "customdata": [kv.HIDDEN if h else "" for h in hidden],
            "hovertemplate": "%{y:.0%} %{customdata}<extra>" + str(name) + "</extra>"})
    weeks = sorted(trend["week"]) if len(trend) else [None]
    shapes, notes = kv.rollout_lines(list(marks), weeks[0], weeks[-1])
    return {"data": data, "layout": {
        "yaxis": {"tickformat": ".0%", "range": [0, 1.02], "title": {"text": "adoption rate (%)"}},
        "xaxis": {"title": {"text": "week starting"}, "type": "date", "tickformat": "%b %d"},
        "shapes": shapes, "annotations": notes}}


def heatmap_figure(heat: pd.DataFrame) -> dict:
    grid = heat.pivot_table(index="group", columns="week", values="adoption_rate", aggfunc="first",
                            dropna=False)
    hidden = heat.pivot_table(index="group", columns="week", values="suppressed", aggfunc="first")
    hidden = hidden.reindex(index=grid.index, columns=grid.columns).fillna(False).astype(bool)
    text = [[kv.HIDDEN if hidden.iloc[i, j] else ("" if pd.isna(v) else f"{v:.0%}")
             for j, v in enumerate(row)] for i, row in enumerate(grid.to_numpy())]
    z = [[None if pd.isna(v) else float(v) for v in row] for row in grid.to_numpy(dtype="float64")]
    return {"data": [{
        "type": "heatmap", "z": z, "x": [str(w) for w in grid.columns], "y": [str(g) for g in grid.index],
        # Sequential, lightest at 0 %: more adoption reads as more ink.
        "text": text, "texttemplate": "%{text}", "colorscale": kv.SEQUENTIAL,
        "zmin": 0, "zmax": 1, "xgap": 2, "ygap": 2,
        "hoverongaps": False, "colorbar": {"title": {"text": "adoption (%)"}, "tickformat": ".0%"}}],
        # No legend: the colour bar says what the colours mean, and a legend's reserved room squashes rows.
        "layout": {"hovermode": "closest", "showlegend": False,
                   "xaxis": {"type": "category", "title": {"text": "week starting"}},
                   "yaxis": {"title": {"text": "department"}}, "margin": {"l": 130, "t": 8}}}


def trend_height(trend: pd.DataFrame) -> int:
    """Room for the legend below the trend: on a phone its entries wrap to a line or two each, and
    with ten departments a fixed 300 px squashed the plot and cut the legend."""
    return max(300, 220 + 22 * trend["group"].nunique())


def heatmap_height(heat: pd.DataFrame) -> int:
    """Room for every department's row (about 30 px each) above the axis and its title."""
    return max(240, 120 + 30 * heat["group"].nunique())


def _group_table(frame: pd.DataFrame):
    def hidden(render):
        def cell(r):
            if not r["suppressed"]:
                return render(r)
            return kv.PROTECTS_SMALLER if r.get("protects_smaller_groups") else kv.FEWER_THAN_5
        return cell

    columns = [("group", "Group"), ("exposed_users", "Exposed"), ("active_users", "Active"),
               ("adoption_rate", "Adoption"), ("time_to_first_use_hours", "Time to first use"),
               ("never_used_share", "Never used")]
    return ui.table(frame, columns, table_id="adoption-groups", numeric=[c for c, _ in columns[1:]], render={
        "exposed_users": hidden(lambda r: ui.number(r["exposed_users"])),
        "active_users": hidden(lambda r: ui.number(r["active_users"])),
        "adoption_rate": hidden(lambda r: kv.pct(r["adoption_rate"], 0)),
        "time_to_first_use_hours": hidden(lambda r: kv.num(r["time_to_first_use_hours"], 1, "h")),
        "never_used_share": hidden(lambda r: kv.pct(r["never_used_share"], 0)),
    })


@callback(Output("adoption-body", "children"), Input("adoption-query", "data"))
def render_adoption(query):
    """Funnel, trend, heatmap and groups from kpi_data.adoption()."""
    try:
        view = kpi_data.adoption(query["feature"], query["month"], query["group"])
    except LiftoffError as error:
        return ui.alert(error.message, "danger")
    record = view["record"]
    if record["exposed_users"] == 0 and record["ai_tasks"] == 0:
        return ui.empty_state(
            f"Nobody was exposed to {query['feature']} in {query['month']}.",
            "Pick another month, or advance the feature's rollout on its Rollout control page; "
            "figures follow after the next `liftoff jobs run refresh-kpis`.", state_id="adoption-empty")
    if not kpi_time.month_has_events(query["month"], query["feature"]):
        # People were exposed but no event came: "Adoption 0 %" would state what nobody measured.
        return ui.alert(f"No data arrived for {query['month']} yet: {ui.number(record['exposed_users'])} "
                        "people are exposed, but no event of this feature reached Liftoff for the month.",
                        "info", alert_id="adoption-no-data")
    tiles = html.Div([
        ui.tile("Exposed", ui.number(record["exposed_users"]), f"{view['start']} to {view['end']}",
                tile_id="adoption-exposed"),
        ui.tile("Adoption", kv.pct(record["adoption_rate"], 0),
                kv.interval(record["adoption_rate_ci_low"], record["adoption_rate_ci_high"],
                            lambda v: kv.pct(v, 0)), tile_id="adoption-rate"),
        ui.tile("Time to first use", kv.num(record["time_to_first_use_hours"], 1, "h"),
                f"median; {kv.pct(record['never_used_share'], 0)} never used it", tile_id="adoption-ttfu"),
        ui.tile("Depth", kv.num(record["depth"], 1), "AI tasks per active person", tile_id="adoption-depth"),
    ], className="lo-tiles lo-kpi-tiles")
    label = GROUPING_LABELS[query["group"]].split(" (")[0].lower()
    return [
        tiles,
        html.Div([
            ui.card("Funnel: exposed → tried → active → habitual",
                    [kv.graph("adoption-funnel", funnel_figure(view["funnel"]), 220),
                     html.P("Tried: first AI use by the month's end. Active: an AI task this month. "
                            "Habitual: "
                            "active on 3 or more of the last 30 days.", className="lo-muted")]),
            ui.card(f"By {label}, this month", _group_table(view["groups"])),
        ], className="lo-grid-2"),
    ]


@callback(Output("adoption-weeks", "children"), Input("adoption-query", "data"))
def render_adoption_weeks(query):
    """Adoption per week by group and per department, from kpi_data.adoption_weeks()."""
    try:
        weeks = kpi_data.adoption_weeks(query["feature"], query["month"], query["group"])
    except LiftoffError as error:
        return ui.alert(error.message, "danger")
    label = GROUPING_LABELS[query["group"]].split(" (")[0].lower()
    marks, heat, trend = kpi_time.rollout_marks(query["feature"]), weeks["heatmap"], weeks["trend"]
    return [
        ui.card(f"Adoption per week by {label} (dotted: everyone)",
                kv.graph("adoption-trend", trend_figure(trend, marks), trend_height(trend))),
        ui.card("Department × week (a group with fewer than 5 exposed people is hidden, and the next "
                "smallest too when the rest would give it away)",
                kv.graph("adoption-heatmap", heatmap_figure(heat), heatmap_height(heat))),
    ]
