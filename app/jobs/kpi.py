"""KPI jobs. Jobs are importable module-level functions that run inside an app context and a
transaction owned by the job runner; they never commit."""

from __future__ import annotations

import logging

from app.jobs.base import JobStats
from app.jobs.runner import current_hooks
from app.services.kpi_reads import precompute
from app.services.reporting import closes, report_mail
from app.services.rollups import materialise as rollups

log = logging.getLogger(__name__)


def refresh_kpis(full: bool = False) -> JobStats:
    """Recompute the daily rollups touched since the last run (all of them when ``full``), then
    mark closed months whose inputs moved as restated."""
    result = rollups.refresh(full=full)
    restated = closes.check_restatements()
    log.info("refresh-kpis: %s events read, %s rollup rows written, %s feature-days, full=%s, "
             "%s closed months restated", result.events_read, result.rows_written,
             result.days_recomputed, result.full, restated)
    return JobStats(rows_read=result.events_read, rows_written=result.rows_written)


def precompute_kpis(budget_seconds: float = 120.0) -> JobStats:
    """Compute the month answers the store lacks (app/services/kpi_reads/precompute.py): at most
    ``budget_seconds`` a run; the next run goes on where this one stopped."""
    result = precompute.precompute(budget_seconds)
    log.info("precompute-kpis: %s answers computed, %s stored, %s dropped, %s left for the next run",
             result.computed, result.stored, result.dropped, result.missing)
    return JobStats(rows_read=result.computed, rows_written=result.stored)


def monthly_close(month: str | None = None) -> JobStats:
    """Freeze last month's ROI (or ``month``, YYYY-MM) with a fingerprint of its inputs, mark the
    earlier months the refresh moved as restated, and, once all of it is committed, e-mail the
    report to its subscribers. A month closed already is left alone and mailed no second time."""
    month = month or closes.previous_month()
    try:
        result = closes.close_past_month(month)  # refreshes first: closes on every event accepted
    except closes.NothingToClose as empty:
        # Not an error to retry: the month simply had no events. The run ends as a warning that
        # says so (the runner turns an after-commit text into the run's warning).
        skipped = f"skipped: {empty.message}"
        log.warning("monthly-close %s %s", month, skipped)
        current_hooks().after_commit(lambda: skipped)
        return JobStats(rows_read=0, rows_written=0)
    log.info("monthly-close %s: fingerprint %s, %s, %s earlier months restated", month,
             result.close.fingerprint[:12], "closed now" if result.new else "closed already",
             result.restated)
    if result.new:
        # After the commit only: a close that rolls back (or fails later) mails nothing.
        # A mail that fails is the run's warning: the close holds, the run does not read "success".
        current_hooks().after_commit(lambda: report_mail.deliver(month, result.news).warning)
    return JobStats(rows_read=result.events_read, rows_written=1)
