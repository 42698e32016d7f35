"""The executive view as files: the month's ROI as CSV and XLSX, and a printable one-page report.

Plain Flask routes under /dashboard/, behind the same login as the pages (permission ``read``).
"""

from __future__ import annotations

import csv
import functools
import io

from flask import Blueprint, Flask, Response, jsonify, redirect, render_template_string, request, url_for
from openpyxl import Workbook

from app.errors import LiftoffError
from app.security import current_identity
from dashboards import kpi_data
from dashboards import kpi_view as kv

bp = Blueprint("dashboard_exports", __name__, url_prefix="/dashboard")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
STATUS_TEXT = {"open": "open month", "closed": "closed", "restated": "restated after close"}


def _login_required(is_page: bool):
    def wrap(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            identity = current_identity()
            if identity is None or identity.role is None or not identity.may("read"):
                if is_page:
                    return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
                return jsonify({"error": "authentication required", "details": []}), 401
            return view(*args, **kwargs)

        guarded.liftoff_login_required = True  # the dashboard guard leaves it to this check
        return guarded
    return wrap


def _month() -> str:
    return kpi_data.check_month(request.args.get("month") or kpi_data.default_month())


def _error(error: LiftoffError):
    return jsonify({"error": error.message, "details": [d.as_dict() for d in error.details]}), error.status


def _cell(value):
    """Text a spreadsheet would run as a formula is quoted (CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


@bp.get("/export/roi.csv")
@_login_required(is_page=False)
def roi_csv():
    """The month's ROI per feature and in total, as CSV."""
    try:
        month = _month()
        header, rows = kpi_data.export_rows(month)
    except LiftoffError as error:
        return _error(error)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([[_cell("" if v is None else v) for v in row] for row in rows])
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="liftoff-roi-{month}.csv"',
        "Cache-Control": "no-store"})


@bp.get("/export/roi.xlsx")
@_login_required(is_page=False)
def roi_xlsx():
    """The month's ROI and the portfolio's monthly history, as an Excel workbook."""
    try:
        month = _month()
        header, rows = kpi_data.export_rows(month)
        history = kpi_data.executive(month)["history"]
    except LiftoffError as error:
        return _error(error)
    book = Workbook()
    sheet = book.active
    sheet.title = f"ROI {month}"
    sheet.append(header)
    for row in rows:
        sheet.append([_cell(v) for v in row])
    past = book.create_sheet("History")
    past.append(list(history.columns))
    for record in history.itertuples(index=False):
        past.append([None if v != v else (v.item() if hasattr(v, "item") else v) for v in record])
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), headers={
        "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Content-Disposition": f'attachment; filename="liftoff-roi-{month}.xlsx"',
        "Cache-Control": "no-store"})


REPORT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Liftoff ROI report {{ month }}</title>
<style>
@page { size: A4 landscape; margin: 12mm; }
body { font-family: system-ui, sans-serif; color: #1d2433; font-size: 11px; margin: 0 auto;
       max-width: 270mm; }
