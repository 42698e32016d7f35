"""Rendering of the enablement page's sections (playbook, gate, drift, training, feedback, action
items) from the frames and dicts of dashboards.enablement.data."""

from __future__ import annotations

from urllib.parse import quote

import pandas as pd
from dash import dcc, html
from dash.development.base_component import Component

from dashboards.people import picker
from dashboards.shell import components as ui

STATUS_KINDS = {"open": "killed", "triaged": "live", "fixed": "off", "verified": "complete"}
NEXT_LABELS = {"triaged": "Triage", "fixed": "Mark fixed", "verified": "Verify"}


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def playbook_card(overview: dict, completion: dict, attach=None) -> html.Section:
    """The attached playbook and the stage that applies now: trainings, communications, checklist
    and gate, as the playbook defines them. ``attach`` is the attach form (for those who may)."""
    playbook, stage = overview["playbook"], overview["stage"]
    if playbook is None:
        return ui.card(
            "Playbook",
            [ui.empty_state(
                "No playbook attached to this feature.",
                "A change manager attaches one below: it sets the trainings, communications, pulse "
                "questions and gate of each stage." if attach is not None else
                "A change manager attaches one; see docs/playbooks.md.",
                state_id="playbook-empty",
            ), attach],
            card_id="playbook-card",
        )
    head = html.Div(
        [
            html.Span(playbook["name"], className="lo-strong"),
            " ",
            html.Span(playbook["key"], className="lo-muted lo-mono"),
            html.P(playbook["description"], className="lo-muted"),
        ]
    )
    if stage is None:
        body = ui.empty_state(
            "The feature has not started.",
            "Advance it to stage 1 on the Rollout control page; the playbook's first stage then applies.",
            state_id="playbook-stage-empty",
        )
        return ui.card("Playbook", [head, body, attach], card_id="playbook-card")
    pct = completion["pct"]
    tiles = html.Div(
        [
            ui.tile(
                "Playbook stage", stage["name"], " → ".join(stage["adkar"]), tile_id="tile-playbook-stage"
            ),
            ui.tile(
                "Training completion",
                "—" if pct is None else f"{pct:.0f} %",
                f"{completion['completed']} of {completion['audience']} people in the stage's audience",
                tile_id="tile-completion",
            ),
            ui.tile("Feedback pulse", stage["feedback_cadence"], "1–5 scale", tile_id="tile-cadence"),
        ],
        className="lo-tiles",
    )
    trainings = (
        html.Ul(
            [
                html.Li(
                    [
                        html.Span(t["title"], className="lo-strong"),
                        html.Span(
                            f" · {t['format']}, {t['duration_minutes']} min, for {t['audience']}",
                            className="lo-muted",
                        ),
                    ]
                )
                for t in stage["trainings"]
            ]
        )
        if stage["trainings"]
        else html.P("No training planned for this stage.", className="lo-muted")
    )
    comms = html.Ul(
        [
            html.Li(
                [
                    html.Span(f"{c['channel']} ({c['timing']}), to {c['audience']}: ", className="lo-strong"),
                    c["message"],
                ]
            )
            for c in stage["communications"]
        ]
    )
    checklist = html.Ul([html.Li(item) for item in stage["checklist"]], className="lo-checklist")
    questions = html.Ul([html.Li(q) for q in stage["questions"]])
    gate: Component = html.Ul([html.Li([html.Span(c["metric"], className="lo-mono"),
                             f" {c['parameter']} {_fmt(c['threshold'])}"]) for c in stage["gate"]],
                   id="playbook-gate")
    if not stage["gate"]:
        gate = html.P("No gate: the stage ends when product promotes it.", className="lo-muted")
    return ui.card(
        "Playbook",
        [
            head,
            tiles,
            html.Div(
                [
                    html.Div(
                        [
                            html.H3("Trainings", className="lo-subhead"),
                            trainings,
                            html.H3("Checklist", className="lo-subhead"),
                            checklist,
                        ]
                    ),
                    html.Div(
                        [
                            html.H3("Communications", className="lo-subhead"),
                            comms,
                            html.H3("Pulse questions", className="lo-subhead"),
                            questions,
                            html.H3("Gate to leave this stage", className="lo-subhead"),
                            gate,
                        ]
                    ),
                ],
                className="lo-grid-2",
            ),
            attach,
        ],
        card_id="playbook-card",
    )


