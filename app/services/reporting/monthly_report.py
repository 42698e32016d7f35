"""The printable one-page monthly ROI report: what it shows (``report_context``) and its HTML
(``render``). The dashboard's ``/dashboard/report`` and the report the monthly close e-mails
(app.services.reporting.report_mail) are both this one.

Every figure is the executive view's (app.services.reporting.executive), i.e. the KPI module's; this module
only writes them for people (app.formats).
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader

from app.formats import euro, num, pct
from app.services.reporting import variant_tables
from app.services.reporting.executive import executive_view, records

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
STATUS_TEXT = {"open": "open month", "closed": "closed", "restated": "restated after close"}
HISTORY_MONTHS = 6

# Autoescape every value: feature names and keys are user input.
_templates = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)


def _roi(value) -> str:
    return pct(value, 0, 1)


def report_context(month: str, viewer: str, view: dict | None = None) -> dict:
    """What the report shows for ``month`` (formatted text; the template escapes it).

    :param month: ``YYYY-MM`` (a ValidationFailed naming ``month`` otherwise).
    :param viewer: who it is for (the logged-in user, or the recipient of the e-mail).
    :param view: ``executive_view(month)`` when the caller has it already.
    """
    view = view or executive_view(month)
    roi, total = view["roi"], view["roi"]["total"]
    status = "restated" if roi["restated"] else ("closed" if roi["closed"] else "open")
    frozen = (roi.get("closed_figures") or {}).get("total") if roi["restated"] else None
    tiles = [(label, fmt(total[field]), f"at close {fmt(frozen[field])}" if frozen else "")
             for label, field, fmt in (("Value", "value_eur", euro), ("Cost", "cost_eur", euro),
                                       ("Net", "net_eur", euro), ("ROI", "roi_pct", _roi))]
    tiles += [("Payback", total["payback_month"] or "not yet",
               f"cumulative {euro(total['cumulative_net_eur'])}"),
              ("Cost per AI task", euro(total["cost_per_task_eur"], 2), f"{total['ai_tasks']:,} AI tasks")]
    features = [{"name": r["name"], "feature": r["feature"], "tasks": f"{r['ai_tasks']:,}",
                 "value": euro(r["value_eur"]), "cost": euro(r["cost_eur"]), "net": euro(r["net_eur"]),
                 "roi": _roi(r["roi_pct"]), "cumulative": euro(r["cumulative_net_eur"]),
                 "payback": r["payback_month"] or "not yet", "closed_net": euro(r["closed_net_eur"])}
                for r in records(view["features"])]
    history = [{"month": r["month"], "value": euro(r["value_eur"]), "cost": euro(r["cost_eur"]),
                "net": euro(r["net_eur"]), "cumulative": euro(r["cumulative_net_eur"]),
                "hours": num(r["hours_saved"], 0), "per_task": euro(r["cost_per_task_eur"], 2),
                "status": "restated" if r["restated"] else ("closed" if r["closed"] else "open")}
               for r in records(view["history"].tail(HISTORY_MONTHS))]
    # Features with variants: the decision in one sentence each (the board report has the table).
    variants = [{"name": c["name"], "feature": c["feature"], "decision": variant_tables.decision_words(c)}
                for c in variant_tables.comparisons(month)]
    return {"month": month, "viewer": viewer, "status": status, "closed": roi["closed"],
            "status_text": STATUS_TEXT[status],
            "tiles": tiles, "features": features, "history": history, "variants": variants}


def render(context: dict, printable: bool = True) -> str:
    """The report as one HTML page (A4 landscape print CSS).

    :param printable: with the *Print* button (the dashboard page and the attachment); an e-mail
        body goes without it, since mail clients drop scripts.
    """
    return _templates.get_template("monthly_report.html").render(**context, printable=printable)


def headline(context: dict) -> list[tuple[str, str, str]]:
    """The report's headline figures as (label, value, hint): value, cost, net, ROI and payback."""
    return [tile for tile in context["tiles"] if tile[0] in ("Value", "Cost", "Net", "ROI", "Payback")]
