"""Rendering of the rollout page's sections from the frames of dashboards.rollout.data."""

from __future__ import annotations

import pandas as pd
from dash import dcc, html
from dash.development.base_component import Component

from dashboards.shell import components as ui

STATE_LABELS = {"done": "passed", "current": "current", "next": "next", "killed": "killed here"}
ACTION_KINDS = {"advance": "live", "rollback": "off", "kill": "killed", "resume": "complete"}


def timeline(stages: pd.DataFrame, total_people: int | None = None) -> html.Ol:
    """The stages in order, each with its cumulative audience; the current one stands out."""
    items = []
    for stage in stages.to_dict("records"):
        who = [part for part in (stage["cohorts"] and f"cohorts {stage['cohorts']}",
                                 stage["percentage"] and f"{stage['percentage']} % of everyone") if part]
        items.append(html.Li([
            html.Div(str(stage["position"]), className="lo-step-dot"),
            html.Div([
                html.Div([html.Span(stage["name"], className="lo-strong"), " ",
                          html.Span(STATE_LABELS[stage["state"]],
                                    className=f"lo-badge lo-step-{stage['state']}")]),
                html.Div(" + ".join(who) or "no audience defined", className="lo-muted"),
                html.Div([html.Span(ui.number(stage["audience"]), className="lo-step-audience"), " people"],
                         className="lo-step-size"),
            ], className="lo-step-text"),
        ], className=f"lo-step lo-step-is-{stage['state']}", id=f"stage-{stage['position']}"))
    return html.Ol(items, className="lo-timeline", id="rollout-timeline")


def status_badge(status: str, everyone: bool) -> html.Span:
    """The status; a feature at its last stage says "Everyone" only when it really is on for
    everybody (a 100 % stage), else "Last stage" (it reaches just its cohorts)."""
    if status == "complete" and not everyone:
        return ui.badge("Last stage", "complete")
    return ui.status_badge(status)


def _move(row: dict) -> str:
    """The stages a transition went between, by name: "Pilot → Everyone", "at Pilot" for a kill."""
    if row["from_stage"] == row["to_stage"]:
        return f"at {row['to_name']}"
    return f"{row['from_name']} → {row['to_name']}"


def _action_badge(row: dict):
    """The action, and for an advance past a failed gate an override badge naming what failed."""
    badge = ui.badge(row["action"], ACTION_KINDS.get(row["action"], "off"))
    if not row.get("override"):
        return badge
    return html.Span([badge, " ", ui.badge("override", "killed"),
                      html.Span(f" gate failed: {row['override']}", className="lo-muted")],
                     className="lo-override")


def gate_refusal(message: str, criteria: list[tuple[str, str]]) -> list:
    """A refused advance inside the dialog: each failing criterion, observed against required."""
    return [html.Div(message, className="lo-strong"),
            html.Ul([html.Li([html.Span(name, className="lo-mono"), f": {text}"])
                     for name, text in criteria], id="rollout-gate-failures")]


def rollout_body(overview: dict, transitions: pd.DataFrame, audit: pd.DataFrame) -> list:
    tiles = html.Div([
        html.Div([html.Div("Status", className="lo-tile-label"),
                  html.Div(status_badge(overview["status"], overview.get("everyone", False)),
                           className="lo-tile-value")],
                 className="lo-tile", id="tile-status"),
        ui.tile("Current stage", overview["stage_label"], tile_id="tile-stage"),
        ui.tile("Exposed now", ui.number(overview["exposed_now"]), "people with the feature on",
                tile_id="tile-exposed"),
        ui.tile("Since", ui.when(overview["since"]), tile_id="tile-since"),
    ], className="lo-tiles")
    head = html.Div([html.H2(overview["name"], className="lo-feature-name"),
                     html.Span(overview["key"], className="lo-muted lo-mono"),
                     html.P(overview["description"] or "", className="lo-muted")])
    stages: Component
    if overview["stages"].empty:
        stages = ui.empty_state("This feature has no stages.",
                                "Add its stages under “Stages not yet reached” below.")
    else:
        stages = timeline(overview["stages"])
    if transitions.empty:
        history = ui.empty_state("No transitions yet.", "Advance the feature to start stage 1.",
                                 state_id="history-empty")
    else:
        history = ui.table(
            transitions,
            [("effective_at", "Effective"), ("action", "Action"), ("to_name", "Stages"),
             ("actor", "By"), ("reason", "Reason")],
            render={"action": _action_badge, "to_name": _move}, table_id="history-table",
        )
    if audit.empty:
        trail = ui.empty_state("No audit entries for this feature.",
                               "Every change made here or through the API is recorded in the audit trail.")
    else:
        trail = ui.table(audit, [("at", "When"), ("actor", "Who"), ("action", "What"), ("reason", "Reason")],
                         table_id="audit-table")
    return [
        head, tiles,
        ui.card("Stages", stages),
        html.Div([ui.card("Transition history", history), ui.card("Audit trail", trail)],
                 className="lo-grid-2"),
    ]


def sdk_panel(sdks: pd.DataFrame, rejected: pd.DataFrame) -> html.Section:
    if sdks.empty:
        connected = ui.empty_state(
            "No SDK has connected yet.",
            "An admin creates a client token on the Administration page (API tokens, kind client); "
            "give it to an Unleash SDK with this server's address followed by /api as its URL "
            "(docs/unleash.md).", state_id="sdks-empty")
    else:
        connected = ui.table(
            sdks,
            [("app_name", "App"), ("instance_id", "Instance"), ("environment", "Environment"),
             ("sdk_version", "SDK"), ("last_seen", "Last seen"), ("connected", "")],
            render={"connected": lambda r: ui.badge("connected", "live") if r["connected"]
                    else ui.badge("silent", "off")},
            table_id="sdks-table",
        )
    refused: Component
    if rejected.empty:
        refused = html.P("No refused fetches in the last 7 days.", className="lo-muted")
    else:
        refused = ui.table(rejected, [("day", "Day"), ("reason", "Reason"), ("app_name", "App"),
                                      ("count", "Requests")], numeric=["count"], table_id="rejected-table")
    return ui.card("Connected SDKs", [connected, html.H3("Refused fetches (7 days)", className="lo-subhead"),
                                      refused], card_id="sdk-panel")


def gate_status(gate: dict | None, drift_verdict: str, enablement_href: str,
                stage_names: dict[int, str] | None = None) -> html.Section:
    """The current stage's latest gate result and drift verdict, linking to the full gate panel;
    the stage by its name when ``stage_names`` (position -> name) has it."""
    link = dcc.Link("Gate details and promotion →", href=enablement_href, className="lo-link",
                    id="rollout-gate-link")
    if gate is None:
        state = html.Span("No gate evaluation yet.", className="lo-muted")
    else:
        failed = [c for c in gate["criteria"] if not c["passed"]]
        state = html.Span([
            ui.badge("gate passed", "complete") if gate["passed"] else ui.badge("gate failed", "killed"),
            f" {(stage_names or {}).get(gate['stage']) or 'stage ' + str(gate['stage'])}, "
            f"{ui.when(pd.Timestamp(gate['evaluated_at']))}",
            html.Span(f" · failing: {', '.join(c['metric'] for c in failed)}" if failed else "",
                      className="lo-muted"),
        ])
    drift = {"diverged": ui.badge("drift: diverged", "killed"),
             "stable": ui.badge("drift: stable", "complete")}.get(drift_verdict, "")
    return html.Section(html.Div([state, drift, link], className="lo-inline lo-gate-strip"),
                        className="lo-card lo-card-body", id="rollout-gate")
