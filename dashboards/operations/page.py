"""Operations: every scheduled job with its latest runs, and rollout changes waiting for Unleash.
Admins and product teams read it; admins may run a job now and void events
(dashboards/operations/event_voids.py)."""

from __future__ import annotations

import logging

import dash
from dash import ALL, Input, Output, State, callback, ctx, html, no_update

from app.db import db
from app.errors import LiftoffError
from app.security import current_identity
from app.services.reporting import closes
from dashboards.enablement import data
from dashboards.enablement.actions import (
    NotAllowed,
    job_overview,
    may_run_jobs,
    may_view_operations,
    run_job_now,
)
from dashboards.operations import event_voids
from dashboards.shell import components as ui
from dashboards.shell.callback_inputs import COUNTER, N_CLICKS, accepts, calendar_month, text

log = logging.getLogger(__name__)
CLOSE_JOB = "monthly-close"  # its "Run now" asks first, naming the month it will close
DIALOG_CLOSED, DIALOG_OPEN = ui.DIALOG_CLOSED, ui.DIALOG_OPEN
RUN_KINDS = {"success": "complete", "warning": "killed", "failed": "killed", "running": "live",
             "never run": "off"}


def layout(**_query) -> html.Div:
    head = html.Div(
        [
            html.Div(
                [
                    html.H1("Operations"),
                    html.P(
                        "Scheduled jobs, their runs, and rollout changes not yet applied to Unleash.",
                        className="lo-lede",
                    ),
                ]
            ),
            html.Button("Refresh", id="ops-refresh", className="lo-btn lo-btn-ghost", n_clicks=0),
        ],
        className="lo-page-head",
    )
    if not may_view_operations(current_identity()):
        return html.Div(
            [
                head,
                ui.alert(
                    "The operations page is for admins and product teams.", "info", alert_id="ops-not-allowed"
                ),
            ]
        )
    return html.Div(
        [
            head,
            html.Div(id="ops-message"),
            dash.dcc.Store(id="ops-version", data=0),
            dash.dcc.Store(id="ops-close-month", data=None),
            _close_dialog(),
            dash.dcc.Loading(html.Div(id="ops-body", className="lo-stack"), type="dot", delay_show=150),
            *event_voids.panel(current_identity()),  # admins only (events:void)
        ]
    )


def _close_dialog() -> html.Div:
    """Asks before the monthly close runs: which month it freezes, and that it cannot be undone."""
    return ui.confirm_dialog("ops-close", [
            html.H2("Close a month", className="lo-card-title"),
            html.P(id="ops-close-text"),
            html.P("A close freezes that month's ROI figures for every feature and e-mails the report "
                   "to its subscribers; it cannot be undone. Later changes show as restatements.",
                   className="lo-muted"),
        ], "Close the month", labelled_by="ops-close-text")


dash.register_page(
    __name__, path="/operations", name="Operations", title="Operations · Liftoff", order=6, layout=layout,
    permission="operations:read",  # the navigation and the page guard read it (shell/frame.py)
)

# What the components hold (checked before any callback runs: dashboards/shell/callback_inputs.py).
accepts("ops-version", "data", COUNTER)
accepts("ops-refresh", "n_clicks", N_CLICKS)
accepts({"type": "ops-run", "job": ALL}, "n_clicks", N_CLICKS, ids={"job": text(120, optional=False)})
accepts("ops-close-month", "data", calendar_month(optional=True))
accepts("ops-close-confirm", "n_clicks", N_CLICKS)
accepts("ops-close-cancel", "n_clicks", N_CLICKS)


def _status(value: str) -> html.Span:
    return ui.badge(value, RUN_KINDS.get(value, "off"))


def _error(row: dict):
    text = row["error"]
    if not text or (isinstance(text, float)):
        return ""
    first, _, rest = str(text).partition("\n")
    return (
        html.Details([html.Summary(first, className="lo-error-text"), html.Pre(rest)])
        if rest
        else html.Span(first, className="lo-error-text")
    )


