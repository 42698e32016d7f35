"""KPI jobs. Jobs are importable module-level functions that run inside an app context and a
transaction owned by the job runner; they never commit."""

from __future__ import annotations

import logging

from app.jobs.base import JobStats
from app.services import closes, rollups

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


def monthly_close(month: str | None = None) -> JobStats:
    """Freeze last month's ROI (or ``month``, YYYY-MM) with a fingerprint of its inputs."""
    refreshed = rollups.refresh()  # close on every event accepted so far
    month = month or closes.previous_month()
    close = closes.close_month(month)
    log.info("monthly-close %s: fingerprint %s", month, close.fingerprint[:12])
    return JobStats(rows_read=refreshed.events_read, rows_written=1)
