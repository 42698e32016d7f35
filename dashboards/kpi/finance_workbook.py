"""The ROI exports as finance reads them: human headers, € and % number formats, column widths,
a frozen header row, one sheet per table and a notes sheet (XLSX), and human CSV headers on
request. Every cell still goes through app.spreadsheets (formula-like text neutralised).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from app.services.reporting.variant_tables import FIELDS as VARIANT_FIELDS
from app.spreadsheets import xlsx_row

EURO = '"€"#,##0.00;[Red]-"€"#,##0.00'
PERCENT = "0.0%"
INTEGER = "#,##0"
# What each machine column is called for people, and how its number reads (euro, percent in
# percent units, a share 0..1, a count, hours, or text).
COLUMNS: dict[str, tuple[str, str]] = {
    "month": ("Month", "text"), "feature": ("Feature key", "text"), "name": ("Feature", "text"),
    "value_eur": ("Value (€)", "euro"), "cost_eur": ("Cost (€)", "euro"),
    "cost_per_task_eur": ("Cost per AI task (€)", "euro"), "net_eur": ("Net (€)", "euro"),
    "roi_pct": ("ROI (%)", "percent"), "cumulative_net_eur": ("Cumulative net (€)", "euro"),
    "payback_month": ("Payback month", "text"), "ai_tasks": ("AI tasks", "count"),
    "closed": ("Closed", "text"), "restated": ("Restated", "text"),
    "hours_saved": ("Hours saved", "hours"), "closed_net_eur": ("Net at close (€)", "euro"),
    "error_rate": ("Error rate", "share"), "baseline_error_rate": ("Baseline error rate", "share"),
    "flagged": ("Worse than baseline", "text"), "reason": ("Why flagged", "text"),
    "evidence": ("Evidence", "text"), "adoption_rate": ("Adoption", "share"),
    # the variant comparison (app/services/reporting/variant_tables.py)
    "variant": ("Variant", "text"), "weight": ("Weight now (%)", "count"),
    "exposed_users": ("Exposed people", "count"),
    "time_saved_per_task_minutes": ("Minutes saved per task", "hours"),
    "net_eur_per_exposed_person": ("Net per exposed person (€)", "euro"), "decision": ("Decision", "text"),
}
FORMATS = {"euro": EURO, "percent": PERCENT, "share": PERCENT, "count": INTEGER, "hours": "#,##0.0"}
VARIANT_COST = '"€"#,##0.000'  # a variant's cost per task: a few cents, told apart by the third digit
NOTES = [
    ("Figures", "Every figure is Liftoff's KPI module's, as of the last KPI refresh; an open month "
                "moves with late events, a closed month shows its live figures beside those at close."),
    ("Value", "Minutes saved per AI task × the department's hourly rate, in euros."),
    ("Cost", "Cost entries dated in the month plus the cost of each AI task, in euros."),
    ("Net", "Value − cost."),
    ("ROI", "Net ÷ cost of the month (empty when there was no cost)."),
    ("Cumulative net", "The sum of the nets since the feature's first month: what it returned minus "
                       "what it cost so far."),
    ("Payback month", "The first month whose cumulative net is at or above zero, counted from the first "
                      "month with a cost (empty: not yet)."),
    ("Worse than baseline", "The error rate's 95 % Wilson interval lies entirely above the baseline "
                            "error rate (above the baseline's interval when measured from events)."),
    ("Evidence", "measured (durations against a baseline), modeled (estimated minutes) or mixed."),
    ("Variants", "Features running several variants (models, prompts, vendors): each variant over the "
                 "month's days, its AI events in the variant they name or their person had then; the "
                 "decision is the feature's rule against its control, with 95 % intervals "
                 "(docs/variants.md)."),
]


def human(field: str) -> str:
    """The header people read for a machine column (``closed_net_eur`` style names included)."""
    if field in COLUMNS:
        return COLUMNS[field][0]
    if field.startswith("variant_") and field[8:] in COLUMNS:  # the ROI CSV's variant group rows
        return f"Variant: {COLUMNS[field[8:]][0]}"
    if field.startswith("closed_") and field[7:] in COLUMNS:
        return f"{COLUMNS[field[7:]][0]} at close"
    return field.replace("_", " ").capitalize()


def _kind(field: str) -> str:
    base = field[7:] if field.startswith("closed_") and field[7:] in COLUMNS else field
    return COLUMNS.get(base, ("", "text"))[1]


def _cell(value, kind: str):
    if value is None or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if kind == "percent" and isinstance(value, int | float):
        return value / 100  # the workbook's % format multiplies by 100
    return value


def _sheet(book: Workbook, title: str, fields: Sequence[str], rows: Sequence[Sequence]) -> None:
    sheet = book.create_sheet(title)
    kinds = [_kind(f) for f in fields]
    sheet.append(xlsx_row(human(f) for f in fields))
    for row in rows:
        sheet.append(xlsx_row(_cell(v, k) for v, k in zip(row, kinds, strict=True)))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E5E7EB")
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for index, (field, kind) in enumerate(zip(fields, kinds, strict=True), start=1):
        letter = get_column_letter(index)
        if kind in FORMATS:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = FORMATS[kind]
        values = [len(str(r[index - 1])) for r in rows if r[index - 1] is not None]
        if kind == "text":
            width = max([len(human(field)), *values]) + 2
        else:  # numbers are formatted (€ 1,234.56) and wrapped headers may take two lines
            width = max(14, len(human(field)) // 2 + 4)
        sheet.column_dimensions[letter].width = min(48, max(10, width))
    sheet.freeze_panes = "A2"  # the header stays in view while scrolling


def workbook(month: str, header: Sequence[str], rows: Sequence[Sequence], history: pd.DataFrame,
             quality: Sequence[dict], variants: Sequence[dict] = ()) -> bytes:
    """The month's ROI (``header``/``rows`` of kpi_data.export_rows), the monthly history, the
    features' quality, their variants (records of variant_tables.rows, a sheet when there are
    any) and a notes sheet, as XLSX bytes."""
    book = Workbook()
    book.remove(book.active)
    _sheet(book, f"ROI {month}", header, rows)
    _sheet(book, "History", list(history.columns), [list(r) for r in history.itertuples(index=False)])
    fields = ["feature", "name", "error_rate", "baseline_error_rate", "flagged", "reason", "evidence",
              "adoption_rate"]
    _sheet(book, "Quality", fields, [[q.get(f) for f in fields] for q in quality])
    if variants:
        _sheet(book, "Variants", list(VARIANT_FIELDS), [[v.get(f) for f in VARIANT_FIELDS] for v in variants])
        cost = list(VARIANT_FIELDS).index("cost_per_task_eur") + 1
        for (cell,) in book["Variants"].iter_rows(min_row=2, min_col=cost, max_col=cost):
            cell.number_format = VARIANT_COST
    notes = book.create_sheet("Notes")
    notes.append(xlsx_row(["Term", "Meaning"]))
    notes.append(xlsx_row(["Month", month]))
    for term, meaning in NOTES:
        notes.append(xlsx_row([term, meaning]))
    notes["A1"].font = notes["B1"].font = Font(bold=True)
    notes.column_dimensions["A"].width, notes.column_dimensions["B"].width = 22, 110
    notes.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
