"""The landing page: every feature, its stage, who has it now, since when."""

from __future__ import annotations

from urllib.parse import urlencode

import dash
import pandas as pd
from dash import Input, Output, callback, dcc, html
from dash.development.base_component import Component

from app.security import current_identity
from dashboards.kpi import data as kpi_data
from dashboards.kpi import view as kv
from dashboards.rollout import authoring, data, view
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import N_CLICKS, accepts, text, texts


def rollout_href(key: str) -> str:
    return dash.get_relative_path("/rollout") + "?" + urlencode({"feature": key})


SORTS = [("name", "Name"), ("stage", "Stage"), ("exposed_now", "Exposed now"),
         ("since", "At this stage since"), ("roi_pct", "ROI"), ("adoption_rate", "Adoption")]
STATUSES = [("live", "Rolling out"), ("complete", "At its last stage"), ("off", "Not started"),
            ("killed", "Killed")]
GATES = [("passed", "Gate passed"), ("failed", "Gate failed"), ("none", "No gate evaluation")]


def _filters(frame) -> html.Div:
    """Search, filters and sort: a grid that folds to one column on a phone."""
    stages = sorted({name for name in frame["stage_name"] if name}) if not frame.empty else []
    stage_options = [{"label": "Off (not started)", "value": ""}] + [{"label": n, "value": n} for n in stages]

    def pick(component_id: str, label: str, options: list, multi: bool = True, value=None) -> html.Div:
        return html.Div([html.Label(label, htmlFor=component_id),
                         dcc.Dropdown(id=component_id, options=options, multi=multi, value=value,
                                      clearable=multi, placeholder="Any", className="lo-filter")])

    return html.Div([
        html.Div([html.Label("Search", htmlFor="portfolio-search"),
                  dcc.Input(id="portfolio-search", type="search", value="", className="lo-field",
                            placeholder="Name or key")]),
        pick("portfolio-stage", "Stage", stage_options, value=[]),
        pick("portfolio-status", "Status", [{"label": label, "value": v} for v, label in STATUSES], value=[]),
        pick("portfolio-gate", "Gate", [{"label": label, "value": v} for v, label in GATES], value=[]),
        html.Div([html.Label("Sort by", htmlFor="portfolio-sort"),
                  html.Div([dcc.Dropdown(id="portfolio-sort", value="name", clearable=False,
                                         options=[{"label": t, "value": v} for v, t in SORTS],
                                         className="lo-filter"),
                            dcc.RadioItems(id="portfolio-order", value="asc", inline=True,
                                           className="lo-radios",
                                           options=[{"label": " ascending", "value": "asc"},
                                                    {"label": " descending", "value": "desc"}])],
                           className="lo-sort")]),
    ], className="lo-form-row lo-portfolio-filters", id="portfolio-filters")


def layout(**_query) -> html.Div:
    frame = data.portfolio()
    parts: list[Component | None] = [
        html.Div([
            html.Div([
                html.H1("Portfolio"),
                html.P("Every AI feature, where its rollout stands and how many people have it now.",
                       className="lo-lede"),
            ]),
            html.Button("Refresh", id="portfolio-refresh", className="lo-btn lo-btn-ghost"),
        ], className="lo-page-head"),
        authoring.panel(current_identity()),
        dcc.Loading(html.Div(id="portfolio-body", className="lo-stack"), type="dot", delay_show=150),
    ]
    if not frame.empty:
        rows = dcc.Loading(html.Div(id="portfolio-rows"), type="dot", delay_show=150)
        parts.append(ui.card("Features", [_filters(frame), rows], card_id="portfolio-features"))
    return html.Div([part for part in parts if part is not None])


dash.register_page(__name__, path="/", name="Portfolio", title="Portfolio · Liftoff", order=0, layout=layout)
# Checked before the callbacks run (dashboards/shell/callback_inputs.py).
accepts("portfolio-refresh", "n_clicks", N_CLICKS)
accepts("portfolio-search", "value", text(200))
for _filter in ("portfolio-stage", "portfolio-status", "portfolio-gate"):
    accepts(_filter, "value", texts(200, 50))