def gate_panel(gate: dict | None, drift: dict, can_evaluate: bool, can_promote: bool) -> html.Section:
    """The latest gate evaluation, criterion by criterion with its numbers, and the drift verdict."""
    buttons = []
    if can_evaluate:
        buttons.append(
            html.Button("Evaluate now", id="gate-evaluate", className="lo-btn lo-btn-secondary", n_clicks=0)
        )
    if can_promote:
        buttons.append(
            html.Button(
                "Promote with gate result", id="gate-promote", className="lo-btn lo-btn-primary", n_clicks=0
            )
        )
    body: list[Component]
    if gate is None:
        body = [
            ui.empty_state(
                "No gate evaluation yet.",
                "The evaluate-gates job judges every live stage daily; or press “Evaluate now”.",
                state_id="gate-empty",
            )
        ]
    else:
        verdict = ui.badge("passed", "complete") if gate["passed"] else ui.badge("failed", "killed")
        summary = html.P(
            [
                verdict,
                f" Stage {gate['stage']} ({gate['playbook_stage']}), evaluated ",
                ui.when(pd.Timestamp(gate["evaluated_at"])),
                f" ({gate['trigger']}); window ",
                f"{gate['window']['start']} – {gate['window']['end']}.",
            ],
            id="gate-summary",
        )
        criteria = ui.table(
            gate["criteria_frame"],
            [
                ("metric", "Criterion"),
                ("threshold", "Needs"),
                ("value", "Value"),
                ("passed", "Result"),
                ("numbers", "Numbers"),
            ],
            render={
                "threshold": lambda r: f"{r['parameter']} {_fmt(r['threshold'])}",
                "value": lambda r: _fmt(r["value"]),
                "passed": lambda r: (
                    ui.badge("pass", "complete") if r["passed"] else ui.badge("fail", "killed")
                ),
            },
            numeric=["value"],
            table_id="gate-table",
        )
        body = [summary, criteria]
    body += [html.H3("Drift watch", className="lo-subhead"), drift_section(drift)]
    return ui.card(
        "Stage gate", body, actions=html.Div(buttons, className="lo-actions-inline"), card_id="gate-panel"
    )


def drift_section(drift: dict) -> html.Div:
    if drift["verdict"] == "none":
        return ui.empty_state(
            "No drift check yet.",
            "The weekly drift-watch job compares the last 7 days with the first month after rollout.",
            state_id="drift-empty",
        )
    verdict = (
        ui.badge("diverged", "killed") if drift["verdict"] == "diverged" else ui.badge("stable", "complete")
    )
    table = ui.table(
        drift["checks"],
        [
            ("metric", "Metric"),
            ("test", "Test"),
            ("reference_value", "First month"),
            ("live_value", "Last 7 days"),
            ("reference_n", "n (ref)"),
            ("live_n", "n (live)"),
            ("p_value", "p"),
            ("diverged", "Verdict"),
            ("checked_at", "Checked"),
        ],
        render={
            "reference_value": lambda r: _fmt(r["reference_value"]),
            "live_value": lambda r: _fmt(r["live_value"]),
            "p_value": lambda r: _fmt(r["p_value"]),
            "diverged": lambda r: (
                ui.badge("diverged", "killed") if r["diverged"] else ui.badge("same", "complete")
            ),
        },
        numeric=["reference_value", "live_value", "reference_n", "live_n", "p_value"],
        table_id="drift-table",
    )
    return html.Div([html.P(["Latest drift check: ", verdict], id="drift-verdict"), table])


def trainings_card(sessions: pd.DataFrame, forms=None) -> html.Section:
    """The sessions held or scheduled, with the forms to schedule one and record attendance."""
    if sessions.empty:
        body = ui.empty_state(
            "No training sessions yet.",
            "Schedule one with the form below." if forms is not None else
            "A change manager schedules them here.",
            state_id="trainings-empty",
        )
    else:
        body = ui.table(
            sessions,
            [
                ("held_on", "When"),
                ("stage", "Stage"),
                ("title", "Title"),
                ("trainer", "Trainer"),
                ("attendees", "Attendees"),
                ("completed", "Completed"),
                ("completion_pct", "% of stage audience"),
            ],
            render={
                "held_on": lambda r: r["held_on"] + (f" {r['starts_at']}" if r["starts_at"] else ""),
                "completion_pct": lambda r: (
                    "—"
                    if r["completion_pct"] is None or pd.isna(r["completion_pct"])
                    else f"{r['completion_pct']:.0f} % of {r['audience']}"
                )
            },
            numeric=["stage", "attendees", "completed", "completion_pct"],
            table_id="trainings-table",
        )
    return ui.card("Training sessions", [body, forms], card_id="trainings-card")


def feedback_form() -> html.Div:
    """The feedback form (shown to change managers and admins only)."""
    categories = ("usability", "quality", "correction", "training", "other")
    return html.Div(
        [
            picker.people_picker("feedback", "Whose feedback (search by name)", multi=False),
            html.Div(
                [
                    ui.field("Rating (1–5)", dcc.RadioItems(
                        id="feedback-rating", options=[{"label": str(i), "value": i} for i in range(1, 6)],
                        value=None, inline=True, className="lo-radios")),
                    ui.field("Category", dcc.Dropdown(
                        id="feedback-category", clearable=False, value="quality",
                        options=[{"label": c, "value": c} for c in categories])),
                    ui.field("Severity", dcc.Dropdown(
                        id="feedback-severity", clearable=False, value="normal",
                        options=[{"label": v, "value": v} for v in ("normal", "critical")])),
                ],
                className="lo-form-row",
            ),
            html.Label(
                "Comment (for a correction: the wrong answer and the right one)", htmlFor="feedback-comment"
            ),
            dcc.Textarea(id="feedback-comment", className="lo-input", value=""),
            html.Div(id="feedback-form-message", className="lo-form-message"),
            html.Button(
                "Record feedback", id="feedback-submit", className="lo-btn lo-btn-primary", n_clicks=0
            ),
        ],
        className="lo-form",
        id="feedback-form",
    )


