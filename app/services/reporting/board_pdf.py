"""The board report as an A4 PDF, drawn on the server by reportlab (no browser), with the charts of
app.services.reporting.board_charts embedded as images. Empty figures print as "—" (app.formats).
"""

from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

import matplotlib
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from app.formats import euro, num, pct
from app.services.reporting import board_charts, variant_tables
from app.services.reporting.board_report import BoardReport, board_context, previous_month

# DejaVu ships with matplotlib and has the € sign, the minus sign and the narrow spaces the
# figures are written with (reportlab's built-in Helvetica has not).
_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONT, BOLD = "DejaVuSans", "DejaVuSans-Bold"
INK, MUTED, LINE, FLAG = (colors.HexColor(c) for c in ("#111827", "#6b7280", "#d1d5db", "#c0392b"))
MARGIN = 18 * mm
STATUS = {"open": "open month: figures move with late events", "closed": "closed month: frozen figures",
          "restated": "restated: its inputs changed after its close"}
EVIDENCE = {"measured": "measured", "modeled": "modeled", "mixed": "mixed"}


def _register_fonts() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(_FONTS / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont(BOLD, str(_FONTS / "DejaVuSans-Bold.ttf")))


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12, textColor=INK)
    return {
        "body": base,
        "title": ParagraphStyle("title", base, fontName=BOLD, fontSize=18, leading=22),
        "sub": ParagraphStyle("sub", base, fontSize=10, leading=13, textColor=MUTED),
        "h2": ParagraphStyle("h2", base, fontName=BOLD, fontSize=12, leading=15, spaceBefore=10,
                             spaceAfter=4),
        "small": ParagraphStyle("small", base, fontSize=7.5, leading=10, textColor=MUTED),
        "cell": ParagraphStyle("cell", base, fontSize=8, leading=10),
        "num": ParagraphStyle("num", base, fontSize=8, leading=10, alignment=TA_RIGHT),
    }


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _change(now, before, fmt, unit_points: bool = False) -> str:
    """The change against the previous month, e.g. "+€ 1 200 vs 2026-09" ("—" when unknown)."""
    if now is None or before is None or now != now or before != before:
        return "—"
    diff = now - before
    sign = "+" if diff >= 0 else "−"
    text = fmt(abs(diff))
    return f"{sign}{text}{' pts' if unit_points else ''}"