accepts("portfolio-sort", "value", text(20))
accepts("portfolio-order", "value", text(4))


def _stage_cell(row: dict):
    if row["status"] == "off":
        return ui.status_badge("off")
    if row["status"] == "killed":
        where = f"at {row['stage_name']} ({row['stage']} of {row['stage_count']})" if row["stage"] else ""
        return html.Span([ui.status_badge("killed"), " ", html.Span(where, className="lo-muted")])
    return html.Span([view.status_badge(row["status"], row["everyone"]), " ", html.Span(row["stage_label"])])


def _feature_cell(row: dict):
    return html.Div([html.Div(row["name"], className="lo-strong"),
                     html.Div(row["key"], className="lo-muted lo-mono")])


def _link_cell(row: dict):
    return dcc.Link("Rollout →", href=rollout_href(row["key"]), className="lo-link",
                    id=f"open-rollout-{row['key']}")


@callback(Output("portfolio-body", "children"), Input("portfolio-refresh", "n_clicks"))
def render_portfolio(_clicks):
    """Fill the portfolio from data.portfolio()."""
    frame = data.portfolio()
    if frame.empty:
        return ui.empty_state(
            "No features yet.",
            "Create one with “New feature” above (product and admin users), or load the demo company "
            "with `liftoff seed`.",
            state_id="portfolio-empty",
        )
    live = int((frame["status"].isin(["live", "complete"])).sum())
    tiles = html.Div([
        ui.tile("Features", ui.number(len(frame))),
        ui.tile("Live", ui.number(live), f"{int((frame['status'] == 'off').sum())} not started"),
        ui.tile("Exposures now", ui.number(int(frame["exposed_now"].sum())), "open exposure spells"),
        ui.tile("Killed", ui.number(int((frame["status"] == "killed").sum()))),
    ], className="lo-tiles")
    return tiles


def _percent(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.0f} %"


@callback(Output("portfolio-rows", "children"), Input("portfolio-search", "value"),
          Input("portfolio-stage", "value"), Input("portfolio-status", "value"),
          Input("portfolio-gate", "value"), Input("portfolio-sort", "value"),
          Input("portfolio-order", "value"), Input("portfolio-refresh", "n_clicks"))
def render_rows(search, stages, statuses, gates, sort, order, _clicks):
    """The features table, searched, filtered and sorted, with ROI and adoption of the latest month."""
    frame = data.portfolio()
    month = kpi_data.default_month()  # the latest month with events
    figures = data.portfolio_figures(month)
    for field in ("roi_pct", "adoption_rate", "gate"):
        frame[field] = [figures.get(k, {}).get(field) for k in frame["key"]]
    frame["gate"] = frame["gate"].fillna("none")
    for field in ("roi_pct", "adoption_rate"):  # numbers, NaN without a figure (sorted last)
        frame[field] = pd.to_numeric(frame[field], errors="coerce").astype("float64")
    rows = data.select_rows(frame, search, stages, statuses, gates, sort, order)
    if rows.empty:
        return ui.empty_state("No feature matches.", "Clear the search or a filter.",
                              state_id="portfolio-none")
    columns = [("name", "Feature"), ("owner", "Owner"), ("stage_label", "Stage"),
               ("exposed_now", "Exposed now"), ("since", "At this stage since"),
               ("roi_pct", f"ROI {month}"), ("adoption_rate", f"Adoption {month}"),
               ("quality", f"Quality {month}"), ("gate", "Gate"), ("link", "")]
    return ui.table(
        rows, columns, numeric=["exposed_now", "roi_pct", "adoption_rate"], table_id="portfolio-table",
        render={"name": _feature_cell, "stage_label": _stage_cell, "link": _link_cell,
                "exposed_now": lambda r: ui.number(r["exposed_now"]),
                "owner": lambda r: r["owner"] or "—",
                "roi_pct": lambda r: _percent(r["roi_pct"]),
                "adoption_rate": lambda r: _percent(r["adoption_rate"] * 100),
                "gate": lambda r: dict(GATES)[r["gate"]] if r["gate"] != "none" else "—",
                "quality": lambda r: kv.quality_cell(figures.get(r["key"], {}).get("quality"))},
    )