h1 { font-size: 18px; margin: 0 0 2px; } h2 { font-size: 13px; margin: 12px 0 4px; }
.muted { color: #5b6478; } .badge { border-radius: 8px; padding: 1px 6px; font-weight: 600; }
.closed { background: #d3f9d8; } .restated { background: #ffe8cc; } .open { background: #e9ecef; }
.tiles { display: flex; gap: 8px; margin: 8px 0; }
.tile { border: 1px solid #dfe3ec; border-radius: 6px; padding: 6px 10px; flex: 1; }
.tile b { display: block; font-size: 15px; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 3px 6px; border-bottom: 1px solid #dfe3ec; }
th { text-align: left; background: #f4f6fb; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.noprint { margin: 8px 0; } @media print { .noprint { display: none; } body { max-width: none; } }
table, .tiles { page-break-inside: avoid; }
</style></head><body>
<p class="noprint"><button onclick="window.print()">Print</button></p>
<h1>AI features: return on investment, {{ month }}</h1>
<p class="muted">Liftoff monthly report for {{ viewer }} · figures as of the last KPI refresh ·
<span class="badge {{ status }}" id="report-status">{{ status_text }}</span></p>
<div class="tiles">{% for label, value, hint in tiles %}
<div class="tile"><span class="muted">{{ label }}</span><b>{{ value }}</b>
<span class="muted">{{ hint }}</span></div>
{% endfor %}</div>
<h2>Features</h2>
<table id="report-features"><thead><tr><th>Feature</th><th class="n">AI tasks</th><th class="n">Value</th>
<th class="n">Cost</th><th class="n">Net</th><th class="n">ROI</th><th class="n">Cumulative net</th>
<th>Payback</th>{% if closed %}<th class="n">Net at close</th>{% endif %}</tr></thead><tbody>
{% for f in features %}<tr><td>{{ f.name }} <span class="muted">{{ f.feature }}</span></td>
<td class="n">{{ f.tasks }}</td><td class="n">{{ f.value }}</td><td class="n">{{ f.cost }}</td>
<td class="n">{{ f.net }}</td><td class="n">{{ f.roi }}</td><td class="n">{{ f.cumulative }}</td>
<td>{{ f.payback }}</td>{% if closed %}<td class="n">{{ f.closed_net }}</td>{% endif %}</tr>{% endfor %}
</tbody></table>
<h2>The last months</h2>
<table><thead><tr><th>Month</th><th class="n">Value</th><th class="n">Cost</th><th class="n">Net</th>
<th class="n">Cumulative net</th><th class="n">Hours saved</th><th class="n">Cost per AI task</th>
<th>Status</th>
</tr></thead><tbody>{% for m in history %}<tr><td>{{ m.month }}</td><td class="n">{{ m.value }}</td>
<td class="n">{{ m.cost }}</td><td class="n">{{ m.net }}</td><td class="n">{{ m.cumulative }}</td>
<td class="n">{{ m.hours }}</td><td class="n">{{ m.per_task }}</td><td>{{ m.status }}</td></tr>{% endfor %}
</tbody></table>
<p class="muted">Value = hours saved × the department's hourly rate. Net = value − cost. Payback: the
first month whose cumulative net is at or above zero. A restated month changed after its close; both
figures are shown.</p>
</body></html>"""


def report_context(month: str, viewer: str) -> dict:
    """What the printable report shows for ``month`` (formatted text; the template escapes it)."""
    view = kpi_data.executive(month)
    roi, total = view["roi"], view["roi"]["total"]
    status = "restated" if roi["restated"] else ("closed" if roi["closed"] else "open")
    frozen = (roi.get("closed_figures") or {}).get("total") if roi["restated"] else None
    tiles = [(label, fmt(total[field]), f"at close {fmt(frozen[field])}" if frozen else "")
             for label, field, fmt in (("Value", "value_eur", kv.euro), ("Cost", "cost_eur", kv.euro),
                                       ("Net", "net_eur", kv.euro),
                                       ("ROI", "roi_pct", lambda v: kv.pct(v, 0, 1)))]
    tiles += [("Payback", total["payback_month"] or "not yet",
               f"cumulative {kv.euro(total['cumulative_net_eur'])}"),
              ("Cost per AI task", kv.euro(total["cost_per_task_eur"], 2), f"{total['ai_tasks']:,} AI tasks")]
    features = [{"name": r["name"], "feature": r["feature"], "tasks": f"{r['ai_tasks']:,}",
                 "value": kv.euro(r["value_eur"]), "cost": kv.euro(r["cost_eur"]),
                 "net": kv.euro(r["net_eur"]),
                 "roi": kv.pct(r["roi_pct"], 0, 1), "cumulative": kv.euro(r["cumulative_net_eur"]),
                 "payback": r["payback_month"] or "not yet", "closed_net": kv.euro(r["closed_net_eur"])}
                for r in view["features"].to_dict("records")]
    history = [{"month": r["month"], "value": kv.euro(r["value_eur"]), "cost": kv.euro(r["cost_eur"]),
                "net": kv.euro(r["net_eur"]), "cumulative": kv.euro(r["cumulative_net_eur"]),
                "hours": kv.num(r["hours_saved"], 0), "per_task": kv.euro(r["cost_per_task_eur"], 2),
                "status": "restated" if r["restated"] else ("closed" if r["closed"] else "open")}
               for r in view["history"].tail(6).to_dict("records")]
    return {"month": month, "viewer": viewer, "status": status, "closed": roi["closed"],
            "status_text": STATUS_TEXT[status],
            "tiles": tiles, "features": features, "history": history}


@bp.get("/report")
@_login_required(is_page=True)
def monthly_report():
    """The printable one-page monthly report (HTML with print CSS)."""
    try:
        month = _month()
        context = report_context(month, current_identity().name)
    except LiftoffError as error:
        return _error(error)
    # render_template_string autoescapes every value: names and keys are user input.
    return render_template_string(REPORT, **context)


def register_exports(app: Flask) -> None:
    """Add the export and report routes to ``app`` (once)."""
    if "dashboard_exports" not in app.blueprints:
        app.register_blueprint(bp)