def _jobs_table(jobs, can_run: bool):
    columns = [
        ("name", "Job"),
        ("schedule", "Schedule"),
        ("status", "Last run"),
        ("started_at", "Started"),
        ("duration_seconds", "Seconds"),
        ("rows_read", "Rows read"),
        ("rows_written", "Rows written"),
        ("error", "Error"),
    ]
    render = {
        "name": lambda r: html.Div(
            [
                html.Div(r["name"], className="lo-strong lo-mono"),
                html.Div(r["description"], className="lo-muted"),
            ]
        ),
        "status": lambda r: _status(r["status"]),
        "error": _error,
        "rows_read": lambda r: (
            "—" if r["rows_read"] is None or r["rows_read"] != r["rows_read"] else ui.number(r["rows_read"])
        ),
        "rows_written": lambda r: (
            "—"
            if r["rows_written"] is None or r["rows_written"] != r["rows_written"]
            else ui.number(r["rows_written"])
        ),
        "duration_seconds": lambda r: (
            "—"
            if r["duration_seconds"] is None or r["duration_seconds"] != r["duration_seconds"]
            else f"{r['duration_seconds']:.2f}"
        ),
    }
    if can_run:
        columns.append(("run", ""))
        render["run"] = lambda r: html.Button(
            "Run now",
            id={"type": "ops-run", "job": r["name"]},
            n_clicks=0,
            className="lo-btn lo-btn-secondary lo-btn-sm",
        )
    return ui.table(
        jobs,
        columns,
        render=render,
        numeric=["duration_seconds", "rows_read", "rows_written"],
        table_id="ops-jobs",
    )


@callback(Output("ops-body", "children"), Input("ops-version", "data"), Input("ops-refresh", "n_clicks"))
def render_operations(_version, _clicks):
    """The registry with each job's latest run, the run history and the pending Unleash syncs."""
    identity = current_identity()
    try:  # the callback is reachable without the page: the action checks the role again
        jobs, problem = job_overview(identity)
    except NotAllowed:
        return ui.alert("The operations page is for admins and product teams.", "danger")
    db.session.commit()  # keeps the runs job_registry found interrupted (their process is gone)
    parts = []
    if problem:
        parts.append(
            ui.alert(f"Connector pulls are not listed: {problem}", "danger", alert_id="ops-connectors")
        )
    full_errors = may_run_jobs(identity)  # the others read redacted errors (job_runs.redact)
    parts.append(ui.card("Jobs", _jobs_table(jobs, full_errors), card_id="ops-jobs-card"))
    runs = data.recent_runs(limit=25, full_errors=full_errors)
    if runs.empty:
        history = ui.empty_state(
            "No job has run yet.",
            "Start `liftoff scheduler`, or run a job now (admins) or with `liftoff jobs run NAME`.",
            state_id="ops-runs-empty",
        )
    else:
        history = ui.table(
            runs,
            [
                ("started_at", "Started"),
                ("job", "Job"),
                ("trigger", "Trigger"),
                ("attempt", "Attempt"),
                ("status", "Status"),
                ("duration_seconds", "Seconds"),
                ("rows_read", "Rows read"),
                ("rows_written", "Rows written"),
                ("error", "Error"),
            ],
            render={"status": lambda r: _status(r["status"]), "error": _error},
            numeric=["attempt", "duration_seconds", "rows_read", "rows_written"],
            table_id="ops-runs",
        )
    syncs = data.pending_unleash_syncs(full_errors)
    if syncs.empty:
        pending = html.P(
            "Nothing waiting: every rollout change has been applied (or Liftoff serves the flags itself).",
            className="lo-muted",
            id="ops-syncs-empty",
        )
    else:
        pending = ui.table(
            syncs,
            [
                ("feature", "Feature"),
                ("attempts", "Attempts"),
                ("created_at", "Queued"),
                ("next_attempt_at", "Next attempt"),
                ("last_error", "Last error"),
            ],
            numeric=["attempts"],
            table_id="ops-syncs",
        )
    parts += [
        ui.card("Recent runs", history, card_id="ops-runs-card"),
        ui.card("Pending Unleash syncs", pending, card_id="ops-syncs-card"),
    ]
    return parts


