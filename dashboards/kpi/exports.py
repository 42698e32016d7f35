"""The executive view as files: the month's ROI as CSV and XLSX, a printable one-page report and
the board report as PDF.

Plain Flask routes under /dashboard/, behind the same login as the pages (permission ``read``).
"""

from __future__ import annotations

import functools

from flask import Blueprint, Flask, Response, jsonify, redirect, request, url_for

from app.errors import LiftoffError
from app.security import current_identity, user_may
from app.services.reporting import board_pdf, variant_tables
from app.services.reporting import monthly_report as report_page
from app.services.reporting.board_report import month_quality
from app.spreadsheets import csv_text
from dashboards.kpi import data as kpi_data
from dashboards.kpi import finance_workbook

bp = Blueprint("dashboard_exports", __name__, url_prefix="/dashboard")


def _login_required(is_page: bool):
    def wrap(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            identity = current_identity()
            if not user_may(identity, "read"):
                if is_page:
                    return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
                return jsonify({"error": "authentication required", "details": []}), 401
            return view(*args, **kwargs)

        guarded.liftoff_login_required = True  # the dashboard guard leaves it to this check
        guarded.liftoff_permission = "read"
        return guarded
    return wrap


def _month() -> str:
    return kpi_data.check_month(request.args.get("month") or kpi_data.default_month())


def _error(error: LiftoffError):
    return jsonify({"error": error.message, "details": [d.as_dict() for d in error.details]}), error.status


@bp.get("/export/roi.csv")
@_login_required(is_page=False)
def roi_csv():
    """The month's ROI per feature and in total, as CSV (``?headers=human``: headers for people)."""
    try:
        month = _month()
        header, rows = kpi_data.export_rows(month)
        # each feature's variants as a group of rows below its own (variant columns of their own)
        header, rows = variant_tables.csv_group_rows(header, rows, variant_tables.comparisons(month))
    except LiftoffError as error:
        return _error(error)
    if request.args.get("headers") == "human":
        header = [finance_workbook.human(field) for field in header]
    return Response(csv_text(header, rows), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="liftoff-roi-{month}.csv"',
        "Cache-Control": "no-store"})


@bp.get("/export/roi.xlsx")
@_login_required(is_page=False)
def roi_xlsx():
    """The month's ROI, the portfolio's monthly history and the features' quality, with notes, as an
    Excel workbook for finance (dashboards/kpi/finance_workbook.py)."""
    try:
        month = _month()
        header, rows = kpi_data.export_rows(month)
        history = kpi_data.executive(month)["history"]
        names = {row[1]: row[2] for row in rows}
        quality = [{"feature": key, "name": names.get(key, key), **figures}
                   for key, figures in month_quality(month).items()]
        variants = variant_tables.rows(variant_tables.comparisons(month))
    except LiftoffError as error:
        return _error(error)
    return Response(finance_workbook.workbook(month, header, rows, history, quality, variants), headers={
        "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Content-Disposition": f'attachment; filename="liftoff-roi-{month}.xlsx"',
        "Cache-Control": "no-store"})


@bp.get("/report")
@_login_required(is_page=True)
def monthly_report():
    """The printable one-page monthly report (HTML with print CSS)."""
    try:
        month = _month()
        # The same page the monthly close e-mails to subscribers (app.services.reporting.monthly_report).
        html = report_page.render(report_page.report_context(month, current_identity().name))
    except LiftoffError as error:
        return _error(error)
    return html


@bp.get("/report.pdf")
@_login_required(is_page=False)
def board_report_pdf():
    """The month's board report as an A4 PDF (the one the monthly close e-mails)."""
    try:
        month = _month()
        data = board_pdf.board_pdf(month)
    except LiftoffError as error:
        return _error(error)
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{board_pdf.file_name(month)}"',
        "Cache-Control": "no-store"})


def register_exports(app: Flask) -> None:
    """Add the export and report routes to ``app`` (once)."""
    if "dashboard_exports" not in app.blueprints:
        app.register_blueprint(bp)
