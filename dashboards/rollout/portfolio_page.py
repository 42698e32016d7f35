"""The landing page: every feature, its stage, who has it now, since when."""

from __future__ import annotations

from urllib.parse import urlencode

import dash
from dash import Input, Output, callback, dcc, html

from app.services.reporting import board_report
from dashboards.kpi import data as kpi_data
from dashboards.kpi import view as kv
from dashboards.rollout import data, view
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import N_CLICKS, accepts


def rollout_href(key: str) -> str:
    return dash.get_relative_path("/rollout") + "?" + urlencode({"feature": key})


def layout(**_query) -> html.Div:
    return html.Div([
        html.Div([
            html.Div([
                html.H1("Portfolio"),
                html.P("Every AI feature, where its rollout stands and how many people have it now.",
                       className="lo-lede"),
            ]),
            html.Button("Refresh", id="portfolio-refresh", className="lo-btn lo-btn-ghost"),
        ], className="lo-page-head"),
        dcc.Loading(html.Div(id="portfolio-body", className="lo-stack"), type="dot", delay_show=150),
    ])


dash.register_page(__name__, path="/", name="Portfolio", title="Portfolio · Liftoff", order=0, layout=layout)
accepts("portfolio-refresh", "n_clicks", N_CLICKS)  # checked before the callback runs (callback_inputs)


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
            "Create one with POST /api/v1/features (see docs/dashboard.md), or load the demo company "
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
    month = kpi_data.default_month()  # the latest month with events
    quality = board_report.month_quality(month)
    columns = [("name", "Feature"), ("owner", "Owner"), ("stage_label", "Stage"),
               ("exposed_now", "Exposed now"), ("since", "At this stage since"),
               ("quality", f"Quality {month}"), ("link", "")]
    rows = ui.table(
        frame, columns, numeric=["exposed_now"], table_id="portfolio-table",
        render={"name": _feature_cell, "stage_label": _stage_cell, "link": _link_cell,
                "exposed_now": lambda r: ui.number(r["exposed_now"]),
                "owner": lambda r: r["owner"] or "—",
                "quality": lambda r: kv.quality_cell(quality.get(r["key"]))},
    )
    return [tiles, ui.card("Features", rows)]
