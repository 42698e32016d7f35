"""Pulse-survey results of a feature: how people rated it, per rollout stage and week, and what they
wrote, by category. Data (plain frames, tested directly) and its rendering (a stacked bar chart and
two tables).

A rating counts for the stage the feature stood at when it was given (from its transitions: a
rating before the first advance counts for "not started"), and for the ISO week (Monday, UTC) it
was given in.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from dash import html
from sqlalchemy import select

from app.db import db
from app.models import Feedback, RolloutTransition
from app.services.enablement.activities import feature_by_key
from dashboards.kpi.view import graph
from dashboards.shell import components as ui

RATINGS = (1, 2, 3, 4, 5)
DISTRIBUTION_COLUMNS = ["stage", "stage_name", "week", *[f"r{r}" for r in RATINGS], "responses", "mean"]
CATEGORY_COLUMNS = ["category", "responses", "mean", "comments"]
LATEST_COMMENTS = 3  # per category in the table; the feedback table below lists them all
# One colour per rating, from bad (red) to good (green), readable by people who do not tell red from
# green apart by the order of the legend and the stack (1 at the bottom).
RATING_COLOURS = {1: "#c92a2a", 2: "#e67700", 3: "#adb5bd", 4: "#74b816", 5: "#2b8a3e"}


def _stage_at(transitions: Sequence[tuple], at) -> int:
    stage = 0
    for effective_at, to_stage in transitions:
        if effective_at > at:
            break
        stage = to_stage
    return stage


def pulse_frames(key: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ratings per stage and week, comments per category) of the feature's feedback.

    :raises NotFound: no such feature.
    """
    feature = feature_by_key(key)
    names = {s.position: s.name for s in feature.stages}
    transitions = list(db.session.execute(
        select(RolloutTransition.effective_at, RolloutTransition.to_stage)
        .where(RolloutTransition.feature_id == feature.id)
        .order_by(RolloutTransition.effective_at, RolloutTransition.id)).all())
    items = db.session.execute(
        select(Feedback.occurred_at, Feedback.rating, Feedback.category, Feedback.comment)
        .where(Feedback.feature_id == feature.id).order_by(Feedback.occurred_at, Feedback.id)).all()
    if not items:
        return pd.DataFrame(columns=DISTRIBUTION_COLUMNS), pd.DataFrame(columns=CATEGORY_COLUMNS)
    rows = []
    for occurred_at, rating, category, comment in items:
        stage = _stage_at(transitions, occurred_at)
        day = pd.Timestamp(occurred_at).tz_convert("UTC").tz_localize(None).normalize()
        rows.append({"stage": stage, "stage_name": names.get(stage, "not started"),
                     "week": (day - pd.Timedelta(days=day.weekday())).date().isoformat(),
                     "rating": rating, "category": category or "uncategorised", "comment": comment})
    frame = pd.DataFrame(rows)
    counts = (pd.crosstab([frame["stage"], frame["stage_name"], frame["week"]], frame["rating"])
              .reindex(columns=list(RATINGS), fill_value=0))
    counts.columns = [f"r{r}" for r in RATINGS]
    stats = frame.groupby(["stage", "stage_name", "week"])["rating"].agg(responses="size", mean="mean")
    distribution = counts.join(stats).reset_index().sort_values(["week", "stage"])[DISTRIBUTION_COLUMNS]
    categories = []
    for label, group in frame.groupby("category", sort=True):
        said = [c for c in reversed(group["comment"].tolist()) if isinstance(c, str) and c.strip()]
        categories.append({"category": label, "responses": len(group), "mean": group["rating"].mean(),
                           "comments": said[:LATEST_COMMENTS]})
    by_category = pd.DataFrame(categories, columns=CATEGORY_COLUMNS).sort_values(
        ["responses", "category"], ascending=[False, True])
    return distribution.reset_index(drop=True), by_category.reset_index(drop=True)


def _figure(distribution: pd.DataFrame) -> dict:
    """Responses per week and stage, stacked by rating."""
    x = [f"{r['week']} · {r['stage_name']}" for r in distribution.to_dict("records")]
    data = [{"type": "bar", "name": f"{r} ★", "x": x, "y": distribution[f"r{r}"].tolist(),
             "marker": {"color": RATING_COLOURS[r]}, "hovertemplate": f"%{{y}} rated {r}<extra></extra>"}
            for r in RATINGS]
    # Whole responses only: with few of them, plotly would otherwise tick at 0.2, 0.4, ...
    step = max(1, int(distribution["responses"].max()) // 5)
    return {"data": data, "layout": {"barmode": "stack", "yaxis": {"title": {"text": "responses"},
                                                                    "rangemode": "tozero", "dtick": step},
                                     "xaxis": {"type": "category", "automargin": True}}}


def pulse_card(distribution: pd.DataFrame, by_category: pd.DataFrame) -> html.Section:
    """The pulse card: the chart, the distribution table and the comments by category."""
    if distribution.empty:
        body = ui.empty_state("No pulse responses yet.",
                              "Record feedback below as people answer the stage's pulse questions.",
                              state_id="pulse-empty")
        return ui.card("Pulse survey", body, card_id="pulse-card")
    table = ui.table(
        distribution,
        [("week", "Week of"), ("stage_name", "Stage"), *[(f"r{r}", f"{r} ★") for r in RATINGS],
         ("responses", "Responses"), ("mean", "Mean")],
        render={"mean": lambda r: f"{r['mean']:.1f}"},
        numeric=[*[f"r{r}" for r in RATINGS], "responses", "mean"],
        table_id="pulse-table",
    )
    comments = ui.table(
        by_category,
        [("category", "Category"), ("responses", "Responses"), ("mean", "Mean"),
         ("comments", "Latest comments")],
        render={"mean": lambda r: f"{r['mean']:.1f}",
                "comments": lambda r: html.Ul([html.Li(c) for c in r["comments"]]) if r["comments"] else "—",
                },
        numeric=["responses", "mean"],
        table_id="pulse-categories",
    )
    return ui.card("Pulse survey", [
        html.P("Ratings (1–5) per week and the stage the feature stood at, stacked by rating.",
               className="lo-muted"),
        html.Div(graph("pulse-chart", _figure(distribution), height=300), className="lo-pulse-chart"),
        table,
        html.H3("Comments by category", className="lo-subhead"),
        comments,
    ], card_id="pulse-card")
