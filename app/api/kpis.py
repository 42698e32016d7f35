"""KPI and ROI reads, as of the last refresh-kpis run."""

from __future__ import annotations

import re
from datetime import date, timedelta

from flask import jsonify, request

from app.api import bp
from app.api.declare import answers
from app.db import db, utcnow
from app.errors import Collector
from app.months import check_month, this_month
from app.schemas.responses import BOOL, DAY, MONTH, N_STR, STR, array, obj, ref
from app.security import requires
from app.services.kpi_reads import figures as kpis
from app.services.reporting import closes, report_mail


def _day(name: str, default: date, problems: Collector) -> date | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        # The years months take (app/months.py): a year like 0001 overflows the window arithmetic.
        if not re.fullmatch(r"(19\d\d|2\d\d\d)-\d{2}-\d{2}", raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        problems.add(name, f"must be a date YYYY-MM-DD from 1900 to 2999, not {raw!r}")
        return None


@bp.get("/features/<key>/kpis")
@requires("read")
@answers(ref("Kpis"), query={"start": DAY, "end": DAY,
                             "group_by": {"enum": ["department", "cohort", "variant"]}})
def get_feature_kpis(key: str):
    """The KPIs of a feature over [start, end] (default: the last 30 days), optionally grouped."""
    problems = Collector()
    end = _day("end", utcnow().date(), problems)
    start = _day("start", (end or utcnow().date()) - timedelta(days=29), problems)
    group_by = request.args.get("group_by") or None
    if group_by is not None and group_by not in kpis.GROUP_BYS:
        problems.add("group_by", "must be department, cohort or variant")
    if start and end and start > end:
        problems.add("start", "must not be after end")
    problems.raise_if_any("invalid query")
    # _day adds a problem whenever it gives None, so both are dates past raise_if_any.
    assert start is not None and end is not None
    return jsonify(kpis.feature_kpis(key, start, end, group_by))


@bp.get("/roi/monthly")
@requires("read")
@answers(ref("Roi"), query={"month": MONTH})
def get_monthly_roi():
    """Value, cost, net, ROI, cumulative net and payback per feature and in total for a month."""
    month = check_month(request.args.get("month") or this_month())
    return jsonify(kpis.monthly_roi(month))


@bp.post("/closes/<month>")
@requires("jobs:run")
@answers(obj(
    ("month", "closed_at", "fingerprint", "figures", "closed_now"), month=MONTH, closed_at=STR,
    fingerprint=STR, restated_at=N_STR, closed_now=BOOL,
    figures=obj(("features", "total"), features=array(ref("RoiLine")), total={"type": "object"})))
def close_month(month: str):
    """Close (freeze) a past month's ROI figures; a month closed already stays as it was."""
    result = closes.close_past_month(month)
    record = {**closes.close_record(result.close), "closed_now": result.new}
    db.session.commit()
    if result.new:  # after the commit: only a close that holds is mailed
        report_mail.send_report(month, result.news)
    return jsonify(record)