@callback(
    Output("ops-message", "children"),
    Output("ops-version", "data"),
    Input({"type": "ops-run", "job": ALL}, "n_clicks"),
    State("ops-version", "data"),
    prevent_initial_call=True,
)
def run_now(clicks, version):
    """Run one job now through the job runner (admins only; re-checked in run_job_now)."""
    trigger = ctx.triggered_id
    if not trigger or not any(clicks) or trigger["job"] == CLOSE_JOB:  # that one asks first
        return no_update, no_update
    identity = current_identity()
    db.session.commit()  # nothing of ours is pending; the runner owns the transaction from here
    try:
        run = run_job_now(trigger["job"], identity)
    except LiftoffError as error:
        return _refused(error, trigger["job"], identity, version)
    return _outcome(run, version)


def _refused(error: LiftoffError, job: str, identity, version):
    db.session.rollback()
    if error.status == 403:
        log.warning("refused job run %s by %s", job, identity.name if identity else None)
    return ui.alert("; ".join(data.error_lines(error)), "danger", alert_id="ops-error"), (version or 0) + 1


def _outcome(run, version):
    """A finished run as the page reports it (a skipped close reads as a warning, with why)."""
    kind = {"success": "success", "warning": "warning"}.get(run.status, "danger")
    text = (
        f"{run.job}: {run.status} (run #{run.id}, {run.rows_read} rows read, {run.rows_written} written)"
        + (f" — {run.error.splitlines()[0]}" if run.error else "")
    )
    return ui.alert(text, kind, alert_id="ops-done"), (version or 0) + 1


@callback(
    Output("ops-close-dialog", "className"),
    Output("ops-close-text", "children"),
    Output("ops-close-month", "data"),
    Output("ops-close-confirm", "children"),
    Input({"type": "ops-run", "job": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def ask_to_close(clicks):
    """The close job's "Run now": name the month it would close (the last complete one) first."""
    trigger = ctx.triggered_id
    if not trigger or not any(clicks) or trigger["job"] != CLOSE_JOB:
        return no_update, no_update, no_update, no_update
    month = closes.previous_month()
    label = closes.month_label(month)
    return (DIALOG_OPEN, f"Close {label}? The close job closes the last complete month: {label}.",
            month, f"Close {label}")


@callback(
    Output("ops-message", "children", allow_duplicate=True),
    Output("ops-version", "data", allow_duplicate=True),
    Output("ops-close-dialog", "className", allow_duplicate=True),
    Input("ops-close-confirm", "n_clicks"),
    Input("ops-close-cancel", "n_clicks"),
    State("ops-close-month", "data"),
    State("ops-version", "data"),
    prevent_initial_call=True,
)
def confirm_close(confirmed, _cancelled, month, version):
    """Run the close job once the user confirmed the month the dialog named; a month with no
    events ends as a warning run that says so (app/services/reporting/closes.py)."""
    if ctx.triggered_id != "ops-close-confirm" or not confirmed:
        return no_update, no_update, DIALOG_CLOSED
    if month != closes.previous_month():  # the month turned while the dialog was open
        return (ui.alert(f"The month to close is now {closes.month_label(closes.previous_month())}, not "
                         f"{closes.month_label(month) if month else 'the one shown'}: run it again.",
                         "warning", alert_id="ops-error"), no_update, DIALOG_CLOSED)
    identity = current_identity()
    db.session.commit()  # nothing of ours is pending; the runner owns the transaction from here
    try:
        run = run_job_now(CLOSE_JOB, identity)
    except LiftoffError as error:
        return (*_refused(error, CLOSE_JOB, identity, version), DIALOG_CLOSED)
    return (*_outcome(run, version), DIALOG_CLOSED)