def _headline(report: BoardReport, s: dict) -> Table:
    t, p = report.total, report.previous
    before = previous_month(report.month)
    roi_pct = lambda v: pct(v, 0, 1)  # noqa: E731
    tiles = [
        ("Value", euro(t["value_eur"]), _change(t["value_eur"], p["value_eur"], euro)),
        ("Cost", euro(t["cost_eur"]), _change(t["cost_eur"], p["cost_eur"], euro)),
        ("Net", euro(t["net_eur"]), _change(t["net_eur"], p["net_eur"], euro)),
        ("ROI", roi_pct(t["roi_pct"]), _change(t["roi_pct"], p["roi_pct"], lambda v: num(v, 0), True)),
        ("Adoption", pct(report.adoption, 0),
         _change(report.adoption, report.previous_adoption, lambda v: num(v * 100, 0), True)),
    ]
    label = ParagraphStyle("label", s["small"], fontSize=8)
    figure = ParagraphStyle("figure", s["body"], fontName=BOLD, fontSize=15, leading=19)
    cells = [[Paragraph(escape(name), label) for name, _, _ in tiles],
             [Paragraph(escape(value), figure) for _, value, _ in tiles],
             [Paragraph(escape(f"{change} vs {before}"), s["small"]) for _, _, change in tiles]]
    table = Table(cells, colWidths=[(A4[0] - 2 * MARGIN) / 5] * 5)
    table.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 0.6, LINE), ("LINEAFTER", (0, 0), (-2, -1), 0.6, LINE),
        ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#f9fafb")),
        ("TOPPADDING", (0, 0), (-1, -1), 4), ("BOTTOMPADDING", (0, -1), (-1, -1), 6),
        ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _feature_table(report: BoardReport, s: dict) -> Table:
    # Markup of our own (line breaks where a narrow column would split a word).
    head = ["Feature", "Value", "Cost", "Net", "ROI", "Net so<br/>far", "Payback",
            "Error rate<br/>(baseline)", "Quality", "Evidence"]
    rows = [[Paragraph(f"<b>{h}</b>", s["cell"] if i == 0 else s["num"]) for i, h in enumerate(head)]]
    flagged_rows = []
    for i, f in enumerate(report.features, start=1):
        quality = "worse than baseline" if f["flagged"] else ("ok" if f["error_rate"] is not None else "—")
        cells = [escape(f["name"]), euro(f["value_eur"]), euro(f["cost_eur"]), euro(f["net_eur"]),
                 pct(f["roi_pct"], 0, 1), euro(f["cumulative_net_eur"]), f["payback_month"] or "not yet",
                 f"{pct(f['error_rate'], 1)} ({pct(f['baseline_error_rate'], 1)})", quality,
                 EVIDENCE.get(f["evidence"], "—")]
        rows.append([Paragraph(escape(c) if j else c, s["cell"] if j == 0 else s["num"])
                     for j, c in enumerate(cells)])
        if f["flagged"]:
            flagged_rows.append(i)
    widths = [30, 16, 14, 16, 14, 18, 15, 21, 19, 17]
    scale = (A4[0] - 2 * MARGIN) / sum(widths)
    table = Table(rows, colWidths=[w * scale for w in widths], repeatRows=1)
    style = [("LINEBELOW", (0, 0), (-1, 0), 0.8, INK), ("LINEBELOW", (0, 1), (-1, -1), 0.3, LINE),
             ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (0, 0), (-1, -1), 2),
             ("RIGHTPADDING", (0, 0), (-1, -1), 2)]
    style += [("BACKGROUND", (0, r), (-1, r), colors.HexColor("#fdecea")) for r in flagged_rows]
    table.setStyle(TableStyle(style))
    return table


def _variants(report: BoardReport, s: dict) -> list:
    """Per feature with variants: its variants side by side and the decision in words."""
    head = ["Variant", "Weight<br/>now", "Exposed", "AI tasks", "Adoption", "Error<br/>rate",
            "Min saved<br/>per task", "Cost per<br/>task", "Net per<br/>person", "Decision"]
    parts: list = [Paragraph("Variants", s["h2"])]

    def style(i: int) -> ParagraphStyle:  # the variant and the decision are text, the rest figures
        return s["cell"] if i in (0, 9) else s["num"]

    for comparison in report.variants:
        rows = [[Paragraph(f"<b>{h}</b>", style(i)) for i, h in enumerate(head)]]
        for r in variant_tables.rows([comparison]):
            cells = [r["variant"], f"{r['weight']} %", num(r["exposed_users"], 0), num(r["ai_tasks"], 0),
                     pct(r["adoption_rate"], 0), pct(r["error_rate"], 1),
                     num(r["time_saved_per_task_minutes"], 1), euro(r["cost_per_task_eur"], 3),
                     euro(r["net_eur_per_exposed_person"], 2), r["decision"]]
            rows.append([Paragraph(escape(c), style(j)) for j, c in enumerate(cells)])
        widths = [24, 12, 13, 13, 14, 12, 16, 15, 16, 40]
        scale = (A4[0] - 2 * MARGIN) / sum(widths)
        table = Table(rows, colWidths=[w * scale for w in widths], repeatRows=1)
        table.setStyle(TableStyle([
            ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK), ("LINEBELOW", (0, 1), (-1, -1), 0.3, LINE),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (0, 0), (-1, -1), 2),
            ("RIGHTPADDING", (0, 0), (-1, -1), 2)]))
        title = f"{comparison['name']} ({comparison['start']} to {comparison['end']})"
        parts.append(KeepTogether([Paragraph(f"<b>{escape(title)}</b>", s["body"]), Spacer(1, 1 * mm), table,
                                   Paragraph(escape(variant_tables.decision_words(comparison)), s["body"]),
                                   Spacer(1, 3 * mm)]))
    return parts


def _chart(png: bytes) -> Image:
    width = A4[0] - 2 * MARGIN
    return Image(io.BytesIO(png), width=width, height=width * board_charts.HEIGHT_IN / board_charts.WIDTH_IN)