def _triage_cell(row: dict, editable: bool):
    if not editable or not row["next_statuses"]:
        return row["owner"] or "—"
    return html.Div(
        [
            dcc.Input(
                id={"type": "fb-owner", "id": row["id"]},
                type="text",
                value=row["owner"] or "",
                placeholder="owner",
                className="lo-field lo-field-sm",
            ),
            *[
                html.Button(
                    NEXT_LABELS.get(to, to),
                    id={"type": "fb-triage", "id": row["id"], "to": to},
                    className="lo-btn lo-btn-secondary lo-btn-sm",
                    n_clicks=0,
                )
                for to in row["next_statuses"]
            ],
        ],
        className="lo-inline",
    )


FEEDBACK_PAGE = 25  # rows shown at first, and added by "Show more"


def feedback_controls() -> html.Div:
    return html.Div(dcc.RadioItems(
        id="feedback-scope", value="open", inline=True, className="lo-radios",
        options=[{"label": " Needs action (not verified) ", "value": "open"},
                 {"label": " All feedback", "value": "all"}]), className="lo-form-row")


def feedback_list(items: pd.DataFrame, editable: bool, key: str, shown: int | None = None) -> html.Div:
    """The feedback table: the first ``shown`` rows of ``items`` (all when None), and how many
    there are."""
    exports = html.P(
        [
            "Corrections dataset: ",
            html.A(
                "CSV",
                href=f"/api/v1/features/{quote(key)}/corrections?format=csv",
                id="corrections-csv",
                className="lo-link",
            ),
            " · ",
            html.A(
                "JSONL",
                href=f"/api/v1/features/{quote(key)}/corrections?format=jsonl",
                id="corrections-jsonl",
                className="lo-link",
            ),
        ],
        className="lo-muted",
    )
    if items.empty:
        return html.Div(
            [
                exports,
                ui.empty_state(
                    "No feedback yet." if shown is None else "Nothing here needs action.",
                    "Record feedback with the form above as people answer the pulse survey."
                    if editable else "Change managers record it here as people answer the pulse survey.",
                    state_id="feedback-empty",
                ),
            ]
        )
    page = items if shown is None else items.head(shown)
    table = ui.table(
        page,
        [
            ("occurred_at", "When"),
            ("person", "Person"),
            ("rating", "Rating"),
            ("category", "Category"),
            ("severity", "Severity"),
            ("comment", "Comment"),
            ("status", "Status"),
            ("owner", "Owner / triage"),
        ],
        render={
            "status": lambda r: ui.badge(r["status"], STATUS_KINDS.get(r["status"], "off")),
            "severity": lambda r: ui.badge("critical", "killed") if r["severity"] == "critical" else "normal",
            "category": lambda r: r["category"] or "—",
            "comment": lambda r: r["comment"] or "",
            "owner": lambda r: _triage_cell(r, editable),
        },
        numeric=["rating"],
        table_id="feedback-table",
    )
    count = (f"Showing {len(page):,} of {len(items):,}, newest first." if len(page) < len(items)
             else f"{len(items):,} item{'s' if len(items) != 1 else ''}, newest first.")
    return html.Div([exports, table, html.P(count, className="lo-muted", id="feedback-count")])


def action_form() -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    ui.field("Action", ui.text_input("action-title")),
                    ui.field("Owner", ui.text_input("action-owner")),
                    ui.field("Due on (YYYY-MM-DD)", ui.text_input("action-due", "2026-12-01")),
                    html.Div(
                        html.Button("Add", id="action-add", className="lo-btn lo-btn-primary", n_clicks=0),
                        className="lo-form-button",
                    ),
                ],
                className="lo-form-row",
            ),
            html.Div(id="action-form-message", className="lo-form-message"),
        ],
        className="lo-form",
        id="action-form",
    )


def action_list(items: pd.DataFrame, editable: bool) -> html.Div:
    if items.empty:
        return ui.empty_state(
            "No action items.", "Add one with the form: what, who, by when.", state_id="actions-empty"
        )

    def status(row):
        badge = ui.badge(row["status"], "complete" if row["status"] == "done" else "live")
        late = ui.badge("overdue", "killed") if row["overdue"] else None
        done = (
            html.Button(
                "Done",
                id={"type": "action-done", "id": row["id"]},
                n_clicks=0,
                className="lo-btn lo-btn-secondary lo-btn-sm",
            )
            if editable and row["status"] == "open"
            else None
        )
        return html.Div([part for part in (badge, late, done) if part is not None], className="lo-inline")

    return ui.table(
        items,
        [("due_on", "Due"), ("title", "Action"), ("owner", "Owner"), ("status", "Status")],
        render={"status": status},
        table_id="actions-table",
    )