def _methods(s: dict) -> list:
    notes = [
        "<b>Value</b>: minutes saved per AI task (against a measured baseline where there is one, else "
        "the feature's estimate) × the department's hourly rate. <b>Cost</b>: cost entries dated in the "
        "month plus the cost of each AI task. <b>Net</b> = value − cost.",
        "<b>ROI</b> is this month's net ÷ this month's cost; <b>cumulative net</b> adds every month's net "
        "since the feature's first month, so a high monthly ROI can sit beside a cumulative net still "
        "below zero while earlier costs are paid back. <b>Payback</b>: the first month whose cumulative "
        "net is at or above zero, counted from the first month with a cost.",
        "<b>Adoption</b>: people exposed to a feature who used it, over the people exposed (all features, "
        "weighted by exposed people). <b>Evidence</b>: measured (durations against a baseline), modeled "
        "(estimated minutes per task) or mixed.",
        "<b>Quality</b>: a feature is flagged when its error rate's 95 % Wilson interval lies entirely "
        "above its baseline error rate (above the baseline's own interval when that is measured from "
        "events). Intervals are 95 % (z = 1.96).",
    ]
    return [Paragraph(n, ParagraphStyle("note", s["small"], spaceAfter=3)) for n in notes]


def _footer(report: BoardReport):
    def draw(canvas, doc):
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, 10 * mm, f"{report.company or 'Liftoff'} · AI features board report "
                                           f"{report.month} · made {_when(report.made_at)}")
        canvas.drawRightString(A4[0] - MARGIN, 10 * mm, f"page {doc.page}")
        canvas.restoreState()
    return draw


def render_pdf(report: BoardReport) -> bytes:
    """The board report as PDF bytes (A4 portrait)."""
    _register_fonts()
    s = _styles()
    history = report.history
    refresh = (f"figures as of the KPI refresh of {_when(report.refreshed_at)}"
               + (f" (revision {report.revision})" if report.revision is not None else ""))
    story = [
        Paragraph(escape(report.company or "—"), s["sub"]),
        Paragraph(f"AI features: board report, {escape(report.month)}", s["title"]),
        Paragraph(escape(f"{STATUS[report.status]} · made {_when(report.made_at)} · {refresh}"), s["sub"]),
        Spacer(1, 6 * mm),
        _headline(report, s),
        Spacer(1, 3 * mm),
        Paragraph(escape(
            f"Money invested so far: {euro(report.invested_eur)} · cumulative net "
            f"{euro(report.total['cumulative_net_eur'])} · payback "
            f"{report.total['payback_month'] or 'not yet'} · "
            f"{num(report.total['ai_tasks'], 0)} AI tasks this month"), s["body"]),
        Paragraph("ROI is this month's return on this month's cost; cumulative net is everything "
                  "returned minus everything spent so far.", s["small"]),
        Paragraph("Features", s["h2"]),
        _feature_table(report, s),
    ]
    flagged = [f for f in report.features if f["flagged"]]
    for f in flagged:
        story.append(Paragraph(escape(f"⚠ {f['name']}: {f['reason']}."), ParagraphStyle(
            "flag", s["small"], textColor=FLAG)))
    if report.variants:
        story += _variants(report, s)
    if not history.empty:
        story += [KeepTogether([Paragraph("Trends", s["h2"]),
                                _chart(board_charts.cumulative_net(history, report.total["payback_month"]))]),
                  _chart(board_charts.value_against_cost(history)),
                  _chart(board_charts.adoption_trend(history))]
    story += [KeepTogether([Paragraph("Methods", s["h2"]), *_methods(s)])]
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=MARGIN, title=f"Board report {report.month}",
                            author=report.company or "Liftoff", subject="AI features ROI")
    doc.build(story, onFirstPage=_footer(report), onLaterPages=_footer(report))
    return out.getvalue()


def board_pdf(month: str) -> bytes:
    """``month``'s board report as PDF bytes (a ValidationFailed naming ``month`` when malformed)."""
    return render_pdf(board_context(month))


def file_name(month: str) -> str:
    return f"liftoff-board-report-{month}.pdf"
